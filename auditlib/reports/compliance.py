"""What the compliance report shows, computed here (the notebook only calls these).

Everything is aggregated in pandas before it reaches a page: a figure or a table never carries
one row per vulnerability or package of the fleet, so a 1,000-image report stays a few MB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from auditlib.assess import Assessment
from auditlib.engine.aggregates import (
    RISK_IMAGES_TABLE,
    RISKY_CLASSES,
    ensure_licences,
    licence_risks,
)
from auditlib.errors import ParameterError
from auditlib.fleet.findings import SEVERITY_RANK, SLA_STATES
from auditlib.fleet.names import short_id
from auditlib.normalize.severity import SEVERITIES
from auditlib.policy import Evaluation
from auditlib.policy.evaluate import GRADE_NAMES, UNGRADED
from auditlib.policy.model import STATUSES
from auditlib.reports.context import Report
from auditlib.reports.figures import (
    GRADE_COLORS,
    STATUS_COLORS,
    bar,
    esc,
    stacked,
    status_heatmap,
)
from auditlib.reports.markup import Card
from auditlib.reports.params import ReportParams

_SEV_RANK = SEVERITY_RANK
UNKNOWN_COLOR = "#9e9e9e"
"""Grey: what the data does not say, on every chart."""


def at_least(severity: Any, threshold: str) -> bool:
    """Return whether `severity` is at least `threshold` on the auditlib scale."""
    return _SEV_RANK.get(str(severity), 0) >= _SEV_RANK.get(threshold, 0)


def _severe(df: pd.DataFrame, threshold: str) -> pd.DataFrame:
    """Return the rows of `df` whose `severity` is at least `threshold` (columns kept, even
    when no row is)."""
    keep = df["severity"].astype(str).map(lambda s: at_least(s, threshold)).astype(bool)
    return df.loc[keep]


def evaluate_policy(r: Report) -> Evaluation:
    """Return the policy's results of the report's assessment (the `policy` parameter, else the
    default policy), and record them in the summary: per status, and per rule and status."""
    ev = r.assessment.evaluation
    policy = ev.policy
    per_rule = rule_table(ev).set_index("rule")[list(STATUSES)]
    r.record(policy=policy.source, rules=[c.rule.slug for c in policy.enabled()],
             results={s: ev.count(s) for s in STATUSES}, rule_errors=ev.errors,
             rule_results=per_rule.to_dict("index"))
    return ev


def pass_rate(ev: Evaluation) -> float | None:
    """Return the share of judged (image, rule) results that pass or are waived (`no-data`
    results are unknown: left out, and counted by `no_data_count`), or None when no result was
    judged."""
    st = ev.results["status"].astype(str)
    judged = int((st != "no-data").sum())
    if not judged:
        return None
    return float(st.isin(["pass", "waived"]).sum() / judged)


def grade_counts(ev: Evaluation) -> pd.Series:
    """Return the number of images per grade, A to F and N/A (zeros included)."""
    return ev.scores["grade"].astype(str).value_counts().reindex(list(GRADE_NAMES), fill_value=0)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def _scanned_note(scanned: int, images: int) -> str:
    """Return "in the N images with a vulnerability scan; M not scanned" (three states)."""
    missing = images - scanned
    return (f"in the {scanned:,} images with a vulnerability scan"
            + (f"; {missing:,} not scanned (unknown)" if missing else ""))


def headline(r: Report, ev: Evaluation) -> list[Card]:
    """Return the headline cards (images, mean score, grades, pass rate, coverage, fixable
    over SLA, failures, what to fix first), each saying how many images it could not judge,
    and record them in the summary."""
    s = r.assessment.summary()
    grades = grade_counts(ev)
    rate = pass_rate(ev)
    cov = r.facts.coverage
    fails = ev.results[ev.results["status"].astype(str) == "fail"]
    no_data = int((ev.results["status"].astype(str) == "no-data").sum())
    clean = int((ev.scores["fail_count"] == 0).sum()) if len(ev.scores) else 0
    mean = s["policy"]["mean_score"]
    ungraded = int(grades[UNGRADED])
    fixable, first = s["fixable"], s["fix_first"]
    scanned, images = fixable["scanned_images"], s["images"]
    r.record(headline={
        "images": len(ev.scores), "mean_score": mean, "grades": grades.to_dict(),
        "ungraded": ungraded, "pass_rate": rate, "no_data_results": no_data, "coverage": cov,
        "failures": len(fails), "images_without_fail": clean,
        "images_over_sla": fixable["images_over_sla"] if scanned else None,
        "vuln_scanned": scanned, "not_scanned": fixable["not_scanned_images"],
        "images_at_risk": first["images_at_risk"], "unknown_only": first["unknown_only"],
    })
    top = first["top"][0]["image"] if first["top"] else None
    return [
        Card("images", f"{len(ev.scores):,}",
             f"{r.facts.filtered_out:,} left out by the filter" if r.facts.filtered_out else ""),
        Card("mean score", "-" if mean is None else f"{mean:.0f} / 100",
             f"of {len(ev.scores) - ungraded:,} graded images; {ungraded:,} N/A (too little "
             "data)" if ungraded else "Docker Scout's scale"),
        Card("grade A or B", f"{int(grades['A'] + grades['B']):,}",
             f"E or F: {int(grades['E'] + grades['F']):,}"
             + (f"; N/A: {ungraded:,}" if ungraded else "")),
        Card("pass rate", _pct(rate),
             f"of judged results; {no_data:,} had no data (unknown)" if no_data
             else "results that pass or are waived"),
        Card("coverage", _pct(cov), "images with a vulnerability scan and an SBOM"),
        Card("over their SLA", f"{fixable['images_over_sla']:,} images" if scanned else "unknown",
             _scanned_note(scanned, images) if scanned
             else "no image has a vulnerability scan"),
        Card("failures", f"{len(fails):,}", f"images failing no rule: {clean:,}"),
        Card("fix first", top or ("nothing known" if not first["unknown_only"] else "unknown"),
             f"{first['images_at_risk']:,} images with a known risk"
             + (f"; {first['unknown_only']:,} with too little data to say"
                if first["unknown_only"] else "")),
    ]


def grade_figure(ev: Evaluation) -> go.Figure:
    """Return the bar chart of images per grade."""
    g = grade_counts(ev)
    if not g[UNGRADED]:
        g = g.drop(UNGRADED)  # no N/A bar when every image is graded
    return bar(list(g.index), [int(v) for v in g], "Images per grade" + (
        " (N/A: too little data to grade)" if UNGRADED in g.index else ""),
               colors=[GRADE_COLORS.get(k, UNKNOWN_COLOR) for k in g.index], x="grade",
               y="images", height=320)


def rule_table(ev: Evaluation) -> pd.DataFrame:
    """Return one row per rule: title, severity, points, and the count of each status."""
    res = ev.results.assign(status=ev.results["status"].astype(str))
    counts = pd.crosstab(res["rule"].astype(str), res["status"]).reindex(
        columns=list(STATUSES), fill_value=0)
    rules = [c.rule for c in ev.policy.enabled()]
    sev = {c.rule.slug: c.severity for c in ev.policy.enabled()}
    table = counts.to_dict("index")
    rows: list[dict[str, Any]] = []
    for rule in rules:
        c = table.get(rule.slug, {})
        rows.append({"rule": rule.slug, "title": rule.title, "severity": sev[rule.slug],
                     "points": rule.points, **{s: int(c.get(s, 0)) for s in STATUSES}})
    return pd.DataFrame(rows)


def rule_figure(ev: Evaluation) -> go.Figure:
    """Return a stacked bar per rule of how many images pass, warn, fail, lack data or are
    waived."""
    t = rule_table(ev)
    order = ["fail", "warn", "no-data", "waived", "pass"]
    return stacked(list(t["rule"]), {s: list(t[s]) for s in order}, "Results per rule",
                   colors=STATUS_COLORS, horizontal=True, x="images",
                   height=max(360, 28 * len(t) + 140))


def risk(r: Report) -> pd.Series:
    """Return image id -> the risk fixing it removes (the assessment's fix-first ranking)."""
    st = r.assessment.staleness
    return pd.Series(st["rebuild_priority"].astype(float).to_numpy(),
                     index=st["image_id"].astype(str))


def _worst_ids(ev: Evaluation, n: int, risk: pd.Series | None = None) -> list[str]:
    """Return the `n` lowest-scored images, ties broken by risk (highest first), failures,
    then name; images graded N/A come last (too little data to rank)."""
    ids = ev.scores["image_id"].astype(str)
    s = ev.scores.assign(
        _na=(ev.scores["grade"].astype(str) == UNGRADED).to_numpy(),
        _risk=(ids.map(risk) if risk is not None else pd.Series(0.0, index=ids.index)
               ).fillna(0.0).to_numpy())
    s = s.sort_values(["_na", "score", "_risk", "fail_count", "image_name"],
                      ascending=[True, True, False, False, True], na_position="last")
    return [str(i) for i in s["image_id"].head(n)]


def matrix_figure(ev: Evaluation, rows: int = 60, risk: pd.Series | None = None
                  ) -> go.Figure | None:
    """Return the image x rule heatmap of the `rows` worst images (lowest score first, ties by
    `risk`), with each cell's evidence on hover; None when there are no results."""
    if ev.results.empty:
        return None
    ids = _worst_ids(ev, rows, risk)
    rules = [c.rule.slug for c in ev.policy.enabled()]
    res = ev.results[ev.results["image_id"].astype(str).isin(ids)]
    cell = {(str(r.image_id), str(r.rule)): r for r in res.itertuples(index=False)}
    names = {str(r.image_id): str(r.image_name) for r in ev.scores.itertuples(index=False)}
    statuses: list[list[str]] = []
    hover: list[list[str]] = []
    for i in ids:
        srow, hrow = [], []
        for rule in rules:
            r = cell.get((i, rule))
            status = str(r.status) if r is not None else "no-data"
            srow.append(status)
            evidence = esc(r.evidence, 300) if r is not None else ""
            hrow.append(f"{esc(names.get(i, i), 100)}<br>{esc(rule)}: <b>{esc(status)}</b>"
                        f"<br>{evidence}")
        statuses.append(srow)
        hover.append(hrow)
    shown = len(ids)
    title = (f"Image x rule: the {shown} lowest-scored of {len(ev.scores):,} images"
             if shown < len(ev.scores) else f"Image x rule: all {shown} images")
    # Names can repeat (two builds of one tag); the y axis needs them apart.
    labels: list[str] = []
    seen: dict[str, int] = {}
    for i in ids:
        label = names.get(i, i)
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label} ({short_id(i)})")
    return status_heatmap(labels, rules, statuses, hover, title)


