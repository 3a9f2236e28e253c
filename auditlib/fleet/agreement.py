"""Where two scanners disagree: for every image that two or more tools scanned for
vulnerabilities, each finding found by all of them, by only some, or by all with a different
severity or fixed version (the `scanner_agreement` table).

* The *tools* of an image are the tools (`scans.tool`, else the document's format) of the
  vulnerability scans that covered it (`auditlib.fleet.coverage`: a scan that found nothing counts,
  Trivy without its database does not). An image scanned by one tool only is compared with
  nothing: it has no row here and is never counted as agreement (`ImageTools.compared`).
* A *finding* is the project's one (`fleet.findings.FINDING_KEY`: a vulnerability of a package
  version in an image), matched across tools by
  - the vulnerability's CVE where the documents say which one it is: a GHSA, an ELSA or any other
    id that `vulnerability_aliases` ties to exactly one CVE (Grype reports a Java archive's GHSA
    and names its CVE among `relatedVulnerabilities`; Trivy reports the CVE); an id tied to
    several CVEs (a vendor advisory that fixes many) or to none stays itself;
  - the package's name without its namespace (the purl's `name`, else the name after the last
    `:` or `/`: Trivy names a Java archive `org.apache.logging.log4j:log4j-core`, Grype
    `log4j-core`), in lower case, and its version as the distribution writes it (both tools'
    versions are normalised the same way by `auditlib.normalize.pkg_versions`).
* Several rows of one tool for one finding (the same package at two paths, two documents of the
  same tool) are one: the highest severity, the union of their fixed versions.
* *Agree*: every tool found it, with the same severity and the same set of fixed versions (no
  fixed version on either side is the same). *Differ*: every tool found it, and the severities or
  the fixed versions differ. *Partial*: only some of the image's tools found it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from packageurl import PackageURL

from auditlib.data import AuditData
from auditlib.fleet.coverage import document_images, is_vulnerability_scan
from auditlib.fleet.findings import SEVERITY_RANK
from auditlib.normalize.pkg_versions import version_scheme
from auditlib.normalize.purl import purl_type
from auditlib.tables import SCANNER_AGREEMENT, frame

STATES = ("agree", "differ", "partial")
"""A compared finding's state: every tool found it alike, every tool found it with a different
severity or fixed version, only some tools found it."""

TOOL_NAMES = {"trivy": "Trivy", "grype": "Grype", "harbor": "Harbor", "syft": "Syft",
              "anchore-engine": "Anchore Engine", "clair": "Clair", "snyk": "Snyk"}
"""How a tool is named in sentences (others: as the documents name them)."""

ECOSYSTEM_NAMES = {
    "maven": "Java archives", "deb": "Debian packages", "rpm": "RPM packages",
    "apk": "Alpine packages", "npm": "npm packages", "pypi": "Python packages",
    "gem": "Ruby gems", "golang": "Go modules", "nuget": ".NET packages", "cargo": "Rust crates",
}
"""How an ecosystem (`normalize.pkg_versions.version_scheme`) is named in sentences."""

FINDING = ["image_id", "vuln_id", "pkg_key", "pkg_version"]
"""What matches a finding across tools (module docstring): the image, the vulnerability (its CVE
where known), the package's name without namespace (lower case) and its version."""

_CVE = "CVE-"
_NO_FIX = "none"


def tool_name(tool: str) -> str:
    """Return how `tool` is named in sentences (`trivy` -> `Trivy`)."""
    return TOOL_NAMES.get(tool, tool)


def ecosystem_name(ecosystem: str | None) -> str:
    """Return how an ecosystem is named in sentences (`maven` -> `Java archives`)."""
    if not ecosystem:
        return "packages of unknown type"
    return ECOSYSTEM_NAMES.get(ecosystem, f"{ecosystem} packages")


@lru_cache(maxsize=65536)
def package_name_key(pkg_name: str, purl: str | None) -> str:
    """Return the name a package is matched by across tools: the purl's `name` when the purl
    parses, else the name after its last `:` or `/`; in lower case."""
    if purl:
        try:
            return PackageURL.from_string(purl).name.lower()
        except ValueError:
            pass
    return pkg_name.rsplit(":", 1)[-1].rsplit("/", 1)[-1].lower()


