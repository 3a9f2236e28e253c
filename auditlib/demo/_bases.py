"""The base images of the synthetic fleet: the builds of the fleet's own registry mirror.

Every image is built FROM a base in `MIRROR` (`demo.auditlib.invalid/synthetic/library/<family>`,
the way a team pulls official images through its own registry). Each OS release is rebuilt every
`WINDOW` (45 days), and an image built in a window is built on that window's base build: its first
layer is that build's only layer, and its labels name the build (`org.opencontainers.image.base
.name` and `.base.digest`). A release past its end of life is rebuilt no more: images built on it
later are built on its last build, and its repository's newest tag grows old.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import orjson

from auditlib.demo._catalog import OS_BASES, OsBase
from auditlib.demo._util import go_time, hexid, sha256_of
from auditlib.identity import SYNTHETIC_LABEL, SYNTHETIC_REGISTRY

MIRROR = f"{SYNTHETIC_REGISTRY}/library"
"""Where the base images live: the fleet's mirror of official images."""
WINDOW = timedelta(days=45)
"""How often a base release is rebuilt."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OCI = "application/vnd.oci.image"
OCI_MANIFEST = f"{_OCI}.manifest.v1+json"


def window_of(t: datetime) -> int:
    """Return the rebuild window `t` falls in."""
    return int((t - _EPOCH) / WINDOW)


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time(), tzinfo=UTC)


def last_window(base: OsBase) -> int:
    """Return the window of the last build of `base`: the one its end of life falls in."""
    return window_of(_midnight(base.eol))


def base_window(base: OsBase, built: datetime) -> int:
    """Return the window of the base build an image built at `built` on `base` is built on."""
    return min(window_of(built), last_window(base))


def base_repo(base: OsBase) -> str:
    """Return the mirror repository of a base (`.../library/debian`)."""
    return f"{MIRROR}/{base.family}"


def base_tag(base: OsBase) -> str:
    """Return the tag that names a base release: its codename, else its version (Alpine)."""
    return base.codename or base.name


def newest_release(family: str, on: date) -> OsBase:
    """Return the newest release of `family` out on day `on` (what its `latest` tag names)."""
    out = [b for b in OS_BASES if b.family == family and b.released <= on]
    return max(out or [b for b in OS_BASES if b.family == family], key=lambda b: b.released)


def base_diff_id(seed: int, base: OsBase, window: int) -> str:
    """Return the diff id of the one layer of a base build."""
    return sha256_of(seed, "base", base.key, window)


@dataclass(frozen=True, slots=True)
class BaseBuild:
    """One build of a base release: an image of the mirror."""

    base: OsBase
    window: int
    created: datetime
    diff_id: str
    config: dict[str, Any]
    config_bytes: bytes
    image_id: str
    manifest_bytes: bytes
    digest: str
    """The manifest digest (what a `FROM ...@sha256:` pin and the base.digest label name)."""
    size: int
    """Uncompressed size in bytes."""

    @property
    def dated_tag(self) -> str:
        """Return the tag that names this build alone (`bookworm-20260314`)."""
        return f"{base_tag(self.base)}-{self.created:%Y%m%d}"

    @property
    def ref(self) -> str:
        """Return the reference by release tag (`.../library/debian:bookworm`)."""
        return f"{base_repo(self.base)}:{base_tag(self.base)}"


def build_time(base: OsBase, window: int) -> datetime:
    """Return when the build of `base` for `window` was pushed: shortly before the window starts
    (and not before the release)."""
    start = _EPOCH + WINDOW * window - timedelta(hours=2)
    return max(start, _midnight(base.released))


@lru_cache(maxsize=512)
def base_build(seed: int, base: OsBase, window: int) -> BaseBuild:
    """Return the build of `base` for `window` (the same inputs give the same bytes)."""
    created = build_time(base, window)
    diff_id = base_diff_id(seed, base, window)
    alpine = base.family == "alpine"
    size = (7_000_000 if alpine else 74_000_000) + int(hexid(seed, base.key, window, n=8), 16) % (
        2_000_000 if alpine else 50_000_000)
    config = {
        "architecture": "amd64", "created": go_time(created),
        "history": [
            {"created": go_time(created),
             "created_by": f"/bin/sh -c #(nop) ADD file:{hexid(base.key, window, n=64)} in / "},
            {"created": go_time(created + timedelta(seconds=1)),
             "created_by": '/bin/sh -c #(nop)  CMD ["/bin/sh"]', "empty_layer": True}],
        "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"],
                   "Labels": {SYNTHETIC_LABEL: "true",
                              "org.opencontainers.image.version": base.name}},
    }
    config_bytes = orjson.dumps(config)
    image_id = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    manifest_bytes = orjson.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": f"{_OCI}.config.v1+json", "size": len(config_bytes),
                   "digest": image_id},
        "layers": [{"mediaType": f"{_OCI}.layer.v1.tar+gzip", "size": size * 2 // 5,
                    "digest": sha256_of(diff_id, "gzip")}],
    })
    digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    return BaseBuild(base, window, created, diff_id, config, config_bytes, image_id,
                     manifest_bytes, digest, size)


def builds_at(seed: int, base: OsBase, at: datetime, keep: int = 2) -> list[BaseBuild]:
    """Return the builds of `base` the mirror holds at `at`, oldest first: the newest `keep`
    pushed by then (none before its release)."""
    if _midnight(base.released) > at:
        return []
    newest = min(window_of(at + timedelta(hours=2)), last_window(base))
    first = window_of(_midnight(base.released))
    out = [base_build(seed, base, w) for w in range(max(first, newest - keep + 1), newest + 1)]
    return [b for b in out if b.created <= at]


def mirror_tags(seed: int, releases: Iterable[OsBase], at: datetime
                ) -> list[tuple[BaseBuild, list[str]]]:
    """Return the builds of `releases` the mirror holds at `at`, each with its tags then: its
    dated tag; the newest build of a release also its release tag, and of the family's newest
    release, `latest`."""
    out: list[tuple[BaseBuild, list[str]]] = []
    for base in releases:
        builds = builds_at(seed, base, at)
        for b in builds:
            tags = [b.dated_tag]
            if b is builds[-1]:
                tags.append(base_tag(base))
                if newest_release(base.family, at.date()) == base:
                    tags.append("latest")
            out.append((b, tags))
    return out
