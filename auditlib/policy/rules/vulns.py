"""Rules about vulnerabilities: fixable ones must be fixed within their severity's SLA.

The clock of a fixable vulnerability starts when its fix became available, as well as auditlib
knows it (anchors.md section 10, "Fixable since"): the scanner's fix date (Grype
`fix.available[].date`), else the first snapshot that saw the fix (history; `first_seen_fixed`),
else the vulnerability's publication date. The evidence says which clock each finding used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from auditlib.fleet.view import Context
from auditlib.policy.model import Param, Rule, Verdict
from auditlib.policy.rules._frames import SHOWN, ids

SLA_DAYS = {"critical": 7, "high": 30, "medium": 90, "low": 120}
"""DefectDojo's default SLA days per severity (anchors.md section 5)."""

VULN_FORMATS = ("grype-json", "harbor-json")
"""Document formats that are a vulnerability scan even when they found nothing."""

KEYS = ["image_id", "vuln_id", "pkg_name", "pkg_version"]
"""A finding: the same vulnerability of the same package version in one image, however many
documents (scanners) or paths report it."""

CLOCKS = {
    "fix": "its fix date",
    "seen": "the first snapshot that saw the fix",
    "published": "its publication",
}
"""What each clock is called in the evidence."""

SEVERITY_RANK = {"unknown": 0, "negligible": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


def scanned_images(ctx: Context) -> set[str]:
    """Return the images a vulnerability scan covered (zero findings included).

    A Grype or Harbor document, any document with vulnerability rows, or a Trivy document with
    package rows (Trivy lists package results only when its vulnerability scanner ran).
    """
    scans = ctx.data.scans.dropna(subset=["image_id"])
    vulns = ctx.data.vulnerabilities
    fmt = scans["format"].astype("string")
    with_vulns = scans["scan_id"].isin(ids(vulns["scan_id"]))
    trivy = (fmt == "trivy-json").fillna(False) & scans["scan_id"].isin(
        ids(ctx.data.packages["scan_id"]))
    covered = fmt.isin(VULN_FORMATS).fillna(False) | with_vulns | trivy
    return ids(scans.loc[covered, "image_id"]) | ids(vulns["image_id"])


def fixable_findings(
    ctx: Context, first_seen_fixed: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Return one row per fixable finding (`KEYS`), deduplicated across documents, with its clock.

    Args:
        ctx: the data and the as-of time.
        first_seen_fixed: when history is known, the first snapshot that saw each finding
            fixable: columns `KEYS` and `first_seen_fixed_at` (UTC). None until history exists.

    Returns:
        Columns `KEYS`, severity (the highest any scanner gave), fixed_version, layer_diff_id
        (the layer that added the package, when a scanner says), clock_at, clock
        (`fix`, `seen`, `published`, or missing when no date is known) and days (whole days from
        clock_at to the as-of time, at least 0; missing with the clock).
    """
    v = ctx.data.vulnerabilities
    v = v[(v["fix_state"] == "fixed").fillna(False).to_numpy() & v["image_id"].notna().to_numpy()]
    g = v.groupby(KEYS, observed=True, sort=False).agg(
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
        seen = first_seen_fixed[[*KEYS, "first_seen_fixed_at"]].astype(
            dict.fromkeys(KEYS, str)).drop_duplicates(KEYS)
        seen_at = g[KEYS].astype(str).merge(seen, on=KEYS, how="left")["first_seen_fixed_at"]
        seen_at = pd.to_datetime(seen_at, utc=True).set_axis(g.index)
        use = clock_at.isna() & seen_at.notna()
        clock_at = clock_at.where(~use, seen_at)
        clock[use.to_numpy()] = "seen"
    use = clock_at.isna() & g["published_at"].notna()
    clock_at = clock_at.where(~use, g["published_at"])
    clock[use.to_numpy()] = "published"
    days = np.floor((ctx.as_of - clock_at).dt.total_seconds() / 86400).clip(lower=0)
    return g.drop(columns=["fix_at", "published_at"]).assign(
        clock_at=clock_at, clock=clock, days=days)


def _finding(r: Any) -> str:
    fixed = f", fixed in {r.fixed_version}" if pd.notna(r.fixed_version) else ""
    version = f" {r.pkg_version}" if pd.notna(r.pkg_version) else ""
    head = f"{r.vuln_id} in {r.pkg_name}{version} ({r.severity}{fixed})"
    if r.clock is None or pd.isna(r.days):
        return f"{head} fixable since an unknown date (no fix or publication date)"
    return (f"{head} fixable for {int(r.days)} days since {CLOCKS[r.clock]} "
            f"({r.clock_at.date().isoformat()}), SLA {r.sla:g}")


def _listed(rows: pd.DataFrame, order: str, most: int = SHOWN) -> dict[str, list[str]]:
    """Return image id -> the evidence of its first `most` rows, `order` descending."""
    key = rows[["image_id", order]].sort_values(order, ascending=False, kind="stable")
    top = rows.loc[key.groupby("image_id", observed=True, sort=False).head(most).index]
    out: dict[str, list[str]] = {}
    for r in top.itertuples(index=False):
        out.setdefault(str(r.image_id), []).append(_finding(r))
    return out


def _more(shown: list[str], total: int) -> str:
    return "; ".join(shown) + (f"; and {total - len(shown)} more" if total > len(shown) else "")


def _vulns(n: int, what: str = "fixable") -> str:
    """Return `n fixable vulnerabilities` (`what` in front), in the singular for one."""
    return f"{n} {what} {'vulnerability' if n == 1 else 'vulnerabilities'}".replace("  ", " ")


def _fixable_sla(
    ctx: Context, params: Mapping[str, Any], first_seen_fixed: pd.DataFrame | None = None
) -> list[Verdict]:
    sla_days = {str(k).lower(): float(v) for k, v in dict(params["sla_days"]).items()}
    ratio = float(params["warn_ratio"])
    f = fixable_findings(ctx, first_seen_fixed if first_seen_fixed is not None
                         else ctx.first_seen_fixed)
    f = f.assign(sla=f["severity"].astype(str).map(sla_days).astype(float))
    f = f.assign(over=f["days"] - f["sla"], used=f["days"] / f["sla"])
    has_sla, dated = f["sla"].notna(), f["days"].notna()
    within = has_sla & dated & (f["days"] <= f["sla"])
    over = f[has_sla & dated & (f["days"] > f["sla"])]
    near, ok, undated = f[within & (f["used"] >= ratio)], f[within], f[has_sla & ~dated]

    def count(df: pd.DataFrame) -> dict[str, int]:
        return {str(k): int(n) for k, n in df["image_id"].value_counts().items() if n}

    n_over, n_near, n_undated, n_ok = count(over), count(near), count(undated), count(ok)
    n_no_sla = count(f[~has_sla])
    found = count(ctx.data.vulnerabilities[KEYS].dropna(subset=["image_id"]).drop_duplicates())
    by_sev: dict[str, list[str]] = {}
    sizes = over.groupby(["image_id", "severity"], observed=True).size().reset_index(name="n")
    rows = zip(sizes["image_id"].astype(str), sizes["severity"].astype(str), sizes["n"],
               strict=True)
    for i, sev, n in sorted(rows, key=lambda r: -SEVERITY_RANK.get(r[1], 0)):
        by_sev.setdefault(i, []).append(f"{sev} {n}")
    worst, nearest = _listed(over, "over"), _listed(near, "used")
    no_date, closest = _listed(undated, "severity"), _listed(ok, "used", 1)

    out = []
    for i in sorted(scanned_images(ctx)):
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
        Param("warn_ratio", 0.75,
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