def cve_of(aliases: pd.DataFrame) -> dict[str, str]:
    """Return non-CVE id -> the one CVE the documents tie it to (either way round: a GHSA row
    that names its CVE, or a CVE row that names the GHSA). Ids tied to several CVEs are left
    out: a vendor advisory that fixes many CVEs is none of them."""
    pairs = aliases[["vuln_id", "alias"]].dropna().astype(str).drop_duplicates()
    cves: dict[str, set[str]] = {}
    for a, b in zip(pairs["vuln_id"], pairs["alias"], strict=True):
        a_cve, b_cve = a.startswith(_CVE), b.startswith(_CVE)
        if a_cve != b_cve:
            other, cve = (b, a) if a_cve else (a, b)
            cves.setdefault(other, set()).add(cve)
    return {k: next(iter(v)) for k, v in cves.items() if len(v) == 1}


@dataclass(frozen=True)
class ImageTools:
    """Which tools scanned each image for vulnerabilities."""

    tools: dict[str, tuple[str, ...]]
    """image id -> the tools of the vulnerability scans that covered it, sorted."""

    def compared(self) -> set[str]:
        """Return the images two or more tools scanned (the only ones compared)."""
        return {i for i, t in self.tools.items() if len(t) >= 2}

    def single(self) -> dict[str, str]:
        """Return image id -> its one tool, for the images one tool only scanned."""
        return {i: t[0] for i, t in self.tools.items() if len(t) == 1}


def _doc_tool(scans: pd.DataFrame) -> pd.Series:
    """Return, per `scans` row, the tool that wrote the document (lower case), else its format."""
    tool = scans["tool"].astype("string").str.strip().str.lower()
    tool = tool.mask(tool == "")
    return tool.fillna(scans["format"].astype("string")).fillna("unknown")


def image_tools(data: AuditData) -> ImageTools:
    """Return the tools that scanned each image for vulnerabilities (module docstring)."""
    scans = data.scans
    mask = is_vulnerability_scan(scans, data.vulnerabilities)
    vs = scans[mask]
    tool_of = dict(zip(vs["scan_id"].astype(str), _doc_tool(vs), strict=True))
    out: dict[str, set[str]] = {}
    named = vs.dropna(subset=["image_id"])
    for iid, tool in zip(named["image_id"].astype(str), _doc_tool(named), strict=True):
        out.setdefault(iid, set()).add(str(tool))
    unnamed = vs.loc[vs["image_id"].isna(), "scan_id"].astype(str)
    if len(unnamed):
        by_doc = document_images(data)
        for sid in unnamed:
            for iid in by_doc.get(sid, ()):
                out.setdefault(iid, set()).add(str(tool_of[sid]))
    # Rows of a document the scans table does not list as a scan still say a tool looked.
    v = data.vulnerabilities[["scan_id", "image_id"]].dropna().drop_duplicates()
    all_tools = dict(zip(scans["scan_id"].astype(str), _doc_tool(scans), strict=True))
    for sid, iid in zip(v["scan_id"].astype(str), v["image_id"].astype(str), strict=True):
        out.setdefault(iid, set()).add(str(all_tools.get(sid, "unknown")))
    return ImageTools({i: tuple(sorted(t)) for i, t in out.items()})


def _texts(s: pd.Series) -> list[str | None]:
    """Return a column's values as str, None where missing."""
    return [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v)
            for v in s.astype(object)]


