"""The registry client against canned registries: a `http.server` on 127.0.0.1
(`fake_registry.FakeRegistry`), and a requests adapter for hosts that are not loopback.

Covered: ping and the HTTPS-then-HTTP rule, tags pagination, basic and bearer auth with a token
cache per scope, 429 with `Retry-After`, 5xx and connection retries, digest checks of manifests
and blobs, platform choice from an index, error messages, and that no credential or token ever
shows in an error, a log line or a repr.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests

from auditlib.errors import AuditlibError
from auditlib.sources._registry_auth import parse_challenges
from auditlib.sources._registry_client import RegistryClient
from auditlib.sources._registry_http import (
    RegistryError,
    RetryPolicy,
    is_loopback,
    retry_after_seconds,
)
from auditlib.sources._registry_limits import RegistryLimits
from auditlib.sources._registry_platform import Platform, choose
from auditlib.sources.docker_credentials import Credentials
from tests.sources.fake_registry import (
    DOCKER_LIST,
    OCI_INDEX,
    FakeRegistry,
    Req,
    Resp,
    ScriptedAdapter,
    config_for,
    digest_of,
    dumps,
    response,
)

USER, PASSWORD = "robot", "hunter2-Pa55w0rd-xyzzy"
TOKEN = "idtok-9f8e7d6c5b4a"


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    with FakeRegistry() as f:
        yield f


class Sleeps(list[float]):
    """Records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(fake: FakeRegistry, **kw: Any) -> RegistryClient:
    kw.setdefault("scheme", "http")
    kw.setdefault("sleep", Sleeps())
    kw.setdefault("limits", RegistryLimits(read_timeout=5.0))
    return RegistryClient(fake.host, **kw)


# -- small pieces ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True), ("127.3.4.5", True), ("localhost:5000", True),
        ("[::1]:5000", True), ("LOCALHOST", True), ("10.0.0.1:5000", False),
        ("ghcr.io", False), ("registry.example.com:443", False), ("128.0.0.1", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_retry_after_forms() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True),
                               now=now) == 30.0
    assert retry_after_seconds(format_datetime(now - timedelta(hours=1), usegmt=True),
                               now=now) == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None


def test_parse_challenges() -> None:
    got = parse_challenges(
        'Bearer realm="https://auth.example.com/token",service="reg.example.com",'
        'scope="repository:a/b:pull,push",error="insufficient_scope"'
    )
    assert len(got) == 1
    assert got[0].scheme == "bearer"
    assert got[0].params == {
        "realm": "https://auth.example.com/token", "service": "reg.example.com",
        "scope": "repository:a/b:pull,push", "error": "insufficient_scope",
    }
    two = parse_challenges('Basic realm="x", Bearer realm="https://t/token",service=s')
    assert [c.scheme for c in two] == ["basic", "bearer"]
    assert two[1].params == {"realm": "https://t/token", "service": "s"}
    assert parse_challenges(None) == []


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("linux/amd64", "linux/amd64"), ("linux/x86_64", "linux/amd64"),
        ("linux/arm64/v8", "linux/arm64"), ("linux/aarch64", "linux/arm64"),
        ("linux/arm", "linux/arm/v7"), ("linux/arm/v6", "linux/arm/v6"),
        ("Linux/AMD64", "linux/amd64"),
    ],
)
def test_platform_normalised(text: str, expect: str) -> None:
    assert str(Platform.parse(text)) == expect


def test_platform_bad() -> None:
    with pytest.raises(ValueError, match="os/architecture"):
        Platform.parse("amd64")