def worst_images(ev: Evaluation, n: int = 20, threshold: str = "low",
                 risk: pd.Series | None = None) -> pd.DataFrame:
    """Return the failures (and warnings) of the `n` lowest-scored graded images (ties broken
    by `risk`), one row each, with the evidence; rules of severity below `threshold` are left
    out. Images graded N/A are in `unknown_images`, not here."""
    ids = [i for i in _worst_ids(ev, n, risk)
           if i not in set(ev.scores.loc[ev.scores["grade"].astype(str) == UNGRADED,
                                         "image_id"].astype(str))]
    rank = {i: k for k, i in enumerate(ids)}
    res = ev.results[ev.results["image_id"].astype(str).isin(ids)
                     & ev.results["status"].astype(str).isin(["fail", "warn"])]
    res = _severe(res, threshold)
    grade = dict(zip(ev.scores["image_id"].astype(str), ev.scores["grade"].astype(str),
                     strict=True))
    score = dict(zip(ev.scores["image_id"].astype(str), ev.scores["score"].astype("Float64"),
                     strict=True))
    out = pd.DataFrame({
        "image": res["image_name"].astype(str),
        "grade": [grade[str(i)] for i in res["image_id"]],
        "score": [score[str(i)] for i in res["image_id"]],
        "rule": res["rule"].astype(str),
        "status": res["status"].astype(str),
        "severity": res["severity"].astype(str),
        "evidence": res["evidence"].astype(str),
        "_rank": [rank[str(i)] for i in res["image_id"]],
        "_st": res["status"].astype(str).map({"fail": 0, "warn": 1}),
    })
    out = out.sort_values(["_rank", "_st", "rule"]).drop(columns=["_rank", "_st"])
    # One block per image: its name, grade and score on its first row only.
    repeat = out["image"].eq(out["image"].shift())
    out = out.astype({"score": "object"})
    out.loc[repeat, ["image", "grade", "score"]] = ""
    return out.reset_index(drop=True)


