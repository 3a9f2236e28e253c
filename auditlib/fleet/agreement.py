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

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from packageurl import PackageURL

from auditlib.data import AuditData
from auditlib.engine import Engine, engine_or_frames
from auditlib.engine.selections import agreement_rows
from auditlib.fleet.coverage import document_images, documents, is_vulnerability_scan, rows_in
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
    scan_tools: dict[str, str]
    """scan id -> the tool that wrote its document (`_doc_tool`), for every row of `scans`."""

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


def image_tools(data: AuditData, docs: pd.DataFrame | None = None) -> ImageTools:
    """Return the tools that scanned each image for vulnerabilities (module docstring).

    Args:
        data: the tables.
        docs: which documents have rows, of which images (`coverage.documents(data)`, which
            is computed when None; an assessment passes its `FleetView.documents`).
    """
    docs = documents(data) if docs is None else docs
    vdocs = rows_in(docs, "vulnerabilities")
    scans = data.scans
    tool_of = dict(zip(scans["scan_id"].astype(str), _doc_tool(scans).astype(str), strict=True))
    vs = scans[is_vulnerability_scan(scans, vdocs)]
    out: dict[str, set[str]] = {}
    named = vs.dropna(subset=["image_id"])
    for iid, sid in zip(named["image_id"].astype(str), named["scan_id"].astype(str),
                        strict=True):
        out.setdefault(iid, set()).add(tool_of[sid])
    unnamed = vs.loc[vs["image_id"].isna(), "scan_id"].astype(str)
    if len(unnamed):
        by_doc = document_images(docs)
        for sid in unnamed:
            for iid in by_doc.get(sid, ()):
                out.setdefault(iid, set()).add(tool_of[sid])
    # Rows of a document the scans table does not list as a scan still say a tool looked.
    v = vdocs[["scan_id", "image_id"]].dropna().drop_duplicates()
    for sid, iid in zip(v["scan_id"].astype(str), v["image_id"].astype(str), strict=True):
        out.setdefault(iid, set()).add(tool_of.get(sid, "unknown"))
    return ImageTools({i: tuple(sorted(t)) for i, t in out.items()}, tool_of)


def _coded(s: pd.Series) -> tuple[np.ndarray, list[str | None]]:
    """Return a column as integer codes (-1 where missing) and the values they stand for."""
    cat = s if isinstance(s.dtype, pd.CategoricalDtype) else s.astype("category")
    return (cat.cat.codes.to_numpy(np.int64),
            [None if pd.isna(x) else str(x) for x in cat.cat.categories])


