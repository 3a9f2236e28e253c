"""`read_archive_image_id`: the kind of an image archive and the id of the one image in it.

Only what the scanners need is read: the image's config (a `docker save` tarball) or its manifest
(an OCI layout), found through `manifest.json` or `index.json`. Nothing is extracted to disk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from auditlib.scanners.raw_store import image_key
from auditlib.scanners.tools import TargetError, TargetKind
from auditlib.sources._archive_members import ArchiveError, ArchiveLimits
from auditlib.sources._archive_tar import open_members


def read_archive_image_id(path: Path, limits: ArchiveLimits | None = None
                          ) -> tuple[TargetKind, str]:
    """Return the kind of an image archive and the id of the one image in it.

    A `docker save` tarball names its image config in `manifest.json`; the id is the sha256 of
    the config's bytes. An OCI layout (`index.json`, no `manifest.json`) names its manifest, whose
    `config.digest` is the id. Compressed tarballs are read too. Nothing is extracted to disk;
    the archive is read as `auditlib collect --archive` reads it (`sources._archive_tar`): only a
    regular file, within `ArchiveLimits` (members, sizes, decompression).

    Returns:
        `TargetKind.DOCKER_ARCHIVE` or `TargetKind.OCI_ARCHIVE`, and `sha256:` + 64 hex digits.

    Raises:
        TargetError: if the file cannot be read, is not an image archive, holds other than one
            image, or is over a limit.
    """
    try:
        with open_members(path, limits or ArchiveLimits()) as members:

            def member(name: str) -> bytes:
                return members.read(name.removeprefix("./"))

            if members.has("manifest.json"):
                return TargetKind.DOCKER_ARCHIVE, _docker_config_id(path, member)
            if members.has("index.json"):
                return TargetKind.OCI_ARCHIVE, _oci_config_id(path, member)
    except ArchiveError as e:
        raise TargetError(f"{path}: not a readable image archive: {e}") from e
    except OSError as e:
        raise TargetError(f"{path}: cannot read it: {e.strerror or e}") from e
    raise TargetError(f"{path}: not an image archive (no manifest.json or index.json in it)")


def _json(path: Path, name: str, data: bytes) -> Any:
    """Return the JSON document in member `name`. Raises TargetError if it is not JSON."""
    try:
        return json.loads(data)
    except ValueError as e:
        raise TargetError(f"{path}: {name} is not JSON: {e}") from e


def _one(path: Path, items: Any, what: str) -> dict[str, Any]:
    """Return the one image entry `what` lists. Raises TargetError for none, several or junk."""
    if not isinstance(items, list) or not items:
        raise TargetError(f"{path}: {what} lists no image")
    if len(items) > 1:
        raise TargetError(
            f"{path}: the archive holds {len(items)} images; scan takes one image per archive "
            "(`docker save` each image to its own file)"
        )
    if not isinstance(items[0], dict):
        raise TargetError(f"{path}: {what} is not an image list")
    return items[0]


def _docker_config_id(path: Path, member: Callable[[str], bytes]) -> str:
    """Return the image id of a `docker save` tarball (sha256 of the config it names).

    Raises:
        TargetError: if `manifest.json` or the config cannot be read.
    """
    entry = _one(path, _json(path, "manifest.json", member("manifest.json")), "manifest.json")
    config = entry.get("Config")
    if not isinstance(config, str) or not config:
        raise TargetError(f"{path}: manifest.json names no image config")
    return "sha256:" + hashlib.sha256(member(config.removeprefix("./"))).hexdigest()


def _oci_config_id(path: Path, member: Callable[[str], bytes]) -> str:
    """Return the image id of an OCI layout (the config digest of the one manifest it indexes).

    Raises:
        TargetError: if `index.json` or the manifest cannot be read, the layout indexes a
            multi-platform image, or the config digest is not a `sha256:` digest.
    """
    index = _json(path, "index.json", member("index.json"))
    desc = _one(path, index.get("manifests") if isinstance(index, dict) else None, "index.json")
    media = str(desc.get("mediaType", ""))
    if media.endswith(("image.index.v1+json", "manifest.list.v2+json")):
        raise TargetError(
            f"{path}: a multi-platform OCI archive; save one platform (`docker save --platform`)"
        )
    digest = str(desc.get("digest", ""))
    manifest = _json(path, digest, member("blobs/" + digest.replace(":", "/", 1)))
    config = manifest.get("config") if isinstance(manifest, dict) else None
    config_digest = config.get("digest") if isinstance(config, dict) else None
    if not isinstance(config_digest, str):
        raise TargetError(f"{path}: the image manifest names no config")
    try:
        image_key(config_digest)
    except ValueError as e:
        raise TargetError(f"{path}: {e}") from e
    return config_digest
