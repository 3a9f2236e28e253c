"""The history's trends as the staleness page shows them: small frames (per snapshot, per
snapshot and severity, per severity, per repository) computed once from the store, with its
vulnerabilities in the engine (`auditlib.engine.trends`), so an assessment holds and saves
these instead of every snapshot's rows (`Assessment.trends`, `auditlib.assess.saved`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from auditlib.engine.trends import FIX_TIME_COUNTS, SCANNED_VIEW, change_counts_sql
from auditlib.history.read import SNAPSHOTS
from auditlib.history.views import (
    SMALL,
    Opened,
    StoreOrHistory,
    define_current,
    image_counts,
    never_rebuilt_of,
    opened,
    scan_coverage_of,
    scanned_images,
    severity_of,
    staleness_trend_of,
    vulnerability_counts_of,
)

SEVERITY_ORDER = ("critical", "high", "medium", "low", "negligible", "unknown")
"""The severities of the page's tables, worst first."""


@dataclass(frozen=True)
class Trends:
    """What the staleness page draws of a store's history (each frame small)."""

    snapshots: pd.DataFrame
    """snapshot_id, snapshot_at: every snapshot, oldest first."""
    coverage: pd.DataFrame
    """`history.scan_coverage`."""
    counts: pd.DataFrame
    """`history.vulnerability_counts` (empty with fewer than two snapshots)."""
    changes: pd.DataFrame
    """Per snapshot after the first, change and severity: snapshot_at, snapshot, change (new,
    fixed, gone), severity, vulnerabilities (`history.vulnerability_changes` of each pair of
    consecutive snapshots, counted; empty with fewer than two snapshots)."""
    fix_times: pd.DataFrame
    """Per severity (worst first): fixed, median days to fix, longest days to fix, still open
    (`history.time_to_fix` summarised; empty with fewer than two snapshots)."""
    never_rebuilt: pd.DataFrame
    """`history.never_rebuilt(min_days=0)` (empty with fewer than two snapshots)."""
    staleness: pd.DataFrame
    """`history.staleness_trend` (empty with fewer than two snapshots)."""

    @property
    def snapshot_count(self) -> int:
        """Return how many snapshots the history holds."""
        return len(self.snapshots)


FRAMES = tuple(f.name for f in fields(Trends))
"""The frames of `Trends`, as saved (`auditlib.assess.saved`)."""


def _changes(o: Opened, scanned: pd.DataFrame) -> pd.DataFrame:
    ids = o.ids
    state = {s: str(k) for k, s in enumerate(ids)}
    o.engine.register(SCANNED_VIEW, pd.DataFrame({
        "state": scanned["snapshot_id"].astype(str).map(state),
        "image_id": scanned["image_id"].astype(str)}))
    got = o.sql(change_counts_sql(len(ids) - 1))
    at = dict(zip(ids, o.h[SNAPSHOTS]["snapshot_at"], strict=True))
    return pd.DataFrame({
        "snapshot_at": pd.Series([at[s] for s in got["snapshot_id"]],
                                 dtype="datetime64[ns, UTC]"),
        "snapshot": got["snapshot_id"].astype(str),
        "change": got["change"].astype(str),
        "severity": severity_of(got["severity_rank"]).astype(str),
        "vulnerabilities": got["vulnerabilities"].astype("int64"),
    })


def _fix_times(o: Opened, counts: pd.DataFrame) -> pd.DataFrame:
    define_current(o, counts)
    got = o.engine.sql(FIX_TIME_COUNTS)
    at = o.h[SNAPSHOTS]["snapshot_at"].to_numpy()
    rows = []
    sev = severity_of(got["severity_rank"]).astype(str)
    fixed = got["fixed_state"].notna().to_numpy(bool)
    n = got["vulnerabilities"].astype("int64").to_numpy()
    for s in SEVERITY_ORDER:
        mine = (sev == s).to_numpy(bool)
        if not mine.any():
            continue
        done = got[mine & fixed]
        days = np.repeat((at[done["fixed_state"].astype("int64").to_numpy()]
                          - at[done["first_state"].astype("int64").to_numpy()])
                         / np.timedelta64(1, "s") / 86400, n[mine & fixed])
        rows.append({"severity": s, "fixed": int(n[mine & fixed].sum()),
                     "median days to fix": float(np.median(days)) if len(days) else None,
                     "longest days to fix": float(days.max()) if len(days) else None,
                     "still open": int(n[mine & ~fixed].sum())})
    return pd.DataFrame(rows)


def trends_of(store_or_history: StoreOrHistory, *, engine: str = "duckdb",
              spark_master: str | None = None) -> Trends:
    """Return the trends of a store's history (a store folder: its vulnerabilities read by the
    engine `engine`, each file once per query; or what `read_history` returned, on DuckDB).

    Raises:
        StoreError: if the store cannot be read.
        ValueError: if a given history lacks a table (scans, images, image_tags,
            vulnerabilities).
        EngineError: if the engine cannot read the files.
    """
    with opened(store_or_history, SMALL, engine_name=engine, spark_master=spark_master) as o:
        counts = image_counts(o)
        snaps = o.h[SNAPSHOTS][["snapshot_id", "snapshot_at"]].astype(
            {"snapshot_id": str, "snapshot_at": "datetime64[ns, UTC]"})
        coverage = scan_coverage_of(o, counts)
        if len(snaps) < 2:
            empty = pd.DataFrame()
            return Trends(snaps.reset_index(drop=True), coverage, empty, empty, empty, empty,
                          empty)
        return Trends(snaps.reset_index(drop=True), coverage, vulnerability_counts_of(o),
                      _changes(o, scanned_images(o, counts)), _fix_times(o, counts),
                      never_rebuilt_of(o.h, 0), staleness_trend_of(o, counts))
