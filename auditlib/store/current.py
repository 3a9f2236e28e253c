"""The store's current state: for each source, the snapshot that holds its rows
(`current_sources`), and those rows added up across snapshots (`read_current`); see the package
docstring."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs

from auditlib.data import AuditData, merge
from auditlib.errors import StoreError
from auditlib.resolve import resolve_image_ids
from auditlib.store.damage import damaged_error
from auditlib.store.layout import StorePath, table_file
from auditlib.store.location import StoreLike
from auditlib.store.manifest import SnapshotInfo, StoreScan, usable_snapshots
from auditlib.store.read import check_rows, filter_sources, read_tables
from auditlib.tables import DATA_TABLES, TABLES_BY_NAME, data_table, empty


def _upto(store: StoreLike, as_of: StorePath | None, scan: StoreScan | None = None
          ) -> tuple[list[SnapshotInfo], set[str]]:
    """Return the snapshots of `store` up to and including `as_of` (a snapshot id or folder),
    and the ids of the damaged snapshots left out (only when damage is allowed).

    Raises:
        StoreError: if the store has no snapshot, or `as_of` is not one of them.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
    """
    scan = scan or usable_snapshots(store)
    snaps = scan.snapshots
    if not snaps and scan.damaged:
        raise StoreError(f"{store}: every snapshot of this store is damaged, none left to read: "
                         + "; ".join(str(d) for d in scan.damaged[:5]))
    if not snaps:
        raise StoreError(
            f"{store}: no snapshot in this store; run `auditlib ingest PATH --store {store}` or "
            f"`auditlib collect --store {store}` first"
        )
    if as_of is None:
        return snaps, scan.damaged_ids
    name = Path(as_of).name
    for i, s in enumerate(snaps):
        if s.snapshot_id == name:
            return snaps[: i + 1], scan.damaged_ids
    for d in scan.damaged:
        if d.snapshot_id == name:
            raise StoreError(f"{store}: snapshot {name} is damaged: {d.reason}")
    raise StoreError(f"{store}: no snapshot {name!r}")


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
"""What `_walk` calls on each snapshot that may give rows: (snapshot, claimed, wanted) -> the
sources its rows name."""


def _walk(snaps: list[SnapshotInfo], visit: Visit, damaged: Collection[str] = ()
          ) -> dict[str, str | None]:
    """Walk `snaps` newest first and decide, for each source, which snapshot holds its rows.

    `visit(snap, claimed, wanted)` is called for each snapshot that may give rows: `claimed` are
    the sources newer snapshots decided (their rows in `snap` are stale), `wanted` the sources
    newer snapshots carried over from `snap` (their rows in `snap` are current). It returns the
    sources `snap`'s rows name. A snapshot whose manifest names only decided sources, and from
    which nothing is wanted, is not visited.

    Sources carried over from a `damaged` snapshot (left out, damage allowed) keep it as their
    holder, so they have no rows: their rows are not taken from an older snapshot either.

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
    for sid in damaged:
        wanted_from.pop(sid, None)
    if wanted_from:
        missing = ", ".join(sorted(wanted_from))
        raise StoreError(
            f"{snaps[-1].path.parent}: snapshot(s) {missing} hold the rows of sources that later "
            "snapshots carried over, but are missing (or not older than them)"
        )
    return holder


def _column(info: SnapshotInfo, table: str, columns: list[str]) -> pd.DataFrame | None:
    """Return `columns` of a snapshot's own `table`, or None when its manifest says it is empty.

    Raises:
        DamagedStoreError: if the table file cannot be read, or has another number of rows than
            the manifest says.
    """
    if info.rows is not None and not info.rows.get(table):
        return None
    f = table_file(info.path, table)
    try:
        df = info.read_parquet(table, columns)
    except (OSError, ValueError, pa.ArrowException) as e:
        raise damaged_error(info.path.parent.parent, info.snapshot_id,
                            f"cannot read {f.name} ({e})") from e
    check_rows(info, table, len(df))
    return df


def _data_sources(info: SnapshotInfo) -> set[str]:
    """Return the sources the rows of a snapshot's `scans` and `load_errors` name."""
    if not info.has_rows:
        return set()
    out: set[str] = set()
    for name in ("scans", "load_errors"):
        df = _column(info, name, ["source"])
        if df is not None:
            out.update(df["source"].dropna().astype(str).unique())
    return out


