"""Reading snapshots back: one snapshot (with the rows it carried over), the newest one, and the
filter on the `source` column every reader of the store uses."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa

from auditlib.data import AuditData, merge
from auditlib.errors import StoreError
from auditlib.store.damage import DamagedStoreError, allow_damaged, damaged_error
from auditlib.store.layout import StorePath, snapshot_dir, table_file
from auditlib.store.manifest import SnapshotInfo, list_snapshots, snapshot_info
from auditlib.tables import DATA_TABLES, conform, data_table, empty


def read_snapshot(
    snapshot: StorePath, tables: Iterable[str] | None = None, *, carried: bool = True
) -> AuditData:
    """Read one snapshot folder back into `AuditData`.

    Args:
        snapshot: the snapshot folder.
        tables: the tables to read (default all); the others are empty.
        carried: add the rows of the sources the snapshot carried over unchanged (read from the
            snapshots that hold them), so that it reads as complete; False gives its own rows
            only. With damage allowed (`AUDITLIB_ALLOW_DAMAGED`), rows carried over from a
            damaged snapshot are left out.

    Raises:
        StoreError: if there is no such snapshot, or a snapshot holding carried rows is missing.
        DamagedStoreError: if it (or one holding rows it carried) is damaged.
        KeyError: if `tables` names an unknown table.
    """
    path = Path(snapshot)
    names = [t.name for t in DATA_TABLES] if tables is None else list(tables)
    for n in names:
        data_table(n)
    info = snapshot_info(path)
    if info is None:
        raise StoreError(f"{path}: no such snapshot")
    own = read_tables(info, names)
    if not carried or not info.carried:
        return own
    holders: dict[str, set[str]] = {}
    for c in info.carried.values():
        if c.path not in (info.files or {}):
            holders.setdefault(c.snapshot_id, set()).add(c.path)
    parts = []
    for holder, wanted in sorted(holders.items()):
        hp = snapshot_dir(path.parent.parent, holder)  # an id, checked: never a path
        try:
            held = snapshot_info(hp)
            if held is None:
                raise damaged_error(path.parent.parent, holder, (
                    f"is missing, but snapshot {path.name} carries {len(wanted)} sources over "
                    "from it"))
        except DamagedStoreError:
            if allow_damaged():
                continue
            raise
        # The holder's own rows, unless it carried some of them itself (older stores): reading
        # what it carried too would read every older holder again, once per path to it.
        again = not wanted <= set(held.files or {})
        parts.append(_only(read_snapshot(hp, names, carried=again), wanted))
    return merge(*parts, own)


def check_rows(info: SnapshotInfo, table: str, rows: int) -> None:
    """Check the rows read from a snapshot's table against its manifest.

    Raises:
        DamagedStoreError: if the manifest says another number.
    """
    said = None if info.rows is None else info.rows.get(table)
    if said is not None and said != rows:
        raise damaged_error(info.path.parent.parent, info.snapshot_id,
                            f"{table}.parquet has {rows:,} rows, but its manifest says {said:,}")


def read_tables(info: SnapshotInfo, names: list[str]) -> AuditData:
    """Return the snapshot's own rows of the tables `names` (the others empty). A table its
    manifest says is empty is not read.

    Raises:
        DamagedStoreError: if a table file cannot be read, or has another number of rows than
            the manifest says.
        KeyError: if `names` holds an unknown table, or one the store keeps as files only
            (`auditlib.tables.STORE_ONLY_TABLES`).
    """
    tables: dict[str, pd.DataFrame] = {}
    for name in names:
        table = data_table(name)
        if info.rows is not None and not info.rows.get(name):
            tables[name] = empty(table)
            continue
        f = table_file(info.path, name)
        try:
            df = info.read_parquet(name)
        except (OSError, ValueError, pa.ArrowException) as e:
            raise damaged_error(info.path.parent.parent, info.snapshot_id,
                                f"cannot read {f.name} ({e})") from e
        check_rows(info, name, len(df))
        tables[name] = conform(table, df)
    for t in DATA_TABLES:
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


def filter_sources(
    data: AuditData, hidden: Collection[str], only: Collection[str] | None = None
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
    """Return `data` with only the rows and files of `sources` (in place)."""
    data.files = [f for f in data.files if f.path in sources]
    return filter_sources(data, (), sources)


def read_latest(store: StorePath) -> AuditData:
    """Read the newest snapshot of `store`, with the rows it carried over (`read_snapshot`).

    This is what the newest run saw; the store's current state (`read_current`) adds what
    other runs (other folders, engines, registries) saw.

    Raises:
        StoreError: if the store has no snapshot or cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
    """
    snaps = list_snapshots(store)
    if not snaps:
        raise StoreError(
            f"{store}: no snapshot in this store; run `auditlib ingest PATH --store {store}` first"
        )
    return read_snapshot(snaps[-1])