def _rows(data: AuditData, compared: set[str]) -> pd.DataFrame:
    """Return the vulnerability rows of the compared images with what matching needs: tool,
    reported_id, vuln_id (the CVE when aliases name one), pkg_key, pkg_version, pkg_name,
    ecosystem, sev (rank), severity, fixed_version."""
    v = data.vulnerabilities
    v = v[v["image_id"].astype("string").isin(compared).fillna(False).to_numpy(bool)]
    tool_of = dict(zip(data.scans["scan_id"].astype(str), _doc_tool(data.scans), strict=True))
    cve = cve_of(data.vulnerability_aliases)
    reported = v["vuln_id"].astype(str)
    names = v["pkg_name"].astype("string").fillna("")
    purls = _texts(v["purl"])
    types = _texts(v["package_type"])
    pairs = list(zip(names.tolist(), purls, strict=True))
    key_of = {pair: package_name_key(*pair) for pair in set(pairs)}
    eco_of = {pt: version_scheme(purl_type(pt[0])) or version_scheme(pt[1])
              for pt in set(zip(purls, types, strict=True))}
    severity = v["severity"].astype("string").fillna("unknown")
    return pd.DataFrame({
        "image_id": v["image_id"].astype(str).to_numpy(),
        "tool": v["scan_id"].astype(str).map(lambda i: tool_of.get(i, "unknown")).to_numpy(),
        "reported_id": reported.to_numpy(),
        "vuln_id": reported.map(lambda i: cve.get(i, i)).to_numpy(),
        "pkg_key": [key_of[p] for p in pairs],
        "pkg_version": v["pkg_version"].astype("string").fillna("").to_numpy(),
        "pkg_name": names.to_numpy(),
        "ecosystem": [eco_of[pt] for pt in zip(purls, types, strict=True)],
        "severity": severity.to_numpy(),
        "sev": severity.map(SEVERITY_RANK).fillna(0).astype(int).to_numpy(),
        "fixed_version": v["fixed_version"].astype("string").to_numpy(),
    })


def _joined(groups: Iterable[object], values: Iterable[str], sep: str) -> dict[object, str]:
    """Return `values` joined with `sep` per group, the groups given sorted (consecutive equal
    groups are one): a plain loop, far faster than a pandas groupby's per-group slices."""
    out: dict[object, str] = {}
    for g, items in itertools.groupby(zip(groups, values, strict=True), key=lambda gv: gv[0]):
        out[g] = sep.join(v for _, v in items)
    return out


def _tool_joined(per_tool: pd.DataFrame, col: str) -> pd.Series:
    """Return, per finding (`f`), `tool: <col>` of each of its tools, in tool order, joined."""
    return pd.Series(_joined(per_tool["f"].tolist(),
                             (per_tool["tool"] + ": " + per_tool[col]).tolist(), "; "),
                     dtype=object)


def scanner_agreement(data: AuditData, names: Mapping[str, str] | None = None,
                      tools: ImageTools | None = None) -> pd.DataFrame:
    """Return the `scanner_agreement` table: one row per finding of every image two or more
    tools scanned for vulnerabilities (module docstring), ordered by image, state and id.

    Args:
        data: the tables.
        names: image id -> the name to show (`FleetView.names`); the id when absent.
        tools: the tools of each image (`image_tools(data)` when None).
    """
    tools = image_tools(data) if tools is None else tools
    rows = _rows(data, tools.compared())
    if not len(rows):
        return frame(SCANNER_AGREEMENT, {}, 0)
    names = names or {}
    rows["f"] = rows.groupby(FINDING, sort=True).ngroup()
    # One entry per finding and tool: the highest severity, the union of the fixed versions.
    rows = rows.sort_values(["f", "tool", "sev"], ascending=[True, True, False], kind="stable")
    per_tool = rows.drop_duplicates(["f", "tool"])[["f", "tool", "severity"]].reset_index(
        drop=True)
    fixes = rows[["f", "tool", "fixed_version"]].dropna()
    fixes = fixes.assign(fixed_version=fixes["fixed_version"].str.split(",")).explode(
        "fixed_version")
    fixes["fixed_version"] = fixes["fixed_version"].str.strip()
    fixes = fixes[fixes["fixed_version"] != ""].drop_duplicates().sort_values(
        ["f", "tool", "fixed_version"])
    fixed = _joined(zip(fixes["f"].tolist(), fixes["tool"].tolist(), strict=True),
                    fixes["fixed_version"].tolist(), ", ")
    per_tool["fixed"] = [fixed.get((f, t), _NO_FIX) for f, t in zip(
        per_tool["f"].tolist(), per_tool["tool"].tolist(), strict=True)]
    by_f = per_tool.groupby("f", sort=True)
    first = rows.drop_duplicates("f").set_index("f").sort_index()
    eco = rows.dropna(subset=["ecosystem"]).drop_duplicates("f").set_index("f")["ecosystem"]
    other = rows.loc[rows["reported_id"] != rows["vuln_id"], ["f", "reported_id"]]
    other = other.drop_duplicates().sort_values(["f", "reported_id"])
    out = pd.DataFrame({
        "image_id": first["image_id"],
        "vuln_id": first["vuln_id"],
        "reported_ids": pd.Series(_joined(other["f"].tolist(), other["reported_id"].tolist(),
                                          ", "), dtype=object),
        "pkg_name": first["pkg_name"],
        "pkg_version": first["pkg_version"].mask(first["pkg_version"] == ""),
        "ecosystem": eco,
        "found_by": pd.Series(_joined(per_tool["f"].tolist(), per_tool["tool"].tolist(), ", "),
                              dtype=object),
        "n_found": by_f.size(),
        "n_sev": by_f["severity"].nunique(),
        "n_fix": by_f["fixed"].nunique(),
        "severities": _tool_joined(per_tool, "severity"),
        "fixed_versions": _tool_joined(per_tool, "fixed"),
    })
    image_tools_ = out["image_id"].map(lambda i: tools.tools[i])
    out["tools"] = image_tools_.map(", ".join)
    missed = {(t, f): ", ".join(x for x in t if x not in f.split(", ")) or None
              for t, f in set(zip(image_tools_, out["found_by"], strict=True))}
    out["missed_by"] = [missed[(t, f)] for t, f in zip(image_tools_, out["found_by"],
                                                       strict=True)]
    every = out["missed_by"].isna()
    out["severity_differs"] = (out["n_sev"] > 1).where(every, None)
    out["fix_differs"] = (out["n_fix"] > 1).where(every, None)
    out["state"] = np.where(~every, "partial", np.where(
        (out["n_sev"] > 1) | (out["n_fix"] > 1), "differ", "agree"))
    out["image_name"] = out["image_id"].map(lambda i: names.get(i, i))
    order = {s: i for i, s in enumerate(STATES)}
    out = out.sort_values(["image_name", "image_id", "state", "vuln_id"],
                          key=lambda s: s.map(order) if s.name == "state" else s, kind="stable")
    return frame(SCANNER_AGREEMENT, {c.name: out[c.name].tolist()
                                     for c in SCANNER_AGREEMENT.columns}, len(out))


