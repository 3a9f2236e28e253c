"""The SLA clock's history in the engine: when each fixable finding's fix was first seen
(`auditlib.history.first_seen_fixed`), computed by SQL that DuckDB and Spark both run over the
vulnerability files of every snapshot's state, so no snapshot's rows are held in pandas.

The state after snapshot k is, for each source, the rows of the snapshot that holds it then
(`auditlib.store.current.current_files` as of k, carried rows included). A row of a file is
therefore seen first in the oldest state that holds its (source, file's snapshot): that state's
time is all the definition needs, since

* a fix key (vulnerability, package, version) is first seen fixable at the oldest state in
  which any row of it says it is fixable (`aggregates.FIXABLE_ROW`: a finding is fixable when
  any of its rows says so), and
* the fix was seen appearing exactly when some state older than that held the fix key at all
  (there, none of its findings was fixable, or the fix would have been seen then).

So the query reads each file once, joined to a small frame of (source, snapshot, first state),
instead of every state's rows. Times are compared as ranks (`SnapshotTimes`), which SQL handles
alike on both engines; pandas turns ranks back into times for the few rows it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from auditlib.engine.aggregates import FIXABLE_ROW
from auditlib.engine.base import Engine, open_engine
from auditlib.engine.tables import BIG_TABLES, SNAPSHOT_COLUMN, StoreTables
from auditlib.store.current import TableFile, current_files
from auditlib.store.licence_tables import LICENCE_TABLES
from auditlib.store.location import StoreLike, locate
from auditlib.store.manifest import SnapshotInfo, usable_snapshots

KEY = ("image_id", "vuln_id", "pkg_name", "pkg_version")
"""A finding (`fleet.findings.FINDING_KEY`)."""

ROWS_VIEW = "history_vulnerabilities"
"""The view `FIRST_SEEN_FIXED` reads: every vulnerability row of any snapshot's state, once,
with columns image_id, vuln_id, pkg_name, pkg_version, fix_state, fix_contradicted and seen_rank
(the rank of the time of the oldest state holding it)."""

SOURCES_VIEW = "history_sources"
"""Columns source, snapshot_id, seen_rank: each (source, snapshot holding its rows) of any state,
with the rank of the oldest state in which that snapshot held that source."""

FILES_VIEW = "history_vulnerabilities__files"
"""The raw rows of every vulnerability file some state holds (`Engine.load_files`)."""

CLOCK_VIEW = "first_seen_fixed"
"""The view `FIRST_SEEN_FIXED` is kept as in an assessment's engine (`history_clock`)."""

_SAME_FIX = " AND ".join(f"f.{c} IS NOT DISTINCT FROM k.{c}" for c in KEY[1:])

FIRST_SEEN_FIXED = f"""
WITH r AS (
  SELECT CAST(image_id AS STRING) AS image_id, CAST(vuln_id AS STRING) AS vuln_id,
         CAST(pkg_name AS STRING) AS pkg_name, CAST(pkg_version AS STRING) AS pkg_version,
         CAST(seen_rank AS INT) AS seen_rank,
         CASE WHEN {FIXABLE_ROW} THEN 1 ELSE 0 END AS fixable
  FROM {ROWS_VIEW}
  WHERE image_id IS NOT NULL
), k AS (
  SELECT vuln_id, pkg_name, pkg_version,
         MIN(CASE WHEN fixable = 1 THEN seen_rank END) AS fixed_rank,
         MIN(seen_rank) AS seen_rank
  FROM r
  GROUP BY vuln_id, pkg_name, pkg_version
  HAVING MAX(fixable) = 1
), f AS (
  SELECT DISTINCT image_id, vuln_id, pkg_name, pkg_version FROM r WHERE fixable = 1
)
SELECT f.image_id, f.vuln_id, f.pkg_name, f.pkg_version,
       k.fixed_rank AS first_seen_fixed_rank,
       k.seen_rank < k.fixed_rank AS fix_seen_appearing
FROM f JOIN k ON {_SAME_FIX}
"""
"""One row per finding ever seen fixable (image, vulnerability, package, version; rows naming no
image left out): first_seen_fixed_rank (the rank, `SnapshotTimes`, of the first state in which
any image had that vulnerability of that package version fixable: the fix exists for every
image with the version, so a rebuild keeping it does not restart the clock) and
fix_seen_appearing (an older state had it, not fixable: the fix appeared in between). The
module docstring says why this is the definition over every state."""


def _utc(t: pd.Timestamp) -> pd.Timestamp:
    """Return `t` in UTC (a time without a zone is taken as UTC, as the store writes them)."""
    t = pd.Timestamp(t)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