def fixable(r: Report) -> pd.DataFrame:
    """Return the fixable findings of the report's assessment (one per image, vulnerability,
    package and version) counted per image, severity and where each stands against the
    policy's SLA (`Assessment.sla_counts`: `over`, `near` (used the warn share), `within`,
    `undated` (no date to start the clock) or `no SLA`). The clock uses the store's history,
    as `auditlib check` does (`auditlib.fleet.findings`)."""
    return r.assessment.sla_counts


SLA_COLORS = {"over": "#d62728", "near": "#ff9f1c", "within": "#2ca02c", "undated": "#9e9e9e",
              "no SLA": "#c7c7c7"}


def sla_table(r: Report, counts: pd.DataFrame) -> pd.DataFrame:
    """Return, per severity at or above the threshold (worst first): the SLA, the fixable
    findings by state, and the images with one over the SLA (of `counts`: `fixable`); recorded
    in the summary."""
    days, _ = r.assessment.sla
    if not r.assessment.coverage.vuln_scanned:
        r.record(fixable_by_severity=None)  # unknown: no zeros for what nobody scanned
        return pd.DataFrame()
    rows = []
    for sev in reversed(SEVERITIES):
        if not at_least(sev, r.params.severity_threshold):
            continue
        f = counts[counts["severity"].astype(str) == sev]
        states = f.groupby("state")["findings"].sum()
        over_images = f.loc[f["state"] == "over", "image_id"].nunique()
        rows.append({"severity": sev, "SLA days": days.get(sev),
                     "fixable": int(f["findings"].sum()),
                     **{s: int(states.get(s, 0)) for s in SLA_STATES},
                     "images over SLA": int(over_images)})
    t = pd.DataFrame(rows)
    r.record(fixable_by_severity=t.to_dict("records"))
    return t


