"""Row builders for Trivy JSON results: packages, licences, vulnerabilities, misconfigurations.

Called by `trivy_json` once per result; kept apart so that the parser module holds the document
structure and this one the per-record work that the ingest benchmark times.
"""

from __future__ import annotations

from functools import lru_cache

import msgspec

from auditlib.normalize.cvss import CvssScore, best_cvss, cvss_version
from auditlib.normalize.fix_state import fix_state_from_trivy
from auditlib.normalize.licenses import LicenseInfo, classify_license
from auditlib.normalize.pkg_versions import distro_version, distro_versions, join_evr
from auditlib.normalize.purl import purl_type
from auditlib.normalize.severity import normalize_severity
from auditlib.parsers import _trivy_model as m
from auditlib.rows import Columns, Output, Row

_LicenceSet = tuple[LicenseInfo, tuple[str, ...], tuple[str | None, ...], tuple[str, ...]]
"""A package's licences classified: the AND of them all, then each distinct licence's text, SPDX
expression and class (the `declared` rows' columns, in order)."""


@lru_cache(maxsize=65536)
def _licence_set(licences: tuple[str, ...]) -> _LicenceSet:
    """Return the classified AND of a package's licences, and each distinct licence classified.

    Cached: a fleet repeats a few hundred licence lists over hundreds of thousands of packages.

    Args:
        licences: the package's `Licenses`, as Trivy wrote them (repeats and "" allowed).
    """
    names = tuple(dict.fromkeys(n for n in licences if n))
    # Parenthesise compound entries so that `MIT OR Apache-2.0` stays one operand of the AND.
    # No licence at all classifies as `unknown`, like any licence that says nothing.
    joined = (" AND ".join(n if " " not in n else f"({n})" for n in names) if len(names) > 1
              else (names[0] if names else None))
    each = [classify_license(n) for n in names]
    return (classify_license(joined), names, tuple(i.spdx for i in each),
            tuple(i.license_class for i in each))


_NO_LICENCES = _licence_set(())

PACKAGE_COLUMNS = ("target", "package_id", "name", "version", "package_type", "purl", "path",
                   "layer_diff_id", "source_name", "source_version", "license_expression",
                   "license_class", "found_by")
"""The `packages` columns `package_rows` fills."""
LICENCE_COLUMNS = ("package_id", "package_name", "package_version", "license", "license_spdx",
                   "license_class", "license_source")
"""The `package_licenses` columns `package_rows` fills (`declared` rows)."""


def columns(names: tuple[str, ...]) -> Columns:
    """Return empty column lists for `names`, to fill and hand over with `Output.add_columns`."""
    return {n: [] for n in names}


def package_rows(pkgs: list[m.Package], target: str | None, cls: str | None, rtype: str | None,
                 rows: Columns, licenses: Columns) -> None:
    """Add one `packages` row per package and one `declared` licence row per distinct licence,
    as columns (`PACKAGE_COLUMNS`, `LICENCE_COLUMNS`): the hot loop, a list append per value."""
    ids, names, versions, types, purls, paths, layers, src_names, src_versions, exprs, classes = (
        rows[c].append for c in PACKAGE_COLUMNS[1:-1])
    l_ids, l_names, l_versions, l_texts, l_spdx, l_classes = (
        licenses[c].extend for c in LICENCE_COLUMNS[:-1])
    licence_set = _licence_set
    declared = 0
    for p in pkgs:
        ident = p.Identifier
        purl = uid = None
        if ident is not None:
            purl, uid = ident.PURL or None, ident.UID
        # `bash` 5.2.15 / 2+b13 is `5.2.15-2+b13`, as dpkg and Trivy's own ID write it.
        version = join_evr(p.Version, p.Release, p.Epoch)
        package_id = uid or p.ID or (f"{p.Name}@{version}" if version else p.Name)
        info, texts, spdx, lic_classes = (licence_set(tuple(p.Licenses)) if p.Licenses
                                          else _NO_LICENCES)
        if texts:
            k = len(texts)
            l_ids([package_id] * k)
            l_names([p.Name] * k)
            l_versions([version] * k)
            l_texts(texts)
            l_spdx(spdx)
            l_classes(lic_classes)
            declared += k
        layer = p.Layer
        ids(package_id)
        names(p.Name)
        versions(version)
        types(purl_type(purl) or rtype or None)
        purls(purl)
        paths(p.FilePath or None)
        layers((layer.DiffID or None) if layer else None)
        src_names(p.SrcName or None)
        src_versions(join_evr(p.SrcVersion, p.SrcRelease, p.SrcEpoch))
        exprs(info.spdx)
        classes(info.license_class)
    rows["target"].extend([target] * len(pkgs))
    rows["found_by"].extend([cls] * len(pkgs))
    licenses["license_source"].extend(["declared"] * declared)


