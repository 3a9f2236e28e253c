"""Read a store's history: every table in the state after each snapshot, in one pass."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from auditlib.errors import StoreError
from auditlib.store.manifest import SnapshotInfo, usable_snapshots
from auditlib.store.read import read_snapshot, source_mask
from auditlib.tables import DATA_TABLES, TABLES_BY_NAME, concat, data_table, empty

SNAPSHOTS = "snapshots"
"""The key of `read_history`'s frame of snapshots (one row each)."""

_CLAIMS = ("scans", "load_errors")
"""The tables whose sources a snapshot claims besides its manifest's (as `read_current`)."""


@dataclass
class _Chunk:
    """The rows of one snapshot that may still be current."""

    index: int
    frames: dict[str, pd.DataFrame]
    sources: set[str]
    """Every source its rows name."""
    hidden: set[str] = field(default_factory=set)
    """Sources newer snapshots decided otherwise."""
    only: set[str] | None = None
    """When brought back for carried rows only: those sources."""

    def alive(self) -> bool:
        left = self.sources - self.hidden
        return bool(left if self.only is None else left & self.only)

    def view(self, name: str) -> pd.DataFrame:
        df = self.frames[name]
        if df.empty or (not self.hidden and self.only is None):
            return df
        mask = source_mask(df["source"], self.hidden, self.only)
        return df if mask.all() else df[mask].reset_index(drop=True)


def _chunk(index: int, info: SnapshotInfo, names: list[str]) -> _Chunk:
    data = read_snapshot(info.path, names, carried=False) if info.has_rows else None
    frames = {n: empty(TABLES_BY_NAME[n]) if data is None else getattr(data, n) for n in names}
    sources: set[str] = set()
    for df in frames.values():
        col = df["source"]
        if isinstance(col.dtype, pd.CategoricalDtype):
            sources.update(str(c) for c in col.cat.categories)
        else:
            sources.update(col.dropna().astype(str).unique())
    return _Chunk(index, frames, sources)


def _claims_of(info: SnapshotInfo, chunk: _Chunk) -> tuple[set[str], dict[str, str], set[str]]:
    """Return what a snapshot decides: sources it read, carried (-> holder), removed."""
    own = set(info.files or ())
    for n in _CLAIMS:
        own.update(chunk.frames[n]["source"].dropna().astype(str).unique())
    carried = {s: c.snapshot_id for s, c in info.carried.items() if s not in own}
    removed = set(info.removed) - own - set(carried)
    return own, carried, removed


def read_history(
    store: str | os.PathLike[str], tables: Iterable[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Return every table over all snapshots of `store`: the store's state after each snapshot.

    The state after snapshot k is what `read_current(store, as_of=k)` returns; it is computed in
    one pass over the snapshots, each read once (a snapshot that holds rows carried over by later
    ones is read again only if it was dropped from memory).

    Args:
        store: the store folder.
        tables: the tables wanted (default all).

    Returns:
        table name -> its rows in every state, with `snapshot_id` (category) and `snapshot_at`
        (the snapshot's time, UTC) in front; and `"snapshots"` -> one row per snapshot:
        snapshot_id, snapshot_at, files_read, files_carried, files_removed, sources,
        auditlib_version.

    With damage allowed (`AUDITLIB_ALLOW_DAMAGED`), damaged snapshots are left out, and with
    them the rows other snapshots carried over from them.

    Raises:
        StoreError: if the store has no snapshot, a table cannot be read, or a snapshot holding
            carried rows is missing.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
        KeyError: if `tables` names an unknown table.
    """
    scan = usable_snapshots(store)
    infos, damaged = scan.snapshots, scan.damaged_ids
    if not infos:
        raise StoreError(f"{store}: no snapshot in this store; nothing to make a history of")
    wanted = [t.name for t in DATA_TABLES] if tables is None else list(tables)
    for n in wanted:
        data_table(n)
    order = [t.name for t in DATA_TABLES]
    names = sorted({*wanted, *_CLAIMS}, key=order.index)
    position = {s.snapshot_id: i for i, s in enumerate(infos)}
    live: dict[int, _Chunk] = {}
    states: dict[str, list[pd.DataFrame]] = {n: [] for n in wanted}
    lengths: dict[str, list[int]] = {n: [] for n in wanted}
    for k, info in enumerate(infos):
        chunk = _chunk(k, info, names)
        own, carried, removed = _claims_of(info, chunk)
        claims = own | set(carried) | removed
        for older in live.values():
            older.hidden |= claims
        for source, holder in carried.items():
            i = position.get(holder)
            while i is not None and i < k and source in infos[i].carried and (
                    source not in (infos[i].files or {})):
                holder = infos[i].carried[source].snapshot_id  # carried twice
                nxt = position.get(holder)
                i = nxt if nxt is not None and nxt < i else None
            if i is None and holder in damaged:
                continue  # damage allowed: its rows went with the damaged snapshot
            if i is None or i >= k:
                raise StoreError(
                    f"{info.path}: carries {source} from snapshot {holder}, which is missing "
                    "(or not older)"
                )
            if i not in live:
                live[i] = _chunk(i, infos[i], names)
                live[i].only = set()
                live[i].hidden = set()
            back = live[i]
            back.hidden.discard(source)
            if back.only is not None:
                back.only.add(source)
        live[k] = chunk
        live = {i: c for i, c in sorted(live.items()) if c.alive()}
        for n in wanted:
            views = [c.view(n) for c in live.values()]
            views = [v for v in views if len(v)] or [empty(TABLES_BY_NAME[n])]
            state = concat(TABLES_BY_NAME[n], views) if len(views) > 1 else views[0]
            states[n].append(state)
            lengths[n].append(len(state))
    ids = [s.snapshot_id for s in infos]
    times = pd.DatetimeIndex([s.created_at for s in infos]).tz_convert("UTC")
    out: dict[str, pd.DataFrame] = {}
    for n in wanted:
        table = TABLES_BY_NAME[n]
        rows = concat(table, states[n]).reset_index(drop=True)
        which = np.repeat(np.arange(len(ids)), lengths[n])
        rows.insert(0, "snapshot_at", pd.Series(times[which], index=rows.index))
        rows.insert(0, "snapshot_id", pd.Series(
            pd.Categorical.from_codes(which, categories=pd.Index(ids)), index=rows.index))
        out[n] = rows
    out[SNAPSHOTS] = pd.DataFrame({
        "snapshot_id": pd.Categorical(ids, categories=ids),
        "snapshot_at": pd.Series(times),
        "files_read": [len(s.files or ()) for s in infos],
        "files_carried": [len(s.carried) for s in infos],
        "files_removed": [len(s.removed) for s in infos],
        "sources": pd.array(["; ".join(s.sources) for s in infos], dtype="string"),
        "auditlib_version": pd.array([s.auditlib_version for s in infos], dtype="string"),
    })
    return out
