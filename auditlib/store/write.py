"""Writing a snapshot without a lock: its files go into a hidden temporary folder of a unique
name, and one atomic step (renaming the folder into place) commits it, with its manifest.

Writers on many hosts may write into one store at the same time: nothing is shared between them
but the store's folder. A snapshot id is the time of the write (later than every snapshot the
writer sees, so a writer's snapshot sorts after everything it read) and six random hex digits, so
two writers never pick the same folder; the rename refuses to replace a folder that exists.
Readers list only committed folders (names that are snapshot ids), so a write in progress or one
that died half-way is never seen. The store may be on any filesystem pyarrow reaches
(`auditlib.store.location`); the rename is atomic on local and POSIX network filesystems (and on
pyarrow's in-memory one); object stores that cannot rename a folder are not supported as stores
for concurrent writers.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from auditlib._version import __version__
from auditlib.data import AuditData
from auditlib.errors import StoreError
from auditlib.store.layout import (
    MANIFEST,
    PRUNED_PREFIX,
    SNAPSHOTS_DIR,
    TMP_PREFIX,
    table_file_name,
)
from auditlib.store.licence_tables import derive
from auditlib.store.location import Location, StoreLike, locate
from auditlib.store.manifest import Carried, schema_fingerprint
from auditlib.tables import TABLES, TABLES_BY_NAME, Table, empty

STALE_TMP_SECONDS = 3600.0
"""A temporary folder older than this is a crashed write: the next write removes it."""
HIDDEN_PREFIXES = (TMP_PREFIX, PRUNED_PREFIX)
"""Hidden folders under `snapshots/`: a write in progress, a snapshot being deleted."""

_ID_TIME = "%Y%m%dT%H%M%S%fZ"
_ID_RE = re.compile(r"^(\d{8}T\d{12}Z)-")


def _entries(loc: Location) -> list[pafs.FileInfo]:
    """Return what is in the store's `snapshots` folder (nothing when it does not exist)."""
    sel = pafs.FileSelector(loc.join(SNAPSHOTS_DIR), allow_not_found=True)
    return list(loc.fs.get_file_info(sel))


def _clean_stale(loc: Location, entries: list[pafs.FileInfo], now: float) -> None:
    """Remove hidden folders that crashed writes (or prunes) left more than an hour ago."""
    for e in entries:
        if not e.base_name.startswith(HIDDEN_PREFIXES) or e.mtime is None:
            continue
        if now - e.mtime.timestamp() > STALE_TMP_SECONDS:
            try:
                loc.fs.delete_dir(e.path)
            except (OSError, pa.ArrowException):
                pass  # another writer removed it first, or it is not ours to remove


def new_snapshot_id(entries: Iterable[str], at: datetime) -> str:
    """Return a snapshot id for a write at `at`, later than every snapshot (or write in progress)
    named in `entries` (folder names under `snapshots/`)."""
    stamp = at.astimezone(UTC).replace(tzinfo=None)
    last: datetime | None = None
    for name in entries:
        m = _ID_RE.match(name.removeprefix(TMP_PREFIX))
        if m:
            t = datetime.strptime(m.group(1), _ID_TIME)
            last = t if last is None or t > last else last
    if last is not None and stamp <= last:
        stamp = last + timedelta(microseconds=1)  # same microsecond, or the clock went back
    return stamp.strftime(_ID_TIME) + "-" + secrets.token_hex(3)