def current_sources(
    store: StoreLike, as_of: StorePath | None = None, *, scan: StoreScan | None = None
) -> dict[str, SourceState]:
    """Return the sources of the store's current state (right after `as_of`, default the newest
    snapshot), each with the snapshot holding its rows. Reads manifests and the small `scans` and
    `load_errors` tables only.

    Args:
        scan: the store's snapshots as `usable_snapshots(store)` gave them, when the caller
            has them already (else they are read).

    Returns:
        source -> its state; an empty dict when the store has no snapshot.

    Raises:
        StoreError: if `as_of` is not a snapshot of the store, a table cannot be read, or a
            snapshot holding carried rows is missing.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
    """
    scan = scan or usable_snapshots(store)
    if not scan.snapshots:
        return {}
    snaps, damaged = _upto(store, as_of, scan)
    holder = _walk(snaps, lambda info, _claimed, _wanted: _data_sources(info), damaged)
    return _states(snaps, holder)


def _states(snaps: list[SnapshotInfo], holder: dict[str, str | None]) -> dict[str, SourceState]:
    """Return the state of each source `holder` gives a snapshot (removed sources left out), with
    its scan id and size from the holding snapshot's manifest, else from its `scans` table."""
    by_id = {s.snapshot_id: s for s in snaps}
    scans_of: dict[str, dict[str, tuple[str, int | None]]] = {}

    def from_scans(info: SnapshotInfo, source: str) -> tuple[str | None, int | None]:
        # Manifests before scan ids were recorded: the snapshot's scans table says.
        if info.snapshot_id not in scans_of:
            df = _column(info, "scans", ["source", "scan_id", "file_bytes"])
            if df is None:
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
        if sid is None or sid not in by_id:
            continue  # removed, or carried over from a damaged snapshot left out
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


def read_current(
    store: StoreLike, as_of: StorePath | None = None, tables: Iterable[str] | None = None
) -> AuditData:
    """Read the current state of `store`: for every source (a file, an engine, a repository),
    the rows of the newest snapshot that read it (or carried it over unchanged), leaving out the
    sources a newer snapshot removed.

    So `collect`, `scan` and `ingest` runs, each writing its own snapshot, add up to one view;
    a source read again replaces what older snapshots said of it.

    Args:
        store: the store folder.
        as_of: a snapshot id (or folder): the state right after it was written. Default: now.
        tables: the tables to read (default all of `AuditData`'s); the others are empty.

    Documents known only by a manifest digest get the image id other sources give for it
    (`auditlib.resolve.resolve_image_ids`), across snapshots.

    With damage allowed (`AUDITLIB_ALLOW_DAMAGED`), the damaged snapshots are left out, and with
    them the rows other snapshots carried over from them (`StoreScan.warnings` says which).

    Raises:
        StoreError: if the store has no snapshot, `as_of` is not one of its snapshots, a table
            cannot be read, or a snapshot holding carried rows is missing.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
        KeyError: if `tables` names an unknown table, or one the store keeps as files only
            (`auditlib.tables.STORE_ONLY_TABLES`: `current_files` gives those).
    """
    snaps, damaged = _upto(store, as_of)
    names = [t.name for t in DATA_TABLES] if tables is None else list(tables)
    for n in names:
        data_table(n)
    need = sorted({*names, "scans", "load_errors"}, key=[t.name for t in DATA_TABLES].index)
    parts: list[AuditData] = []

    def visit(info: SnapshotInfo, claimed: Collection[str], wanted: set[str]) -> set[str]:
        if not info.has_rows:
            return set()
        data = read_tables(info, need)
        found = set(data.scans["source"].dropna().astype(str))
        found |= set(data.load_errors["source"].dropna().astype(str))
        if claimed:
            filter_sources(data, set(claimed) - wanted)
        for n in set(need) - set(names):
            setattr(data, n, empty(TABLES_BY_NAME[n]))
        parts.append(data)
        return found

    _walk(snaps, visit, damaged)
    parts.reverse()
    # A document that names its image only by a manifest digest joins the image another
    # snapshot's source (an engine, a registry) gives for that digest.
    return resolve_image_ids(merge(*parts))


@dataclass(frozen=True, slots=True)
class TableFile:
    """A Parquet file holding rows of a table's current state (`current_table_files`)."""

    path: str
    """The file, as the store's filesystem names it (an absolute path for a local store)."""
    snapshot_id: str
    """The snapshot it belongs to."""
    sources: frozenset[str]
    """The sources whose rows in this file are current; rows of other sources in it are not
    (a newer snapshot read those sources again, or removed them)."""


