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


def _fix_set(text: str | None) -> frozenset[str]:
    if text is None:
        return frozenset()
    return frozenset(p.strip() for p in text.split(",") if p.strip())


def _joined(per_tool: Mapping[str, str]) -> str:
    return "; ".join(f"{t}: {v}" for t, v in sorted(per_tool.items()))


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
    compared = tools.compared()
    v = data.vulnerabilities
    v = v[v["image_id"].astype("string").isin(compared).fillna(False).to_numpy(bool)]
    if not len(v):
        return frame(SCANNER_AGREEMENT, {}, 0)
    names = names or {}
    tool_of = dict(zip(data.scans["scan_id"].astype(str), _doc_tool(data.scans), strict=True))
    cve = cve_of(data.vulnerability_aliases)
    rows = pd.DataFrame({
        "image_id": v["image_id"].astype(str).to_numpy(),
        "tool": v["scan_id"].astype(str).map(lambda s: tool_of.get(s, "unknown")).to_numpy(),
        "reported_id": v["vuln_id"].astype(str).to_numpy(),
        "pkg_name": v["pkg_name"].astype("string").fillna("").to_numpy(),
        "pkg_version": v["pkg_version"].astype("string").fillna("").to_numpy(),
        "purl": v["purl"].astype("string").to_numpy(),
        "package_type": v["package_type"].astype("string").to_numpy(),
        "severity": v["severity"].astype("string").fillna("unknown").to_numpy(),
        "fixed_version": v["fixed_version"].astype("string").to_numpy(),
    })
    rows["vuln_id"] = rows["reported_id"].map(lambda i: cve.get(i, i))
    purls = _texts(rows["purl"])
    rows["pkg_key"] = [package_name_key(n, p) for n, p in zip(rows["pkg_name"], purls,
                                                                strict=True)]
    rows["ecosystem"] = [version_scheme(purl_type(p)) or version_scheme(t)
                         for p, t in zip(purls, _texts(rows["package_type"]), strict=True)]
    key = ["image_id", "vuln_id", "pkg_key", "pkg_version"]
    records: list[dict[str, object]] = []
    for k, g in rows.groupby(key, sort=True):
        records.append(_finding(k, g, tools.tools[str(k[0])], names))
    out = pd.DataFrame.from_records(records)
    order = {s: i for i, s in enumerate(STATES)}
    out = out.sort_values(["image_name", "image_id", "state", "vuln_id"],
                          key=lambda s: s.map(order) if s.name == "state" else s, kind="stable")
    return frame(SCANNER_AGREEMENT, {c: out[c].tolist() for c in out.columns}, len(out))


def _finding(key: tuple[object, ...], g: pd.DataFrame, image_tools_: tuple[str, ...],
             names: Mapping[str, str]) -> dict[str, object]:
    """Return the `scanner_agreement` row of one finding from its rows (`g`), one or more per
    tool."""
    image_id, vuln_id = str(key[0]), str(key[1])
    sev: dict[str, str] = {}
    fixes: dict[str, frozenset[str]] = {}
    ids: set[str] = set()
    for tool, tg in g.groupby("tool", sort=True):
        t = str(tool)
        ranks = tg["severity"].map(SEVERITY_RANK).fillna(0)
        sev[t] = str(tg["severity"].iloc[int(np.argmax(ranks.to_numpy()))])
        fixes[t] = frozenset().union(*(_fix_set(f) for f in tg["fixed_version"].dropna()))
        ids |= set(tg["reported_id"])
    found = sorted(sev)
    missed = [t for t in image_tools_ if t not in sev]
    if missed:
        state, sev_differs, fix_differs = "partial", None, None
    else:
        sev_differs = len(set(sev.values())) > 1
        fix_differs = len(set(fixes.values())) > 1
        state = "differ" if sev_differs or fix_differs else "agree"
    first = g.iloc[0]
    eco = g["ecosystem"].dropna()
    return {
        "image_id": image_id,
        "image_name": names.get(image_id, image_id),
        "vuln_id": vuln_id,
        "reported_ids": ", ".join(sorted(ids - {vuln_id})) or None,
        "pkg_name": str(first["pkg_name"]),
        "pkg_version": str(first["pkg_version"]) or None,
        "ecosystem": str(eco.iloc[0]) if len(eco) else None,
        "tools": ", ".join(image_tools_),
        "found_by": ", ".join(found),
        "missed_by": ", ".join(missed) or None,
        "state": state,
        "severity_differs": sev_differs,
        "fix_differs": fix_differs,
        "severities": _joined(sev),
        "fixed_versions": _joined({t: ", ".join(sorted(f)) or _NO_FIX for t, f in fixes.items()}),
    }


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