def _fsync(path: str) -> None:
    """Flush a local file or folder to disk. Raises OSError when it cannot."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_table(loc: Location, path: str, df: pd.DataFrame) -> None:
    """Write one table's Parquet file at `path` (a path in `loc.fs`).

    Raises:
        OSError, ValueError, pyarrow.ArrowException: if it cannot be written.
    """
    if loc.local is not None:
        df.to_parquet(path, index=False)
    else:
        df.to_parquet(path, index=False, filesystem=loc.fs)


def write_bytes(loc: Location, path: str, data: bytes) -> None:
    """Write a small file (a manifest) at `path` (a path in `loc.fs`).

    Raises:
        OSError, pyarrow.ArrowException: if it cannot be written.
    """
    with loc.fs.open_output_stream(path) as f:
        f.write(data)


def commit_folder(loc: Location, tmp: str, final: str) -> None:
    """Commit a snapshot folder written at `tmp`: flush it to disk (local stores) and rename it
    to `final` in one atomic step, which fails if `final` exists.

    Raises:
        OSError, pyarrow.ArrowException: if it cannot be committed.
    """
    if loc.local is not None:
        for name in os.listdir(tmp):
            _fsync(os.path.join(tmp, name))
        os.rename(tmp, final)  # atomic; refuses a folder that exists and is not empty
        _fsync(os.path.dirname(final))
        return
    if loc.fs.get_file_info(final).type != pafs.FileType.NotFound:
        raise FileExistsError(final)
    loc.fs.move(tmp, final)


class SnapshotFolder:
    """A snapshot being written: a hidden folder of a unique name under `snapshots/`, committed
    by `commit` (its manifest written last, then the folder renamed into place) or removed by
    `abort`. Writers of one store never share one."""

    def __init__(self, store: StoreLike, at: datetime, snapshot_id: str | None = None) -> None:
        """Start a snapshot of `store` taken at `at` (removing crashed writes' leftovers), with a
        new id later than every snapshot there, or `snapshot_id` (retention's base snapshot).

        Raises:
            StoreError: if the store cannot be written.
        """
        self.loc = locate(store)
        try:
            self.loc.fs.create_dir(self.loc.join(SNAPSHOTS_DIR), recursive=True)
            entries = _entries(self.loc)
            _clean_stale(self.loc, entries, time.time())
            self.snapshot_id = snapshot_id or new_snapshot_id([e.base_name for e in entries], at)
            self.tmp = self.loc.join(SNAPSHOTS_DIR, TMP_PREFIX + self.snapshot_id)
            self.loc.fs.create_dir(self.tmp, recursive=False)
        except (OSError, ValueError, pa.ArrowException) as e:
            raise StoreError(f"{self.loc}: cannot write snapshot: {e}") from e
        self.final = self.loc.join(SNAPSHOTS_DIR, self.snapshot_id)

    def file(self, name: str) -> str:
        """Return the path (in the store's filesystem) of a file of the snapshot being written."""
        return f"{self.tmp}/{name}"

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Write the manifest and commit the snapshot.

        Returns:
            The committed folder (its path in the store's filesystem).

        Raises:
            StoreError: if it cannot be written (the temporary folder is then removed).
        """
        try:
            write_bytes(self.loc, self.file(MANIFEST), json.dumps(manifest, indent=1).encode())
            commit_folder(self.loc, self.tmp, self.final)
        except (OSError, ValueError, pa.ArrowException) as e:
            self.abort()
            raise StoreError(f"{self.loc}: cannot write snapshot: {e}") from e
        return Path(self.final)

    def abort(self) -> None:
        """Remove the temporary folder (nothing was committed)."""
        try:
            self.loc.fs.delete_dir(self.tmp)
        except (OSError, pa.ArrowException):
            pass


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


def snapshot_tables(data: AuditData) -> dict[str, pd.DataFrame]:
    """Return the tables of `data` as a snapshot holds them: with the licence tables derived
    from its `packages` and `package_licenses` (`auditlib.store.licence_tables`), whatever
    `data` holds of them.

    Raises:
        StoreError: if they cannot be derived.
    """
    tables = data.tables()
    tables.update(derive(data.packages, data.package_licenses))
    return tables


def write_snapshot(
    store: StoreLike,
    data: AuditData,
    *,
    sources: list[str],
    carried: Iterable[Carried] = (),
    removed: Collection[str] = (),
    created_at: datetime | None = None,
) -> Path:
    """Write `data` as a new snapshot of `store`, committed by one atomic rename, without a lock
    (see the module docstring).

    Args:
        store: the store (a folder, created when missing; a URI; a `Location`).
        data: the tables to write (the rows of the sources read this time).
        sources: the paths or endpoints the data came from, for the manifest.
        carried: sources left unread because they are unchanged; their rows stay those of the
            snapshot each names (see the package docstring).
        removed: sources that are gone (no longer under a folder walked): they leave the state.
        created_at: the time to record (default now). Snapshots are ordered by when they were
            written whatever this says; tests and backfills give increasing times.

    Returns:
        The folder of the new snapshot (its path in the store's filesystem).

    Raises:
        StoreError: if the store cannot be written.
    """
    carried = list(carried)
    at = created_at or datetime.now(UTC)
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    tables = snapshot_tables(data)
    snap = SnapshotFolder(store, at)
    try:
        counts: dict[str, int] = {}
        for name, df in tables.items():
            write_table(snap.loc, snap.file(table_file_name(name)), df)
            counts[name] = len(df)
    except (OSError, ValueError, pa.ArrowException) as e:
        snap.abort()
        raise StoreError(f"{snap.loc}: cannot write snapshot: {e}") from e
    return snap.commit(manifest(snap.snapshot_id, at, _file_entries(data), counts, sources,
                                carried, removed))


def manifest(snapshot_id: str, at: datetime, files: list[dict[str, Any]], rows: dict[str, int],
             sources: list[str], carried: Collection[Carried] = (),
             removed: Collection[str] = ()) -> dict[str, Any]:
    """Return the manifest of a snapshot being written by this auditlib (the one place its keys
    are listed; `store.retention` adds what a folded base says).

    Args:
        snapshot_id: the snapshot.
        at: when it was taken.
        files: its `files` entries (`_file_entries` of the data written).
        rows: rows written, by table.
        sources: the paths or endpoints the run was given.
        carried: the sources carried over unchanged from older snapshots.
        removed: the sources it removes.
    """
    return {
        "snapshot_id": snapshot_id,
        "created_at": at.isoformat(),
        "auditlib_version": __version__,
        "schema": schema_fingerprint(),
        "sources": sources,
        "rows": rows,
        "files": files,
        "carried": [c.to_json() for c in carried],
        "removed": sorted(removed),
    }

_ARROW = {
    "string": pa.large_string(), "Int64": pa.int64(), "Float64": pa.float64(),
    "boolean": pa.bool_(), "datetime": pa.timestamp("ns", tz="UTC"),
    "severity": pa.dictionary(pa.int32(), pa.large_string()),
    "category": pa.dictionary(pa.int32(), pa.large_string()),
}
"""The Parquet (Arrow) type of each declared dtype, the same in every batch a `SnapshotWriter`
appends (pandas picks a dictionary's index width by its number of categories)."""


def arrow_schema(table: Table) -> pa.Schema:
    """Return the Arrow schema every batch of `table` is written with."""
    return pa.schema([pa.field(c.name, _ARROW[c.dtype]) for c in table.columns])


class SnapshotWriter:
    """A snapshot written batch by batch: each table's rows are appended to its Parquet file as
    they come (one row group per batch), so a large ingest never holds its tables; `commit`
    writes the manifest and commits the snapshot (`SnapshotFolder`).

    Use as a context manager: leaving the block without `commit` (an error) removes the
    temporary folder.
    """

    def __init__(self, store: StoreLike, at: datetime | None = None) -> None:
        """Start a snapshot of `store` taken at `at` (default now).

        Raises:
            StoreError: if the store cannot be written.
        """
        at = at or datetime.now(UTC)
        self.at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        self.folder = SnapshotFolder(store, self.at)
        self.rows: dict[str, int] = {t.name: 0 for t in TABLES}
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._done = False

    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            self._close()
            self.folder.abort()

    def path(self, table: str) -> str:
        """Return the Parquet file of `table` being written (in the store's filesystem)."""
        return self.folder.file(table_file_name(table))

    def append(self, data: AuditData) -> None:
        """Append the rows of `data`'s tables, and of the licence tables derived from them
        (`snapshot_tables`).

        Raises:
            StoreError: if they cannot be written.
        """
        tables = snapshot_tables(data)
        try:
            for name, df in tables.items():
                if len(df):
                    self._writer(name).write_table(self._arrow(name, df))
                    self.rows[name] += len(df)
        except (OSError, ValueError, pa.ArrowException) as e:
            raise StoreError(f"{self.folder.loc}: cannot write snapshot: {e}") from e

    def _arrow(self, name: str, df: pd.DataFrame) -> pa.Table:
        schema = arrow_schema(TABLES_BY_NAME[name])
        t = pa.Table.from_pandas(df[schema.names], preserve_index=False)
        return pa.table([t.column(f.name).cast(f.type) for f in schema], schema=schema)

    def _writer(self, name: str) -> pq.ParquetWriter:
        w = self._writers.get(name)
        if w is None:
            schema = arrow_schema(TABLES_BY_NAME[name])
            fs = None if self.folder.loc.local is not None else self.folder.loc.fs
            w = self._writers[name] = pq.ParquetWriter(self.path(name), schema, filesystem=fs)
        return w

    def _close(self) -> None:
        for w in self._writers.values():
            w.close()
        self._writers.clear()

    def replace(self, name: str, rewrite: Callable[[pa.Table], pa.Table]) -> None:
        """Rewrite the Parquet file of `name` written so far one row group at a time, through
        `rewrite` (the ingest's late image id resolution); call after the last `append`.

        Raises:
            StoreError: if it cannot be rewritten.
        """
        if not self.rows[name]:
            return
        self._writers.pop(name).close()
        fs = self.folder.loc.fs
        src, tmp = self.path(name), self.path(name) + ".rewrite"
        try:
            reader = pq.ParquetFile(fs.open_input_file(src))
            schema = arrow_schema(TABLES_BY_NAME[name])
            out = pq.ParquetWriter(tmp, schema, filesystem=fs)
            for i in range(reader.num_row_groups):
                out.write_table(rewrite(reader.read_row_group(i)).cast(schema))
            out.close()
            fs.move(tmp, src)
        except (OSError, ValueError, pa.ArrowException) as e:
            raise StoreError(f"{self.folder.loc}: cannot write snapshot: {e}") from e

    def commit(self, data: AuditData, *, sources: list[str], carried: Iterable[Carried] = (),
               removed: Collection[str] = ()) -> Path:
        """Write the files of tables nothing was appended to, the manifest, and commit.

        Args:
            data: the snapshot's `files` and its `scans` (for the manifest's file entries).
            sources, carried, removed: as `write_snapshot`.

        Returns:
            The folder of the new snapshot.

        Raises:
            StoreError: if it cannot be written (the temporary folder is then removed).
        """
        try:
            self._close()
            for t in TABLES:
                if not self.rows[t.name]:
                    write_table(self.folder.loc, self.path(t.name), empty(t))
        except (OSError, ValueError, pa.ArrowException) as e:
            raise StoreError(f"{self.folder.loc}: cannot write snapshot: {e}") from e
        self._done = True
        return self.folder.commit(manifest(self.folder.snapshot_id, self.at, _file_entries(data),
                                           self.rows, sources, list(carried), removed))