INDEX_ENTRIES = [
    {"digest": "a", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
    {"digest": "b", "platform": {"os": "linux", "architecture": "amd64"}},
    {"digest": "c", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    {"digest": "d", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
    {"digest": "e", "platform": {"os": "unknown", "architecture": "unknown"}},
    {"digest": "f", "platform": {"os": "windows", "architecture": "amd64"}},
]


@pytest.mark.parametrize(
    ("want", "digest"),
    [
        ("linux/amd64", "b"), ("linux/arm64", "c"), ("linux/arm64/v8", "c"),
        ("linux/arm/v7", "d"), ("linux/arm/v6", "a"), ("linux/arm/v8", "d"),
        ("windows/amd64", "f"), ("linux/s390x", None), ("linux/arm/v5", None),
    ],
)
def test_choose_platform(want: str, digest: str | None) -> None:
    got = choose(INDEX_ENTRIES, Platform.parse(want))
    assert (got[0]["digest"] if got else None) == digest


# -- ping, schemes --------------------------------------------------------------------------


def test_ping_falls_back_to_http_on_loopback(fake: FakeRegistry) -> None:
    c = RegistryClient(fake.host, limits=RegistryLimits(read_timeout=5.0), sleep=Sleeps())
    c.ping()
    assert c.scheme == "http"
    assert c.base_url == fake.url


def _tls_then_ok(request: requests.PreparedRequest) -> requests.Response | BaseException:
    """HTTPS fails with a TLS error; HTTP answers 200 `{}`."""
    if str(request.url).startswith("https://"):
        return requests.exceptions.SSLError("[SSL: WRONG_VERSION_NUMBER] wrong version number")
    return response(200, b"{}")


def _canned_session() -> tuple[requests.Session, ScriptedAdapter]:
    adapter = ScriptedAdapter(_tls_then_ok)
    return adapter.mount_on(), adapter


def test_plain_http_refused_for_a_host_that_is_not_loopback() -> None:
    with pytest.raises(RegistryError, match="plain HTTP refused"):
        RegistryClient("registry.example.com", scheme="http")
    session, adapter = _canned_session()
    c = RegistryClient("registry.example.com", session=session, sleep=Sleeps())
    with pytest.raises(RegistryError, match="TLS error") as err:
        c.ping()
    assert "registry.example.com" in str(err.value)
    assert adapter.urls == ["https://registry.example.com/v2/"]


def test_plain_http_allowed_when_insecure() -> None:
    session, adapter = _canned_session()
    c = RegistryClient("registry.example.com", session=session, insecure=True, sleep=Sleeps())
    c.ping()
    assert c.scheme == "http"
    assert adapter.urls == ["https://registry.example.com/v2/", "http://registry.example.com/v2/"]


def test_docker_hub_uses_its_api_host() -> None:
    session, adapter = _canned_session()
    c = RegistryClient("docker.io", session=session, sleep=Sleeps())
    with pytest.raises(RegistryError):
        c.ping()
    assert adapter.urls == ["https://registry-1.docker.io/v2/"]


def test_connection_refused_is_retried_then_named() -> None:
    with FakeRegistry() as f:
        host = f.host
    sleeps = Sleeps()
    c = RegistryClient(host, scheme="http", sleep=sleeps, retry=RetryPolicy(retries=2))
    with pytest.raises(RegistryError, match="cannot connect \\(connection refused\\)") as err:
        c.ping()
    assert str(err.value).startswith(host)
    assert sleeps == [0.5, 1.0]


def test_not_a_registry(fake: FakeRegistry) -> None:
    fake.hooks.append(lambda req: Resp(404, b"nothing here") if req.path == "/v2/" else None)
    with pytest.raises(RegistryError, match="not a registry \\(HTTP 404"):
        client(fake).ping()


# -- tags -----------------------------------------------------------------------------------


def test_tags_follow_link_pages(fake: FakeRegistry) -> None:
    names = [f"1.{i}" for i in range(12)]
    for name in names:
        fake.image("team/app", name)
    got = client(fake).tags("team/app", page_size=5)
    assert sorted(got) == sorted(names)
    lists = [r for r in fake.requests if r.path.endswith("/tags/list")]
    assert len(lists) == 3
    assert [r.query.get("n") for r in lists] == [["5"]] * 3
    assert "last" not in lists[0].query and lists[1].query["last"] == [sorted(names)[4]]


def test_tags_of_missing_repository(fake: FakeRegistry) -> None:
    with pytest.raises(RegistryError) as err:
        client(fake).tags("team/none")
    assert str(err.value).startswith(f"{fake.host}/team/none: repository not found")
    assert "NAME_UNKNOWN" in str(err.value)
    assert err.value.status == 404


def test_tags_null_means_none(fake: FakeRegistry) -> None:
    fake.hooks.append(
        lambda r: Resp(200, b'{"name":"a/b","tags":null}') if "tags" in r.path else None
    )
    assert client(fake).tags("a/b") == []


# -- auth -----------------------------------------------------------------------------------


def test_bearer_flow_with_credentials_and_token_cache(fake: FakeRegistry) -> None:
    issued: list[str] = []
    fake.bearer(user=USER, password=PASSWORD, issued=issued)
    fake.image("team/app", "1")
    fake.image("team/app", "2", config_for("arm64"))
    fake.image("team/other", "1")
    c = client(fake, credentials=Credentials(USER, PASSWORD))
    assert sorted(c.tags("team/app")) == ["1", "2"]
    c.image("team/app", "1", Platform.parse("linux/amd64"))
    c.image("team/app", "2", Platform.parse("linux/amd64"))
    c.image("team/other", "1", Platform.parse("linux/amd64"))
    # One token per scope, asked for with the credentials; the scope is the repository's.
    assert len(issued) == 2
    token_reqs = [r for r in fake.requests if r.path == "/token"]
    assert [r.query["scope"] for r in token_reqs] == [
        ["repository:team/app:pull"], ["repository:team/other:pull"]
    ]
    assert all(r.query["service"] == ["fake"] for r in token_reqs)
    assert all(r.auth.startswith("Basic ") for r in token_reqs)


def test_bearer_access_token_anonymous(fake: FakeRegistry) -> None:
    fake.bearer(token_key="access_token")
    fake.image("pub/app", "1")
    c = client(fake)
    assert c.tags("pub/app") == ["1"]
    assert all(not r.auth for r in fake.requests if r.path == "/token")


def test_bearer_with_identity_token_uses_oauth_post(fake: FakeRegistry) -> None:
    def token(req: Req) -> Resp | None:
        if req.path == "/token" and req.method == "POST":
            form = req.body.decode()
            assert "grant_type=refresh_token" in form and f"refresh_token={TOKEN}" in form
            return Resp(200, dumps({"access_token": "access-from-refresh"}))
        if req.path.startswith("/v2/") and req.auth != "Bearer access-from-refresh":
            return Resp(401, b"", {"WWW-Authenticate": f'Bearer realm="{fake.url}/token",'
                                                      'service="fake"'})
        return None

    fake.hooks.append(token)
    fake.image("team/app", "1")
    c = client(fake, credentials=Credentials("", "", TOKEN))
    assert c.tags("team/app") == ["1"]


def test_basic_auth(fake: FakeRegistry) -> None:
    fake.basic(USER, PASSWORD)
    fake.image("team/app", "1")
    assert client(fake, credentials=Credentials(USER, PASSWORD)).tags("team/app") == ["1"]


def test_credentials_are_read_lazily_once(fake: FakeRegistry) -> None:
    calls: list[int] = []

    def lookup() -> Credentials:
        calls.append(1)
        return Credentials(USER, PASSWORD)

    fake.image("team/app", "1")
    c = client(fake, credentials=lookup)
    c.tags("team/app")
    assert calls == []  # the registry never asked
    fake.basic(USER, PASSWORD)
    c2 = client(fake, credentials=lookup)
    c2.tags("team/app")
    c2.tags("team/app")
    assert calls == [1]


def _all_failures(fake: FakeRegistry, c: RegistryClient) -> list[str]:
    out: list[str] = []
    for call in (
        lambda: c.tags("team/app"),
        lambda: c.manifest("team/app", "1"),
        lambda: c.blob("team/app", "sha256:" + "0" * 64),
    ):
        try:
            call()
        except AuditlibError as e:
            out.append(str(e))
    return out


def test_wrong_credentials_bearer(fake: FakeRegistry, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.bearer(user=USER, password="the-right-one")
    fake.image("team/app", "1")
    c = client(fake, credentials=Credentials(USER, PASSWORD))
    errors = _all_failures(fake, c)
    assert len(errors) == 3
    assert all("authentication failed; run `docker login " + fake.host + "`" in e for e in errors)
    for text in [*errors, caplog.text, repr(c)]:
        assert PASSWORD not in text and USER not in text


def test_no_credentials_basic(fake: FakeRegistry) -> None:
    fake.basic(USER, PASSWORD)
    with pytest.raises(RegistryError) as err:
        client(fake).tags("team/app")
    assert str(err.value) == (
        f"{fake.host}/team/app: authentication required; run `docker login {fake.host}`"
    )
    assert err.value.status == 401


def test_wrong_credentials_basic(fake: FakeRegistry, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.basic(USER, "the-right-one")
    c = client(fake, credentials=Credentials(USER, PASSWORD))
    errors = _all_failures(fake, c)
    assert errors and all("authentication failed" in e for e in errors)
    for text in [*errors, caplog.text]:
        assert PASSWORD not in text and USER not in text


def test_tokens_and_secrets_never_logged(
    fake: FakeRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    issued: list[str] = []
    fake.bearer(user=USER, password=PASSWORD, issued=issued)
    fake.image("team/app", "1")
    c = client(fake, credentials=Credentials(USER, PASSWORD))
    c.image("team/app", "1", Platform.parse("linux/amd64"))
    assert issued
    for secret in [PASSWORD, *issued]:
        assert secret not in caplog.text
        assert secret not in repr(c)


def test_http_token_realm_refused_with_credentials() -> None:
    adapter = ScriptedAdapter(lambda req: response(
        401, b"", {"WWW-Authenticate": 'Bearer realm="http://auth.example.com/token"'}
    ))
    c = RegistryClient(
        "reg.example.com", session=adapter.mount_on(), credentials=Credentials(USER, PASSWORD)
    )
    with pytest.raises(RegistryError, match="refusing to send credentials over plain HTTP"):
        c.tags("team/app")
    assert not [u for u in adapter.urls if "auth.example.com" in u]


# -- retries --------------------------------------------------------------------------------


def _fail_first(fake: FakeRegistry, n: int, resp: Resp, path: str = "/tags/list") -> None:
    count = {"n": 0}

    def hook(req: Req) -> Resp | None:
        if req.path.endswith(path) and count["n"] < n:
            count["n"] += 1
            return resp
        return None

    fake.hooks.append(hook)


def test_429_honours_retry_after_seconds(fake: FakeRegistry) -> None:
    fake.image("team/app", "1")
    _fail_first(fake, 2, Resp(429, b"", {"Retry-After": "2"}))
    sleeps = Sleeps()
    assert client(fake, sleep=sleeps).tags("team/app") == ["1"]
    assert sleeps == [2.0, 2.0]


def test_429_honours_retry_after_date(fake: FakeRegistry) -> None:
    fake.image("team/app", "1")
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    _fail_first(fake, 1, Resp(429, b"", {"Retry-After": when}))
    sleeps = Sleeps()
    assert client(fake, sleep=sleeps).tags("team/app") == ["1"]
    assert len(sleeps) == 1 and 0.0 <= sleeps[0] <= 3.0


def test_429_real_wait_is_tiny(fake: FakeRegistry) -> None:
    fake.image("team/app", "1")
    _fail_first(fake, 1, Resp(429, b"", {"Retry-After": "0"}))
    c = RegistryClient(fake.host, scheme="http", retry=RetryPolicy(max_retry_after=0.01))
    assert c.tags("team/app") == ["1"]


def test_429_longer_than_the_cap_fails_at_once(fake: FakeRegistry) -> None:
    _fail_first(fake, 5, Resp(429, b"", {"Retry-After": "3600"}))
    sleeps = Sleeps()
    c = client(fake, sleep=sleeps, retry=RetryPolicy(max_retry_after=0.05))
    with pytest.raises(RegistryError, match="asks to wait 3600 s") as err:
        c.tags("team/app")
    assert sleeps == []
    assert err.value.status == 429


def test_429_without_retry_after_backs_off_then_fails(fake: FakeRegistry) -> None:
    _fail_first(fake, 10, Resp(429))
    sleeps = Sleeps()
    with pytest.raises(RegistryError, match="rate limited \\(HTTP 429\\) after 4 attempts"):
        client(fake, sleep=sleeps).tags("team/app")
    assert sleeps == [0.5, 1.0, 2.0]


def test_5xx_is_retried(fake: FakeRegistry) -> None:
    fake.image("team/app", "1")
    _fail_first(fake, 2, Resp(503, b"busy"))
    sleeps = Sleeps()
    assert client(fake, sleep=sleeps).tags("team/app") == ["1"]
    assert sleeps == [0.5, 1.0]


def test_5xx_gives_up(fake: FakeRegistry) -> None:
    _fail_first(fake, 10, Resp(500, b'{"errors":[{"code":"UNKNOWN","message":"boom"}]}'))
    with pytest.raises(RegistryError) as err:
        client(fake, retry=RetryPolicy(retries=1)).tags("team/app")
    assert str(err.value) == (
        f"{fake.host}/team/app: registry error (HTTP 500 UNKNOWN: boom) after 2 attempts"
    )


# -- manifests, blobs, digests --------------------------------------------------------------


def test_manifest_tag_not_found(fake: FakeRegistry) -> None:
    fake.image("team/app", "1")
    with pytest.raises(RegistryError) as err:
        client(fake).manifest("team/app", "2")
    assert str(err.value).startswith(f"{fake.host}/team/app:2: tag not found (HTTP 404")


def test_manifest_digest_from_header_and_body(fake: FakeRegistry) -> None:
    digest, _ = fake.image("team/app", "1")
    c = client(fake)
    m = c.manifest("team/app", "1")
    assert m.digest == digest and not m.is_index
    accept = [r.headers["accept"] for r in fake.requests if "/manifests/" in r.path][0]
    for media_type in ("oci.image.index", "oci.image.manifest", "manifest.list.v2",
                       "distribution.manifest.v2"):
        assert media_type in accept


def test_manifest_digest_mismatch(fake: FakeRegistry) -> None:
    fake.image("team/app", "1")
    fake.hooks.append(
        lambda req: None if not req.path.endswith("/manifests/1") else Resp(
            200, fake.manifests[("team/app", "1")][1],
            {"Docker-Content-Digest": "sha256:" + "1" * 64},
        )
    )
    with pytest.raises(RegistryError, match="manifest digest mismatch") as err:
        client(fake).manifest("team/app", "1")
    assert f"{fake.host}/team/app:1" in str(err.value)


def test_manifest_by_digest_must_hash_to_it(fake: FakeRegistry) -> None:
    digest, _ = fake.image("team/app", "1")
    other = fake.manifests[("team/app", digest)][1] + b" "
    fake.hooks.append(
        lambda req: Resp(200, other) if req.path.endswith(f"/manifests/{digest}") else None
    )
    with pytest.raises(RegistryError, match="manifest digest mismatch"):
        client(fake).manifest("team/app", digest)


def test_manifest_without_digest_header_is_hashed(fake: FakeRegistry) -> None:
    digest, _ = fake.image("team/app", "1")
    data = fake.manifests[("team/app", "1")][1]
    fake.hooks.append(lambda req: Resp(200, data) if req.path.endswith("/manifests/1") else None)
    m = client(fake).manifest("team/app", "1")
    assert m.digest == digest
    assert m.media_type.endswith("oci.image.manifest.v1+json")


def test_blob_digest_mismatch(fake: FakeRegistry) -> None:
    _, config_digest = fake.image("team/app", "1")
    fake.blobs[config_digest] = b'{"tampered": true}'
    with pytest.raises(RegistryError, match="blob digest mismatch") as err:
        client(fake).image("team/app", "1", Platform.parse("linux/amd64"))
    assert f"{fake.host}/team/app@{config_digest}" in str(err.value)


def test_blob_redirect_followed(fake: FakeRegistry) -> None:
    _, config_digest = fake.image("team/app", "1")
    data = fake.blobs.pop(config_digest)

    def hook(req: Req) -> Resp | None:
        if req.path.endswith(f"/blobs/{config_digest}"):
            return Resp(307, b"", {"Location": f"{fake.url}/storage/cfg"})
        if req.path == "/storage/cfg":
            return Resp(200, data)
        return None

    fake.hooks.append(hook)
    img = client(fake).image("team/app", "1", Platform.parse("linux/amd64"))
    assert img.config_digest == config_digest and img.config["architecture"] == "amd64"


def _index(fake: FakeRegistry, media_type: str = OCI_INDEX) -> dict[str, tuple[str, str]]:
    entries, made = [], {}
    for plat in ("linux/amd64", "linux/arm64/v8", "linux/arm/v7"):
        os, arch, *variant = plat.split("/")
        digest, cfg = fake.image(
            "team/multi", None, config_for(arch, variant=variant[0] if variant else None),
            layers=(f"layer-{arch}".encode(),),
        )
        made[plat] = (digest, cfg)
        p: dict[str, Any] = {"os": os, "architecture": arch}
        if variant:
            p["variant"] = variant[0]
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": digest, "size": 1, "platform": p})
    entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": "sha256:" + "e" * 64, "size": 1,
                    "platform": {"os": "unknown", "architecture": "unknown"}})
    fake.manifest("team/multi", "1", {"schemaVersion": 2, "mediaType": media_type,
                                      "manifests": entries})
    return made


@pytest.mark.parametrize("media_type", [OCI_INDEX, DOCKER_LIST])
@pytest.mark.parametrize("want", ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"])
def test_index_platform_choice(fake: FakeRegistry, media_type: str, want: str) -> None:
    made = _index(fake, media_type)
    img = client(fake).image("team/multi", "1", Platform.parse(want))
    assert img.top.is_index and img.top.media_type == media_type
    assert (img.manifest.digest, img.config_digest) == made[want]
    assert img.platform == str(Platform.parse(want))
    assert img.size_bytes == len(f"layer-{want.split('/')[1]}")


def test_index_without_the_platform(fake: FakeRegistry) -> None:
    _index(fake)
    with pytest.raises(RegistryError) as err:
        client(fake).image("team/multi", "1", Platform.parse("linux/s390x"))
    assert str(err.value) == (
        f"{fake.host}/team/multi:1: the index has no linux/s390x image (it has: linux/amd64, "
        "linux/arm/v7, linux/arm64, unknown/unknown)"
    )


def test_shared_content_fetched_once(fake: FakeRegistry) -> None:
    _index(fake)
    c = client(fake)
    for _ in range(3):
        c.image("team/multi", "1", Platform.parse("linux/amd64"))
    blob_gets = [r for r in fake.requests if "/blobs/" in r.path]
    child_gets = [r for r in fake.requests if "/manifests/sha256:" in r.path]
    assert len(blob_gets) == 1 and len(child_gets) == 1


def test_schema1_is_refused(fake: FakeRegistry) -> None:
    body = {"schemaVersion": 1, "name": "team/old", "tag": "1", "fsLayers": []}
    data = dumps(body)
    fake.hooks.append(lambda req: Resp(
        200, data, {"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws",
                    "Docker-Content-Digest": digest_of(data)},
    ) if "/manifests/" in req.path else None)
    with pytest.raises(RegistryError, match="unsupported manifest media type"):
        client(fake).manifest("team/old", "1")