@dataclass(frozen=True)
class SnapshotTimes:
    """The times of a store's snapshots as ranks: rank r is the r-th distinct time, oldest
    first (snapshots written at the same moment share a rank, so comparing ranks is comparing
    times)."""

    times: tuple[pd.Timestamp, ...]
    """Rank -> time (UTC)."""

    @classmethod
    def of(cls, at: list[pd.Timestamp]) -> SnapshotTimes:
        """Return the ranks of the times `at` (a time without a zone is UTC)."""
        return cls(tuple(sorted({_utc(t) for t in at})))

    def rank(self, t: pd.Timestamp) -> int:
        """Return the rank of time `t` (one of `times`)."""
        return self.times.index(_utc(t))

    def at(self, ranks: pd.Series) -> pd.Series:
        """Return the times of `ranks` (numbers; missing stays NaT), as `datetime64[ns, UTC]`."""
        return times_at(self.times, ranks)


def times_at(times: Sequence[pd.Timestamp], positions: pd.Series) -> pd.Series:
    """Return `times[p]` for each position `p` of `positions` (numbers; missing stays NaT), as
    `datetime64[ns, UTC]` (a time without a zone is UTC)."""
    table = pd.Series(pd.DatetimeIndex([_utc(t) for t in times]), dtype="datetime64[ns, UTC]")
    r = pd.to_numeric(positions).astype("Float64")
    known = r.notna().to_numpy(bool)
    out = pd.Series(pd.NaT, index=positions.index, dtype="datetime64[ns, UTC]")
    if known.any():
        out[known] = table.iloc[r[known].astype("int64").to_numpy()].to_numpy()
    return out


def history_states(store: StoreLike) -> tuple[list[TableFile], pd.DataFrame, list[SnapshotInfo]]:
    """Return the files of `vulnerabilities` some snapshot's state holds (each once, oldest
    first), and which states hold which of their rows: a frame of (source, snapshot_id, state),
    state the position of the snapshot (oldest 0) whose state holds that source's rows of that
    snapshot's files, as text; with the usable snapshots, oldest first. The state of each
    snapshot is `current_files(store, ..., as_of=snapshot)`'s, which reads manifests and the
    small `scans` and `load_errors` tables only: the one resolution `history_sources` and the
    trends (`auditlib.engine.trends`) read.

    Raises:
        StoreError: if the store has no snapshot or a snapshot cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
    """
    scan = usable_snapshots(store)
    files: dict[str, TableFile] = {}
    held: set[tuple[str, str, int]] = set()
    for k, snap in enumerate(scan.snapshots):
        for f in current_files(store, ["vulnerabilities"], as_of=snap.snapshot_id, scan=scan)[
                "vulnerabilities"]:
            files.setdefault(f.path, f)
            held.update((source, f.snapshot_id, k) for source in f.sources)
    frame = pd.DataFrame([(s, sid, str(k)) for s, sid, k in sorted(held)],
                         columns=["source", "snapshot_id", "state"], dtype="string")
    return list(files.values()), frame, list(scan.snapshots)


def history_sources(store: StoreLike) -> tuple[list[TableFile], pd.DataFrame, SnapshotTimes]:
    """Return what the history's vulnerabilities are read from: the files of `vulnerabilities`
    some snapshot's state holds (each once, oldest first), the `SOURCES_VIEW` frame (source,
    snapshot_id, seen_rank as text), and the snapshots' time ranks (`history_states`: each
    (source, snapshot) with the rank of the time of the oldest state holding it).

    Raises:
        StoreError: if the store has no snapshot or a snapshot cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
    """
    files, held, snaps = history_states(store)
    times = SnapshotTimes.of([s.created_at for s in snaps])
    rank = {str(k): str(times.rank(s.created_at)) for k, s in enumerate(snaps)}
    first: dict[tuple[str, str], int] = {}
    for source, sid, k in zip(held["source"], held["snapshot_id"], held["state"], strict=True):
        r = int(rank[k])
        first[(source, sid)] = min(first.get((source, sid), r), r)
    frame = pd.DataFrame([(s, sid, str(r)) for (s, sid), r in sorted(first.items())],
                         columns=["source", "snapshot_id", "seen_rank"], dtype="string")
    return files, frame, times


_ROW_COLUMNS = ("image_id", "vuln_id", "pkg_name", "pkg_version", "fix_state", "fix_contradicted")


def null_column(c: str) -> str:
    """Return the SQL of a missing vulnerability column `c` (boolean `fix_contradicted`, else
    text)."""
    return f"CAST(NULL AS {'BOOLEAN' if c == 'fix_contradicted' else 'STRING'}) AS {c}"


def held_rows_sql(files_view: str, columns: list[str], wanted: Sequence[str], held_view: str,
                  held: str) -> str:
    """Return the SQL of the rows of `files_view` (whose files have `columns`; `wanted` are kept,
    missing ones as `null_column`) joined to `held_view` (source, snapshot_id, `held`) on their
    source and file's snapshot: each file read once, its rows once per `held` value."""
    have = set(columns)
    cols = ", ".join(f"r.{c}" if c in have else null_column(c) for c in wanted)
    return (f"SELECT /*+ BROADCAST(s) */ {cols}, s.{held} FROM {files_view} r "
            f"JOIN {held_view} s ON r.source = s.source "
            f"AND r.{SNAPSHOT_COLUMN} = s.snapshot_id")