def sla_figure(table: pd.DataFrame) -> go.Figure | None:
    """Return a stacked bar per severity of fixable findings over, near, within the SLA."""
    if table.empty or not table["fixable"].sum():
        return None
    return stacked(list(table["severity"]), {s: list(table[s]) for s in SLA_STATES},
                   "Fixable vulnerabilities against their SLA, by severity", colors=SLA_COLORS,
                   x="severity", y="fixable findings")


def _least_rank(threshold: str) -> int:
    """Return the least severity rank a `severity_threshold` lists (what `sla_worst` asks
    for, and what the run computes for the page ahead of it: one key for both)."""
    return _SEV_RANK.get(threshold, 0)


SLA_WORST_SHOWN = 25
"""The findings furthest over their SLA that the page lists."""


def sla_worst(r: Report, ev: Evaluation, threshold: str, n: int = SLA_WORST_SHOWN
              ) -> pd.DataFrame:
    """Return the `n` findings furthest over their SLA (severity at or above `threshold`;
    `Assessment.sla_worst`, ties in the order findings are listed)."""
    over = r.assessment.sla_worst(_least_rank(threshold), n)
    names = {str(r.image_id): str(r.image_name) for r in ev.scores.itertuples(index=False)}
    return pd.DataFrame({
        "image": [names.get(str(i), str(i)) for i in over["image_id"]],
        "vulnerability": over["vuln_id"].astype(str),
        "package": over["pkg_name"].astype(str),
        "installed": over["pkg_version"].astype(str),
        "fixed in": over["fixed_version"].astype("string"),
        "severity": over["severity"].astype(str),
        "fixable for (days)": over["days"],
        "SLA (days)": over["sla_days"],
        "clock": over["clock"].astype("string"),
    })


