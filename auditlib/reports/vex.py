"""The compliance page's VEX section: what the VEX statements say of the findings, and the
statements that match none (`auditlib.fleet.vex`, read from the report's assessment)."""

from __future__ import annotations

import pandas as pd

from auditlib.parsers._vex import STATUSES
from auditlib.reports.context import Report


def vex_findings(r: Report) -> pd.DataFrame:
    """Return one row per finding a VEX statement speaks about, settled ones (not affected,
    fixed: out of the SLA clock, the score and the fix-first ranking) first: image,
    vulnerability, package, version, status, the statement in words and its document."""
    a = r.assessment.vex.applied
    if not len(a):
        return pd.DataFrame()
    order = {s: n for n, s in enumerate(STATUSES)}
    out = pd.DataFrame({
        "image": [r.assessment.view.name(str(i)) for i in a["image_id"]],
        "vulnerability": a["vuln_id"].astype(str), "package": a["pkg_name"].astype("string"),
        "version": a["pkg_version"].astype("string"),
        "status": a["vex_status"].str.replace("_", " "),
        "statement": a["vex_said"], "document": a["vex_source"].astype(str),
        "_o": a["vex_status"].map(order),
    })
    return out.sort_values(["_o", "image", "vulnerability"], kind="stable").drop(
        columns="_o").reset_index(drop=True)


def vex_unmatched(r: Report) -> pd.DataFrame:
    """Return the VEX statements that match no finding of the store: vulnerability, product,
    subcomponent, the statement in words and its document."""
    u = r.assessment.vex.unmatched
    if not len(u):
        return pd.DataFrame()
    return pd.DataFrame({
        "vulnerability": u["vuln_id"].astype(str), "product": u["product"].astype(str),
        "subcomponent": u["subcomponent_purl"].astype("string"),
        "statement": u["said"], "document": u["source"].astype(str),
    })


def vex_empty(r: Report) -> str:
    """Return why the VEX table is empty: no statement, or none speaks about a finding."""
    n = r.assessment.vex.statements
    if not n:
        return ("no VEX statement in the store: ingest OpenVEX, CycloneDX VEX or CSAF VEX "
                "documents (`auditlib ingest`, `auditlib run --vex`)")
    return f"none of the {n} VEX statements speaks about a finding of the store"
