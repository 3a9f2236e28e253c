"""The compliance page's section on where scanners disagree (`auditlib.fleet.agreement`),
computed here (the notebook only calls these)."""

from __future__ import annotations

import pandas as pd

from auditlib.fleet.agreement import ecosystem_name, tool_name
from auditlib.reports.context import Report

SHOWN_ROWS = 200
"""Disagreements listed at most (the JSON of `auditlib agreement` has every one)."""


def sentences(r: Report) -> list[str]:
    """Return the section's sentences, one per set of tools compared, then the images one tool
    only scanned; record the figures in the page's summary (`scanner_agreement`)."""
    ag = r.assessment.agreement
    figures = ag.to_dict()
    single = figures.pop("single_tool_images")
    per_tool: dict[str, int] = {}
    for tool in single.values():  # type: ignore[attr-defined]
        per_tool[tool] = per_tool.get(tool, 0) + 1
    r.record(scanner_agreement={**figures, "single_tool_images": per_tool})
    said = figures["sentences"]  # computed once by to_dict()
    assert isinstance(said, list)
    return [str(x) for x in said]


def per_image(r: Report) -> pd.DataFrame:
    """Return one row per compared image: its tools, findings, agreed, differing, and found by
    only some tools (and how many of those in Java archives)."""
    ag = r.assessment.agreement
    t = ag.table
    if t.empty:
        return pd.DataFrame()
    state = t["state"].astype(str)
    g = t.assign(_agree=state == "agree", _differ=state == "differ",
                 _partial=state == "partial",
                 _java=(state == "partial") & (t["ecosystem"].astype(str) == "maven"))
    by = g.groupby("image_id", sort=False)
    out = pd.DataFrame({
        "image": by["image_name"].first(),
        "tools": by["tools"].first().map(lambda s: ", ".join(tool_name(x) for x in s.split(", "))),
        "findings": by.size(),
        "agree": by["_agree"].sum(),
        "differ": by["_differ"].sum(),
        "found by some only": by["_partial"].sum(),
        f"of them in {ecosystem_name('maven')}": by["_java"].sum(),
    }).reset_index(drop=True)
    out.insert(4, "agree %", (out["agree"] * 100 / out["findings"]).round(0))
    return out.sort_values(["agree %", "findings"], ascending=[True, False])


def disagreements(r: Report, n: int = SHOWN_ROWS) -> pd.DataFrame:
    """Return the findings the tools disagree on (`differ` first, then `partial`), at most `n`."""
    t = r.assessment.agreement.table
    t = t[t["state"].astype(str) != "agree"]
    if t.empty:
        return pd.DataFrame()
    t = t.assign(_o=(t["state"].astype(str) == "partial").astype(int)).sort_values(
        ["_o", "image_name", "vuln_id"], kind="stable")
    return pd.DataFrame({
        "image": t["image_name"], "vulnerability": t["vuln_id"],
        "also reported as": t["reported_ids"], "package": t["pkg_name"],
        "version": t["pkg_version"], "state": t["state"].astype(str), "found by": t["found_by"],
        "missed by": t["missed_by"], "severity": t["severities"],
        "fixed in": t["fixed_versions"],
    }).head(n)


def empty(r: Report) -> str:
    """Return why there is nothing to compare."""
    tools = r.assessment.agreement.tools
    if not tools.tools:
        return "no image was scanned for vulnerabilities"
    if not tools.compared():
        return "no image was scanned for vulnerabilities by two or more tools"
    return "the tools found nothing in the images they both scanned"