def _recode(codes: np.ndarray, values: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """Return `codes` re-coded over the distinct `values` (equal values one code; a missing code
    -1 stays -1), and those distinct values as an object array."""
    new, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    new = np.append(new.astype(np.int64), -1)
    return new[codes], np.asarray(uniques, dtype=object)


def _pair_codes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the distinct (a, b) code pairs and, per row, the index of its pair (codes may be
    -1: missing)."""
    width = int(b.max(initial=-1)) + 2
    inverse, uniques = pd.factorize((a + 1) * width + (b + 1))
    uniques = np.asarray(uniques, dtype=np.int64)
    return uniques // width - 1, uniques % width - 1, inverse.astype(np.int64)


def _norm_fix(text: str | None) -> str:
    """Return a tool's fixed versions as one text: distinct, sorted, `none` when it names none."""
    if text is None:
        return _NO_FIX
    return ", ".join(sorted({p.strip() for p in text.split(",") if p.strip()})) or _NO_FIX


def _join_columns(pieces: list[np.ndarray], sep: str) -> np.ndarray:
    """Return, per row, the non-empty texts of `pieces` (object arrays of one length) joined
    with `sep`."""
    out = pieces[0]
    for p in pieces[1:]:
        both = (out != "") & (p != "")
        out = np.where(both, out + sep + p, np.where(out == "", p, out))
    return out


def scanner_agreement(data: AuditData, names: Mapping[str, str] | None = None,
                      tools: ImageTools | None = None, engine: Engine | None = None
                      ) -> pd.DataFrame:
    """Return the `scanner_agreement` table: one row per finding of every image two or more
    tools scanned for vulnerabilities (module docstring), ordered by image, state and id.

    Columns are worked on as integer codes of their distinct values (a fleet repeats its
    packages, ids and versions), so a fleet of 1,000 images is compared in seconds.

    Args:
        data: the tables.
        names: image id -> the name to show (`FleetView.names`); the id when absent.
        tools: the tools of each image (`image_tools(data)` when None).
        engine: what reads the vulnerabilities (`FleetView.aggregate_engine`; default DuckDB
            over `data`'s frames): it selects the rows of the compared images only
            (`auditlib.engine.selections.AGREEMENT_ROWS`).

    Raises:
        EngineError: if the engine fails.
    """
    tools = image_tools(data) if tools is None else tools
    compared = tools.compared()
    if not compared:
        return frame(SCANNER_AGREEMENT, {}, 0)
    eng = engine_or_frames(engine, data)
    v = agreement_rows(eng, compared)
    if not len(v):
        return frame(SCANNER_AGREEMENT, {}, 0)
    names = names or {}
    # Per row: image, tool, reported and canonical id, package key, version, severity, fix.
    img, img_vals = _coded(v["image_id"])
    scan, scan_vals = _coded(v["scan_id"])
    tool, tool_vals = _recode(scan, [tools.scan_tools.get(str(x), "unknown") for x in scan_vals])
    rep, rep_vals = _coded(v["vuln_id"])
    cve = cve_of(data.vulnerability_aliases)
    vid, vid_vals = _recode(rep, [cve.get(str(x), str(x)) for x in rep_vals])
    name, name_vals = _coded(v["pkg_name"])
    purl, purl_vals = _coded(v["purl"])
    ptype, ptype_vals = _coded(v["package_type"])
    pa, pb, pair = _pair_codes(name, purl)
    key, _ = _recode(pair, [package_name_key(name_vals[x] or "", purl_vals[y] if y >= 0 else None)
                            for x, y in zip(pa, pb, strict=True)])
    ea, eb, epair = _pair_codes(purl, ptype)
    eco, eco_vals = _recode(epair, [
        version_scheme(purl_type(purl_vals[x] if x >= 0 else None))
        or version_scheme(ptype_vals[y] if y >= 0 else None) for x, y in zip(ea, eb, strict=True)])
    ver, ver_vals = _coded(v["pkg_version"])
    sev_codes, sev_vals = _coded(v["severity"])
    sev_vals.append("unknown")  # a missing severity is unknown
    sev_codes = np.where(sev_codes < 0, len(sev_vals) - 1, sev_codes)
    sev_rank = np.asarray([SEVERITY_RANK.get(str(x), 0) for x in sev_vals], np.int64)[sev_codes]
    fix_raw, fix_raw_vals = _coded(v["fixed_version"])
    fix, fix_vals = _recode(fix_raw, [_norm_fix(x) for x in fix_raw_vals])
    none_fix = len(fix_vals)
    fix = np.where(fix < 0, none_fix, fix)
    fix_vals = np.append(fix_vals, _NO_FIX)
    # Findings: one per image, canonical id, package key and version.
    rows = pd.DataFrame({"img": img, "vid": vid, "key": key, "ver": ver, "tool": tool,
                         "sev": sev_rank, "sevc": sev_codes, "fix": fix, "rep": rep,
                         "name": name, "eco": eco})
    rows["f"] = rows.groupby(["img", "vid", "key", "ver"], sort=True, dropna=False).ngroup()
    rows = rows.sort_values(["f", "tool", "sev"], ascending=[True, True, False], kind="stable")
    n_f, n_t = int(rows["f"].max()) + 1, len(tool_vals)
    first = rows.drop_duplicates("f")
    # One entry per finding and tool: its highest severity, the union of its fixed versions.
    per = rows.drop_duplicates(["f", "tool"])
    f_idx, t_idx = per["f"].to_numpy(), per["tool"].to_numpy()
    present = np.zeros((n_f, n_t), bool)
    present[f_idx, t_idx] = True
    sev = np.full((n_f, n_t), -1, np.int64)
    sev[f_idx, t_idx] = per["sevc"].to_numpy()
    fixc = np.full((n_f, n_t), -1, np.int64)
    fixc[f_idx, t_idx] = per["fix"].to_numpy()
    fix_text = fix_vals.copy()
    several = rows.groupby(["f", "tool"])["fix"].nunique()
    several = several[several > 1]
    if len(several):  # one tool, several rows, other fixed versions: their union
        hit = pd.MultiIndex.from_arrays([rows["f"], rows["tool"]]).isin(several.index)
        sub = rows.loc[hit]
        texts: dict[tuple[int, int], list[str]] = {}
        for f, t, c in zip(sub["f"].tolist(), sub["tool"].tolist(), sub["fix"].tolist(),
                           strict=True):
            texts.setdefault((f, t), []).append(str(fix_vals[c]))
        extra = {ft: _norm_fix(", ".join(x for x in parts if x != _NO_FIX) or None)
                 for ft, parts in texts.items()}
        fix_text = np.append(fix_text, list(extra.values()))
        for i, ft in enumerate(extra):
            fixc[ft] = len(fix_vals) + i
    # Which tools scanned each finding's image, and so which missed it.
    tool_index = {str(t): i for i, t in enumerate(tool_vals)}
    img_tools = np.zeros((len(img_vals), n_t), bool)
    for i, iid in enumerate(img_vals):
        for t in tools.tools.get(str(iid), ()):
            if t in tool_index:
                img_tools[i, tool_index[t]] = True
    f_img = first["img"].to_numpy()
    missed = img_tools[f_img] & ~present
    partial = missed.any(axis=1)
    big = np.iinfo(np.int64).max
    sev_rank_of = np.asarray([SEVERITY_RANK.get(str(x), 0) for x in sev_vals], np.int64)
    sev_r = np.where(present, sev_rank_of[np.maximum(sev, 0)], -1)
    sev_differs = (np.where(present, sev_r, big).min(1) != np.where(present, sev_r, -1).max(1))
    fix_differs = (np.where(present, fixc, big).min(1) != np.where(present, fixc, -1).max(1))
    state = np.where(partial, "partial", np.where(sev_differs | fix_differs, "differ", "agree"))
    # Texts: per tool a piece, joined over the tools in name order.
    order = sorted(range(n_t), key=lambda i: str(tool_vals[i]))
    sev_names = np.asarray([str(x) for x in sev_vals], dtype=object)
    found_p, missed_p, sev_p, fix_p = [], [], [], []
    for t in order:
        name_t = str(tool_vals[t])
        here = present[:, t]
        found_p.append(np.where(here, name_t, ""))
        missed_p.append(np.where(missed[:, t], name_t, ""))
        sev_p.append(np.where(here, name_t + ": " + sev_names[np.maximum(sev[:, t], 0)], ""))
        fix_p.append(np.where(here, name_t + ": " + fix_text[np.maximum(fixc[:, t], 0)], ""))
    found_by = _join_columns([p.astype(object) for p in found_p], ", ")
    missed_by = _join_columns([p.astype(object) for p in missed_p], ", ")
    # Ids a tool reported other than the canonical one (a GHSA beside its CVE).
    rep_text = np.asarray([str(x) for x in rep_vals], dtype=object)
    other = rows.loc[rep_text[rows["rep"].to_numpy()] != vid_vals[rows["vid"].to_numpy()],
                     ["f", "rep"]].drop_duplicates()
    reported: dict[int, set[str]] = {}
    for f, r in zip(other["f"].tolist(), other["rep"].tolist(), strict=True):
        reported.setdefault(f, set()).add(str(rep_vals[r]))
    known = rows.loc[rows["eco"] >= 0].drop_duplicates("f")
    eco_f = np.full(n_f, -1, np.int64)
    eco_f[known["f"].to_numpy()] = known["eco"].to_numpy()
    # Rows ordered by image (name, then id), state, then id: a sort of integer ranks.
    img_name = np.asarray([names.get(str(i), str(i)) for i in img_vals], dtype=object)
    img_rank = np.empty(len(img_vals), np.int64)
    img_rank[sorted(range(len(img_vals)), key=lambda i: (img_name[i], str(img_vals[i])))] = (
        np.arange(len(img_vals)))
    f_vid = first["vid"].to_numpy()
    vid_rank = np.empty(len(vid_vals), np.int64)
    vid_rank[np.argsort(vid_vals.astype(str), kind="stable")] = np.arange(len(vid_vals))
    state_rank = np.select([state == x for x in STATES], list(range(len(STATES))))
    row_order = np.lexsort((vid_rank[f_vid], state_rank, img_rank[f_img]))
    img_ids = np.asarray(img_vals, dtype=object)
    tools_text = np.asarray([", ".join(tools.tools[str(i)]) for i in img_vals], dtype=object)
    ver_text = np.asarray([x or None for x in ver_vals] + [None], dtype=object)
    eco_text = np.asarray(list(eco_vals) + [None], dtype=object)
    cols: dict[str, np.ndarray] = {
        "image_id": img_ids[f_img],
        "image_name": img_name[f_img],
        "vuln_id": vid_vals[f_vid],
        "reported_ids": np.asarray([", ".join(sorted(reported[f])) if f in reported else None
                                    for f in range(n_f)], dtype=object),
        "pkg_name": np.asarray(name_vals, dtype=object)[first["name"].to_numpy()],
        "pkg_version": ver_text[first["ver"].to_numpy()],
        "ecosystem": eco_text[eco_f],
        "tools": tools_text[f_img],
        "found_by": found_by,
        "missed_by": np.where(partial, missed_by, np.full(n_f, None, dtype=object)),
        "state": state.astype(object),
        "severity_differs": np.where(partial, np.full(n_f, None, dtype=object), sev_differs),
        "fix_differs": np.where(partial, np.full(n_f, None, dtype=object), fix_differs),
        "severities": _join_columns([p.astype(object) for p in sev_p], "; "),
        "fixed_versions": _join_columns([p.astype(object) for p in fix_p], "; "),
    }
    return frame(SCANNER_AGREEMENT, {k: c[row_order].tolist() for k, c in cols.items()}, n_f)
