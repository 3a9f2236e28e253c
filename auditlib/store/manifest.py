"""Snapshot manifests: what a snapshot read, carried over and removed (`SnapshotInfo`), and the
complete snapshots of a store, oldest first (see the package docstring)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from auditlib.store.layout import MANIFEST, StorePath, snapshots_dir
from auditlib.tables import TABLES


def schema_fingerprint() -> str:
    """Return a short hash of every table's columns and dtypes (rows of another schema are not
    carried over)."""
    text = ";".join(
        f"{t.name}:" + ",".join(f"{c.name}={c.dtype}" for c in t.columns) for t in TABLES
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Carried:
    """A source a snapshot did not read because it was unchanged: its rows are in another one."""

    path: str
    """The source (file path), as the rows name it."""
    scan_id: str
    """`sha256:` of its bytes, the same as when it was read."""
    snapshot_id: str
    """The snapshot that read it and holds its rows."""
    file_bytes: int | None = None
    """Its size in bytes."""

    def to_json(self) -> dict[str, Any]:
        """Return the manifest entry."""
        return {"path": self.path, "scan_id": self.scan_id, "snapshot_id": self.snapshot_id,
                "file_bytes": self.file_bytes}


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """What a snapshot's manifest says."""

    path: Path
    """The snapshot folder."""
    snapshot_id: str
    created_at: pd.Timestamp
    """When it was written (UTC), as the manifest says."""
    auditlib_version: str | None
    schema: str | None
    """`schema_fingerprint()` of the auditlib that wrote it (missing in older snapshots)."""
    sources: tuple[str, ...]
    """The paths or endpoints the run was given."""
    files: dict[str, dict[str, Any]] | None
    """The sources it read, with their manifest entries; None when the manifest has no list."""
    carried: dict[str, Carried] = field(default_factory=dict)
    """The sources it carried over unchanged, by path."""
    removed: frozenset[str] = frozenset()
    """The sources it removed (gone from a folder it walked)."""
    rows: dict[str, int] | None = None
    """Rows of its own, by table, when the manifest says."""

    @property
    def listed(self) -> set[str] | None:
        """Return every source the manifest names (read, carried or removed), or None."""
        if self.files is None:
            return None
        return set(self.files) | set(self.carried) | set(self.removed)

    @property
    def has_rows(self) -> bool:
        """Return whether the snapshot's own tables may hold rows."""
        return self.rows is None or any(self.rows.values())


def _parse_manifest(path: Path, m: Any) -> SnapshotInfo | None:
    """Return what the decoded manifest `m` of the snapshot folder `path` says, or None when it
    is not a manifest (not an object with a `snapshot_id`, or a bad `created_at`)."""
    if not isinstance(m, dict) or not isinstance(m.get("snapshot_id"), str):
        return None
    try:
        created = pd.Timestamp(str(m.get("created_at")))
        created = created.tz_localize(UTC) if created.tzinfo is None else created.tz_convert(UTC)
    except (TypeError, ValueError):
        return None
    files_raw = m.get("files")
    files: dict[str, dict[str, Any]] | None = None
    if isinstance(files_raw, list):
        files = {str(f.get("path")): f for f in files_raw if isinstance(f, dict)}
    carried: dict[str, Carried] = {}
    for c in m.get("carried") or ():
        if isinstance(c, dict) and c.get("path") and c.get("snapshot_id"):
            carried[str(c["path"])] = Carried(
                str(c["path"]), str(c.get("scan_id")), str(c["snapshot_id"]),
                c.get("file_bytes") if isinstance(c.get("file_bytes"), int) else None,
            )
    rows = m.get("rows")
    return SnapshotInfo(
        path=path,
        snapshot_id=path.name,
        created_at=created,
        auditlib_version=m.get("auditlib_version"),
        schema=m.get("schema"),
        sources=tuple(str(s) for s in m.get("sources") or ()),
        files=files,
        carried=carried,
        removed=frozenset(str(r) for r in m.get("removed") or ()),
        rows={str(k): int(v) for k, v in rows.items()} if isinstance(rows, dict) else None,
    )


@lru_cache(maxsize=512)
def _cached_info(path: str, _mtime_ns: int, _size: int) -> SnapshotInfo | None:
    """Return `_parse_manifest` of the manifest in the folder `path`, or None when it cannot be
    read; cached by the manifest's mtime and size."""
    p = Path(path)
    try:
        m = json.loads((p / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return None
    return _parse_manifest(p, m)


def snapshot_info(snapshot: StorePath) -> SnapshotInfo | None:
    """Return what a snapshot folder's manifest says, or None when it has no complete manifest
    (missing, truncated, not a JSON object with a `snapshot_id`)."""
    p = Path(snapshot)
    try:
        st = (p / MANIFEST).stat()
    except OSError:
        return None
    return _cached_info(str(p), st.st_mtime_ns, st.st_size)


def snapshot_infos(store: StorePath) -> list[SnapshotInfo]:
    """Return the complete snapshots of `store`, oldest first.

    Temporary folders (`.tmp-*`, a write in progress or one that failed) and folders without a
    complete manifest are left out.
    """
    root = snapshots_dir(store)
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.iterdir()):
        if p.name.startswith(".") or not p.is_dir():
            continue
        info = snapshot_info(p)
        if info is not None:
            out.append(info)
    return out


def list_snapshots(store: StorePath) -> list[Path]:
    """Return the folders of the complete snapshots of `store`, oldest first.

    Temporary folders and folders without a complete manifest are left out.
    """
    return [s.path for s in snapshot_infos(store)]