def ahead_of_the_page(a: Assessment, parameters: Mapping[str, Any]) -> None:
    """Compute on a run's assessment `a`, before the run saves it, what this page reads that
    the run's engine keeps already, so that the page's kernel reads it back instead of making
    it again in its own engine: the licence classes (over the licence tables the policy's
    licence rule kept), the images of each risky licence (`RISK_IMAGES_TABLE`, over the
    rule's `image_licences`: the page's engine then reads only the licences' package names)
    and the findings furthest over their SLA at the page's
    `severity_threshold` in `parameters` (over the fixable findings the SLA rule kept). A
    threshold that is not a severity is left to the page to refuse.

    Raises:
        EngineError: if the engine fails.
    """
    _ = a.view.licence_classes
    ensure_licences(a.view.aggregate_engine, RISK_IMAGES_TABLE)
    try:
        threshold = ReportParams.from_values({k: v for k, v in parameters.items()
                                              if k == "severity_threshold"}).severity_threshold
    except ParameterError:
        return
    a.sla_worst(_least_rank(threshold), SLA_WORST_SHOWN)


def license_classes(r: Report) -> pd.DataFrame:
    """Return, per licence class (most restrictive first), the distinct packages (name and
    version per image) and the images that have one; a package no document gave a licence for
    is `unknown` (`engine.aggregates.PACKAGE_LICENCES`, as the licence rule judges it)."""
    t = r.assessment.view.licence_classes.rename(columns={"license_class": "licence class"})
    r.record(licence_classes=t.to_dict("records"))
    return t


def license_shown(table: pd.DataFrame) -> pd.DataFrame:
    """Return the licence-class table to show: empty when no package is known at all (a table
    of zeros would read as "no unknown licence"; `license_empty` says why instead)."""
    return table if len(table) and table["packages"].sum() else table.iloc[0:0]


def license_empty(r: Report) -> str:
    """Return what the licence section says when no package is known: why (no SBOM, no licence
    scan), never "unknown 0"."""
    cov = r.assessment.coverage
    if cov.with_sbom:
        return (f"{cov.with_sbom:,} of {cov.images:,} images have an SBOM, but it lists no "
                "package of a known image")
    return (f"no licence data: none of the {cov.images:,} images has an SBOM or a licence scan "
            "(auditlib scan, or a Syft, CycloneDX, SPDX or Trivy document)")


LICENSE_COLORS = {"network-copyleft": "#7b0d1e", "strong-copyleft": "#d62728",
                  "weak-copyleft": "#ff9f1c", "other": "#9467bd", "unknown": "#9e9e9e",
                  "permissive": "#2ca02c"}


def license_figure(table: pd.DataFrame) -> go.Figure | None:
    """Return the bar chart of images having a package of each licence class."""
    if table.empty or not table["packages"].sum():
        return None
    table = table[table["packages"] > 0]  # no empty class shown as data
    return bar(list(table["licence class"]), list(table["images"]),
               "Images with a package under each licence class",
               colors=[LICENSE_COLORS.get(c, "#4e79a7") for c in table["licence class"]],
               x="licence class", y="images", height=340)


def license_risks(r: Report, n: int = 25) -> pd.DataFrame:
    """Return the licences of the copyleft, other and unknown classes: each with its class,
    how many packages and images have it, and a few of the packages
    (`auditlib.engine.aggregates.LICENCE_RISKS`)."""
    got = licence_risks(r.assessment.view.aggregate_engine, 5)
    if got.empty:
        return pd.DataFrame()
    g = got.groupby(["licence", "class"], sort=True, dropna=False)
    t = pd.DataFrame({
        "packages": g["packages"].first().astype("int64"),
        "images": g["images"].first().astype("int64"),
        "some packages": g["package_name"].agg(
            lambda s: ", ".join(str(x) for x in s.dropna())),
    }).reset_index()
    order = {c: i for i, c in enumerate(RISKY_CLASSES)}
    t = t.assign(_o=t["class"].map(order)).sort_values(["_o", "images"], ascending=[True, False])
    return t.drop(columns="_o").head(n)


