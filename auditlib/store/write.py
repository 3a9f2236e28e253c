"""Writing a snapshot: into a hidden temporary folder under the store lock, renamed into place
when complete, with its manifest and the state of the store right after it (see the package
docstring)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from auditlib._version import __version__
from auditlib.data import AuditData
from auditlib.errors import StoreError
from auditlib.store.current import current_sources
from auditlib.store.layout import MANIFEST, STATE, TMP_PREFIX, StorePath, snapshots_dir, table_file
from auditlib.store.lock import store_lock
from auditlib.store.manifest import Carried, schema_fingerprint

STALE_TMP_SECONDS = 3600.0
"""A temporary folder older than this is a crashed write: the next write removes it."""

_ID_TIME = "%Y%m%dT%H%M%S%fZ"
_ID_RE = re.compile(r"^(\d{8}T\d{12}Z)-")


def _clean_stale(root: Path, now: float) -> None:
    """Remove temporary folders that crashed writes left behind more than an hour ago."""
    for p in root.iterdir():
        if not p.name.startswith(TMP_PREFIX):
            continue
        try:
            if now - p.stat().st_mtime > STALE_TMP_SECONDS:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def _new_id(root: Path, at: datetime) -> str:
    """Return a snapshot id later than every folder in `root` (call under the store lock)."""
    stamp = at.astimezone(UTC).replace(tzinfo=None)
    last: datetime | None = None
    for p in root.iterdir():
        m = _ID_RE.match(p.name.removeprefix(TMP_PREFIX))
        if m:
            t = datetime.strptime(m.group(1), _ID_TIME)
            last = t if last is None or t > last else last
    if last is not None and stamp <= last:
        stamp = last + timedelta(microseconds=1)  # same microsecond, or the clock went back
    return stamp.strftime(_ID_TIME) + "-" + secrets.token_hex(3)


def _fsync(path: Path) -> None:
    """Flush a file or a folder of the snapshot to disk. Raises OSError when it cannot."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_entries(data: AuditData) -> list[dict[str, Any]]:
    """Return the manifest's `files`: each file's summary, with its scan_id and size when it gave
    exactly one document."""
    scans = data.scans
    ids: dict[str, set[str]] = {}
    size: dict[str, int] = {}
    for src, sid, nbytes in zip(scans["source"].astype(str), scans["scan_id"].astype(str),
                                scans["file_bytes"], strict=True):
        ids.setdefault(src, set()).add(sid)
        if not pd.isna(nbytes):
            size[src] = int(nbytes)
    out = []
    for f in data.files:
        entry: dict[str, Any] = {**f.summary(), "skipped": f.skipped}
        one = ids.get(f.path)
        if f.error is None and f.skipped is None and one is not None and len(one) == 1:
            entry["scan_id"] = next(iter(one))
            entry["file_bytes"] = size.get(f.path)
        out.append(entry)
    return out


def write_snapshot(
    store: StorePath,
    data: AuditData,
    *,
    sources: list[str],
    carried: Iterable[Carried] = (),
    removed: Collection[str] = (),
    created_at: datetime | None = None,
) -> Path:
    """Write `data` as a new snapshot of `store`, under the store lock.

    Args:
        store: the store folder (created when missing).
        data: the tables to write (the rows of the sources read this time).
        sources: the paths or endpoints the data came from, for the manifest.
        carried: sources left unread because they are unchanged; their rows stay those of the
            snapshot each names (see the package docstring).
        removed: sources that are gone (no longer under a folder walked): they leave the state.
        created_at: the time to record (default now). Snapshots are ordered by when they were
            written whatever this says; tests and backfills give increasing times.

    Returns:
        The folder of the new snapshot.

    Raises:
        StoreError: if the store cannot be locked or written.
    """
    path = Path(store)
    root = snapshots_dir(path)
    carried = list(carried)
    at = created_at or datetime.now(UTC)
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    with store_lock(path):
        tmp: Path | None = None
        try:
            root.mkdir(parents=True, exist_ok=True)
            _clean_stale(root, time.time())
            snapshot_id = _new_id(root, at)
            tmp = root / f"{TMP_PREFIX}{snapshot_id}"
            final = root / snapshot_id
            tmp.mkdir()
            counts: dict[str, int] = {}
            for name, df in data.tables().items():
                df.to_parquet(table_file(tmp, name), index=False)
                counts[name] = len(df)
            state = _state_after(path, snapshot_id, data, carried, removed)
            state.to_parquet(tmp / STATE, index=False)
            manifest: dict[str, Any] = {
                "snapshot_id": snapshot_id,
                "created_at": at.isoformat(),
                "auditlib_version": __version__,
                "schema": schema_fingerprint(),
                "sources": sources,
                "rows": counts,
                "files": _file_entries(data),
                "carried": [c.to_json() for c in carried],
                "removed": sorted(removed),
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
            for f in tmp.iterdir():
                _fsync(f)
            os.rename(tmp, final)
            tmp = None
            _fsync(root)
        except (OSError, ValueError) as e:
            raise StoreError(f"{store}: cannot write snapshot: {e}") from e
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def _state_after(
    store: Path, snapshot_id: str, data: AuditData, carried: list[Carried],
    removed: Collection[str],
) -> pd.DataFrame:
    """Return the `state.parquet` of a snapshot being written: the current state of the store
    with what it says on top (call under the store lock)."""
    before = current_sources(store)
    own = {f.path for f in data.files}
    own.update(data.scans["source"].dropna().astype(str))
    own.update(data.load_errors["source"].dropna().astype(str))
    ids = _file_entries(data)
    scan_ids = {e["path"]: e.get("scan_id") for e in ids}
    rows: dict[str, tuple[str, str | None]] = {
        s: (st.snapshot_id, st.scan_id) for s, st in before.items()
    }
    for s in removed:
        rows.pop(s, None)
    for c in carried:
        rows[c.path] = (c.snapshot_id, c.scan_id)
    for s in own:
        rows[s] = (snapshot_id, scan_ids.get(s))
    keys = sorted(rows)
    return pd.DataFrame({
        "source": pd.array(keys, dtype="string"),
        "snapshot_id": pd.array([rows[k][0] for k in keys], dtype="string"),
        "scan_id": pd.array([rows[k][1] for k in keys], dtype="string"),
    })
