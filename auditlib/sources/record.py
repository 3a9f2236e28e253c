"""What a collector hands the loader: `Record`s (one per thing read, each a `scans` row) grouped in
`Collection`s (one per source: an engine, a registry repository, an archive, a Dockerfile).

Collectors build `Output`s (`auditlib.rows`), exactly as the file parsers do, so collected rows go
through the same typed tables and provenance: `scan_id` is the `sha256:` of the record's payload
(the bytes the source answered, canonicalised), so an unchanged image, container or tag gives the
same id run after run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from auditlib.rows import Output


@dataclass(slots=True)
class Record:
    """One thing a collector read: an image config, a container, a registry tag, a Dockerfile."""

    output: Output
    """Its rows, `ScanInfo` and warnings (the same object file parsers fill)."""
    format: str
    """`docker-engine`, `oci-registry`, `docker-archive`, `oci-layout` or `dockerfile`."""
    version: str
    """The format version: the engine API version, the manifest schema, ..."""
    payload: bytes
    """What the source answered, as canonical bytes: its sha256 is the record's `scan_id`."""


@dataclass(slots=True)
class Collection:
    """Everything read from one source, and why parts of it could not be read."""

    source: str
    """The endpoint or path, as the user gave it (never with credentials)."""
    format: str
    """The source kind, as in `Record.format`."""
    records: list[Record] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Reasons a part (or all) of the source could not be read; each names what and why."""

    def error(self, reason: str) -> None:
        """Record that a part of the source could not be read."""
        self.errors.append(reason)


def canonical(value: Any) -> bytes:
    """Return `value` as canonical JSON bytes (sorted keys), for a stable `scan_id`."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def scan_id_of(payload: bytes) -> str:
    """Return the `scan_id` of a payload: `sha256:` and the hex digest of its bytes."""
    return "sha256:" + hashlib.sha256(payload).hexdigest()
