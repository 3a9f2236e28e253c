"""Image archives read without a daemon and without extracting anything to disk.

Two kinds, as a tar (plain, or gzip, bzip2 or xz compressed) or, for an OCI layout, a folder:

- a `docker save` archive: the top-level `manifest.json` lists each image's config member, tags
  and layers (format `docker-archive`). Docker 25+ writes an OCI layout into the same tar;
  `manifest.json` is still what is read, as `docker load` does.
- an OCI image layout: `oci-layout`, `index.json` and `blobs/<alg>/<hex>` (format `oci-layout`);
  nested indexes are followed, and a multi-platform index gives one image per platform.

Only the JSON members are read (manifest.json, index.json, manifests, configs); layers are never
read, only their sizes taken from the tar headers. Every config is checked against the digest
that names it. A hostile or broken archive gives reasons in `Collection.errors`, never an
exception: unsafe member names (absolute, `..`), symlinks or hardlinks where JSON is expected,
JSON members of absurd size, too many members, and files that are not tars are all refused.

Time and memory are bounded by `ArchiveLimits`, whatever the archive holds: each JSON member is
read and decoded once however many entries name it, each image index is visited once however
many paths lead to it, entries and descriptors are counted (`max_entries`), a compressed tar is
refused once it expands too much (`max_compression_ratio`, `max_member_bytes`), and only a
regular file or a folder is opened (a FIFO or a device is refused without waiting on it). A
limit hit is a reason naming the archive, the member and the limit (`limit max_entries=100000`).
"""

from __future__ import annotations

import os
from pathlib import Path

from auditlib.sources._archive_docker import add_repo_digests, docker_images
from auditlib.sources._archive_members import ArchiveError, ArchiveLimits, Members
from auditlib.sources._archive_oci import FoundImage, layout_images, layout_version
from auditlib.sources._archive_tar import open_members
from auditlib.sources.image_config import image_record
from auditlib.sources.record import Collection

__all__ = ["DOCKER_ARCHIVE_VERSION", "ArchiveLimits", "collect_archive"]

DOCKER_ARCHIVE_VERSION = "1"
"""The `format_version` of `docker-archive` records (`manifest.json` itself has no version)."""


def _merge(images: list[FoundImage]) -> list[FoundImage]:
    """Return `images` with entries of the same image id merged (names united), in order."""
    by_id: dict[str, FoundImage] = {}
    for image in images:
        seen = by_id.get(image.image_id)
        if seen is None:
            by_id[image.image_id] = image
            continue
        seen.tags.extend(t for t in image.tags if t not in seen.tags)
        seen.repo_digests.extend(d for d in image.repo_digests if d not in seen.repo_digests)
        if seen.size_bytes is None:
            seen.size_bytes = image.size_bytes
    return list(by_id.values())


def _read(
    members: Members, limits: ArchiveLimits, col: Collection, errors: list[str]
) -> tuple[str, list[FoundImage]]:
    """Return the format version and images of an opened archive, setting `col.format`."""
    if members.has("manifest.json"):
        col.format = "docker-archive"
        images = docker_images(members, limits, errors)
        add_repo_digests(images, members, limits, errors)
        return DOCKER_ARCHIVE_VERSION, images
    if members.has("index.json"):
        col.format = "oci-layout"
        version = layout_version(members, errors)
        return version, layout_images(members, limits, errors)
    if members.kind != "folder" and len(members) == 0:
        raise ArchiveError("empty archive (no members)")
    if members.has("repositories"):
        raise ArchiveError(
            "no manifest.json: a docker save archive from before Docker 1.10 is not supported"
        )
    raise ArchiveError(
        "no manifest.json or index.json at the top: neither a docker save archive nor an OCI "
        "image layout"
    )


def collect_archive(
    path: str | os.PathLike[str], *, limits: ArchiveLimits | None = None
) -> Collection:
    """Read the images of a `docker save` archive or an OCI image layout (tar or folder).

    Args:
        path: the archive: a tar (`.tar`, `.tar.gz`, ...) or an OCI layout folder.
        limits: bounds on members, entries, JSON member size, decompression and memory; the
            defaults suit any real archive.

    Returns:
        One `Collection` (source = `path`, format `docker-archive` or `oci-layout`) with one
        record per image (per platform, for a multi-platform OCI index): the config as
        `image_record` maps it, `image_id` = `sha256:` of the config bytes, the archive as
        `host`, its tags, its repo digests (`name@digest`, when an OCI layout names the
        manifest or index), and the sum of its layer sizes when every one is known. Every
        part that could not be read is a reason in `errors`, naming the archive, the member
        and why; an archive that gives no image at all has only errors.

    Raises:
        Nothing: every failure, expected or not, becomes a reason in `errors`.
    """
    source = str(path)
    archive = Path(path)
    col = Collection(source, "oci-layout" if archive.is_dir() else "docker-archive")
    errors: list[str] = []
    images: list[FoundImage] = []
    version = DOCKER_ARCHIVE_VERSION
    limits = limits or ArchiveLimits()
    try:
        with open_members(archive, limits) as members:
            version, found = _read(members, limits, col, errors)
            images = _merge(found)
            if not images and not errors:
                errors.append("no image in the archive")
    except ArchiveError as exc:
        errors.append(str(exc))
    except Exception as exc:  # a broken archive must never raise out of a collector
        errors.append(f"unexpected error reading the archive ({type(exc).__name__}: {exc})")
    for image in images:
        try:
            col.records.append(
                image_record(
                    image.config,
                    image_id=image.image_id,
                    fmt=col.format,
                    version=version,
                    source=source,
                    host=source,
                    reference=image.tags[0] if image.tags else None,
                    tags=image.tags,
                    repo_digests=image.repo_digests,
                    size_bytes=image.size_bytes,
                )
            )
        except Exception as exc:
            errors.append(f"{image.image_id}: config could not be mapped ({exc})")
    shown = errors[: limits.max_reasons]
    if len(errors) > len(shown):
        shown.append(
            f"{len(errors) - len(shown)} more problems like these (only the first "
            f"{len(shown)} are listed; limit max_reasons={limits.max_reasons})"
        )
    for reason in shown:
        col.error(f"{source}: {reason}")
    return col
