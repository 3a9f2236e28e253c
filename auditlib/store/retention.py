"""Retention: fold the old snapshots of a store into one base snapshot and delete them, so that
the store stays small over years of runs and every kept snapshot reads as before
(`auditlib store prune --keep 90d`, `auditlib store compact`).

Snapshots carry the rows of unchanged sources forward from the snapshot that read them (see the
package docstring), so an old snapshot cannot just be deleted: a source unchanged for a year has
its only rows there. Folding at a cutoff:

1. the old snapshots are those written before the cutoff (oldest first, up to the first that is
   not; the newest snapshot is always kept); the last of them, D, ends the folded history;
2. a base snapshot is written: the state of the store right after D, every source with its rows
   and manifest entry copied from the snapshot holding them. It sorts right after D and before
   every kept snapshot, and records D's time, so the history keeps one point for D;
3. every kept snapshot that carries rows over from an old snapshot is made to carry them from the
   base (its manifest is replaced in one atomic step; each is checked to name the same read,
   scan id for scan id, before anything is written);
4. the old snapshots are renamed out of sight (`.pruned-<id>`) and deleted, and kept snapshots
   are looked at once more for carries a concurrent writer committed meanwhile.

The store then holds the base (one copy of the state at the cutoff) and the kept snapshots (the
changes since), and the current state and every kept snapshot read the same as before.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa

from auditlib._version import __version__
from auditlib.data import AuditData
from auditlib.errors import StoreError
from auditlib.store.current import SourceState, current_sources, holds_table
from auditlib.store.damage import DamagedStoreError
from auditlib.store.layout import MANIFEST, PRUNED_PREFIX, SNAPSHOTS_DIR, table_file_name
from auditlib.store.licence_tables import LICENCE_TABLES
from auditlib.store.location import Location, StoreLike, locate
from auditlib.store.manifest import SnapshotInfo, scan_store, schema_fingerprint
from auditlib.store.read import source_mask
from auditlib.store.write import (
    SnapshotFolder,
    manifest,
    snapshot_tables,
    write_bytes,
    write_table,
)
from auditlib.tables import TABLES, concat, conform, empty

_DURATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_duration(text: str) -> timedelta:
    """Return the duration `text` names: a whole number of hours, days or weeks (`36h`, `90d`,
    `12w`).

    Raises:
        ValueError: if `text` is not one, naming it.
    """
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration: give a whole number of hours, days or "
                         "weeks (36h, 90d, 12w)")
    return int(m.group(1)) * _UNITS[m.group(2)]


@dataclass
class Folded:
    """What `prune` or `compact` did."""

    base: str | None = None
    """The base snapshot written (None when there was nothing to fold, or the last old snapshot
    already held the whole state and is kept as the base)."""
    folded: list[str] = field(default_factory=list)
    """The old snapshots whose state the base holds."""
    redirected: list[str] = field(default_factory=list)
    """Kept snapshots that now carry rows over from the base."""
    deleted: list[str] = field(default_factory=list)
    """The snapshots deleted."""


def prune(store: StoreLike, keep: timedelta, *, now: datetime | None = None) -> Folded:
    """Delete the snapshots of `store` written more than `keep` before `now` (default now),
    folding the state they leave into one base snapshot first (see the module docstring).

    Raises:
        StoreError: if the store cannot be read or written, or a kept snapshot carries a read
            that the state at the cutoff does not hold (nothing is deleted then).
        DamagedStoreError: if a snapshot of the store is damaged (retention never folds damage).
    """
    return fold(store, (now or datetime.now(UTC)) - keep)


def compact(store: StoreLike) -> Folded:
    """Fold every snapshot of `store` but the newest into one base snapshot and delete them: the
    store keeps its current state, and its history only from the newest snapshot on.

    Raises:
        StoreError, DamagedStoreError: as `prune`.
    """
    return fold(store, None)


def fold(store: StoreLike, cutoff: datetime | None) -> Folded:
    """Fold the snapshots written before `cutoff` (None: all but the newest) into a base snapshot
    and delete them (see the module docstring).

    Raises:
        StoreError, DamagedStoreError: as `prune`.
    """
    loc = locate(store)
    snaps = _sound(loc)
    k = len(snaps) - 1 if cutoff is None else next(
        (i for i, s in enumerate(snaps) if s.created_at >= cutoff), len(snaps))
    k = min(k, len(snaps) - 1)  # the newest snapshot is always kept
    if k <= 0:
        return Folded()
    old, kept = snaps[:k], snaps[k:]
    last = old[-1]
    state = current_sources(loc, last.snapshot_id)
    _check_carries(kept, {s.snapshot_id for s in old}, state)
    done = Folded(folded=[s.snapshot_id for s in old])
    if ({st.snapshot_id for st in state.values()} <= {last.snapshot_id} and not last.carried
            and all(holds_table(last, t) for t in LICENCE_TABLES)):
        base = last  # it holds the whole state already: it is the base
        # (written before the licence tables, it is written again with them)
    else:
        base = _write_base(loc, old, state, kept[0].snapshot_id)
        done.base = base.snapshot_id
    gone = {s.snapshot_id for s in old} - {base.snapshot_id}
    done.redirected = _redirect(loc, kept, gone, base.snapshot_id)
    for s in old:
        if s.snapshot_id in gone:
            _delete(loc, s)
            done.deleted.append(s.snapshot_id)
    # A writer that planned before the fold may have committed a carry from a deleted snapshot.
    late = [s for s in _sound(loc, allow_missing=gone) if s.snapshot_id > base.snapshot_id]
    done.redirected += _redirect(loc, late, gone, base.snapshot_id)
    return done


def _sound(loc: Location, allow_missing: set[str] | None = None) -> list[SnapshotInfo]:
    """Return the snapshots of the store, oldest first.

    Raises:
        DamagedStoreError: if one is damaged (a snapshot in `allow_missing` may be missing).
    """
    scan = scan_store(loc)
    damaged = [d for d in scan.damaged if d.snapshot_id not in (allow_missing or set())]
    if damaged:
        raise DamagedStoreError(loc.local or loc.root, damaged)
    return scan.snapshots


def _check_carries(kept: list[SnapshotInfo], old: set[str], state: dict[str, SourceState]
                   ) -> None:
    """Check that every read a kept snapshot carries from an old one is in the state at the
    cutoff, the same read (scan id).

    Raises:
        StoreError: naming the first that is not.
    """
    for s in kept:
        for c in s.carried.values():
            if c.snapshot_id in old and (c.path not in state
                                         or state[c.path].scan_id != c.scan_id):
                raise StoreError(
                    f"snapshot {s.snapshot_id} carries {c.path} ({c.scan_id}) over from "
                    f"{c.snapshot_id}, but the state at the cutoff holds another read of it: "
                    "nothing was pruned")


def _base_id(last: str, first_kept: str) -> str:
    """Return an id for the base: the time of the last old snapshot `last`, sorting after it and
    before the first kept one (its suffix drawn from the room between the two).

    Raises:
        StoreError: if no id sorts between the two (`last`'s suffix is the highest there is, or
            the two were written in the same microsecond with adjacent suffixes).
    """
    stamp, suffix = last.split("-")
    low, high = int(suffix, 16) + 1, 0xFFFFFF
    kept_stamp, kept_suffix = first_kept.split("-")
    if kept_stamp == stamp:
        high = int(kept_suffix, 16) - 1
    if low > high:
        raise StoreError(f"cannot fold: no snapshot id sorts between {last} and {first_kept}")
    return f"{stamp}-{low + secrets.randbelow(high - low + 1):06x}"


def _write_base(loc: Location, old: list[SnapshotInfo], state: dict[str, SourceState],
                first_kept: str) -> SnapshotInfo:
    """Write the base snapshot: the state right after the last old snapshot, each source's rows
    copied from the snapshot holding them. Reads and writes one table at a time.

    Raises:
        StoreError: if a table cannot be read or the snapshot cannot be written.
    """
    last = old[-1]
    by_id = {s.snapshot_id: s for s in old}
    held: dict[str, set[str]] = {}
    for st in state.values():
        held.setdefault(st.snapshot_id, set()).add(st.source)
    holders = [by_id[h] for h in sorted(held)]
    snap = SnapshotFolder(loc, last.created_at.to_pydatetime(),
                          _base_id(last.snapshot_id, first_kept))
    counts: dict[str, int] = {}
    # The holders written before the licence tables: their filtered `packages` and
    # `package_licenses`, kept from the loop (those come first in `TABLES`) to derive them.
    underived = {h.snapshot_id for h in holders
                 if not all(holds_table(h, t) for t in LICENCE_TABLES)}
    sources_of: dict[str, dict[str, pd.DataFrame]] = {sid: {} for sid in underived}
    derived: dict[str, dict[str, pd.DataFrame]] = {}  # by snapshot, both licence tables at once
    try:
        for table in TABLES:
            parts = []
            for info in holders:
                sid = info.snapshot_id
                if table.name in LICENCE_TABLES and sid in underived:
                    if sid not in derived:
                        derived[sid] = _derived(sources_of.pop(sid))
                    parts.append(derived[sid][table.name])
                    continue
                if info.rows is not None and not info.rows.get(table.name):
                    continue
                df = conform(table, info.read_parquet(table.name))
                df = df[source_mask(df["source"], (), held[sid])]
                if sid in sources_of and table.name in _DERIVED_FROM:
                    sources_of[sid][table.name] = df
                parts.append(df)
            df = concat(table, parts) if parts else empty(table)
            write_table(loc, snap.file(table_file_name(table.name)), df.reset_index(drop=True))
            counts[table.name] = len(df)
    except (OSError, ValueError, pa.ArrowException, StoreError) as e:
        snap.abort()
        raise StoreError(f"{loc}: cannot write the base snapshot: {e}") from e
    versions = {h.auditlib_version for h in holders}
    schemas = {h.schema for h in holders}
    path = snap.commit({
        **manifest(snap.snapshot_id, last.created_at.to_pydatetime(),
                   [_entry(by_id[st.snapshot_id], st) for _, st in sorted(state.items())],
                   counts, sorted({g for h in holders for g in h.sources})),
        # Sources read by another auditlib are read again by the next ingest, as before.
        "auditlib_version": versions.pop() if len(versions) == 1 else None,
        "schema": schemas.pop() if len(schemas) == 1 else None,
        "folded": {"first": old[0].snapshot_id, "last": last.snapshot_id,
                   "snapshots": len(old), "by": f"auditlib {__version__}",
                   "schema": schema_fingerprint()},
    })
    return SnapshotInfo(path, snap.snapshot_id, last.created_at, None, None, (), {})


_DERIVED_FROM = ("packages", "package_licenses")
"""The tables the licence tables are derived from (`auditlib.store.licence_tables`)."""


def _derived(own: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Return the licence tables (`auditlib.store.licence_tables`) of a snapshot written before
    them, from its `packages` and `package_licenses` rows `own` (those of the sources it holds
    in the base; a table it has no rows of may be missing).

    Raises:
        StoreError: if they cannot be derived.
    """
    data = AuditData()
    for name, df in own.items():
        setattr(data, name, df)
    tables = snapshot_tables(data)
    return {t: tables[t] for t in LICENCE_TABLES}


