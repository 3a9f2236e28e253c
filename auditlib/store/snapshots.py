"""Snapshots of a store: writing one (under the lock, renamed into place when complete), reading
one, and adding them up into the current state (see the package docstring)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from auditlib.data import AuditData
from auditlib.errors import StoreError
from auditlib.store.layout import (
    MANIFEST,
    STATE,
    TMP_PREFIX,
    StorePath,
    lock_file,
    snapshots_dir,
    table_file,
)
from auditlib.tables import TABLES, TABLES_BY_NAME, conform, empty

STALE_TMP_SECONDS = 3600.0
"""A temporary folder older than this is a crashed write: the next write removes it."""

_ID_TIME = "%Y%m%dT%H%M%S%fZ"
_ID_RE = re.compile(r"^(\d{8}T\d{12}Z)-")


def schema_fingerprint() -> str:
    """Return a short hash of every table's columns and dtypes (rows of another schema are not
    carried over)."""
    text = ";".join(
        f"{t.name}:" + ",".join(f"{c.name}={c.dtype}" for c in t.columns) for t in TABLES
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextmanager
def store_lock(store: StorePath) -> Iterator[None]:
    """Hold an exclusive `flock` on `STORE/.lock` (the store folder is created when missing).

    Every write to the store holds it; it is not re-entrant (do not nest it).

    Raises:
        StoreError: if the lock file cannot be created or locked.
    """
    path = Path(store)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file(path), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise StoreError(f"{store}: cannot lock the store: {e}") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:
            raise StoreError(f"{store}: cannot lock the store: {e}") from e
        yield
    finally:
        os.close(fd)  # releases the lock


# --- manifests --------------------------------------------------------------------------------


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


def _upto(store: StorePath, as_of: StorePath | None) -> list[SnapshotInfo]:
    """Return the snapshots of `store` up to and including `as_of` (a snapshot id or folder).

    Raises:
        StoreError: if the store has no snapshot, or `as_of` is not one of them.
    """
    snaps = snapshot_infos(store)
    if not snaps:
        raise StoreError(
            f"{store}: no snapshot in this store; run `auditlib ingest PATH --store {store}` or "
            f"`auditlib collect --store {store}` first"
        )
    if as_of is None:
        return snaps
    name = Path(as_of).name
    for i, s in enumerate(snaps):
        if s.snapshot_id == name:
            return snaps[: i + 1]
    raise StoreError(f"{store}: no snapshot {name!r}")


# --- writing ----------------------------------------------------------------------------------


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
            snapshot each names (see the module docstring).
        removed: sources that are gone (no longer under a folder walked): they leave the state.
        created_at: the time to record (default now). Snapshots are ordered by when they were
            written whatever this says; tests and backfills give increasing times.

    Returns:
        The folder of the new snapshot.

    Raises:
        StoreError: if the store cannot be locked or written.
    """
    from auditlib import __version__

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


# --- reading ----------------------------------------------------------------------------------


def read_snapshot(
    snapshot: StorePath, tables: Iterable[str] | None = None, *, carried: bool = True
) -> AuditData:
    """Read one snapshot folder back into `AuditData`.

    Args:
        snapshot: the snapshot folder.
        tables: the tables to read (default all); the others are empty.
        carried: add the rows of the sources the snapshot carried over unchanged (read from the
            snapshots that hold them), so that it reads as complete; False gives its own rows
            only.

    Raises:
        StoreError: if a table file cannot be read, or a snapshot holding carried rows is missing.
        KeyError: if `tables` names an unknown table.
    """
    path = Path(snapshot)
    names = [t.name for t in TABLES] if tables is None else list(tables)
    for n in names:
        if n not in TABLES_BY_NAME:
            raise KeyError(f"{n}: no such table; tables are {', '.join(TABLES_BY_NAME)}")
    info = snapshot_info(path) if carried else None
    own = _read_tables(path, names)
    if info is None or not info.carried:
        return own
    from auditlib.data import merge

    holders: dict[str, set[str]] = {}
    for c in info.carried.values():
        if c.path not in (info.files or {}):
            holders.setdefault(c.snapshot_id, set()).add(c.path)
    parts = []
    for holder, wanted in sorted(holders.items()):
        hp = path.parent / holder
        if snapshot_info(hp) is None:
            raise StoreError(
                f"{hp}: missing, but snapshot {path.name} carried {len(wanted)} sources whose "
                "rows it holds"
            )
        parts.append(_only(read_snapshot(hp, names), wanted))
    return merge(*parts, own)


def _read_tables(path: Path, names: list[str]) -> AuditData:
    tables: dict[str, pd.DataFrame] = {}
    for name in names:
        f = table_file(path, name)
        try:
            tables[name] = conform(TABLES_BY_NAME[name], pd.read_parquet(f))
        except (OSError, ValueError) as e:
            raise StoreError(f"{f}: cannot read table: {e}") from e
    for t in TABLES:
        if t.name not in tables:
            tables[t.name] = empty(t)
    return AuditData(**cast("dict[str, Any]", tables))


