"""Image archives: `docker save` tars (Docker < 25 and 25+ layouts, containerd-store exports) and
OCI image layouts (folder, tar, tar.gz), built here with `tarfile`, read by `collect_archive`.

Row meanings checked here: one `images` row per image (one per platform for a multi-platform
index), `image_id` = `sha256:` of the config bytes; one `image_tags` row per tag and repo digest;
one `image_layers` row per diff id; one `image_history` row per history step; one `image_env` row
per variable name (never a value). Hostile or broken archives give `load_errors` rows naming the
archive, the member and the reason, and never an exception. Nothing is written to disk.
"""

from __future__ import annotations

import builtins
import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from auditlib.data import AuditData
from auditlib.ingest.collect import to_audit_data
from auditlib.sources._archive_members import Members
from auditlib.sources.archive import ArchiveLimits, collect_archive
from auditlib.sources.record import Collection
from auditlib.tables import DATA_TABLES

SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"  # a GitHub-token-shaped value
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


# --- builders ---------------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _layer(*files: tuple[str, bytes]) -> bytes:
    """Return an uncompressed layer tar holding `files`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _config(
    layers: list[bytes],
    *,
    arch: str = "amd64",
    user: str | None = "app",
    env: list[str] | None = None,
    labels: dict[str, str] | None = None,
    created: str = "2024-05-01T10:00:00Z",
) -> bytes:
    """Return config bytes as BuildKit writes them: history with empty layers, env, labels."""
    config: dict[str, Any] = {
        "Env": env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["/app/run", "--port", "8080"],
        "WorkingDir": "/app",
        "ExposedPorts": {"8080/tcp": {}},
        "Labels": labels or {},
    }
    if user is not None:
        config["User"] = user
    history: list[dict[str, Any]] = [
        {"created": "2024-04-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
        {
            "created": "2024-04-01T00:00:01Z",
            "created_by": '/bin/sh -c #(nop)  CMD ["bash"]',
            "empty_layer": True,
        },
    ]
    history += [
        {"created": created, "created_by": f"RUN step {i}", "comment": "buildkit.dockerfile.v0"}
        for i in range(1, len(layers))
    ]
    history.append(
        {"created": created, "created_by": "ENV APP_TOKEN=...", "comment": "buildkit.dockerfile.v0",
         "empty_layer": True}
    )
    return _json(
        {
            "architecture": arch,
            "os": "linux",
            "created": created,
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + _sha(x) for x in layers]},
            "history": history,
        }
    )


@dataclass
class Link:
    """A symlink (or hardlink) member to write into a tar."""

    target: str
    hard: bool = False


Entry = bytes | Link | None  # None: a directory


def _write_tar(path: Path, entries: dict[str, Entry], *, compress: str = "") -> Path:
    """Write `entries` (name -> bytes, Link, or None for a directory) as a tar at `path`."""
    mode = f"w:{compress}" if compress else "w"
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for name, value in entries.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1714557600
            if value is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(value, Link):
                info.type = tarfile.LNKTYPE if value.hard else tarfile.SYMTYPE
                info.linkname = value.target
                tar.addfile(info)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    return path


def _write_folder(root: Path, entries: dict[str, Entry]) -> Path:
    for name, value in entries.items():
        path = root / name
        if value is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(value, Link):
            path.symlink_to(value.target)
        else:
            path.write_bytes(value)
    return root


# Two images as a team's build would make them: a shared base layer, an app layer each.
BASE = _layer(("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'))
APP = _layer(("app/run", b"#!/bin/sh\nexec server\n"), ("app/VERSION", b"1.0\n"))
WORKER = _layer(("app/worker", b"#!/bin/sh\nexec worker\n"))
APP_CONFIG = _config(
    [BASE, APP],
    env=["PATH=/usr/bin:/bin", f"APP_TOKEN={SECRET}", "LOG_LEVEL=info", "DB_PASSWORD="],
    labels={"org.opencontainers.image.source": "https://git.example.com/team/app",
            "org.opencontainers.image.version": "1.0"},
)
WORKER_CONFIG = _config([BASE, WORKER], user=None, arch="amd64", created="2024-05-02T09:00:00Z")


def docker_save_entries(*, oci: bool = True) -> dict[str, Entry]:
    """Return the members of `docker save app:1.0 app:latest registry.example.com/team/worker:2`
    as Docker 25+ (classic image store) writes them: blobs, manifest.json, repositories, and an
    OCI index whose manifests list no layers (made up at save time).
    """
    entries: dict[str, Entry] = {"blobs": None, "blobs/sha256": None}
    items = []
    index: list[dict[str, Any]] = []
    for config, layers, tags in (
        (APP_CONFIG, [BASE, APP], ["app:1.0", "app:latest"]),
        (WORKER_CONFIG, [BASE, WORKER], ["registry.example.com/team/worker:2"]),
    ):
        entries[f"blobs/sha256/{_sha(config)}"] = config
        for layer in layers:
            entries[f"blobs/sha256/{_sha(layer)}"] = layer
        items.append(
            {
                "Config": f"blobs/sha256/{_sha(config)}",
                "RepoTags": tags,
                "Layers": [f"blobs/sha256/{_sha(x)}" for x in layers],
            }
        )
        manifest = _json(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": "sha256:" + _sha(config),
                           "size": len(config)},
                "layers": None,  # Go's nil slice: only foreign layers would be listed
            }
        )
        entries[f"blobs/sha256/{_sha(manifest)}"] = manifest
        for tag in tags:
            name = tag if "/" in tag else f"docker.io/library/{tag}"
            index.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": "sha256:" + _sha(manifest),
                    "size": len(manifest),
                    "annotations": {
                        "io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": tag.rsplit(":", 1)[1],
                    },
                }
            )
    if oci:
        entries["index.json"] = _json(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index}
        )
        entries["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    entries["manifest.json"] = _json(items)
    entries["repositories"] = _json({"app": {"1.0": _sha(APP), "latest": _sha(APP)}})
    return entries


def _manifest(config: bytes, layers: list[bytes]) -> bytes:
    gz = [gzip.compress(x, mtime=0) for x in layers]
    return _json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": "sha256:" + _sha(config),
                       "size": len(config)},
            "layers": [
                {"mediaType": OCI_LAYER, "digest": "sha256:" + _sha(x), "size": len(x)}
                for x in gz
            ],
        }
    )


def _desc(blob: bytes, media: str, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media, "digest": "sha256:" + _sha(blob), "size": len(blob), **extra}


ARM_CONFIG = _config([BASE, APP], arch="arm64", env=["PATH=/usr/bin:/bin"])
AMD_CONFIG = _config([BASE, APP], arch="amd64", env=["PATH=/usr/bin:/bin"])


def oci_layout_entries() -> dict[str, Entry]:
    """Return an OCI layout as BuildKit's OCI exporter writes a multi-platform build: index.json
    names one index (linux/amd64, linux/arm64, and an attestation manifest); a second entry
    names a single-platform image by a bare tag only (as `skopeo copy ... oci:dir:latest`).
    """
    entries: dict[str, Entry] = {"blobs": None, "blobs/sha256": None}
    platform_descs = []
    for config, arch in ((AMD_CONFIG, "amd64"), (ARM_CONFIG, "arm64")):
        manifest = _manifest(config, [BASE, APP])
        entries[f"blobs/sha256/{_sha(config)}"] = config
        entries[f"blobs/sha256/{_sha(manifest)}"] = manifest
        platform_descs.append(
            _desc(manifest, OCI_MANIFEST, platform={"architecture": arch, "os": "linux"})
        )
    attestation = _json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                         "config": {"mediaType": "application/vnd.in-toto+json"}, "layers": []})
    entries[f"blobs/sha256/{_sha(attestation)}"] = attestation
    platform_descs.append(
        _desc(
            attestation, OCI_MANIFEST,
            platform={"architecture": "unknown", "os": "unknown"},
            annotations={"vnd.docker.reference.type": "attestation-manifest",
                         "vnd.docker.reference.digest": platform_descs[0]["digest"]},
        )
    )
    nested = _json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": platform_descs})
    entries[f"blobs/sha256/{_sha(nested)}"] = nested
    single = _manifest(WORKER_CONFIG, [BASE, WORKER])
    entries[f"blobs/sha256/{_sha(WORKER_CONFIG)}"] = WORKER_CONFIG
    entries[f"blobs/sha256/{_sha(single)}"] = single
    entries["index.json"] = _json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                _desc(nested, OCI_INDEX, annotations={
                    "io.containerd.image.name": "ghcr.io/example/app:1.0",
                    "org.opencontainers.image.ref.name": "1.0",
                }),
                _desc(single, OCI_MANIFEST, annotations={
                    "org.opencontainers.image.ref.name": "latest",
                }),
            ],
        }
    )
    entries["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
    return entries


# --- reading, with a guard that nothing is written ---------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


@pytest.fixture
def collect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Collection]]:
    """Return `collect_archive`, run with every way of writing a file trapped and recorded, the
    working folder and the temporary folder moved to empty folders; at teardown, assert that
    nothing was written (not even into tmp_path, whose files must be unchanged).
    """
    attempts: list[str] = []
    work, temp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()

    def snapshot() -> dict[str, tuple[int, int]]:
        return {
            str(p): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in tmp_path.rglob("*")
        }

    real_open, real_os_open = builtins.open, os.open

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(c in mode for c in "wax+"):
            attempts.append(f"open({file!r}, {mode!r})")
            raise PermissionError("write attempted")
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & _WRITE_FLAGS:
            attempts.append(f"os.open({path!r}, {flags:#o})")
            raise PermissionError("write attempted")
        return real_os_open(path, flags, *args, **kwargs)

    def run(path: Path | str, **kwargs: Any) -> Collection:
        before = snapshot()
        with monkeypatch.context() as m:
            m.chdir(work)
            m.setattr(tempfile, "tempdir", str(temp))
            m.setattr(builtins, "open", guarded_open)
            m.setattr(io, "open", guarded_open)
            m.setattr(tarfile, "bltn_open", guarded_open)
            m.setattr(os, "open", guarded_os_open)
            col = collect_archive(path, **kwargs)
        assert snapshot() == before, "collect_archive changed files under tmp_path"
        return col

    yield run
    assert attempts == [], attempts
    assert list(work.iterdir()) == [] and list(temp.iterdir()) == []


def _data(col: Collection) -> AuditData:
    return to_audit_data([col])


def _errors(data: AuditData) -> list[tuple[str, str]]:
    return list(zip(data.load_errors["level"], data.load_errors["reason"], strict=True))


def _assert_no_secret(col: Collection, data: AuditData) -> None:
    """The secret env value is in no table cell, no error, no payload-free field."""
    assert not any(SECRET in e for e in col.errors)
    for table in DATA_TABLES:
        frame: pd.DataFrame = getattr(data, table.name)
        for column in frame.columns:
            values = frame[column].dropna().astype(str)
            assert not values.str.contains(SECRET, regex=False).any(), (table.name, column)


# --- docker save ------------------------------------------------------------------------------


def _assert_docker_save(col: Collection, archive: Path) -> AuditData:
    assert col.format == "docker-archive" and col.errors == []
    data = _data(col)
    assert _errors(data) == []
    images = data.images.set_index("image_id")
    app, worker = "sha256:" + _sha(APP_CONFIG), "sha256:" + _sha(WORKER_CONFIG)
    assert list(images.index) == [app, worker]
    assert images.loc[app, "image_ref"] == "docker.io/library/app:1.0"
    assert images.loc[worker, "image_ref"] == "registry.example.com/team/worker:2"
    assert images.loc[app, "size_bytes"] == len(BASE) + len(APP)
    assert images.loc[worker, "size_bytes"] == len(BASE) + len(WORKER)
    assert images.loc[app, "user"] == "app" and images.loc[worker, "user"] == ""
    assert images.loc[app, "layer_count"] == 2
    assert images.loc[app, "os"] == "linux" and images.loc[app, "architecture"] == "amd64"
    assert images.loc[app, "exposed_ports"] == "8080/tcp"
    assert images.loc[app, "entrypoint"] == "/app/run --port 8080"
    assert (images["host"] == str(archive)).all()
    assert images["repo_digest"].isna().all()  # classic store: index digests are made up
    assert set(data.scans["source_format"]) == {"docker-archive@1"}

    tags = data.image_tags
    assert sorted(zip(tags["image_id"], tags["reference"], strict=True)) == sorted(
        [
            (app, "docker.io/library/app:1.0"),
            (app, "docker.io/library/app:latest"),
            (worker, "registry.example.com/team/worker:2"),
        ]
    )
    layers = data.image_layers[data.image_layers["image_id"] == app]
    assert layers["diff_id"].astype(str).tolist() == [
        "sha256:" + _sha(BASE), "sha256:" + _sha(APP)
    ]
    history = data.image_history[data.image_history["image_id"] == app]
    assert history["step_index"].tolist() == [0, 1, 2, 3]
    assert history["is_empty_layer"].tolist() == [False, True, False, True]
    assert history["created_by"].iloc[2] == "RUN step 1"
    env = data.image_env[data.image_env["image_id"] == app].set_index("name")
    assert sorted(env.index.astype(str)) == ["APP_TOKEN", "DB_PASSWORD", "LOG_LEVEL", "PATH"]
    assert env.loc["APP_TOKEN", "looks_secret"]
    assert not env.loc["DB_PASSWORD", "looks_secret"]  # set to empty: no secret baked in
    assert not env.loc["LOG_LEVEL", "looks_secret"]
    labels = data.image_labels[data.image_labels["image_id"] == app]
    assert set(labels["label"]) == {
        "org.opencontainers.image.source", "org.opencontainers.image.version"
    }
    _assert_no_secret(col, data)
    return data


def test_docker_save_docker25(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    archive = _write_tar(tmp_path / "images.tar", docker_save_entries())
    _assert_docker_save(collect(archive), archive)


@pytest.mark.parametrize("compress", ["gz", "bz2", "xz"])
def test_docker_save_compressed(
    tmp_path: Path, collect: Callable[..., Collection], compress: str
) -> None:
    archive = tmp_path / f"images.tar.{compress}"
    _write_tar(archive, docker_save_entries(), compress=compress)
    _assert_docker_save(collect(archive), archive)


def test_docker_save_unpacked_folder(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    folder = _write_folder(tmp_path / "saved", docker_save_entries())
    _assert_docker_save(collect(folder), folder)


def test_docker_save_before_docker25(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    """`<hex>.json` configs and `<id>/layer.tar` layers; a layer shared by two images is a
    symlink to the other's (as `docker save` deduplicates), and its size still counts.
    """
    entries: dict[str, Entry] = {
        f"{_sha(APP_CONFIG)}.json": APP_CONFIG,
        f"{_sha(WORKER_CONFIG)}.json": WORKER_CONFIG,
        "b1": None, "b1/layer.tar": BASE, "b1/VERSION": b"1.0", "b1/json": b"{}",
        "a1": None, "a1/layer.tar": APP,
        "b2": None, "b2/layer.tar": Link("../b1/layer.tar"),
        "w2": None, "w2/layer.tar": WORKER,
        "manifest.json": _json(
            [
                {"Config": f"{_sha(APP_CONFIG)}.json", "RepoTags": ["app:1.0", "app:latest"],
                 "Layers": ["b1/layer.tar", "a1/layer.tar"]},
                {"Config": f"{_sha(WORKER_CONFIG)}.json",
                 "RepoTags": ["registry.example.com/team/worker:2"],
                 "Layers": ["b2/layer.tar", "w2/layer.tar"], "Parent": "sha256:" + "0" * 64},
            ]
        ),
        "repositories": _json({"app": {"1.0": "a1"}}),
    }
    archive = _write_tar(tmp_path / "old.tar", entries)
    _assert_docker_save(collect(archive), archive)


def test_docker_save_containerd_store_gives_repo_digests(
    tmp_path: Path, collect: Callable[..., Collection]
) -> None:
    """With the containerd image store, the OCI index beside manifest.json holds the registry's
    manifests (all layers listed): its digests are real repo digests.
    """
    manifest = _manifest(APP_CONFIG, [BASE, APP])
    entries = docker_save_entries(oci=False)
    entries[f"blobs/sha256/{_sha(manifest)}"] = manifest
    entries["index.json"] = _json({"schemaVersion": 2, "manifests": [_desc(
        manifest, OCI_MANIFEST, annotations={
            "io.containerd.image.name": "docker.io/library/app:1.0",
            "org.opencontainers.image.ref.name": "1.0"})]})
    col = collect(_write_tar(tmp_path / "ctr.tar", entries))
    assert col.errors == []
    data = _data(col)
    images = data.images.set_index("image_id")
    digest = "sha256:" + _sha(manifest)
    assert images.loc["sha256:" + _sha(APP_CONFIG), "repo_digest"] == digest
    assert images["repo_digest"].isna().tolist() == [False, True]
    assert f"docker.io/library/app@{digest}" in set(data.image_tags["reference"])


def test_docker_save_untagged_image(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    """`docker save <image id>` writes `RepoTags: null`: the image has no tag and no reference."""
    entries = docker_save_entries(oci=False)
    items = json.loads(entries["manifest.json"])  # type: ignore[arg-type]
    items[1]["RepoTags"] = None
    entries["manifest.json"] = _json(items)
    data = _data(collect(_write_tar(tmp_path / "x.tar", entries)))
    worker = data.images[data.images["image_id"] == "sha256:" + _sha(WORKER_CONFIG)]
    assert worker["image_ref"].isna().all()
    assert len(data.image_tags) == 2


# --- OCI layouts ------------------------------------------------------------------------------


def _assert_oci(col: Collection, archive: Path) -> None:
    assert col.format == "oci-layout" and col.errors == []
    data = _data(col)
    assert _errors(data) == []
    images = data.images
    # One image per platform (the attestation is not an image), then the single-platform one.
    assert images["architecture"].tolist() == ["amd64", "arm64", "amd64"]
    assert images["image_id"].tolist() == [
        "sha256:" + _sha(AMD_CONFIG), "sha256:" + _sha(ARM_CONFIG), "sha256:" + _sha(WORKER_CONFIG)
    ]
    entries = oci_layout_entries()
    index = json.loads(entries["index.json"])  # type: ignore[arg-type]
    index_digest = index["manifests"][0]["digest"]
    assert images["image_ref"].tolist()[:2] == ["ghcr.io/example/app:1.0"] * 2
    assert images["repo_digest"].tolist()[:2] == [index_digest] * 2
    assert pd.isna(images["image_ref"].iloc[2]) and pd.isna(images["repo_digest"].iloc[2])
    compressed = len(gzip.compress(BASE, mtime=0)) + len(gzip.compress(APP, mtime=0))
    assert images["size_bytes"].tolist()[:2] == [compressed] * 2
    assert set(data.scans["source_format"]) == {"oci-layout@1.0.0"}
    assert set(data.scans["tool"]) == {"oci"}
    amd = data.image_tags[data.image_tags["image_id"] == "sha256:" + _sha(AMD_CONFIG)]
    assert sorted(amd["reference"]) == [
        "ghcr.io/example/app:1.0", f"ghcr.io/example/app@{index_digest}"
    ]
    assert (data.image_layers.groupby("image_id", observed=True).size() == 2).all()
    assert len(data.image_history) == 3 * 4
    assert (images["host"] == str(archive)).all()


def test_oci_layout_folder(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    folder = _write_folder(tmp_path / "layout", oci_layout_entries())
    _assert_oci(collect(folder), folder)


def test_oci_layout_tar(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    """As `tar -C layout -cf layout.tar .` writes it: every name starts with `./`."""
    entries = {"./" + k: v for k, v in oci_layout_entries().items()}
    archive = _write_tar(tmp_path / "layout.tar", {"./": None, **entries})
    _assert_oci(collect(archive), archive)


def test_oci_layout_tar_gz(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    archive = _write_tar(tmp_path / "layout.tgz", oci_layout_entries(), compress="gz")
    _assert_oci(collect(archive), archive)


def test_oci_index_depth_limit(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    folder = _write_folder(tmp_path / "layout", oci_layout_entries())
    col = collect(folder, limits=ArchiveLimits(max_index_depth=0))
    # The nested index is one level too deep; the single-platform image is still read.
    assert len(col.records) == 1
    assert len(col.errors) == 1 and "nested deeper than 0" in col.errors[0]


def test_oci_missing_platform_blob(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    """An export of one platform of a multi-platform index (`ctr export --platform`): the other
    platform's manifest is absent; the present one is read and the absence is a warning.
    """
    entries = oci_layout_entries()
    arm_manifest = _manifest(ARM_CONFIG, [BASE, APP])
    del entries[f"blobs/sha256/{_sha(arm_manifest)}"]
    col = collect(_write_folder(tmp_path / "layout", entries))
    data = _data(col)
    assert data.images["architecture"].tolist() == ["amd64", "amd64"]
    [(level, reason)] = _errors(data)
    assert level == "warning"
    assert f"blobs/sha256/{_sha(arm_manifest)}: not in the archive" in reason
    assert "linux/arm64" in reason


# --- broken and hostile archives --------------------------------------------------------------


def test_docker_config_digest_mismatch(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    """A config whose bytes were changed after saving: that image is refused, the other read."""
    entries = docker_save_entries()
    member = f"blobs/sha256/{_sha(WORKER_CONFIG)}"
    entries[member] = WORKER_CONFIG.replace(b'"amd64"', b'"arm64"')
    archive = _write_tar(tmp_path / "tampered.tar", entries)
    col = collect(archive)
    assert [r.output.scan.image.image_id for r in col.records if r.output.scan.image] == [
        "sha256:" + _sha(APP_CONFIG)
    ]
    data = _data(col)
    [(level, reason)] = _errors(data)
    assert level == "warning"
    assert reason.startswith(f"{archive}: {member}: content digest sha256:")
    assert "does not match" in reason and "manifest.json[1]" in reason


def test_oci_config_digest_mismatch(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    entries = oci_layout_entries()
    member = f"blobs/sha256/{_sha(WORKER_CONFIG)}"
    entries[member] = WORKER_CONFIG + b" "
    folder = _write_folder(tmp_path / "layout", entries)
    col = collect(folder)
    assert len(col.records) == 2
    [reason] = col.errors
    assert reason.startswith(f"{folder}: {member}: content digest sha256:")
    assert "does not match the config of" in reason


def _only_error(col: Collection) -> str:
    """Assert the collection gave no record and exactly one error; return it."""
    assert col.records == []
    data = _data(col)
    [(level, reason)] = _errors(data)
    assert level == "error" and [reason] == col.errors
    assert data.images.empty
    [result] = data.files
    assert result.error == reason
    return reason


@pytest.mark.parametrize(
    ("bad_name", "why"),
    [
        ("../../etc/cron.d/evil", "'..' path component"),
        ("blobs/../../escape", "'..' path component"),
        ("/etc/passwd", "absolute path"),
    ],
)
def test_path_traversal_member_refused(
    tmp_path: Path, collect: Callable[..., Collection], bad_name: str, why: str
) -> None:
    entries = docker_save_entries()
    entries[bad_name] = b"x"
    archive = _write_tar(tmp_path / "evil.tar", entries)
    reason = _only_error(collect(archive))
    assert reason.startswith(f"{archive}: member {bad_name!r}: {why}")
    assert "refusing the archive" in reason


def test_config_reference_outside_folder_refused(
    tmp_path: Path, collect: Callable[..., Collection]
) -> None:
    """manifest.json naming `../secret.json` as a Config: never opened."""
    (tmp_path / "secret.json").write_bytes(APP_CONFIG)
    entries = docker_save_entries(oci=False)
    items = json.loads(entries["manifest.json"])  # type: ignore[arg-type]
    items[0]["Config"] = "../secret.json"
    entries["manifest.json"] = _json(items)
    folder = _write_folder(tmp_path / "saved", entries)
    col = collect(folder)
    assert len(col.records) == 1
    [reason] = col.errors
    assert "'../secret.json': '..' path component" in reason and "manifest.json[0]" in reason


def test_blobs_symlinked_outside_folder_refused(
    tmp_path: Path, collect: Callable[..., Collection]
) -> None:
    outside = _write_folder(tmp_path / "elsewhere", oci_layout_entries())
    folder = tmp_path / "layout"
    folder.mkdir()
    (folder / "index.json").write_bytes((outside / "index.json").read_bytes())
    (folder / "oci-layout").write_bytes(b'{"imageLayoutVersion":"1.0.0"}')
    (folder / "blobs").symlink_to(outside / "blobs")
    col = collect(folder)
    assert col.records == []
    assert len(col.errors) == 2
    assert all("its folder resolves outside the archive; refusing it" in e for e in col.errors)


@pytest.mark.parametrize("hard", [False, True])
def test_linked_json_member_refused(
    tmp_path: Path, collect: Callable[..., Collection], hard: bool
) -> None:
    entries = docker_save_entries()
    entries["real-manifest.json"] = entries.pop("manifest.json")
    entries["manifest.json"] = Link("real-manifest.json", hard=hard)
    archive = _write_tar(tmp_path / "linked.tar", entries)
    reason = _only_error(collect(archive))
    kind = "hardlink" if hard else "symlink"
    assert reason == (
        f"{archive}: manifest.json: is a {kind} (to 'real-manifest.json'); "
        "refusing it as a JSON member"
    )


def test_symlinked_json_in_folder_refused(
    tmp_path: Path, collect: Callable[..., Collection]
) -> None:
    entries = oci_layout_entries()
    entries["index.json"] = Link("/etc/hostname")
    folder = _write_folder(tmp_path / "layout", entries)
    reason = _only_error(collect(folder))
    assert reason == (
        f"{folder}: index.json: is a symlink (to '/etc/hostname'); refusing it as a JSON member"
    )


def test_oversized_manifest_refused_unread(
    tmp_path: Path, collect: Callable[..., Collection]
) -> None:
    """A 64 MiB + 1 manifest.json (the default limit): refused from its header, never read."""
    entries = docker_save_entries()
    entries["manifest.json"] = b" " * (64 * 1024 * 1024 + 1)
    archive = _write_tar(tmp_path / "huge.tar", entries)
    reason = _only_error(collect(archive))
    assert reason == (
        f"{archive}: manifest.json: absurd size for a JSON member: 67108865 bytes "
        "(limit max_json_bytes=67108864)"
    )


def test_oversized_config_in_gzip_refused(
    tmp_path: Path, collect: Callable[..., Collection]
) -> None:
    archive = _write_tar(tmp_path / "x.tar.gz", docker_save_entries(), compress="gz")
    small, big = sorted((APP_CONFIG, WORKER_CONFIG), key=len)
    col = collect(archive, limits=ArchiveLimits(max_json_bytes=len(big) - 1))
    assert [r.output.scan.image.image_id for r in col.records if r.output.scan.image] == [
        "sha256:" + _sha(small)
    ]
    [reason] = col.errors
    assert f"blobs/sha256/{_sha(big)}: absurd size for a JSON member" in reason


def test_too_many_members_refused(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    archive = _write_tar(tmp_path / "many.tar", docker_save_entries())
    reason = _only_error(collect(archive, limits=ArchiveLimits(max_members=5)))
    assert reason == (
        f"{archive}: more than 5 members (limit max_members=5); refusing the archive"
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "empty file: not a tar archive"),
        (b"this is a text file, not an image archive\n" * 20, "not a tar archive"),
        (gzip.compress(b"plain text, gzipped\n" * 50), "not a valid gz-compressed tar archive"),
        (b"\x1f\x8b\x08\x00garbage" * 40, "not a valid gz-compressed tar archive"),
        (b"\x28\xb5\x2f\xfd" + b"\0" * 100, "zstd-compressed"),
        (bytes(10240), "empty archive (no members)"),
    ],
    ids=["empty-file", "text", "gzipped-text", "bad-gzip", "zstd", "empty-tar"],
)
def test_not_an_archive(
    tmp_path: Path, collect: Callable[..., Collection], content: bytes, why: str
) -> None:
    path = tmp_path / "image.tar"
    path.write_bytes(content)
    reason = _only_error(collect(path))
    assert reason.startswith(f"{path}: {why}")


def test_empty_tar_from_tarfile(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    archive = _write_tar(tmp_path / "empty.tar", {})
    assert _only_error(collect(archive)) == f"{archive}: empty archive (no members)"


def test_docker_save_before_docker_1_10(
    tmp_path: Path, collect: Callable[..., Collection]
) -> None:
    """Only `repositories` and `<id>/json` + `<id>/layer.tar`: no config digest to read."""
    archive = _write_tar(tmp_path / "ancient.tar", {
        "repositories": _json({"app": {"1.0": "a1"}}),
        "a1": None, "a1/json": b"{}", "a1/VERSION": b"1.0", "a1/layer.tar": APP,
    })
    reason = _only_error(collect(archive))
    assert reason == (
        f"{archive}: no manifest.json: a docker save archive from before Docker 1.10 is not "
        "supported"
    )


def test_tar_of_something_else(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    archive = _write_tar(tmp_path / "src.tar", {"README": b"hello", "src": None})
    reason = _only_error(collect(archive))
    assert "no manifest.json or index.json at the top" in reason


def test_missing_path_and_plain_folder(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    missing = tmp_path / "nope.tar"
    assert _only_error(collect(missing)).startswith(f"{missing}: cannot be opened")
    folder = tmp_path / "folder"
    folder.mkdir()
    col = collect(folder)
    assert col.format == "oci-layout"
    assert "no manifest.json or index.json" in _only_error(col)


@pytest.mark.parametrize(
    ("manifest", "why"),
    [
        (b"{not json", "manifest.json: not valid JSON"),
        (b'{"Config": "x"}', "manifest.json: not a list of images"),
        (b"[]", "no image in the archive"),
        (b'[{"RepoTags": ["a:1"]}]', "manifest.json[0]: no Config member named"),
        (b'[{"Config": "blobs/sha256/' + b"0" * 64 + b'"}]', "not in the archive"),
    ],
)
def test_broken_manifest_json(
    tmp_path: Path, collect: Callable[..., Collection], manifest: bytes, why: str
) -> None:
    entries = docker_save_entries(oci=False)
    entries["manifest.json"] = manifest
    reason = _only_error(collect(_write_tar(tmp_path / "x.tar", entries)))
    assert why in reason


def test_truncated_tar(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    """A tar cut short inside a config member: a clear error, no exception."""
    full = _write_tar(tmp_path / "full.tar", docker_save_entries(oci=False)).read_bytes()
    cut = full.index(APP_CONFIG[:40]) + 20
    path = tmp_path / "cut.tar"
    path.write_bytes(full[:cut])
    reason = _only_error(collect(path))
    assert reason.startswith(f"{path}: truncated or corrupt after member 'blobs/sha256/")


def test_truncated_gzip_tar(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    full = _write_tar(tmp_path / "full.tgz", docker_save_entries(), compress="gz").read_bytes()
    path = tmp_path / "cut.tgz"
    path.write_bytes(full[: len(full) // 2])
    reason = _only_error(collect(path))
    assert reason.startswith(f"{path}: truncated or corrupt after member ")
    assert "ended before the end-of-stream marker" in reason


def test_oci_index_broken(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    entries = oci_layout_entries()
    entries["index.json"] = b'{"schemaVersion": 2}'
    reason = _only_error(collect(_write_folder(tmp_path / "layout", entries)))
    assert "index.json: not an image index (no 'manifests' list)" in reason


def test_collect_archive_never_raises(
    tmp_path: Path, collect: Callable[..., Collection], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a bug (here: a mapping step that raises) becomes an error, not an exception."""

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("auditlib.sources.archive.add_repo_digests", boom)
    archive = _write_tar(tmp_path / "images.tar", docker_save_entries())
    reason = _only_error(collect(archive))
    assert reason == f"{archive}: unexpected error reading the archive (RuntimeError: bug)"


