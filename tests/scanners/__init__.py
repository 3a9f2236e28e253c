"""Tests of `auditlib scan` (auditlib.scanners); `image_archive` makes the images they scan."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

_MTIME = 1_700_000_000


def _add(tar: tarfile.TarFile, name: str, data: bytes | None, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = _MTIME
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        return
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def layer_tar(files: dict[str, bytes]) -> bytes:
    """Return a layer: a tar of `files` (path -> bytes; `*.sh` files executable), with their
    folders."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        folders = sorted({str(p) for f in files for p in Path(f).parents if str(p) != "."})
        for d in folders:
            _add(tar, d, None)
        for name, data in sorted(files.items()):
            _add(tar, name, data, 0o755 if name.endswith(".sh") else 0o644)
    return buf.getvalue()


def image_config(layer: bytes, **config: object) -> bytes:
    """Return an image config (canonical JSON) for one layer, with `config` as its `config`."""
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2024-05-01T10:00:00Z",
            "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Cmd": ["/bin/sh"], **config},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": "2024-05-01T10:00:00Z", "created_by": "ADD rootfs.tar /"}],
        },
        sort_keys=True,
    ).encode()


def image_archive(
    path: Path,
    files: dict[str, bytes],
    *,
    tags: tuple[str, ...] = ("example.test/app:1.0",),
    images: int = 1,
    compress: bool = False,
) -> str:
    """Write a `docker save` tarball (the legacy layout: `<config hex>.json`, `<layer>/layer.tar`,
    manifest.json, repositories) of an image whose one layer holds `files`.

    Args:
        path: where the tarball goes.
        files: the layer's files, path -> bytes.
        tags: the image's RepoTags.
        images: entries in manifest.json (more than one makes a multi-image archive).
        compress: gzip the tarball.

    Returns:
        The image id: `sha256:` of the config's bytes.
    """
    layer = layer_tar(files)
    config = image_config(layer)
    config_hex = hashlib.sha256(config).hexdigest()
    layer_hex = hashlib.sha256(layer).hexdigest()
    entry = {
        "Config": f"{config_hex}.json", "RepoTags": list(tags), "Layers": [f"{layer_hex}/layer.tar"]
    }
    manifest = [entry] * images
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add(tar, f"{config_hex}.json", config)
        _add(tar, layer_hex, None)
        _add(tar, f"{layer_hex}/layer.tar", layer)
        _add(tar, "manifest.json", json.dumps(manifest).encode())
        repos: dict[str, dict[str, str]] = {}
        for tag in tags:
            repo, _, version = tag.rpartition(":")
            repos.setdefault(repo, {})[version] = layer_hex
        _add(tar, "repositories", json.dumps(repos).encode())
    data = buf.getvalue()
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return "sha256:" + config_hex


def oci_archive(path: Path, files: dict[str, bytes]) -> str:
    """Write an OCI image layout tarball (index.json, blobs/sha256/...) of a one-layer image.

    Returns:
        The image id (the config's digest).
    """
    layer = layer_tar(files)
    config = image_config(layer)
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest

    config_digest = blob(config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": blob(layer), "size": len(layer)}],
    }).encode()
    manifest_digest = blob(manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest_digest, "size": len(manifest)}],
    }
    with tarfile.open(path, "w") as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        _add(tar, "index.json", json.dumps(index).encode())
        for digest, data in blobs.items():
            _add(tar, "blobs/sha256/" + digest.removeprefix("sha256:"), data)
    return config_digest