_Cvss = tuple[float | None, str | None, str | None, str | None]
_NO_CVSS: _Cvss = (None, None, None, None)
_CVSS_MAP = msgspec.json.Decoder(dict[str, m.Cvss] | None)
_CVSS_CACHE: dict[tuple[bytes, str | None], _Cvss] = {}
_CVSS_CACHE_SIZE = 65536


def _cvss_columns(key: tuple[bytes, str | None], raw: msgspec.Raw, out: Output,
                  locator: str) -> _Cvss:
    """Return score, vector, version and source of the best score of Trivy's `CVSS` map.

    The map ({source: V2/V3/V40 vectors and scores}) is kept undecoded and the answer cached by its
    bytes (the caller looks in `_CVSS_CACHE` first): a fleet repeats the same CVE, with the same
    map, report after report, and decoding the map and picking the score is the costliest part of
    a vulnerability row.

    Args:
        key: the map's bytes and the vulnerability's `SeveritySource` (preferred among scores of
            one version).
        raw: the undecoded `CVSS` value.
        out: for a warning when the map is not one.
        locator: JSON path of the map, for that warning.

    Returns:
        The four `cvss_*` columns; all None when there is no usable score or the map is malformed.
    """
    prefer = key[1]
    try:
        cvss = _CVSS_MAP.decode(raw)
    except msgspec.DecodeError as e:  # ValidationError too; both leave the row without a CVSS
        out.warn(locator, f"CVSS ignored: {str(e).replace('`$', f'`{locator}', 1)}")
        return _NO_CVSS
    scores: list[CvssScore] = []
    for source, c in (cvss or {}).items():
        if c.V40Score is not None or c.V40Vector:
            scores.append(CvssScore(c.V40Score, c.V40Vector or None, "4.0", source))
        if c.V3Score is not None or c.V3Vector:
            # `V3Vector` is CVSS 3.0 or 3.1: the vector's prefix says which.
            scores.append(CvssScore(c.V3Score, c.V3Vector or None, cvss_version(c.V3Vector, "3"),
                                    source))
        if c.V2Score is not None or c.V2Vector:
            scores.append(CvssScore(c.V2Score, c.V2Vector or None, "2.0", source))
    best = best_cvss(scores, prefer)
    found = (best.score, best.vector, best.version, best.source) if best else _NO_CVSS
    if len(_CVSS_CACHE) >= _CVSS_CACHE_SIZE:
        _CVSS_CACHE.clear()
    _CVSS_CACHE[key] = found
    return found


