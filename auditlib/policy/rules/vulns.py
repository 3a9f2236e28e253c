"""Rules about vulnerabilities: fixable ones must be fixed within their severity's SLA.

What a finding is, its SLA clock and where it stands against its SLA are defined once, in
`auditlib.fleet.findings`; which images a vulnerability scan covered, in
`auditlib.fleet.coverage`. The evidence says which clock each finding used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd

from auditlib.fleet.findings import (
    CLOCKS,
    SEVERITY_RANK,
    SLA_DAYS,
    WARN_RATIO,
    SlaParams,
)
from auditlib.fleet.view import FleetView
from auditlib.policy.model import Param, Rule, Verdict
from auditlib.policy.rules._frames import SHOWN


def _finding(vuln_id: Any, pkg_name: Any, pkg_version: Any, severity: Any, fixed_version: Any,
             clock: Any, day: dt.date | None, days: Any, sla_days: Any) -> str:
    """Return a finding's evidence: what, where, its fix, and how long it has been fixable by its
    clock (`day`: the clock's UTC date) against its SLA (a missing cell of `_listed`'s columns is
    None)."""
    fixed = f", fixed in {fixed_version}" if fixed_version is not None else ""
    version = f" {pkg_version}" if pkg_version is not None else ""
    head = f"{vuln_id} in {pkg_name}{version} ({severity}{fixed})"
    if clock is None or days is None or day is None:
        return f"{head} fixable since an unknown date (no fix or publication date)"
    least = "at least " if clock == "first-seen" else ""
    return (f"{head} fixable for {least}{int(days)} days since {CLOCKS[clock]} "
            f"({day.isoformat()}), SLA {sla_days:g}")


_SHOWN_COLUMNS = ["vuln_id", "pkg_name", "pkg_version", "severity", "fixed_version", "clock",
                  "clock_at", "days", "sla_days"]
"""The columns of a finding `_finding` reads (clock_at as its UTC date)."""
_MAY_BE_MISSING = ("pkg_version", "fixed_version", "clock", "days")
"""The columns whose missing cells `_finding` tells apart (None), whatever their dtype."""


def _listed(shown: pd.DataFrame, listing: str) -> dict[str, list[str]]:
    """Return image id -> the evidence of its findings of one listing of `Fixable.shown`
    (`over`, `near`, `undated`, `closest`), in their order. Read a column at a time (`tolist`,
    each time its UTC date): a row at a time (`itertuples`) was 7.8 s of the 100,000-image
    evaluation, most of it making each cell a pandas scalar (README, issue 15)."""
    rows = shown[shown["listing"] == listing]
    cols: dict[str, list[Any]] = {}
    for c in _SHOWN_COLUMNS:
        if c == "clock_at":
            at = rows[c]
            cols[c] = [None if pd.isna(d) else d for d in at.dt.date.tolist()] if len(at) else []
        elif c in _MAY_BE_MISSING:
            cols[c] = rows[c].astype(object).where(rows[c].notna(), None).tolist()
        else:
            cols[c] = rows[c].tolist()
    out: dict[str, list[str]] = {}
    for image_id, *cells in zip(rows["image_id"].tolist(), *cols.values(), strict=True):
        out.setdefault(str(image_id), []).append(_finding(*cells))
    return out


def _more(shown: list[str], total: int) -> str:
    return "; ".join(shown) + (f"; and {total - len(shown)} more" if total > len(shown) else "")


def _vulns(n: int, what: str = "fixable") -> str:
    """Return `n fixable vulnerabilities` (`what` in front), in the singular for one."""
    return f"{n} {what} {'vulnerability' if n == 1 else 'vulnerabilities'}".replace("  ", " ")


def sla_params(params: Mapping[str, Any]) -> tuple[dict[str, float], float]:
    """Return the rule's (SLA days by severity, warning share) from its parameters."""
    days = {str(k).lower(): float(v) for k, v in dict(params["sla_days"]).items()}
    return days, float(params["warn_ratio"])


