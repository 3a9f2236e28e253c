"""Findings: what a vulnerability finding is, when its fix became available (the SLA clock),
and where it stands against its severity's SLA. The `fixable-vulns-sla` rule, the staleness
analysis, the compliance report and the history read these definitions.

A *finding* is a vulnerability of a package version in an image (`FINDING_KEY`), however many
documents (scanners) or paths report it; its severity is the highest any gives, and it is fixable
when any says `fixed` without contradicting itself (`auditlib.engine.aggregates.FIXABLE_ROW`).

The *clock* of a fixable finding starts when its fix became available, as well as auditlib knows
it (anchors.md section 10, "Fixable since"), in this order:

1. `fix`: the scanner's fix date (Grype `fix.available[].date`);
2. `seen`: the snapshot in which the store's history saw the fix appear (an earlier snapshot saw
   the same vulnerability of the same package version not fixable);
3. `published`: the vulnerability's publication date (a fix is rarely older);
4. `first-seen`: the first snapshot that saw it fixable, when it was fixable from the start: the
   fix is at least that old, maybe much older, so the days counted are a lower bound;
5. none of them: the clock is unknown and the finding is `undated`, never within its SLA.

The store's first snapshot is never taken as the day every fix appeared: that would make every
new store's findings look a day old.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import numpy as np
import pandas as pd

from auditlib.data import AuditData
from auditlib.engine import Engine, engine_or_frames
from auditlib.engine.aggregates import FIXABLE_ROW, fixable_findings_rows
from auditlib.normalize.severity import SEVERITIES

FINDING_KEY = ["image_id", "vuln_id", "pkg_name", "pkg_version"]
"""A finding: the same vulnerability of the same package version in one image."""

SLA_DAYS = {"critical": 7, "high": 30, "medium": 90, "low": 120}
"""DefectDojo's default SLA days per severity (anchors.md section 5)."""

WARN_RATIO = 0.75
"""Share of its SLA a finding may use before it is `near` it."""

CLOCKS = {
    "fix": "its fix date",
    "seen": "the snapshot that saw the fix appear",
    "published": "its publication",
    "first-seen": "the first snapshot that saw it fixable (the fix may be older)",
}
"""What each clock is called in evidence."""

SLA_STATES = ("over", "near", "within", "undated", "no SLA")
"""Where a fixable finding stands: over its SLA, near it (the warning share used), within it, no
date to start the clock, or a severity without an SLA."""

SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
"""Severity -> rank on the auditlib scale (unknown 0 ... critical 5)."""


def fixable(v: pd.DataFrame) -> np.ndarray:
    """Return which rows of a `vulnerabilities` frame say their finding is fixable
    (`auditlib.engine.aggregates.FIXABLE_ROW`, run by DuckDB over the frame: the one
    definition; `fix_contradicted` may be absent, as in a table built by hand).

    Returns:
        A boolean array over the rows of `v`.
    """
    frame = pd.DataFrame({
        "fix_state": v["fix_state"].astype("string"),
        "fix_contradicted": v["fix_contradicted"].astype("boolean")
        if "fix_contradicted" in v.columns else pd.array([pd.NA] * len(v), dtype="boolean"),
    })
    con = duckdb.connect(":memory:", config={"threads": 1})  # one column of flags
    try:
        con.register("vulnerabilities", frame)
        out = con.sql(f"SELECT COALESCE({FIXABLE_ROW}, FALSE) AS f FROM vulnerabilities").df()
    finally:
        con.close()
    flags: np.ndarray = out["f"].to_numpy(bool)
    return flags