@dataclass(frozen=True)
class ToolSetSummary:
    """The agreement of one set of tools over the images they all (and only they) scanned."""

    tools: tuple[str, ...]
    images: int
    findings: int
    agree: int
    differ: int
    severity_differs: int
    fix_differs: int
    only: dict[tuple[str, ...], dict[str | None, int]]
    """found_by tools -> ecosystem -> findings, for the partial findings."""

    @property
    def agree_share(self) -> float | None:
        """Return the share of findings every tool found alike (None without findings)."""
        return self.agree / self.findings if self.findings else None

    def sentence(self) -> str:
        """Return the summary in words ("Trivy and Grype agree on 91% of 412 findings in 3
        images; 23 only in Grype, of which 19 in Java archives")."""
        who = _and([tool_name(t) for t in self.tools])
        where = f"in {self.images} image{'s' if self.images != 1 else ''}"
        if not self.findings:
            return f"{who} both found no vulnerability {where}" if len(self.tools) == 2 else \
                f"{who} all found no vulnerability {where}"
        pct = self.agree * 100 / self.findings
        parts = [f"{who} agree on {pct:.0f}% of {self.findings} findings {where}"]
        if self.differ:
            what = []
            if self.severity_differs:
                what.append(f"{self.severity_differs} in severity")
            if self.fix_differs:
                what.append(f"{self.fix_differs} in fixed version")
            every = "both" if len(self.tools) == 2 else "all"
            parts.append(f"{self.differ} found by {every} differ ({', '.join(what)})")
        for found_by, per_eco in sorted(self.only.items(), key=lambda kv: (
                -sum(kv[1].values()), [(t != "trivy", t) for t in kv[0]])):
            n = sum(per_eco.values())
            eco, top = max(per_eco.items(), key=lambda kv: (kv[1], kv[0] or ""))
            text = f"{n} only in {_and([tool_name(t) for t in _display_order(found_by)])}"
            if len(per_eco) > 1 or eco is None:
                text += f", of which {top} in {ecosystem_name(eco)}"
            else:
                text += f", all in {ecosystem_name(eco)}"
            parts.append(text)
        return "; ".join(parts)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def summarize(table: pd.DataFrame, tools: ImageTools) -> list[ToolSetSummary]:
    """Return the agreement per set of tools (the images scanned by exactly those tools), the
    set with most images first.

    Args:
        table: the `scanner_agreement` table.
        tools: the tools of each image.
    """
    groups: dict[tuple[str, ...], set[str]] = {}
    for iid in tools.compared():
        groups.setdefault(tools.tools[iid], set()).add(iid)
    out: list[ToolSetSummary] = []
    for toolset, images in groups.items():
        t = table[table["image_id"].astype(str).isin(images).to_numpy(bool)]
        state = t["state"].astype(str)
        partial = t[(state == "partial").to_numpy(bool)]
        only: dict[tuple[str, ...], dict[str | None, int]] = {}
        for fb, eco in zip(partial["found_by"].astype(str), partial["ecosystem"], strict=True):
            per = only.setdefault(tuple(fb.split(", ")), {})
            e = None if pd.isna(eco) else str(eco)
            per[e] = per.get(e, 0) + 1
        out.append(ToolSetSummary(
            tools=_display_order(toolset), images=len(images), findings=len(t),
            agree=int((state == "agree").sum()), differ=int((state == "differ").sum()),
            severity_differs=int(t["severity_differs"].astype("boolean").fillna(False).sum()),
            fix_differs=int(t["fix_differs"].astype("boolean").fillna(False).sum()),
            only=only))
    return sorted(out, key=lambda s: (-s.images, s.tools))