def dockerfile_findings(r: Report) -> pd.DataFrame:
    """Return the failed Dockerfile and image-config checks (hadolint, Trivy, Dockle), one row
    per check: tool, rule, title, severity, findings, files or images; record how many failed
    checks and Dockerfiles there are."""
    m = r.data.misconfigurations
    m = m[m["status"].astype("string").fillna("fail").eq("fail")]
    r.record(dockerfile_findings=len(m), dockerfiles=len(r.data.dockerfiles))
    if m.empty:
        return pd.DataFrame()
    where = m["file_path"].astype("string").fillna(m["target"].astype("string"))
    m = m.assign(_where=where)
    g = m.groupby([m["tool"].astype(str), m["rule_id"].astype(str)], observed=True)
    t = pd.DataFrame({
        "title": g["title"].first().astype("string"),
        "severity": g["severity"].max().astype(str),
        "findings": g.size(),
        "files or images": g["_where"].nunique(),
        "example": g["message"].first().astype("string"),
    }).reset_index().rename(columns={"tool": "tool", "rule_id": "rule"})
    t = t.assign(_s=t["severity"].map(_SEV_RANK)).sort_values(["_s", "findings"],
                                                               ascending=[False, False])
    return t.drop(columns="_s")


def dockerfiles(r: Report) -> pd.DataFrame:
    """Return one row per Dockerfile read: base, pinned, root, healthcheck, multi-stage,
    upgrades, secret-like names."""
    d = r.data.dockerfiles
    if d.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Dockerfile": d["path"].astype(str),
        "builds": d["context_image_ref"].astype("string"),
        "final base": d["final_base_ref"].astype("string"),
        "base pinned by digest": d["final_base_is_pinned"],
        "base is latest": d["final_base_is_latest"],
        "runs as root": d["final_user_is_root"],
        "healthcheck": d["has_healthcheck"],
        "multi-stage": d["is_multi_stage"],
        "upgrades packages": d["upgrades_packages"],
        "final stage upgrades": d["final_upgrades_packages"],
        "config files copied": d["config_copy_count"],
        "secret-like ENV/ARG names": d["secret_env_names_count"],
    })


def no_data(ev: Evaluation) -> pd.DataFrame:
    """Return, per rule with `no-data` results: how many images, and why (the most common
    evidence: what source would give the data)."""
    nd = ev.results[ev.results["status"].astype(str) == "no-data"]
    if nd.empty:
        return pd.DataFrame()
    g = nd.groupby(nd["rule"].astype(str))
    t = pd.DataFrame({
        "images": g.size(),
        "why": g["evidence"].agg(lambda s: str(s.astype(str).mode().iloc[0])),
    }).reset_index().sort_values("images", ascending=False)
    return t


def no_data_figure(ev: Evaluation) -> go.Figure | None:
    """Return the bar chart of images with no data, per rule; None when every rule had data."""
    t = no_data(ev)
    if t.empty:
        return None
    return bar(list(t["rule"]), list(t["images"]), "Images with no data, per rule",
               colors=STATUS_COLORS["no-data"], horizontal=True, x="images",
               height=max(240, 28 * len(t) + 120))


def fix_first(r: Report, n: int = 20) -> pd.DataFrame:
    """Return the `n` images to fix first (the assessment's one ranking, `assess.fix_first`):
    rank, image, grade, the risk fixing removes, why, what to do, and what is not known of it;
    images with no known risk are not listed (see `unknown_images`). Recorded in the summary."""
    st = r.assessment.staleness
    top = st[st["rebuild_priority"].fillna(0) > 0].head(n)
    scores = r.assessment.evaluation.scores
    grade = dict(zip(scores["image_id"].astype(str), scores["grade"].astype(str), strict=True))
    t = pd.DataFrame({
        "rank": top["priority_rank"].to_numpy(),
        "image": top["image_name"].astype(str).to_numpy(),
        "grade": [grade.get(str(i), UNGRADED) for i in top["image_id"]],
        "risk": top["rebuild_priority"].astype(float).round(0).to_numpy(),
        "why": top["priority_reasons"].astype("string").to_numpy(),
        "what to do": top["priority_actions"].astype("string").to_numpy(),
        "not known": top["priority_unknown"].astype("string").fillna("").to_numpy(),
    })
    if not t["not known"].str.len().any():
        t = t.drop(columns="not known")
    r.record(fix_first=[{"rank": int(k), "image": str(i), "risk": float(v)}
                        for k, i, v in zip(t["rank"], t["image"], t["risk"], strict=True)])
    return t