def _entry(holder: SnapshotInfo, st: SourceState) -> dict[str, Any]:
    """Return the base manifest's `files` entry of a source: the holder's, with its scan id."""
    entry = dict((holder.files or {}).get(st.source) or {"path": st.source})
    if "scan_id" not in entry and not entry.get("error") and st.scan_id is not None:
        entry["scan_id"], entry["file_bytes"] = st.scan_id, st.file_bytes
    return entry


def _redirect(loc: Location, snaps: list[SnapshotInfo], gone: set[str], base: str) -> list[str]:
    """Make each snapshot of `snaps` that carries rows over from a snapshot in `gone` carry them
    from `base`; its manifest is replaced in one atomic step. Returns their ids.

    Raises:
        StoreError: if a manifest cannot be read or replaced.
    """
    out = []
    for s in snaps:
        if not any(c.snapshot_id in gone for c in s.carried.values()):
            continue
        folder = loc.join(SNAPSHOTS_DIR, s.snapshot_id)
        try:
            with loc.fs.open_input_stream(f"{folder}/{MANIFEST}") as f:
                doc = json.loads(f.read())
            for c in doc.get("carried") or ():
                if c.get("snapshot_id") in gone:
                    c["snapshot_id"] = base
            tmp = f"{folder}/.{MANIFEST}.{secrets.token_hex(4)}.tmp"
            write_bytes(loc, tmp, json.dumps(doc, indent=1).encode())
            loc.fs.move(tmp, f"{folder}/{MANIFEST}")  # a rename: atomic, replaces the old one
        except (OSError, ValueError, pa.ArrowException) as e:
            raise StoreError(f"{loc}: cannot update the manifest of snapshot {s.snapshot_id} "
                             f"({e}); run the prune again to finish it") from e
        out.append(s.snapshot_id)
    return out


def _delete(loc: Location, snap: SnapshotInfo) -> None:
    """Delete an old snapshot: renamed out of sight first, so a reader never sees half of it.

    Raises:
        StoreError: if it cannot be renamed (a failure to delete the hidden folder is left to the
            next writer, which removes it after an hour).
    """
    hidden = loc.join(SNAPSHOTS_DIR, PRUNED_PREFIX + snap.snapshot_id)
    try:
        loc.fs.move(loc.join(SNAPSHOTS_DIR, snap.snapshot_id), hidden)
    except (OSError, pa.ArrowException) as e:
        raise StoreError(f"{loc}: cannot delete snapshot {snap.snapshot_id} ({e})") from e
    try:
        loc.fs.delete_dir(hidden)
    except (OSError, pa.ArrowException):
        pass
