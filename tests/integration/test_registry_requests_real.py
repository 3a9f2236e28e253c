"""Fewer and lighter registry requests, the same tables, on the real registry (distribution 2.8).

Repositories read in one call share their registry's client: content named by its digest (an
image promoted from one repository to another) is read once, and each repository is asked once
whether it has the referrers API (a 404 says so for that repository only: a registry may answer
404 for a repository it will not serve). Their GETs go on kept-alive `http.client` connections, not
through `requests`. The tables are compared with those of the path before these cuts: each
repository read alone (nothing shared), through a plain `requests` session.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime

import pandas as pd
import pytest
import requests

from auditlib.ingest.collect import to_audit_data
from auditlib.sources._registry_http import WatchedAdapter
from auditlib.sources.record import Collection
from auditlib.sources.registry import collect_registry
from auditlib.tables import DATA_TABLES
from tests.integration.registry_server import Pusher, RunningRegistry
from tests.sources.test_registry_conn import through_requests

pytestmark = pytest.mark.integration

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
AT = datetime(2026, 12, 1, tzinfo=UTC)


def _push(pusher: Pusher, repo: str, tag: str, n: int) -> None:
    config = {"architecture": "amd64", "os": "linux", "created": f"2026-10-{1 + n:02d}T00:00:00Z",
              "config": {"Env": [f"N={n}"], "User": "1000"},
              "rootfs": {"type": "layers", "diff_ids": []}}
    body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": pusher.blob(repo, json.dumps(config).encode(), OCI_CONFIG),
            "layers": [pusher.blob(repo, f"layer {n}".encode() * 20, OCI_LAYER)]}
    pusher.manifest(repo, tag, body)


class _Requests(logging.Handler):
    """Counts the registry requests the transport logs (`GET <url> -> <status>`), by kind."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.kinds: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if " -> " not in text:
            return
        path = text.split(" ")[1].split("/v2/", 1)[-1]
        kind = next((k for k in ("tags/list", "manifests", "blobs", "referrers") if k in path),
                    "ping")
        self.kinds[kind] += 1


def _frames(cols: list[Collection]) -> dict[str, pd.DataFrame]:
    data = to_audit_data(cols, collected_at=AT)
    out = {}
    for table in DATA_TABLES:
        text = getattr(data, table.name).astype(str)
        out[table.name] = text.sort_values(list(text.columns)).reset_index(drop=True)
    return out


def test_fewer_lighter_requests_same_tables(
    registry_server: RunningRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    pusher = Pusher(registry_server)
    host = registry_server.host
    for repo in ("lean/dev", "lean/prod"):  # one image promoted: the same config in both
        _push(pusher, repo, "1.0", 0)
    for n in (1, 2, 3):
        _push(pusher, "lean/dev", f"2.{n}", n)
    repos = [f"{host}/lean/dev", f"{host}/lean/prod"]

    sent = through_requests(monkeypatch)
    log = logging.getLogger("auditlib.sources.registry")
    handler, level = _Requests(), log.level
    log.setLevel(logging.DEBUG)  # setLevel: it clears the loggers' cached levels
    log.addHandler(handler)
    try:
        now = collect_registry(repos)
        sent_now = Counter(handler.kinds)
        handler.kinds.clear()
        assert sent == []  # every GET on the lean path

        session = requests.Session()  # not the client's own: every request through requests
        session.mount("http://", WatchedAdapter())
        before = [c for r in repos for c in collect_registry([r], session=session)]
        sent_before = Counter(handler.kinds)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    # every answered GET through requests (HTTPS, tried first on loopback, gets none)
    assert len([u for u in sent if u.startswith("http:")]) == sum(
        sent_before.values())

    assert all(not c.errors for c in now + before), [c.errors for c in now + before]
    # 2 tag lists, 5 tags' manifests; 4 configs (the promoted one once); 1 referrers request
    # per repository (its 404 is not taken for the other repository's)
    assert sent_now == Counter(ping=1, **{"tags/list": 2, "manifests": 5, "blobs": 4,
                                          "referrers": 2})
    assert sent_before == Counter(ping=2, **{"tags/list": 2, "manifests": 5, "blobs": 5,
                                             "referrers": 2})
    a, b = _frames(now), _frames(before)
    assert len(a["registry_tags"]) == 5 and len(a["images"]) == 5
    for name, frame in a.items():
        pd.testing.assert_frame_equal(frame, b[name], obj=name)
