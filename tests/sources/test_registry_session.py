"""The registry session reads the environment's proxy settings once per origin, with the same
result as `requests` reading them for every request."""

from __future__ import annotations

import pytest
import requests
import requests.sessions

from auditlib.sources._registry_http import new_session

URLS = ["http://127.0.0.1:5000/v2/", "https://ghcr.io/v2/team/app/tags/list",
        "https://ghcr.io/v2/team/app/manifests/1.0", "https://blobs.example.net/x?sig=1",
        "http://10.1.2.3:5000/v2/a/blobs/sha256:00"]


@pytest.fixture(autouse=True)
def proxies_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,blobs.example.net")


def test_same_settings_as_requests_for_each_url() -> None:
    ours, theirs = new_session(), requests.Session()
    for _ in range(2):  # the second time from the cache
        for url in URLS:
            assert (ours.merge_environment_settings(url, {}, True, True, None)
                    == theirs.merge_environment_settings(url, {}, True, True, None)), url
    assert ours.merge_environment_settings(URLS[1], {}, True, True, None)["proxies"][
        "https"] == "http://proxy.example:3128"
    assert ours.merge_environment_settings(URLS[0], {}, True, True, None)["proxies"] == {}


def test_environment_read_once_per_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[str] = []
    real = requests.sessions.get_environ_proxies

    def counted(url: str, no_proxy: str | None = None) -> dict[str, str]:
        read.append(url)
        return real(url, no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    session = new_session()
    for _ in range(3):
        for url in URLS:
            session.merge_environment_settings(url, {}, True, True, None)
    assert len(read) == 4  # ghcr.io's two URLs share an origin
    explicit = {"https": "http://other:1"}  # a request's own proxies: read as requests does
    got = session.merge_environment_settings(URLS[1], explicit, True, True, None)
    assert got["proxies"]["https"] == "http://other:1" and len(read) == 5