def fix_first_empty(r: Report) -> str:
    """Return what the fix-first section says when no image has a known risk: never "nothing
    to fix" while something is unknown."""
    s = r.assessment.summary()["fix_first"]
    if s["unknown_only"]:
        return (f"no known risk, but {s['unknown_only']:,} images have too little data to say "
                "(below: what we do not know)")
    return "nothing known to fix: no fixable vulnerability, end of life, drifted base, baked " \
        "secret or root user in the data"


def unknowns(r: Report) -> pd.DataFrame:
    """Return, per thing the data does not say (no vulnerability scan, end of life unknown,
    user unknown, not scanned for secrets, too little data to grade), how many images and a
    few of them, most images first. Recorded in the summary."""
    st = r.assessment.staleness
    per: dict[str, list[str]] = {}
    for name, unk in zip(st["image_name"].astype(str), st["priority_unknown"], strict=True):
        if pd.notna(unk):
            for part in str(unk).split("; "):
                per.setdefault(part, []).append(name)
    scores = r.assessment.evaluation.scores
    na = scores.loc[scores["grade"].astype(str) == UNGRADED, "image_name"].astype(str)
    if len(na):
        per["too little data to grade (N/A)"] = list(na)
    ordered = sorted(per.items(), key=lambda kv: -len(kv[1]))
    t = pd.DataFrame([{"not known": k, "images": len(v), "some images": ", ".join(sorted(v)[:5])}
                      for k, v in ordered], columns=["not known", "images", "some images"])
    r.record(unknown={k: len(v) for k, v in ordered})
    return t


def unknown_images(r: Report, n: int = 20) -> pd.DataFrame:
    """Return the images with no known risk but something unknown, or too little data to
    grade: listed apart, never ranked as the worst nor as clean; most unknowns first."""
    st = r.assessment.staleness
    scores = r.assessment.evaluation.scores
    grade = dict(zip(scores["image_id"].astype(str), scores["grade"].astype(str), strict=True))
    judged = dict(zip(scores["image_id"].astype(str), scores["judged_share"], strict=True))
    ids = st["image_id"].astype(str)
    apart = ((st["rebuild_priority"].fillna(0) == 0) & st["priority_unknown"].notna()) | (
        ids.map(grade) == UNGRADED).to_numpy()
    u = st[apart.to_numpy()]
    t = pd.DataFrame({
        "image": u["image_name"].astype(str).to_numpy(),
        "grade": [grade.get(str(i), UNGRADED) for i in u["image_id"]],
        "policy judged": [f"{judged[str(i)]:.0%}" if pd.notna(judged.get(str(i))) else "-"
                          for i in u["image_id"]],
        "not known": u["priority_unknown"].astype("string").fillna("").to_numpy(),
        "_n": u["priority_unknown"].astype("string").fillna("").str.count("; ").to_numpy()
        + u["priority_unknown"].notna().to_numpy(),
    })
    return t.sort_values(["_n", "image"], ascending=[False, True]).drop(columns="_n").head(
        n).reset_index(drop=True)


def sla_empty(r: Report) -> str:
    """Return what the SLA chart says when there is no fixable finding, in three states."""
    s = r.assessment.summary()["fixable"]
    if not s["scanned_images"]:
        return "unknown: no image has a vulnerability scan, so fixable vulnerabilities are unknown"
    return "no fixable vulnerability " + _scanned_note(s["scanned_images"], r.assessment.summary()[
        "images"])


def sla_worst_empty(r: Report) -> str:
    """Return what the list of findings over their SLA says when it is empty, in three
    states."""
    s = r.assessment.summary()
    f = s["fixable"]
    if not f["scanned_images"]:
        return "unknown: no image has a vulnerability scan"
    undated = f"; {f['undated']:,} fixable findings have no date to start the clock" if f[
        "undated"] else ""
    return ("no fixable vulnerability is over its SLA "
            + _scanned_note(f["scanned_images"], s["images"]) + undated)


def worst_empty(ev: Evaluation) -> str:
    """Return what the list of the lowest scores says when it is empty: no graded image fails
    or warns, or no image could be graded at all."""
    graded = int((ev.scores["grade"].astype(str) != UNGRADED).sum())
    if not graded and len(ev.scores):
        return (f"none of the {len(ev.scores):,} images could be graded: too little data (see "
                "what we do not know)")
    return "no graded image fails or warns"
