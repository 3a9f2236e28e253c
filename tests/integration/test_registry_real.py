"""The registry collector against the real `docker-registry` (distribution 2.8) on 127.0.0.1.

Images are pushed through the registry's HTTP API (monolithic blob uploads, then manifests):
small synthetic configs and layers, an OCI image index with two platforms, and a Docker v2
manifest. Then: tags and digests as the registry answers them, a moved tag, pagination, errors
for missing tags and repositories, and a htpasswd-protected registry read with credentials from a
temporary docker `config.json`, none of which may show in a table, an error or a log line.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from auditlib.data import AuditData
from auditlib.ingest.collect import to_audit_data
from auditlib.sources._registry_client import RegistryClient
from auditlib.sources.registry import collect_registry
from auditlib.tables import DATA_TABLES
from tests.integration.registry_server import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Pushed,
    Pusher,
    RunningRegistry,
)

pytestmark = pytest.mark.integration


def _config(arch: str, created: str, *, variant: str | None = None, user: str = "app",
            env: tuple[str, ...] = ("PATH=/usr/bin",)) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "architecture": arch, "os": "linux", "created": created,
        "config": {"User": user, "Env": list(env),
                   "Labels": {"org.opencontainers.image.source": "https://example.com/app"}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + arch.encode().hex().ljust(64, "0")]},
        "history": [{"created": created, "created_by": f"/bin/sh -c #(nop) ADD {arch}"}],
    }
    if variant:
        cfg["variant"] = variant
    return cfg


def _entry(pushed: Pushed, platform: dict[str, str]) -> dict[str, Any]:
    return {"mediaType": OCI_MANIFEST, "digest": pushed.manifest, "size": pushed.manifest_size,
            "platform": platform}


def _text(data: AuditData) -> str:
    return ("\n".join(getattr(data, t.name).astype(str).to_csv() for t in DATA_TABLES)
            + repr(data.files))


def _tags(data: AuditData) -> pd.DataFrame:
    return data.registry_tags.sort_values(["repository", "tag"]).reset_index(drop=True)


def test_collect_real_registry(registry_server: RunningRegistry) -> None:
    host = registry_server.host
    pusher = Pusher(registry_server)
    a_manifest, a_id, a_size, _ = pusher.image(
        "team/app", "1.0", _config("amd64", "2024-03-01T10:00:00Z"), [b"layer A" * 50]
    )
    pusher.manifest("team/app", "latest", json.loads(
        pusher.session.get(f"{registry_server.url}/v2/team/app/manifests/1.0",
                           headers={"Accept": OCI_MANIFEST}).content))
    b_manifest, b_id, _, _ = pusher.image(
        "team/app", "2.0", _config("amd64", "2024-04-01T10:00:00Z", user=""), [b"layer B"],
        docker=True,
    )
    amd = pusher.image(
        "team/multi", None, _config("amd64", "2024-05-01T00:00:00Z"), [b"multi amd64"]
    )
    arm = pusher.image(
        "team/multi", None, _config("arm64", "2024-05-01T00:00:00Z", variant="v8"),
        [b"multi arm64 layer"],
    )
    index, _ = pusher.manifest("team/multi", "1", {
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            _entry(amd, {"os": "linux", "architecture": "amd64"}),
            _entry(arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        ],
    })
    amd_id, arm_id = amd.image_id, arm.image_id

    cols = collect_registry([f"{host}/team/app", f"{host}/team/multi"], workers=3)
    assert [c.source for c in cols] == [f"http://{host}/team/app", f"http://{host}/team/multi"]
    assert all(not c.errors for c in cols)
    data = to_audit_data(cols)
    tags = _tags(data)
    assert list(zip(tags["repository"].astype(str), tags["tag"], strict=True)) == [
        ("team/app", "1.0"), ("team/app", "2.0"), ("team/app", "latest"), ("team/multi", "1"),
    ]
    assert list(tags["manifest_digest"]) == [a_manifest, b_manifest, a_manifest, index]
    assert list(tags["image_id"].astype(str)) == [a_id, b_id, a_id, amd_id]
    assert list(tags["is_index"]) == [False, False, False, True]
    assert list(tags["media_type"].astype(str)) == [OCI_MANIFEST, DOCKER_MANIFEST, OCI_MANIFEST,
                                                    OCI_INDEX]
    assert tags["platform_manifest_digest"].iloc[3] == amd.manifest
    assert set(tags["platform"].astype(str)) == {"linux/amd64"}
    assert str(tags["created_at"].iloc[0]) == "2024-03-01 10:00:00+00:00"

    images = data.images.set_index(data.images["image_id"].astype(str))
    assert sorted(images.index) == sorted([a_id, b_id, amd_id])  # 1.0 and latest: one image
    assert images.loc[a_id, "size_bytes"] == a_size
    assert images.loc[a_id, "user"] == "app" and images.loc[b_id, "user"] == ""
    assert images.loc[amd_id, "repo_digest"] == index
    assert images.loc[b_id, "source_format"] == "oci-registry@docker-manifest-v2"
    refs = data.image_tags[data.image_tags["image_id"].astype(str) == a_id]
    assert set(refs["reference"]) == {
        f"{host}/team/app:1.0", f"{host}/team/app:latest", f"{host}/team/app@{a_manifest}",
    }
    assert len(data.image_labels) == 3 and len(data.image_env) == 3
    assert data.load_errors.empty

    # The other platform of the index.
    arm_data = to_audit_data(collect_registry([f"{host}/team/multi:1"], platform="linux/arm64"))
    row = arm_data.registry_tags.iloc[0]
    assert (row["image_id"], row["platform_manifest_digest"]) == (arm_id, arm.manifest)
    assert row["platform"] == "linux/arm64" and row["manifest_digest"] == index
    assert arm_data.images["size_bytes"].iloc[0] == arm.layer_size

    # Move `latest` to image B: the next collection sees the new digest.
    pusher.manifest("team/app", "latest", json.loads(
        pusher.session.get(f"{registry_server.url}/v2/team/app/manifests/2.0",
                           headers={"Accept": DOCKER_MANIFEST}).content))
    moved = to_audit_data(collect_registry([f"{host}/team/app"]))
    latest = moved.registry_tags[moved.registry_tags["tag"] == "latest"].iloc[0]
    assert latest["manifest_digest"] == b_manifest and latest["image_id"] == b_id
    b_refs = moved.image_tags[moved.image_tags["image_id"].astype(str) == b_id]
    assert f"{host}/team/app:latest" in set(b_refs["reference"])
    old_scans = set(data.scans["scan_id"].astype(str))
    new_scans = set(moved.scans["scan_id"].astype(str))
    assert old_scans != new_scans and len(new_scans) == 2


def test_real_registry_pagination_and_errors(registry_server: RunningRegistry) -> None:
    host = registry_server.host
    pusher = Pusher(registry_server)
    names = [f"v{i}" for i in range(7)]
    for name in names:
        pusher.image("team/paged", name, _config("amd64", "2024-01-01T00:00:00Z"),
                     [b"same layer"])
    client = RegistryClient(host)
    assert sorted(client.tags("team/paged", page_size=3)) == names
    client.close()

    cols = collect_registry(
        [f"{host}/team/paged:v1", f"{host}/team/paged:nope", f"{host}/team/absent"]
    )
    assert len(cols) == 2
    assert len(cols[0].records) == 1
    assert len(cols[0].errors) == 1
    assert cols[0].errors[0].startswith(f"{host}/team/paged:nope: tag not found (HTTP 404")
    assert not cols[1].records
    assert cols[1].errors[0].startswith(f"{host}/team/absent: repository not found (HTTP 404")
    data = to_audit_data(cols)
    assert list(data.registry_tags["tag"]) == ["v1"]
    assert set(data.load_errors["level"]) == {"warning", "error"}


def _docker_config(tmp_path: Path, registry: RunningRegistry, password: str) -> Path:
    folder = tmp_path / "docker"
    folder.mkdir(exist_ok=True)
    auth = base64.b64encode(f"{registry.username}:{password}".encode()).decode()
    path = folder / "config.json"
    path.write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    return path


def test_htpasswd_registry_with_docker_config(
    auth_registry_server: RunningRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reg = auth_registry_server
    assert reg.username and reg.password
    pusher = Pusher(reg)
    manifest, image_id, _, _ = pusher.image(
        "private/app", "1", _config("amd64", "2024-06-01T00:00:00Z"), [b"private layer"]
    )
    config = _docker_config(tmp_path, reg, reg.password)
    cols = collect_registry([f"{reg.host}/private/app", f"{reg.host}/private/none:1"],
                            docker_config=config)
    assert not cols[0].errors
    data = to_audit_data(cols)
    assert list(data.registry_tags["manifest_digest"]) == [manifest]
    assert list(data.images["image_id"].astype(str)) == [image_id]
    assert cols[1].errors and "not found" in cols[1].errors[0]

    without = collect_registry([f"{reg.host}/private/app"], docker_config=tmp_path / "none.json")
    assert without[0].errors == [
        f"{reg.host}/private/app: authentication required; run `docker login {reg.host}`"
    ]
    wrong = collect_registry(
        [f"{reg.host}/private/app"], docker_config=_docker_config(tmp_path, reg, "wrong-pass")
    )
    assert wrong[0].errors == [
        f"{reg.host}/private/app: authentication failed; run `docker login {reg.host}`"
    ]
    auth = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
    everything = (
        _text(data) + _text(to_audit_data(without)) + _text(to_audit_data(wrong))
        + repr(cols) + repr(without) + repr(wrong) + caplog.text
    )
    for secret in (reg.password, reg.username, auth):
        assert secret not in everything