def source_mask(
    s: pd.Series, hidden: Collection[str], only: Collection[str] | None = None
) -> np.ndarray:
    """Return which rows of a `source` column to keep: not in `hidden`, and in `only` when it is
    given (rows without a source are kept unless `only` is given). Computed per category when the
    column is categorical: a fleet has few sources and many rows."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = pd.Index(s.cat.categories.astype(str))
        keep = ~cats.isin(list(hidden)) if hidden else np.ones(len(cats), dtype=bool)
        if only is not None:
            keep &= cats.isin(list(only))
        codes = s.cat.codes.to_numpy()
        out = np.where(codes >= 0, keep[np.maximum(codes, 0)], only is None)
        return np.asarray(out, dtype=bool)
    text = s.astype("string")
    mask = ~text.isin(list(hidden)).fillna(False).to_numpy(dtype=bool)
    if only is not None:
        mask &= text.isin(list(only)).fillna(False).to_numpy(dtype=bool)
    return np.asarray(mask, dtype=bool)


def _filter(data: AuditData, hidden: Collection[str], only: Collection[str] | None = None
            ) -> AuditData:
    """Return `data` with only the rows `source_mask` keeps (in place, for chaining)."""
    for name, df in data.tables().items():
        if df.empty:
            continue
        mask = source_mask(df["source"], hidden, only)
        if not mask.all():
            setattr(data, name, df[mask].reset_index(drop=True))
    return data


def _only(data: AuditData, sources: set[str]) -> AuditData:
    data.files = [f for f in data.files if f.path in sources]
    return _filter(data, (), sources)


def read_latest(store: StorePath) -> AuditData:
    """Read the newest snapshot of `store`, with the rows it carried over (`read_snapshot`).

    This is what the newest run saw; the store's current state (`read_current`) adds what
    other runs (other folders, engines, registries) saw.

    Raises:
        StoreError: if the store has no snapshot.
    """
    snaps = list_snapshots(store)
    if not snaps:
        raise StoreError(
            f"{store}: no snapshot in this store; run `auditlib ingest PATH --store {store}` first"
        )
    return read_snapshot(snaps[-1])


@dataclass(frozen=True, slots=True)
class SourceState:
    """One source of the store's current state."""

    source: str
    snapshot_id: str
    """The snapshot holding its rows (the one that read it)."""
    scan_id: str | None
    """`sha256:` of the file it was read from, when it is one file that gave one document."""
    file_bytes: int | None
    auditlib_version: str | None
    """The auditlib that read it."""
    schema: str | None
    """That auditlib's `schema_fingerprint()`."""
    given: tuple[str, ...] = ()
    """The paths or endpoints the run that read it was given."""


Visit = Callable[[SnapshotInfo, Collection[str], set[str]], set[str]]


def _walk(snaps: list[SnapshotInfo], visit: Visit) -> dict[str, str | None]:
    """Walk `snaps` newest first and decide, for each source, which snapshot holds its rows.

    `visit(snap, claimed, wanted)` is called for each snapshot that may give rows: `claimed` are
    the sources newer snapshots decided (their rows in `snap` are stale), `wanted` the sources
    newer snapshots carried over from `snap` (their rows in `snap` are current). It returns the
    sources `snap`'s rows name. A snapshot whose manifest names only decided sources, and from
    which nothing is wanted, is not visited.

    Returns:
        source -> id of the snapshot holding its rows, or None when the source was removed.

    Raises:
        StoreError: if a snapshot named as holding carried rows is missing (or not older).
    """
    holder: dict[str, str | None] = {}
    wanted_from: dict[str, set[str]] = {}
    for snap in reversed(snaps):
        wanted = wanted_from.pop(snap.snapshot_id, set())
        files = snap.files or {}
        # Carried from a snapshot that itself carried it (auditlib flattens these when it writes):
        # the rows are further back.
        for s in [s for s in wanted if s not in files and s in snap.carried]:
            wanted.discard(s)
            to = snap.carried[s].snapshot_id
            wanted_from.setdefault(to, set()).add(s)
            holder[s] = to
        listed = snap.listed
        if listed and listed <= holder.keys() and not wanted:
            continue  # everything it names was decided by newer snapshots
        found = visit(snap, holder.keys(), wanted)
        for s in (*files, *found):
            holder.setdefault(s, snap.snapshot_id)
        for s, c in snap.carried.items():
            if s not in holder:
                holder[s] = c.snapshot_id
                wanted_from.setdefault(c.snapshot_id, set()).add(s)
        for s in snap.removed:
            holder.setdefault(s, None)
    if wanted_from:
        missing = ", ".join(sorted(wanted_from))
        raise StoreError(
            f"{snaps[-1].path.parent}: snapshot(s) {missing} hold the rows of sources that later "
            "snapshots carried over, but are missing (or not older than them)"
        )
    return holder


