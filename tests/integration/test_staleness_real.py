"""Staleness against the real engine and registry: a base tag is pushed, an image is built on it,
the base tag then moves to a new digest and a newer version tag appears; the staleness table shows
the drift and the newer tags (issue 5, item 5).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from auditlib.assess import staleness
from auditlib.ingest.collect import CollectRequest, collect
from auditlib.store import write_snapshot
from tests.integration.engine import build, busybox_rootfs, import_image
from tests.integration.fleet import Fleet
from tests.integration.registry_server import RunningRegistry

pytestmark = pytest.mark.integration


def _rootfs_with(marker: str) -> bytes:
    """Return the busybox rootfs plus one file, so each base version is a new image."""
    buf = io.BytesIO(busybox_rootfs())
    out = io.BytesIO()
    with tarfile.open(fileobj=buf) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for m in src.getmembers():
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
        data = marker.encode()
        info = tarfile.TarInfo("etc/base-version")
        info.size = len(data)
        dst.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture(scope="module")
def drifted(engine_fleet: Fleet, registry_server: RunningRegistry,
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    engine, reg = engine_fleet.engine, registry_server.host
    base = f"{reg}/base/os"
    ids = {"base_v1": import_image(engine, _rootfs_with("1.0"), f"{base}:1.0")}
    engine.docker("push", f"{base}:1.0")
    ctx = tmp_path_factory.mktemp("drift")
    app = f"{reg}/team/svc"
    ids["app"] = build(engine, ctx / "v2.0", f"{app}:2.0",
                       f"FROM {base}:1.0\nRUN echo svc > /svc\nUSER 1000\n")
    engine.docker("push", f"{app}:2.0")
    ids["app_next"] = build(engine, ctx / "v2.1", f"{app}:2.1",
                            f"FROM {base}:1.0\nRUN echo svc2.1 > /svc\nUSER 1000\n")
    engine.docker("push", f"{app}:2.1")
    # The base tag moves to a new digest, and a newer version tag appears.
    ids["base_v2"] = import_image(engine, _rootfs_with("1.0-patched"), f"{base}:1.0")
    engine.docker("push", f"{base}:1.0")
    ids["base_v3"] = import_image(engine, _rootfs_with("1.1"), f"{base}:1.1")
    engine.docker("push", f"{base}:1.1")
    # The deployed container runs the older build of team/svc.
    engine.client.containers.run(f"{app}:2.0", ["sleep", "3600"], name="svc", detach=True,
                                 network_mode="none")
    ids["registry"] = reg
    ids["dockerfiles"] = f"{ctx / 'v2.0' / 'Dockerfile'}={app}:2.0"
    return ids


def test_staleness_shows_drift_newer_tags_and_lag(engine_fleet: Fleet,
                                                  drifted: dict[str, str]) -> None:
    reg = drifted["registry"]
    data = collect(CollectRequest(engines=[engine_fleet.engine.url],
                                  registries=[f"{reg}/base/os", f"{reg}/team/svc"],
                                  dockerfiles=[drifted["dockerfiles"]]))
    assert not [f.error for f in data.files if f.error]
    df = staleness(data).set_index("image_id")
    app = df.loc[drifted["app"]]
    # Built FROM base:1.0 (its Dockerfile), on base v1 (its layers); the tag now points at v2.
    assert app["base_image_id"] == drifted["base_v1"]
    assert app["base_current_image_id"] == drifted["base_v2"]
    assert bool(app["base_drifted"]) is True
    assert app["base_newer_tags"] == "1.1"
    assert app["newer_tags"] == "2.1" and app["newest_tag"] == "2.1"
    assert app["running_containers"] == 1
    assert app["newer_build_image_id"] == drifted["app_next"]
    assert app["deployment_lag_days"] >= 0
    assert "moved on" in app["priority_reasons"]
    # An image built on the current base is not drifted.
    fresh = engine_fleet.images["app"]
    assert pd.isna(df.loc[fresh, "base_drifted"]) or not bool(df.loc[fresh, "base_drifted"])
    assert df["priority_rank"].tolist() == sorted(df["priority_rank"])


def test_cli_staleness_lists_every_image(engine_fleet: Fleet, drifted: dict[str, str],
                                         tmp_path: Path) -> None:
    reg = drifted["registry"]
    data = collect(CollectRequest(engines=[engine_fleet.engine.url],
                                  registries=[f"{reg}/base/os"],
                                  dockerfiles=[drifted["dockerfiles"]]))
    store = tmp_path / "s"
    write_snapshot(store, data, sources=[f.path for f in data.files])
    done = subprocess.run(
        [sys.executable, "-m", "auditlib.cli", "staleness", "--store", str(store),
         "--format", "json"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    import json

    images = json.loads(done.stdout)["images"]
    assert {i["image_id"] for i in images} >= set(engine_fleet.images.values())
    by_id = {i["image_id"]: i for i in images}
    assert by_id[drifted["app"]]["base_drifted"] is True