def fixable_findings(tables: AuditData | Engine, as_of: pd.Timestamp,
                     first_seen_fixed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return one row per fixable finding (`FINDING_KEY`), deduplicated across documents, with
    its clock.

    Which rows are fixable and how a finding's rows are combined is
    `auditlib.engine.aggregates.FIXABLE_FINDINGS`, run by the engine over the vulnerabilities
    (the store's Parquet files, or frames in memory); the clock is chosen here (module
    docstring).

    Args:
        tables: the engine of the assessment (`FleetView.aggregate_engine`), or tables in memory
            (run on DuckDB over their frames).
        as_of: the moment days are counted to (UTC).
        first_seen_fixed: when history is known, the first snapshot that saw each finding
            fixable: columns `FINDING_KEY`, `first_seen_fixed_at` (UTC) and, optionally,
            `fix_seen_appearing` (missing: true). None without history.

    Returns:
        Columns `FINDING_KEY`, severity (the highest any scanner gave), fixed_version,
        layer_diff_id (the layer that added the package, when a scanner says), known_exploited
        (in CISA KEV, when a scanner says; missing when none does), epss (the highest EPSS
        probability a scanner gives, or missing), purl (the package's URL, when a scanner gives
        one), clock_at, clock (`fix`, `seen`, `published`, `first-seen`, or missing when no
        date is known) and days (whole days from clock_at to the as-of time, at least 0;
        missing with the clock).

    Raises:
        EngineError: if the engine fails.
    """
    engine = engine_or_frames(None, tables) if isinstance(tables, AuditData) else tables
    g = fixable_findings_rows(engine)
    clock_at = g["fix_at"]
    clock = np.full(len(g), None, dtype=object)
    clock[clock_at.notna().to_numpy()] = "fix"
    seen_at = pd.Series(pd.NaT, index=g.index, dtype="datetime64[ns, UTC]")
    appearing = pd.Series(False, index=g.index)
    if first_seen_fixed is not None and len(first_seen_fixed) and len(g):
        seen = first_seen_fixed.assign(
            fix_seen_appearing=first_seen_fixed["fix_seen_appearing"].fillna(False).astype(bool)
            if "fix_seen_appearing" in first_seen_fixed else True)
        seen = seen[[*FINDING_KEY, "first_seen_fixed_at", "fix_seen_appearing"]].astype(
            dict.fromkeys(FINDING_KEY, str)).drop_duplicates(FINDING_KEY)
        hit = g[FINDING_KEY].astype(str).merge(seen, on=FINDING_KEY, how="left")
        seen_at = pd.to_datetime(hit["first_seen_fixed_at"], utc=True).set_axis(g.index)
        appearing = hit["fix_seen_appearing"].fillna(False).astype(bool).set_axis(g.index)
    for name, when, ok in (("seen", seen_at, appearing),
                           ("published", g["published_at"], g["published_at"].notna()),
                           ("first-seen", seen_at, seen_at.notna())):
        use = clock_at.isna() & when.notna() & ok
        clock_at = clock_at.where(~use, when)
        clock[use.to_numpy()] = name
    days = np.floor((as_of - clock_at).dt.total_seconds() / 86400).clip(lower=0)
    return g.drop(columns=["fix_at", "published_at"]).assign(
        clock_at=clock_at, clock=clock, days=days)


def sla_states(findings: pd.DataFrame, sla_days: Mapping[str, float],
               warn_ratio: float = WARN_RATIO) -> pd.DataFrame:
    """Return `findings` (`fixable_findings`) with each one's SLA: sla_days (missing for a
    severity without one), used (the share of it used), over (days over it) and state (one of
    `SLA_STATES`).

    Args:
        findings: the fixable findings.
        sla_days: severity -> days (severities are matched in lower case).
        warn_ratio: the share of its SLA a finding may use before it is `near`.
    """
    days = {str(k).lower(): float(v) for k, v in dict(sla_days).items()}
    sla = findings["severity"].astype(str).map(days).astype(float)
    used = findings["days"] / sla
    state = pd.Series("within", index=findings.index, dtype=object)
    state[(used >= warn_ratio) & (findings["days"] <= sla)] = "near"
    state[findings["days"] > sla] = "over"
    state[findings["days"].isna()] = "undated"
    state[sla.isna()] = "no SLA"
    return findings.assign(sla_days=sla, used=used, over=findings["days"] - sla, state=state)