# Trivy writes severities in capitals and eight statuses (docs/guide/configuration/filtering.md);
# looking them up here saves a call per row, and anything else still goes through the normalisers.
_SEVERITY: dict[str | None, str] = {
    s: normalize_severity(s) for s in ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")}
_FIX_STATE = {s: fix_state_from_trivy(s, None) for s in (
    "fixed", "affected", "fix_deferred", "end_of_life", "will_not_fix", "not_affected",
    "under_investigation", "unknown")}


def vulnerability_rows(vulns: list[m.Vulnerability], target: str | None, rtype: str | None,
                        rows: list[Row], out: Output, locator: str) -> None:
    """Add one `vulnerabilities` row per detected vulnerability (the hot loop: keep it plain).

    Args:
        vulns: the result's vulnerabilities.
        target: the result's `Target`.
        rtype: the result's `Type`, the package type when a vulnerability has no purl.
        rows: where rows go.
        out: for warnings.
        locator: JSON path of the `Vulnerabilities` array, for warnings.
    """
    severity_of = _SEVERITY.get
    fix_state_of = _FIX_STATE.get
    cvss_cached = _CVSS_CACHE.get
    append = rows.append
    for i, v in enumerate(vulns):
        ident = v.PkgIdentifier
        purl = (ident.PURL or None) if ident else None
        package_type = purl_type(purl) or rtype or None
        src = v.SeveritySource or None
        cvss = _NO_CVSS
        if v.CVSS:
            key = (bytes(v.CVSS), src)
            cvss = cvss_cached(key) or _cvss_columns(key, v.CVSS, out, f"{locator}[{i}].CVSS")
        score, vector, version, scorer = cvss
        status = v.Status or None
        fixed = distro_versions(v.FixedVersion, package_type)
        fix_state = ((fix_state_of(status) if status else None)
                     or fix_state_from_trivy(status, fixed))
        ds = v.DataSource
        layer = v.Layer
        append({
            "target": target, "vuln_id": v.VulnerabilityID, "pkg_name": v.PkgName,
            "pkg_version": distro_version(v.InstalledVersion, package_type, purl),
            "pkg_path": v.PkgPath or None,
            "package_type": package_type, "purl": purl,
            "severity": severity_of(v.Severity) or normalize_severity(v.Severity),
            "severity_source": src, "fix_state": fix_state, "fixed_version": fixed,
            "status": status,
            "published_at": v.PublishedDate or None, "modified_at": v.LastModifiedDate or None,
            "cvss_score": score, "cvss_vector": vector, "cvss_version": version,
            "cvss_source": scorer,
            "title": v.Title or None, "description": v.Description or None,
            "primary_url": v.PrimaryURL or None,
            "data_source": (ds.Name or ds.ID or None) if ds else None,
            "layer_diff_id": (layer.DiffID or None) if layer else None,
        })


def misconfiguration_rows(items: list[m.Misconfiguration], target: str | None,
                           rows: list[Row]) -> None:
    """Add one `misconfigurations` row per check result (FAIL, and PASS/EXCEPTION when listed)."""
    for c in items:
        cause = c.CauseMetadata
        rows.append({
            "target": target, "tool": "trivy",
            # `AVDID` is deprecated for `ID` (pkg/types/misconfiguration.go) but older reports may
            # only have it filled.
            "rule_id": c.ID or c.AVDID or None,
            "title": c.Title or None, "message": c.Message or None,
            "severity": normalize_severity(c.Severity),
            "status": c.Status.lower() if c.Status else None,
            "resolution": c.Resolution or None, "primary_url": c.PrimaryURL or None,
            "file_path": target,
            "start_line": cause.StartLine if cause else None,
            "end_line": cause.EndLine if cause else None,
        })


def scanner_license_rows(found: list[m.License], packages: Columns,
                         rows: list[Row]) -> None:
    """Add one `scanner` licence row per licence-scanner finding.

    A finding names its package only by `PkgName`; when exactly one package of the document has
    that name, its `package_id` and version are filled in so the row joins `packages` (given as
    `PACKAGE_COLUMNS`).
    """
    by_name: dict[str, tuple[str, str | None] | None] = {}
    for name, package_id, version in zip(packages["name"], packages["package_id"],
                                         packages["version"], strict=True):
        key = (package_id, version)
        by_name[name] = key if by_name.get(name, key) == key else None
    for lic in found:
        name = lic.PkgName or None
        pkg = by_name.get(name) if name else None
        info = classify_license(lic.Name)
        rows.append({
            "package_id": pkg[0] if pkg else None, "package_name": name,
            "package_version": pkg[1] if pkg else None, "license": lic.Name,
            "license_spdx": info.spdx, "license_class": info.license_class,
            "license_source": "scanner", "severity": normalize_severity(lic.Severity),
            "category": lic.Category or None, "file_path": lic.FilePath or None,
        })
