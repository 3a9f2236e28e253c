"""Every source together, against the real parts: images built on the test's dockerd are pushed to
a real registry (one behind htpasswd basic auth, logged in with `docker login`), a tag is moved to
a new digest, `docker save` gives an archive, and the real syft and trivy scan it. The engine's
inspect, the registry, the archive, the Syft SBOM and the Trivy SBOM all name the image by the
same `image_id`.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import auditlib
from auditlib.data import AuditData
from auditlib.ingest.collect import CollectRequest, collect, to_audit_data
from auditlib.sources.archive import collect_archive
from auditlib.sources.registry import collect_registry
from auditlib.store import read_latest
from tests.integration.conftest import require_tool
from tests.integration.fleet import Fleet
from tests.integration.registry_server import RunningRegistry

pytestmark = pytest.mark.integration
HINT = "pip install 'auditlib[scanners]', which `make test` does"


def _push(fleet: Fleet, image: str, target: str) -> str:
    """Tag `image` as `target`, push it, and return the manifest digest the push printed."""
    fleet.engine.docker("tag", image, target)
    out = fleet.engine.docker("push", target)
    digest = next(w for w in out.split() if w.startswith("sha256:"))
    return digest


@pytest.fixture(scope="module")
def pushed(engine_fleet: Fleet, registry_server: RunningRegistry) -> dict[str, str]:
    reg = registry_server.host
    return {
        "app": _push(engine_fleet, engine_fleet.refs["app"], f"{reg}/team/app:1.0"),
        "base": _push(engine_fleet, engine_fleet.refs["busybox"], f"{reg}/team/base:stable"),
    }


def test_registry_matches_the_engine(
    engine_fleet: Fleet, registry_server: RunningRegistry, pushed: dict[str, str]
) -> None:
    reg = registry_server.host
    data = to_audit_data(collect_registry([f"{reg}/team/app", f"{reg}/team/base"]))
    assert data.load_errors.empty, data.load_errors["reason"].tolist()
    tags = data.registry_tags.set_index("repository")
    assert tags.loc["team/app", "manifest_digest"] == pushed["app"]
    assert tags.loc["team/app", "image_id"] == engine_fleet.images["app"]
    assert tags.loc["team/base", "image_id"] == engine_fleet.images["busybox"]
    images = data.images.set_index("image_id")
    app = images.loc[engine_fleet.images["app"]]
    inspect = json.loads(engine_fleet.engine.docker("image", "inspect", "team/app:1.0"))[0]
    assert app["user"] == inspect["Config"]["User"]
    assert app["layer_count"] == len(inspect["RootFS"]["Layers"])
    # The engine now knows the pushed repo digest too.
    assert f"{reg}/team/app@{pushed['app']}" in inspect["RepoDigests"]


def test_moved_tag_gives_new_digest_and_image(
    engine_fleet: Fleet, registry_server: RunningRegistry, pushed: dict[str, str]
) -> None:
    reg = registry_server.host
    repo = f"{reg}/team/base"
    before = to_audit_data(collect_registry([repo])).registry_tags.iloc[0]
    assert before["manifest_digest"] == pushed["base"]
    moved = _push(engine_fleet, engine_fleet.refs["leaky"], f"{repo}:stable")
    after = to_audit_data(collect_registry([repo])).registry_tags.iloc[0]
    assert moved != pushed["base"] and after["manifest_digest"] == moved
    assert after["image_id"] == engine_fleet.images["leaky"]
    assert after["scan_id"] != before["scan_id"]


def test_basic_auth_registry_with_docker_login(
    engine_fleet: Fleet, auth_registry_server: RunningRegistry, tmp_path: Path
) -> None:
    reg = auth_registry_server
    assert reg.username and reg.password
    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    env_engine = engine_fleet.engine
    login = subprocess.run(
        ["docker", "--config", str(config_dir), "-H", env_engine.url, "login", reg.host,
         "--username", reg.username, "--password-stdin"],
        input=reg.password.encode(), capture_output=True, check=False, timeout=120,
    )
    assert login.returncode == 0, login.stderr
    target = f"{reg.host}/private/app:1.0"
    env_engine.docker("tag", engine_fleet.refs["app"], target)
    push = subprocess.run(
        ["docker", "--config", str(config_dir), "-H", env_engine.url, "push", target],
        capture_output=True, check=False, timeout=300,
    )
    assert push.returncode == 0, push.stderr
    config = config_dir / "config.json"
    # What `docker login` wrote is what the collector reads.
    auths = json.loads(config.read_text())["auths"]
    assert base64.b64decode(auths[reg.host]["auth"]).decode() == f"{reg.username}:{reg.password}"

    denied = to_audit_data(collect_registry([f"{reg.host}/private/app"],
                                           docker_config=tmp_path / "none.json"))
    assert denied.files[0].error and "docker login" in denied.files[0].error
    data = to_audit_data(collect_registry([f"{reg.host}/private/app"], docker_config=config))
    assert data.load_errors.empty, data.load_errors["reason"].tolist()
    assert data.registry_tags["image_id"].tolist() == [engine_fleet.images["app"]]
    secrets = [reg.password, auths[reg.host]["auth"]]
    for name, df in data.tables().items():
        text = df.astype(str).to_csv()
        assert not any(s in text for s in secrets), name
    assert not any(s in repr(data.files) for s in secrets)


@pytest.fixture(scope="module")
def saved(engine_fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("saved") / "worker.tar"
    engine_fleet.engine.docker("save", "-o", str(out), engine_fleet.refs["worker"])
    return out


def test_docker_save_archive_matches_the_engine(engine_fleet: Fleet, saved: Path) -> None:
    data = to_audit_data([collect_archive(saved)])
    assert data.load_errors.empty, data.load_errors["reason"].tolist()
    assert data.images["image_id"].tolist() == [engine_fleet.images["worker"]]
    assert data.image_tags["reference"].tolist() == ["docker.io/team/worker:latest"]
    inspect = json.loads(engine_fleet.engine.docker("image", "inspect", "team/worker:latest"))
    layers = data.image_layers.sort_values("layer_index")["diff_id"].astype(str).tolist()
    assert layers == inspect[0]["RootFS"]["Layers"]


def test_engine_syft_and_trivy_join_on_image_id(
    engine_fleet: Fleet, saved: Path, tmp_path: Path
) -> None:
    syft = require_tool("syft", HINT)
    trivy = require_tool("trivy", HINT)
    out = tmp_path / "scans"
    out.mkdir()
    subprocess.run(
        [str(syft), "scan", f"docker-archive:{saved}", "--quiet",
         "--output", f"syft-json={out / 'syft.json'}",
         "--output", f"cyclonedx-json={out / 'syft.cdx.json'}"],
        check=True, timeout=600, env={**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"},
    )
    subprocess.run(
        [str(trivy), "image", "--input", str(saved), "--format", "cyclonedx",
         "--output", str(out / "trivy.cdx.json"), "--cache-backend", "memory",
         "--skip-db-update", "--offline-scan", "--disable-telemetry", "--quiet"],
        check=True, timeout=600,
    )
    engine = collect(CollectRequest(engines=[engine_fleet.engine.url]))
    sboms = auditlib.load(out)
    assert [f.error for f in sboms.files] == [None, None, None]
    worker = engine_fleet.images["worker"]
    assert worker in set(engine.images["image_id"])
    # Syft's CycloneDX names the image by its manifest digest only; Syft's JSON maps that
    # digest to the config digest, so all three documents join.
    assert sboms.scans["image_id"].astype(str).tolist() == [worker] * 3
    # Both SBOMs see the Debian packages of the real rootfs.
    pk = sboms.packages[sboms.packages["image_id"] == worker]
    per_doc = pk[pk["package_type"] == "deb"].groupby("source", observed=True).size()
    assert len(per_doc) == 3 and (per_doc >= 80).all(), per_doc


def test_cli_collect_all_sources_in_one_snapshot(
    engine_fleet: Fleet, registry_server: RunningRegistry, pushed: dict[str, str],
    saved: Path, tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-m", "auditlib.cli", "collect",
         "--engine", engine_fleet.engine.url,
         "--registry", f"{registry_server.host}/team/app",
         "--archive", str(saved),
         "--dockerfile", str(engine_fleet.dockerfiles["app"]),
         "--store", str(store)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "collected 4 of 4 sources" in done.stdout
    data: AuditData = read_latest(store)
    formats = set(data.scans["format"])
    assert formats == {"docker-engine", "oci-registry", "docker-archive", "dockerfile"}
    assert engine_fleet.images["app"] in set(data.registry_tags["image_id"])