# --- limits: each hostile shape costs bounded time and memory (the attacks at full size:
# tests/test_hostile_input.py) -------------------------------------------------------------------


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the JSON members read, by name."""
    reads: dict[str, int] = {}
    real = Members.read

    def read(self: Members, name: str) -> bytes:
        reads[name] = reads.get(name, 0) + 1
        return real(self, name)

    monkeypatch.setattr(Members, "read", read)
    return reads


@pytest.mark.parametrize("compress", ["", "gz"])
def test_a_config_named_by_many_entries_is_read_once(
    tmp_path: Path, collect: Callable[..., Collection], monkeypatch: pytest.MonkeyPatch,
    compress: str,
) -> None:
    entries = docker_save_entries(oci=False)
    name = f"blobs/sha256/{_sha(APP_CONFIG)}"
    entries["manifest.json"] = _json(
        [{"Config": name, "RepoTags": [f"app:{i}"], "Layers": []} for i in range(50)]
    )
    archive = _write_tar(tmp_path / "x.tar", entries, compress=compress)
    reads = _count_reads(monkeypatch)
    col = collect(archive)
    assert col.errors == [] and len(col.records) == 1
    assert reads == {"manifest.json": 1, name: 1}
    image = col.records[0].output.scan.image
    assert image is not None and len(image.tags) == 50


def test_a_bad_config_named_by_many_entries_is_one_reason(
    tmp_path: Path, collect: Callable[..., Collection]
) -> None:
    entries = docker_save_entries(oci=False)
    good = f"blobs/sha256/{_sha(APP_CONFIG)}"
    bad = f"blobs/sha256/{_sha(WORKER_CONFIG)}"
    entries[bad] = WORKER_CONFIG + b" "  # its digest no longer matches its name
    entries["manifest.json"] = _json(
        [{"Config": bad if i != 1 else good, "RepoTags": [f"app:{i}"]} for i in range(30)]
    )
    archive = _write_tar(tmp_path / "x.tar", entries)
    col = collect(archive)
    assert len(col.records) == 1
    [reason] = col.errors
    assert reason.startswith(f"{archive}: {bad}: content digest sha256:")
    assert reason.endswith("(the Config of manifest.json[0] and 28 more entries)")


def test_manifest_json_entries_are_capped(
    tmp_path: Path, collect: Callable[..., Collection]
) -> None:
    archive = _write_tar(tmp_path / "x.tar", docker_save_entries())
    reason = _only_error(collect(archive, limits=ArchiveLimits(max_entries=1)))
    assert reason == (
        f"{archive}: manifest.json: 2 entries (limit max_entries=1); refusing the archive"
    )


def _nested_indexes(levels: int, fanout: int) -> dict[str, Entry]:
    """An OCI layout of `levels` indexes, each naming the next `fanout` times."""
    entries = oci_layout_entries()
    manifest = _manifest(AMD_CONFIG, [BASE, APP])
    child = _desc(manifest, OCI_MANIFEST)
    for _ in range(levels):
        index = _json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child] * fanout})
        entries[f"blobs/sha256/{_sha(index)}"] = index
        child = _desc(index, OCI_INDEX)
    entries["index.json"] = _json({"schemaVersion": 2, "manifests": [
        dict(child, annotations={"io.containerd.image.name": "ghcr.io/example/app:1.0"}),
        dict(child, annotations={"io.containerd.image.name": "ghcr.io/example/app:latest"}),
    ]})
    return entries


def test_nested_indexes_are_each_read_and_visited_once(
    tmp_path: Path, collect: Callable[..., Collection], monkeypatch: pytest.MonkeyPatch
) -> None:
    """6 levels of 30: 30**6 paths to the one manifest, walked in 2 x 6 x 30 steps."""
    folder = _write_folder(tmp_path / "layout", _nested_indexes(6, 30))
    reads = _count_reads(monkeypatch)
    col = collect(folder)
    assert col.errors == []
    [record] = col.records
    image = record.output.scan.image
    assert image is not None
    assert image.tags == ["ghcr.io/example/app:1.0", "ghcr.io/example/app:latest"]
    assert max(reads.values()) == 1 and len(reads) == 2 + 6 + 2  # 2 files, 6 indexes, 2 blobs


def test_index_descriptors_are_capped(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    folder = _write_folder(tmp_path / "layout", _nested_indexes(6, 30))
    col = collect(folder, limits=ArchiveLimits(max_entries=100))
    assert col.records == []
    assert col.errors == [
        f"{folder}: index.json: more than 100 descriptors in it and the image indexes it "
        "names (limit max_entries=100)"
    ]


def test_index_descriptors_capped_beside_manifest_json(
    tmp_path: Path, collect: Callable[..., Collection]
) -> None:
    """In a docker save archive the index only adds repo digests: the images are still read."""
    archive = _write_tar(tmp_path / "x.tar", docker_save_entries())
    col = collect(archive, limits=ArchiveLimits(max_entries=2))
    assert len(col.records) == 2
    assert col.errors == [
        f"{archive}: index.json: more than 2 descriptors in it and the image indexes it names "
        "(limit max_entries=2); the repo digests it gives are not read"
    ]


def test_index_nesting_limit_names_the_limit(
    tmp_path: Path, collect: Callable[..., Collection]
) -> None:
    folder = _write_folder(tmp_path / "layout", _nested_indexes(4, 3))
    col = collect(folder, limits=ArchiveLimits(max_index_depth=3))
    assert col.records == []
    assert col.errors == [  # once for each index.json entry, not once per path
        f"{folder}: index.json manifests[{i}]" + " > manifests[0]" * 3
        + ": indexes nested deeper than 3 (limit max_index_depth=3); skipped"
        for i in (0, 1)
    ]


def test_a_member_too_large_once_decompressed_is_refused_from_its_header(
    tmp_path: Path, collect: Callable[..., Collection]
) -> None:
    entries = docker_save_entries()
    entries["blobs/sha256/" + "f" * 64] = os.urandom(300_000)  # a layer that does not compress
    archive = _write_tar(tmp_path / "x.tar.gz", entries, compress="gz")
    reason = _only_error(collect(archive, limits=ArchiveLimits(max_member_bytes=200_000)))
    assert reason == (
        f"{archive}: blobs/sha256/{'f' * 64}: 300000 bytes once decompressed (limit "
        "max_member_bytes=200000); refusing the archive"
    )


@pytest.mark.parametrize("compress", ["gz", "bz2", "xz"])
def test_an_archive_expanding_too_much_is_refused_early(
    tmp_path: Path, collect: Callable[..., Collection], compress: str
) -> None:
    entries = docker_save_entries()
    entries["blobs/sha256/" + "0" * 64] = bytes(4_000_000)  # a layer of zeros, placed last
    archive = _write_tar(tmp_path / "x.tar", entries, compress=compress)
    limits = ArchiveLimits(max_compression_ratio=50, ratio_grace_bytes=1_000_000)
    reason = _only_error(collect(archive, limits=limits))
    assert reason.startswith(
        f"{archive}: blobs/sha256/{'0' * 64}: the archive expands more than 50 times when "
        "decompressed ("
    )
    assert reason.endswith(
        "limit max_compression_ratio=50), as a decompression bomb does; refusing the archive"
    )
    # The same archive under the default limits (checked past 64 MiB) is read.
    assert len(collect(archive).records) == 2


def test_reasons_are_capped(tmp_path: Path, collect: Callable[..., Collection]) -> None:
    entries = docker_save_entries(oci=False)
    entries["manifest.json"] = _json([{"RepoTags": [f"app:{i}"]} for i in range(30)])
    archive = _write_tar(tmp_path / "x.tar", entries)
    col = collect(archive, limits=ArchiveLimits(max_reasons=5))
    assert col.errors == [
        *(f"{archive}: manifest.json[{i}]: no Config member named" for i in range(5)),
        f"{archive}: 25 more problems like these (only the first 5 are listed; limit "
        "max_reasons=5)",
    ]


def test_a_fifo_member_of_a_tar_is_refused_by_kind(
    tmp_path: Path, collect: Callable[..., Collection]
) -> None:
    archive = tmp_path / "x.tar"
    with tarfile.open(archive, "w") as tar:
        manifest = _json([{"Config": "pipe.json"}])
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        info = tarfile.TarInfo("pipe.json")
        info.type = tarfile.FIFOTYPE
        tar.addfile(info)
    assert _only_error(collect(archive)) == (
        f"{archive}: pipe.json: a FIFO (named pipe), not a regular file; refusing it as a JSON "
        "member (the Config of manifest.json[0])"
    )