def _display_order(tools: Iterable[str]) -> tuple[str, ...]:
    """Return tools in the order sentences name them: Trivy first (the issue's wording), then
    the others by name."""
    return tuple(sorted(tools, key=lambda t: (t != "trivy", t)))


def sentences(table: pd.DataFrame, tools: ImageTools) -> list[str]:
    """Return the agreement in words: one sentence per set of tools, then the images one tool
    only scanned (said as such: compared with nothing, never counted as agreement)."""
    out = [s.sentence() for s in summarize(table, tools)]
    single = tools.single()
    if single:
        per: dict[str, int] = {}
        for t in single.values():
            per[t] = per.get(t, 0) + 1
        n = len(single)
        by = ", ".join(f"{c} by {tool_name(t)}" for t, c in sorted(per.items(),
                                                                       key=lambda kv: -kv[1]))
        out.append(f"{n} image{'s' if n != 1 else ''} scanned for vulnerabilities by one tool "
                   f"only ({by}): not compared")
    if not out:
        out.append("no image was scanned for vulnerabilities")
    elif not tools.compared():
        out.insert(0, "no image was scanned for vulnerabilities by two or more tools")
    return out


@dataclass(frozen=True)
class Agreement:
    """Where the scanners of a fleet agree: the `scanner_agreement` table and the tools of every
    image (`Assessment.agreement`)."""

    table: pd.DataFrame
    """The `scanner_agreement` table."""
    tools: ImageTools
    """The tools that scanned each image for vulnerabilities."""

    def summary(self) -> list[ToolSetSummary]:
        """Return the agreement per set of tools (`summarize`)."""
        return summarize(self.table, self.tools)

    def sentences(self) -> list[str]:
        """Return the agreement in words (`sentences`)."""
        return sentences(self.table, self.tools)

    def to_dict(self) -> dict[str, object]:
        """Return the figures as JSON data: per set of tools, the images one tool only scanned,
        and the sentences."""
        return {
            "tool_sets": [{
                "tools": list(s.tools), "images": s.images, "findings": s.findings,
                "agree": s.agree, "agree_share": s.agree_share, "differ": s.differ,
                "severity_differs": s.severity_differs, "fix_differs": s.fix_differs,
                "only": [{"found_by": list(fb), "findings": sum(per.values()),
                          "by_ecosystem": {k or "unknown": v for k, v in sorted(
                              per.items(), key=lambda kv: -kv[1])}}
                         for fb, per in s.only.items()],
            } for s in self.summary()],
            "compared_images": len(self.tools.compared()),
            "single_tool_images": dict(sorted(self.tools.single().items())),
            "sentences": self.sentences(),
        }


def agreement_of(data: AuditData, names: Mapping[str, str] | None = None) -> Agreement:
    """Return the scanners' agreement over `data` (module docstring)."""
    tools = image_tools(data)
    return Agreement(scanner_agreement(data, names, tools), tools)