def current_table_files(
    store: StoreLike, table: str, as_of: StorePath | None = None
) -> list[TableFile]:
    """Return the Parquet files that hold the rows of `table` in the store's current state (right
    after `as_of`, default the newest snapshot), oldest snapshot first, each with the sources
    whose rows in it are current. Reads manifests and the small `scans` and `load_errors` tables
    only, so an engine (DuckDB, Spark) can read the big tables as they are::

        files = current_table_files(store, "vulnerabilities")
        SELECT * FROM read_parquet([f.path for f in files], filename=true)
        WHERE (filename, source) IN (each file with its sources)

    Files the manifest says hold no row of `table` are left out. The files are in the store's
    filesystem (`auditlib.store.location.locate(store).fs`). `current_files` gives several
    tables' files from one reading of the manifests.

    Raises:
        KeyError: if `table` is not a table.
        StoreError: if `as_of` is not a snapshot of the store or a snapshot cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
    """
    return current_files(store, [table], as_of)[table]


def _exists(info: SnapshotInfo, f: Path) -> bool:
    """Return whether the table file `f` of snapshot `info` exists (on its filesystem)."""
    if info.fs is None:
        return f.exists()
    return bool(info.fs.get_file_info(f.as_posix()).type == pafs.FileType.File)


def holds_table(info: SnapshotInfo, table: str) -> bool:
    """Return whether snapshot `info` has a file of `table`, empty or not (its writer knew the
    table): its manifest counts the table's rows, or, an older manifest without counts, the
    file is there."""
    if info.rows is not None:
        return table in info.rows
    return _exists(info, table_file(info.path, table))


def current_files(
    store: StoreLike, tables: Iterable[str], as_of: StorePath | None = None,
    *, scan: StoreScan | None = None,
) -> dict[str, list[TableFile]]:
    """Return `current_table_files` of each of `tables`, reading the manifests once.

    Args:
        scan: the store's snapshots as `usable_snapshots(store)` gave them, when the caller
            has them already (else they are read): the state as of each of many snapshots
            reads the manifests once.

    Returns:
        table -> its files (an empty list for each table when the store has no snapshot).

    Raises:
        KeyError: if a table is not a table.
        StoreError: if `as_of` is not a snapshot of the store or a snapshot cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
    """
    return current_files_without(store, tables, (), as_of, scan=scan)[0]


def current_files_without(
    store: StoreLike, tables: Iterable[str], without: Iterable[str],
    as_of: StorePath | None = None, *, scan: StoreScan | None = None,
) -> tuple[dict[str, list[TableFile]], dict[str, set[str]]]:
    """Return `current_files` of `tables`, and for each table of `without` the snapshots holding
    current sources that have no file of it (`holds_table`: written by an auditlib that did not
    know it, so a derived table's readers derive it for their sources), from one reading of the
    manifests.

    Args:
        scan: as for `current_files`.

    Returns:
        (table -> its files, table of `without` -> ids of the snapshots without it).

    Raises:
        KeyError: if a table is not a table.
        StoreError: if `as_of` is not a snapshot of the store or a snapshot cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
    """
    names, lacking = list(tables), list(without)
    for table in (*names, *lacking):
        if table not in TABLES_BY_NAME:
            raise KeyError(f"{table}: no such table; tables are {', '.join(TABLES_BY_NAME)}")
    out: dict[str, list[TableFile]] = {t: [] for t in names}
    missing: dict[str, set[str]] = {t: set() for t in lacking}
    scan = scan or usable_snapshots(store)
    if not scan.snapshots:
        return out, missing
    by_id = {s.snapshot_id: s for s in scan.snapshots}
    held: dict[str, set[str]] = {}
    for state in current_sources(store, as_of, scan=scan).values():
        held.setdefault(state.snapshot_id, set()).add(state.source)
    for sid in sorted(held):
        info, sources = by_id[sid], frozenset(held[sid])  # one set, shared by its tables' files
        for table in lacking:
            if not holds_table(info, table):
                missing[table].add(sid)
        for table in names:
            if info.rows is not None and not info.rows.get(table):
                continue
            f = table_file(info.path, table)
            if info.rows is None and not _exists(info, f):  # an older manifest: no row counts
                continue
            path = f.as_posix() if info.fs is not None else str(f.absolute())
            out[table].append(TableFile(path, sid, sources))
    return out, missing
