"""Reading snapshots back: one snapshot (with the rows it carried over), the newest one, and the
filter on the `source` column every reader of the store uses."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from auditlib.data import AuditData, merge
from auditlib.errors import StoreError
from auditlib.store.layout import StorePath, table_file
from auditlib.store.manifest import list_snapshots, snapshot_info
from auditlib.tables import TABLES, TABLES_BY_NAME, conform, empty


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
    own = read_tables(path, names)
    if info is None or not info.carried:
        return own
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


def read_tables(path: Path, names: list[str]) -> AuditData:
    """Return the snapshot folder `path`'s own rows of the tables `names` (the others empty).

    Raises:
        StoreError: if a table file cannot be read.
        KeyError: if `names` holds an unknown table.
    """
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
        StoreError: if the store has no snapshot.
    """
    snaps = list_snapshots(store)
    if not snaps:
        raise StoreError(
            f"{store}: no snapshot in this store; run `auditlib ingest PATH --store {store}` first"
        )
    return read_snapshot(snaps[-1])