def _rows_view_sql(columns: list[str]) -> str:
    """Return the SQL of `ROWS_VIEW` over `FILES_VIEW` (whose files have `columns`)."""
    return held_rows_sql(FILES_VIEW, columns, _ROW_COLUMNS, SOURCES_VIEW, "seen_rank")


@dataclass(frozen=True)
class EngineClock:
    """The history clock (`FIRST_SEEN_FIXED`) kept in an engine as the view `view`: what the
    fixable findings of an assessment of a store join in SQL (`aggregates.seen_from_clock`), so
    its rows never reach pandas unless `frame` is asked for."""

    engine: Engine
    times: SnapshotTimes
    view: str = CLOCK_VIEW

    def frame(self) -> pd.DataFrame:
        """Return the clock as `auditlib.history.first_seen_fixed` gives it (one row per finding
        ever seen fixable: `KEY` as text, first_seen_fixed_at (UTC), fix_seen_appearing (bool)),
        sorted by `KEY`.

        Raises:
            EngineError: if the engine fails.
        """
        got = self.engine.arrow(f"SELECT * FROM {self.view}").to_pandas()
        out = pd.DataFrame({c: got[c].astype("string") for c in KEY})
        out["first_seen_fixed_at"] = self.times.at(got["first_seen_fixed_rank"])
        out["fix_seen_appearing"] = got["fix_seen_appearing"].astype("boolean").fillna(
            False).astype(bool)
        return out.sort_values(list(KEY), kind="stable", na_position="last").reset_index(
            drop=True)


def history_clock(store: StoreLike, engine: Engine) -> EngineClock:
    """Define the history clock of `store` on `engine` (the views `FILES_VIEW`, `SOURCES_VIEW`,
    `ROWS_VIEW` and `CLOCK_VIEW`; nothing is computed until a query reads them).

    Returns:
        The clock, in `engine`.

    Raises:
        StoreError: if the store has no snapshot or a snapshot cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
        EngineError: if the engine cannot read the files.
    """
    files, sources, times = history_sources(store)
    engine.register(SOURCES_VIEW, sources)
    if files:
        engine.define(ROWS_VIEW, _rows_view_sql(engine.load_files(FILES_VIEW, files)))
    else:
        engine.define(ROWS_VIEW, "SELECT " + ", ".join(null_column(c) for c in _ROW_COLUMNS)
                      + ", CAST(NULL AS STRING) AS seen_rank WHERE 1 = 0")
    engine.define(CLOCK_VIEW, FIRST_SEEN_FIXED)
    return EngineClock(engine, times)


def history_engine(store: StoreLike, name: str = "duckdb", *,
                   spark_master: str | None = None) -> Engine:
    """Return an engine that reads `store`'s files on its filesystem (a local folder, or any
    pyarrow filesystem through DuckDB), with empty views of the current state: what
    `history_clock` needs when no assessment's engine is at hand.

    Raises:
        StoreError: if the store's location is not understood.
        EngineError: if the engine cannot start.
    """
    loc = locate(store)
    tables = StoreTables(
        str(loc), {t: [] for t in (*BIG_TABLES, *LICENCE_TABLES)},
        pd.DataFrame({"source": [], "snapshot_id": []}, dtype="string"),
        pd.DataFrame({"scan_id": [], "image_id": []}, dtype="string"),
        None if loc.local is not None else loc.fs)
    return open_engine(name, tables, spark_master=spark_master)


def frames_clock(vulnerabilities: pd.DataFrame, snapshots: Mapping[str, pd.Timestamp],
                 engine: Engine) -> EngineClock:
    """Define the history clock on `engine` (DuckDB over frames) from a history read into memory
    (`auditlib.history.read_history`): `vulnerabilities` with `snapshot_id`, every state's rows.

    Args:
        vulnerabilities: the history's `vulnerabilities`.
        snapshots: snapshot id -> its time.
        engine: where to define it.

    Raises:
        EngineError: if the engine refuses the frame.
    """
    times = SnapshotTimes.of(list(snapshots.values()))
    rank = {str(s): times.rank(t) for s, t in snapshots.items()}
    v = vulnerabilities
    rows = pd.DataFrame({
        **{c: v[c].astype("string") if c in v.columns else pd.array([pd.NA] * len(v),
                                                                    dtype="string")
           for c in _ROW_COLUMNS if c != "fix_contradicted"},
        "fix_contradicted": v["fix_contradicted"].astype("boolean")
        if "fix_contradicted" in v.columns else pd.array([pd.NA] * len(v), dtype="boolean"),
        "seen_rank": v["snapshot_id"].astype(str).map(rank).astype("int64").to_numpy(),
    })
    engine.register(ROWS_VIEW, rows)
    engine.define(CLOCK_VIEW, FIRST_SEEN_FIXED)
    return EngineClock(engine, times)