def _fixable_sla(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    sla_days, ratio = sla_params(params)
    sla = SlaParams.of(sla_days, ratio)
    c = ctx.fixable.counts(sla)  # per image, severity and state
    state = c["state"]

    def count(states: list[str]) -> dict[str, int]:
        n = c[state.isin(states)].groupby("image_id")["findings"].sum()
        return {str(k): int(v) for k, v in n.items() if v}

    n_over, n_near, n_undated = count(["over"]), count(["near"]), count(["undated"])
    n_ok, n_no_sla = count(["within", "near"]), count(["no SLA"])
    found = {str(i): int(n) for i, n in ctx.vulnerability_counts["findings"].items()}
    by_sev: dict[str, list[str]] = {}
    sizes = c[state == "over"]
    rows = zip(sizes["image_id"], sizes["severity"].astype(str), sizes["findings"], strict=True)
    for i, sev, n in sorted(rows, key=lambda r: -SEVERITY_RANK.get(r[1], 0)):
        by_sev.setdefault(i, []).append(f"{sev} {n}")
    shown = ctx.fixable.shown(sla, SHOWN)
    worst, nearest = _listed(shown, "over"), _listed(shown, "near")
    no_date, closest = _listed(shown, "undated"), _listed(shown, "closest")

    vex = _vex_notes(ctx)
    out = []
    for i in sorted(ctx.vuln_scanned):
        no_sla = f"; {n_no_sla[i]} more fixable of severities with no SLA" if i in n_no_sla else ""
        if i in n_over:
            also = (f"; also {_vulns(n_undated[i])} since an unknown date"
                    if i in n_undated else "")
            out.append(Verdict(i, "fail", (
                f"{_vulns(n_over[i])} over the SLA ({', '.join(by_sev[i])}): "
                f"{_more(worst[i], n_over[i])}{also}")))
        elif i in n_near or i in n_undated:
            parts = []
            if i in n_near:
                parts.append(f"none over the SLA, but {_vulns(n_near[i])} used at least "
                             f"{ratio:.0%} of it: {_more(nearest[i], n_near[i])}")
            if i in n_undated:
                parts.append(f"{_vulns(n_undated[i])} with no date to start the SLA clock: "
                             f"{_more(no_date[i], n_undated[i])}")
            out.append(Verdict(i, "warn", "; ".join(parts)))
        elif i in n_ok:
            out.append(Verdict(i, "pass", (
                f"{_vulns(n_ok[i])}, all within the SLA (the closest to it: {closest[i][0]})"
                f"{no_sla}")))
        elif found.get(i):
            out.append(Verdict(i, "pass", (
                f"no fixable vulnerability with an SLA among {_vulns(found[i], '')} found"
                f"{no_sla}")))
        else:
            out.append(Verdict(i, "pass", "no fixable vulnerabilities: the scan found none"))
    return [Verdict(v.image_id, v.status, v.evidence + vex[v.image_id]) if v.image_id in vex
            else v for v in out]


def _vex_notes(ctx: FleetView) -> dict[str, str]:
    """Return image id -> what VEX statements say of its findings (`fleet.vex`), to add to the
    evidence: those settled (not affected, fixed: left out of the SLA above) and those under
    investigation, the first `SHOWN` of each in words."""
    a = ctx.vex.applied
    out: dict[str, str] = {}
    for i, rows in a.groupby(a["image_id"].astype(str), sort=False):
        parts = []
        for status, what in (("not_affected", "not affected"), ("fixed", "fixed"),
                             ("under_investigation", "under investigation")):
            r = rows[rows["vex_status"] == status]
            if len(r):
                shown = [f"{x.vuln_id} in {x.pkg_name} {x.pkg_version}: {x.vex_said}"
                         for x in r.head(SHOWN).itertuples(index=False)]
                parts.append(f"{len(r)} {what} by VEX: {_more(shown, len(r))}")
        if parts:
            out[str(i)] = "; " + "; ".join(parts)
    return out


FIXABLE_VULNS_SLA = Rule(
    slug="fixable-vulns-sla",
    title="Fixable vulnerabilities are fixed within their SLA",
    rationale="A vulnerability with a published fix is the cheapest risk to remove, and attackers "
    "read the same advisories: each severity gets a deadline counted from when the fix appeared.",
    severity="critical",
    points=20,
    evaluate=_fixable_sla,
    params=(
        Param("sla_days", dict(SLA_DAYS),
              "Days a fixable vulnerability may stay, by severity (critical, high, medium, low, "
              "negligible, unknown); a severity not listed has no SLA."),
        Param("warn_ratio", WARN_RATIO,
              "Warn when a fixable vulnerability has used this share of its SLA (and none is "
              "over it)."),
    ),
    no_data="no vulnerability scan of the image: scan it (`auditlib scan`, Trivy or Grype) or "
    "ingest a Grype, Trivy (vulnerability scanner on) or Harbor report",
    scout="No fixable critical or high vulnerabilities (`fixable-vulnerabilities`): fails on any "
    "fixable critical or high vulnerability older than `grace_period_days` (default 0), counted "
    "from publication; auditlib gives every severity its own SLA (DefectDojo's 7/30/90/120 days), "
    "starts the clock at the fix date when the scanner gives it, warns before the deadline, and "
    "merges the findings of several scanners.",
    others="Trivy `--ignore-unfixed --exit-code 1 --severity`, Grype `--only-fixed --fail-on`: "
    "fail on any fixable finding whatever its age; DefectDojo SLAs (the same default days) run "
    "from the date the finding entered DefectDojo, not from the fix date.",
    needs="vulnerabilities (fix_state, severity, fixed_version, fix_available_at, published_at), "
    "scans (format), packages (Trivy documents)",
)

RULES = (FIXABLE_VULNS_SLA,)
"""The vulnerability rules, in the order reports list them."""