def _data_sources(info: SnapshotInfo) -> set[str]:
    """Return the sources the rows of a snapshot's `scans` and `load_errors` name."""
    if not info.has_rows:
        return set()
    out: set[str] = set()
    for name in ("scans", "load_errors"):
        if info.rows is not None and not info.rows.get(name):
            continue
        f = table_file(info.path, name)
        try:
            col = pd.read_parquet(f, columns=["source"])["source"]
        except (OSError, ValueError) as e:
            raise StoreError(f"{f}: cannot read table: {e}") from e
        out.update(col.dropna().astype(str).unique())
    return out


def current_sources(
    store: StorePath, as_of: StorePath | None = None
) -> dict[str, SourceState]:
    """Return the sources of the store's current state (right after `as_of`, default the newest
    snapshot), each with the snapshot holding its rows. Reads manifests and the small `scans` and
    `load_errors` tables only.

    Returns:
        source -> its state; an empty dict when the store has no snapshot.

    Raises:
        StoreError: if `as_of` is not a snapshot of the store, a table cannot be read, or a
            snapshot holding carried rows is missing.
    """
    if not snapshot_infos(store):
        return {}
    snaps = _upto(store, as_of)
    holder = _walk(snaps, lambda info, _claimed, _wanted: _data_sources(info))
    return _states(snaps, holder)


def _states(snaps: list[SnapshotInfo], holder: dict[str, str | None]) -> dict[str, SourceState]:
    by_id = {s.snapshot_id: s for s in snaps}
    scans_of: dict[str, dict[str, tuple[str, int | None]]] = {}

    def from_scans(info: SnapshotInfo, source: str) -> tuple[str | None, int | None]:
        # Manifests before scan ids were recorded: the snapshot's scans table says.
        if info.snapshot_id not in scans_of:
            try:
                df = pd.read_parquet(table_file(info.path, "scans"),
                                     columns=["source", "scan_id", "file_bytes"])
            except (OSError, ValueError):
                df = pd.DataFrame({"source": [], "scan_id": [], "file_bytes": []})
            df = df.astype({"source": str, "scan_id": str})
            one = df.groupby("source")["scan_id"].nunique()
            df = df[df["source"].isin(one[one == 1].index)].drop_duplicates("source")
            scans_of[info.snapshot_id] = {
                s: (i, None if pd.isna(b) else int(b))
                for s, i, b in zip(df["source"], df["scan_id"], df["file_bytes"], strict=True)
            }
        return scans_of[info.snapshot_id].get(source, (None, None))

    out: dict[str, SourceState] = {}
    for source, sid in holder.items():
        if sid is None:
            continue
        info = by_id[sid]
        entry = (info.files or {}).get(source)
        scan_id: str | None
        if entry is not None and ("scan_id" in entry or entry.get("error") or entry.get("skipped")):
            scan_id, nbytes = entry.get("scan_id"), entry.get("file_bytes")
        else:
            scan_id, nbytes = from_scans(info, source)
        out[source] = SourceState(source, sid, scan_id, nbytes, info.auditlib_version, info.schema,
                                  info.sources)
    return out


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


def read_current(
    store: StorePath, as_of: StorePath | None = None, tables: Iterable[str] | None = None
) -> AuditData:
    """Read the current state of `store`: for every source (a file, an engine, a repository),
    the rows of the newest snapshot that read it (or carried it over unchanged), leaving out the
    sources a newer snapshot removed.

    So `collect`, `scan` and `ingest` runs, each writing its own snapshot, add up to one view;
    a source read again replaces what older snapshots said of it.

    Args:
        store: the store folder.
        as_of: a snapshot id (or folder): the state right after it was written. Default: now.
        tables: the tables to read (default all); the others are empty.

    Documents known only by a manifest digest get the image id other sources give for it
    (`auditlib.ingest.resolve.resolve_image_ids`), across snapshots.

    Raises:
        StoreError: if the store has no snapshot, `as_of` is not one of its snapshots, a table
            cannot be read, or a snapshot holding carried rows is missing.
        KeyError: if `tables` names an unknown table.
    """
    from auditlib.data import merge
    from auditlib.ingest.resolve import resolve_image_ids

    snaps = _upto(store, as_of)
    names = [t.name for t in TABLES] if tables is None else list(tables)
    need = sorted({*names, "scans", "load_errors"}, key=[t.name for t in TABLES].index)
    parts: list[AuditData] = []

    def visit(info: SnapshotInfo, claimed: Collection[str], wanted: set[str]) -> set[str]:
        if not info.has_rows:
            return set()
        data = _read_tables(info.path, need)
        found = set(data.scans["source"].dropna().astype(str))
        found |= set(data.load_errors["source"].dropna().astype(str))
        if claimed:
            _filter(data, set(claimed) - wanted)
        for n in set(need) - set(names):
            setattr(data, n, empty(TABLES_BY_NAME[n]))
        parts.append(data)
        return found

    _walk(snaps, visit)
    parts.reverse()
    # A document that names its image only by a manifest digest joins the image another
    # snapshot's source (an engine, a registry) gives for that digest.
    return resolve_image_ids(merge(*parts))
