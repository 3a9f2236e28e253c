"""Findings: what a vulnerability finding is, when its fix became available (the SLA clock),
and where it stands against its severity's SLA. The `fixable-vulns-sla` rule, the staleness
analysis, the compliance report and the history read these definitions.

A *finding* is a vulnerability of a package version in an image (`FINDING_KEY`), however many
documents (scanners) or paths report it; its severity is the highest any gives, and it is fixable
when any says `fixed`.

The *clock* of a fixable finding starts when its fix became available, as well as auditlib knows
it (anchors.md section 10, "Fixable since"): the scanner's fix date (Grype
`fix.available[].date`), else the first snapshot that saw the fix (the store's history), else the
vulnerability's publication date; with none of them the clock is unknown and the finding is
`undated`, never within its SLA.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from auditlib.data import AuditData
from auditlib.normalize.severity import SEVERITIES

FINDING_KEY = ["image_id", "vuln_id", "pkg_name", "pkg_version"]
"""A finding: the same vulnerability of the same package version in one image."""

SLA_DAYS = {"critical": 7, "high": 30, "medium": 90, "low": 120}
"""DefectDojo's default SLA days per severity (anchors.md section 5)."""

WARN_RATIO = 0.75
"""Share of its SLA a finding may use before it is `near` it."""

CLOCKS = {
    "fix": "its fix date",
    "seen": "the first snapshot that saw the fix",
    "published": "its publication",
}
"""What each clock is called in evidence."""

SLA_STATES = ("over", "near", "within", "undated", "no SLA")
"""Where a fixable finding stands: over its SLA, near it (the warning share used), within it, no
date to start the clock, or a severity without an SLA."""

SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
"""Severity -> rank on the auditlib scale (unknown 0 ... critical 5)."""


def fixable_findings(data: AuditData, as_of: pd.Timestamp,
                     first_seen_fixed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return one row per fixable finding (`FINDING_KEY`), deduplicated across documents, with
    its clock.

    Args:
        data: the tables (time columns `datetime64[ns, UTC]`; `fleet.view.conform_times`).
        as_of: the moment days are counted to (UTC).
        first_seen_fixed: when history is known, the first snapshot that saw each finding
            fixable: columns `FINDING_KEY` and `first_seen_fixed_at` (UTC). None without history.

    Returns:
        Columns `FINDING_KEY`, severity (the highest any scanner gave), fixed_version,
        layer_diff_id (the layer that added the package, when a scanner says), clock_at, clock
        (`fix`, `seen`, `published`, or missing when no date is known) and days (whole days from
        clock_at to the as-of time, at least 0; missing with the clock).
    """
    v = data.vulnerabilities
    v = v[(v["fix_state"] == "fixed").fillna(False).to_numpy() & v["image_id"].notna().to_numpy()]
    g = v.groupby(FINDING_KEY, observed=True, sort=False).agg(
        severity=("severity", "max"),
        fixed_version=("fixed_version", "first"),
        fix_at=("fix_available_at", "min"),
        layer_diff_id=("layer_diff_id", "first"),
        published_at=("published_at", "min"),
    ).reset_index()
    clock_at = g["fix_at"]
    clock = np.full(len(g), None, dtype=object)
    clock[clock_at.notna().to_numpy()] = "fix"
    if first_seen_fixed is not None and len(first_seen_fixed) and len(g):
        seen = first_seen_fixed[[*FINDING_KEY, "first_seen_fixed_at"]].astype(
            dict.fromkeys(FINDING_KEY, str)).drop_duplicates(FINDING_KEY)
        seen_at = g[FINDING_KEY].astype(str).merge(seen, on=FINDING_KEY,
                                                   how="left")["first_seen_fixed_at"]
        seen_at = pd.to_datetime(seen_at, utc=True).set_axis(g.index)
        use = clock_at.isna() & seen_at.notna()
        clock_at = clock_at.where(~use, seen_at)
        clock[use.to_numpy()] = "seen"
    use = clock_at.isna() & g["published_at"].notna()
    clock_at = clock_at.where(~use, g["published_at"])
    clock[use.to_numpy()] = "published"
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
