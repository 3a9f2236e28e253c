"""CycloneDX JSON BOMs, spec 1.2 to 1.7: components (nested too), licences, vulnerabilities.

Rows: one `packages` row per component that is a package (every component at any depth except
the document subject `metadata.component`, operating systems, containers, and Trivy's result
components, which hold packages rather than being one); one `package_licenses` row per distinct
licence entry of a package; one `vulnerabilities` row per vulnerability and affected component
(`affects[]` fan-out). An OS component gives the image's OS; a Trivy result component gives the
`target` of the packages under it, named as Trivy JSON names its results.

A `package_dependencies` row per `dependencies[]` edge (`ref` depends on each of `dependsOn`)
between two package rows; edges from the document's subject or from an OS, container or Trivy
result component hold packages rather than link two. `vulnerability_cwes` rows come from
`vulnerabilities[].cwes`, `vulnerability_aliases` rows from `vulnerabilities[].references[].id`
(the same vulnerability in another source, with that source's name).
"""

from __future__ import annotations

import re
from collections import deque
from functools import lru_cache

import msgspec

from auditlib.identity import is_digest
from auditlib.normalize.cvss import CvssScore, best_cvss, cvss_version
from auditlib.normalize.licenses import LicenseInfo, classify_license
from auditlib.normalize.pkg_versions import distro_version, distro_versions, join_evr
from auditlib.normalize.severity import normalize_severity, severity_from_score
from auditlib.parsers import _cyclonedx_model as m
from auditlib.parsers._edges import DEPENDS_ON, Edges
from auditlib.parsers._vuln_refs import VulnRefs
from auditlib.parsers.interface import Document, Parser
from auditlib.rows import Columns, Output, Row

_TRIVY = "aquasecurity:trivy:"
_CLASS = _TRIVY + "Class"
"""The property of a Trivy result component (it holds packages, it is none)."""
_CVSS_METHODS = {"cvssv2": "2.0", "cvssv3": "3.0", "cvssv31": "3.1", "cvssv4": "4.0"}
_TARGET_TYPES = {"container": "container_image", "file": "filesystem", "application": "repository",
                 "library": "repository", "framework": "repository"}
_HOLDERS = {"container", "operating-system"}
"""Component types that hold packages rather than being one."""
_WONT_FIX = {"will_not_fix", "can_not_fix"}
# Trivy writes the fixed version only inside its recommendation sentence.
_UPGRADE = re.compile(r"^Upgrade .+ to versions? (.+?)\.?$")

_SECTIONS = ("components", "metadata", "dependencies", "vulnerabilities")
"""Top-level sections of a BOM; with a `specVersion` one of them tells a BOM without `bomFormat`."""


class CycloneDxJsonParser(Parser):
    """CycloneDX JSON BOMs, spec 1.2 to 1.7: components (nested too), licences, vulnerabilities."""

    format_id = "cyclonedx-json"
    supported_versions = frozenset({"1.2", "1.3", "1.4", "1.5", "1.6", "1.7"})

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None or doc.peek("bomFormat", str) != "CycloneDX":
            return None
        return str(doc.peek("specVersion", str) or "unknown")

    shape = (
        "a 1.x `specVersion` beside `components`, `metadata`, `dependencies` or "
        "`vulnerabilities`, or `components` of objects with `type`, `name`, and `bom-ref` or "
        "`purl`, or `vulnerabilities` of objects with `id`, and `affects` or `ratings`"
    )

    def identify_shape(self, doc: Document) -> str | None:
        """Return the `specVersion` (else `unknown`) if `doc` is a BOM without `bomFormat`, as its
        `specVersion` or the shape of its components or vulnerabilities tell, else None. Never
        raises."""
        if doc.top is None:
            return None
        spec: str | None = doc.peek("specVersion", str)
        if spec and spec.startswith("1.") and any(doc.has(k) for k in _SECTIONS):
            return spec
        head = doc.peek_first("components")
        if (head is not None and {"type", "name"} <= head.keys()
                and ("bom-ref" in head or "purl" in head)):
            return "unknown"
        vuln = doc.peek_first("vulnerabilities")
        if vuln is not None and "id" in vuln and ("affects" in vuln or "ratings" in vuln):
            return "unknown"
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`: the scan and image, packages, licences and vulnerabilities.

        Raises:
            MalformedInputError: if `metadata`, `components`, `vulnerabilities` or `dependencies`
                is of the wrong type (a bad record inside them is a warning instead).
        """
        out.scan.vulnerability_scan = doc.has("vulnerabilities")  # written by a scanner that looked
        top = doc.top or {}
        meta: m.Metadata = doc.get("metadata", m.Metadata | None) or m.Metadata()
        _scan_info(doc, meta, out)
        index: dict[str, Row] = {}
        holders = self._components(top.get("components"), out, index)
        deps = out.decode_list(top.get("dependencies"), m.Dependency, "$.dependencies")
        _assign_targets(deps, holders, index)
        for row in out.rows.get("packages", ()):
            row["target"] = row["target"] or out.scan.target
        subject = meta.component.bom_ref if meta.component is not None else None
        _add_dependencies(deps, index, subject, out)
        self._vulnerabilities(top.get("vulnerabilities"), index, out)

    def _components(self, raw: msgspec.Raw | None, out: Output, index: dict[str, Row]
                    ) -> list[tuple[m.Component, str]]:
        """Add a row per package at every depth; return the holders (OS, container, result)."""
        holders: list[tuple[m.Component, str]] = []
        licence_cols: Columns = {c: [] for c in _LICENCE_COLUMNS}
        seen: set[str] = set()
        queue: deque[tuple[msgspec.Raw | None, str]] = deque([(raw, "$.components")])
        while queue:
            raw, locator = queue.popleft()
            for pos, c in m.positioned(out, raw, m.Component, locator):
                where = f"{locator}[{pos}]"
                if c.components is not m.NO_COMPONENTS:
                    queue.append((c.components, f"{where}.components"))
                licences = _licences(tuple(c.licenses)) if c.licenses else _NO_LICENCES
                row = _package_row(c, m.first_props(c.properties), where, licences[0])
                if c.bom_ref:
                    index.setdefault(c.bom_ref, row)
                if c.type in _HOLDERS or any(q.name == _CLASS and q.value is not None
                                             for q in c.properties or ()):
                    holders.append((c, _holder_target(c, out)))
                    continue
                if row["package_id"] in seen:
                    out.warn(where, f"bom-ref {row['package_id']!r} repeats; id made unique")
                    row["package_id"] = f"{row['package_id']}#{where[2:]}"
                seen.add(row["package_id"])
                out.add("packages", row)
                _license_rows(licences, row, licence_cols)
        out.add_columns("package_licenses", licence_cols)
        return holders

    def _vulnerabilities(self, raw: msgspec.Raw | None, index: dict[str, Row], out: Output) -> None:
        """Add a row per vulnerability and affected component."""
        links = 0
        refs = VulnRefs()
        for i, v in m.positioned(out, raw, m.Vulnerability, "$.vulnerabilities"):
            base = _vuln_row(v)
            _add_refs(v, refs)
            for j, a in enumerate(v.affects or [None]):  # no affects: the BOM's subject is affected
                pkg: Row = {}
                if a is not None:
                    pkg, link = _resolve(a, index)
                    links += link is True
                    if link is None:
                        out.warn(f"$.vulnerabilities[{i}].affects[{j}].ref",
                                 f"{a.ref!r} names no component of this BOM; package read from it")
                fix = _fix(v, a)
                fix["fixed_version"] = distro_versions(fix["fixed_version"],
                                                       pkg.get("package_type"))
                row = {**base, **fix, "pkg_name": pkg.get("name"),
                       "pkg_version": pkg.get("version"), "pkg_path": pkg.get("path"),
                       "package_type": pkg.get("package_type"), "purl": pkg.get("purl"),
                       "layer_diff_id": pkg.get("layer_diff_id"),
                       "target": pkg.get("target") or out.scan.target}
                out.add("vulnerabilities", row)
        if links:
            out.warn("$.vulnerabilities", f"{links} affects refs are BOM-Links into another BOM; "
                     "packages read from the purl in each link")
        refs.write(out, "$.vulnerabilities")


def _scan_info(doc: Document, meta: m.Metadata, out: Output) -> None:
    """Fill `out.scan` (and its image, for a container) from `metadata`."""
    scan = out.scan
    tool = m.pick_tool(meta.tools)
    if tool is not None:
        scan.tool = tool.name
        # Syft and Grype write a placeholder when built without a version.
        scan.tool_version = tool.version if tool.version != "[not provided]" else None
    scan.generated_at = meta.timestamp
    subject = meta.component
    if subject is None:
        scan.target, scan.target_type = doc.peek("serialNumber", str), "sbom"
        return
    name = m.package_name(subject.group, subject.name, m.purl_of(subject.purl))
    version = subject.version
    if version and not name.endswith(f":{version}"):
        name += f"@{version}" if is_digest(version) else f":{version}"
    scan.target = name
    scan.target_type = _TARGET_TYPES.get(subject.type or "", "sbom")
    if subject.type == "container":
        scan.image = m.image_of(subject)


_Licences = tuple[LicenseInfo, tuple[str, ...], tuple[str, ...], tuple[str | None, ...],
                  tuple[str, ...]]
"""A component's licences: the classified AND, then each distinct text's columns (text, source,
SPDX expression, class)."""

_LICENCE_COLUMNS = ("package_id", "package_name", "package_version", "license", "license_source",
                    "license_spdx", "license_class", "severity")


@lru_cache(maxsize=65536)
def _licences(entries: tuple[m.LicenseChoice, ...]) -> _Licences:
    """Return a component's licences classified: the AND of its declared ones (else of its
    concluded ones), and each distinct text with its source (`declared`, `concluded`), SPDX
    expression and class, as columns.

    Cached by the (frozen, hashable) entries: an SBOM fleet repeats a few hundred licence lists
    over all its packages.
    """
    declared, concluded = m.license_texts(entries)
    expression = " AND ".join(f"({t})" if " " in t else t for t in declared or concluded)
    info = classify_license(expression or None)  # no licence at all: class `unknown`
    each = [(text, source, classify_license(text))
            for texts, source in ((declared, "declared"), (concluded, "concluded"))
            for text in texts]
    return (info, tuple(t for t, _, _ in each), tuple(s for _, s, _ in each),
            tuple(i.spdx for _, _, i in each), tuple(i.license_class for _, _, i in each))


_NO_LICENCES = _licences(())


def _package_row(c: m.Component, firsts: dict[str, str], where: str, info: LicenseInfo) -> Row:
    """Return the `packages` row of component `c` (with `firsts` its properties' first values,
    `m.first_props`, and `info` its licences classified) found at `where`."""
    purl = m.purl_of(c.purl)
    name = m.package_name(c.group, c.name, purl)
    # Not every tool writes a bom-ref (required only from 1.4 on, and only when referenced).
    package_id = c.bom_ref or f"{c.purl or name + '@' + (c.version or '')}#{where[2:]}"
    prop = firsts.get
    ptype = purl.type if purl else prop("syft:package:type") or c.type
    return {
        "package_id": package_id, "name": name,
        # Trivy 0.48 wrote a deb's version without its epoch, kept in the purl (`epoch=1`).
        "version": distro_version(c.version, ptype, c.purl),
        "package_type": ptype,
        "purl": c.purl,
        "path": prop(_TRIVY + "FilePath") or prop("syft:location:0:path") or prop("SrcFile"),
        # Syft's layerID is the layer's diff id, as Trivy's LayerDiffID is.
        "layer_diff_id": prop(_TRIVY + "LayerDiffID") or prop("syft:location:0:layerID"),
        "source_name": prop(_TRIVY + "SrcName"),
        "source_version": join_evr(prop(_TRIVY + "SrcVersion"), prop(_TRIVY + "SrcRelease"),
                                   prop(_TRIVY + "SrcEpoch")),
        "license_expression": info.spdx, "license_class": info.license_class,
        "found_by": prop(_TRIVY + "PkgType") or prop("syft:package:foundBy"),
        "target": None,
    }


def _license_rows(licences: _Licences, pkg: Row, cols: Columns) -> None:
    """Add to `cols` (`_LICENCE_COLUMNS`) a `package_licenses` row per distinct licence text of
    package `pkg`."""
    k = len(licences[1])
    if not k:
        return
    for name, key in (("package_id", "package_id"), ("package_name", "name"),
                      ("package_version", "version")):
        cols[name].extend([pkg[key]] * k)
    for name, values in zip(("license", "license_source", "license_spdx", "license_class"),
                            licences[1:], strict=True):
        cols[name].extend(values)
    cols["severity"].extend(["unknown"] * k)


def _holder_target(c: m.Component, out: Output) -> str:
    """Return the target Trivy JSON gives a result: `image (debian 12.15)` or the lock file path.

    An OS component also fills the image's OS family and version.
    """
    if c.type != "operating-system":
        return c.name
    image = out.scan.image
    if image is not None and image.os_family is None:
        image.os_family, image.os_version = c.name.lower(), c.version
    os_name = f"{c.name} {c.version}" if c.version else c.name
    return f"{out.scan.target} ({os_name})" if out.scan.target else os_name


def _assign_targets(deps: list[m.Dependency], holders: list[tuple[m.Component, str]],
                    index: dict[str, Row]) -> None:
    """Give each package reachable from a Trivy result component (by `dependencies`) its target."""
    results = [(c.bom_ref, t) for c, t in holders if c.bom_ref and c.type != "container"]
    if not results:
        return
    graph = {d.ref: d.depends_on or [] for d in deps}
    stop = {ref for ref, _ in results}
    for ref, target in results:
        queue, seen = deque(graph.get(ref, ())), set(stop)
        while queue:
            node = queue.popleft()
            if node in seen:
                continue
            seen.add(node)
            row = index.get(node)
            if row is not None and row["target"] is None:
                row["target"] = target
            queue.extend(graph.get(node, ()))


def _add_dependencies(deps: list[m.Dependency], index: dict[str, Row], subject: str | None,
                      out: Output) -> None:
    """Add a `package_dependencies` row per `dependsOn` edge between two package rows.

    An edge from or to the subject or a holder (an OS, container or Trivy result component: in
    `index` but no package row) is structure, left out quietly; one naming a bom-ref the document
    does not have is counted in a warning.
    """
    packages = {r["package_id"] for r in out.rows.get("packages", ())}
    edges = Edges(packages)
    known = index.keys() | ({subject} if subject else set())
    for d in deps:
        from_row = index.get(d.ref)
        for ref in d.depends_on or ():
            to_row = index.get(ref)
            edges.add(from_row["package_id"] if from_row else d.ref,
                      to_row["package_id"] if to_row else ref, DEPENDS_ON, "dependsOn",
                      expected=d.ref not in known or ref not in known)
    edges.write(out, "$.dependencies")


def _add_refs(v: m.Vulnerability, refs: VulnRefs) -> None:
    """Record the CWEs and aliases (`references[].id`) of vulnerability `v`."""
    for cwe in v.cwes or ():
        refs.cwe(v.id, cwe)
    for r in v.references or ():
        if r.id:
            refs.alias(v.id, r.id, r.source.name if r.source else None)


def _resolve(a: m.Affect, index: dict[str, Row]) -> tuple[Row, bool | None]:
    """Return the affected package and whether the ref was a BOM-Link (None: an unknown ref)."""
    ref = a.ref
    link = ref.startswith("urn:cdx:") and "#" in ref
    if link:
        ref = ref.split("#", 1)[1]
    if ref in index:
        return index[ref], False
    purl = m.purl_of(ref)
    affected = [x.version for x in a.versions or () if x.version and x.status != "unaffected"]
    version = affected[0] if affected else purl.version if purl else None
    return {"name": m.purl_name(purl) if purl else ref,
            "version": distro_version(version, purl.type if purl else None, ref),
            "package_type": purl.type if purl else None,
            "purl": ref if purl else None}, (True if link else None)


def _vuln_row(v: m.Vulnerability) -> Row:
    """Return the columns of `v` that every affected component shares (no package, no fix)."""
    ratings = v.ratings or []
    source = v.source.name if v.source and v.source.name else None
    scored: dict[CvssScore, m.Rating] = {}
    epss, kev = None, None
    for r in ratings:
        by = r.source.name if r.source and r.source.name else None
        declared = _CVSS_METHODS.get((r.method or "").lower())
        # The vector's own prefix wins over the method (some tools call a 3.1 vector CVSSv3).
        named = (r.vector or "").startswith("CVSS:")
        version = cvss_version(r.vector, declared) if declared or named else None
        if version is not None:
            vector = r.vector
            if vector and version != "2.0" and not vector.startswith("CVSS:"):
                vector = f"CVSS:{version}/{vector}"  # jake writes bare v3 vectors
            scored.setdefault(CvssScore(r.score, vector, version, by), r)
        elif by == "FIRST" or (r.source and "epss" in (r.source.url or "")):
            epss = r.score  # Grype writes EPSS as a rating of method `other`
        elif by and "KEV" in by:
            kev = True
    severity, severity_source = _severity(ratings, source)
    best = best_cvss(list(scored), prefer_source=severity_source or source)
    if severity == "unknown" and best is not None:
        severity = normalize_severity(scored[best].severity)
        severity_source = best.source
        if severity == "unknown":
            severity = severity_from_score(best.score)
    urls = [a.url for a in v.advisories or () if a.url]
    source_url = v.source.url if v.source else None
    # Trivy's source.url is its feed (ubuntu-cve-tracker), not this advisory: take it only when
    # it names the vulnerability, as Grype's and OSS Index's do.
    primary = source_url if source_url and v.id.lower() in source_url.lower() else (
        urls[0] if urls else source_url)
    return {
        "vuln_id": v.id, "severity": severity, "severity_source": severity_source,
        "status": v.analysis.state if v.analysis else None,
        "published_at": v.published, "modified_at": v.updated,
        "cvss_score": best and best.score, "cvss_vector": best and best.vector,
        "cvss_version": best and best.version, "cvss_source": best and best.source,
        "epss_score": epss, "is_known_exploited": kev,
        "title": next((a.title for a in v.advisories or () if a.title), None),
        "description": v.description or v.detail, "primary_url": primary, "data_source": source,
    }


def _severity(ratings: list[m.Rating], source: str | None) -> tuple[str, str | None]:
    """Return the document's verdict: the data source's own rating, else the first plain verdict.

    Trivy rates by every vendor and names the data source in `source`; Grype writes its verdict as
    a rating with no method. Unknown here means: fall back to the best CVSS rating.
    """
    rated = [(s, r) for r in ratings
             if (s := normalize_severity(r.severity)) != "unknown" and (r.method or "") != "other"]

    def by(r: m.Rating) -> str | None:
        return r.source.name if r.source else None

    def rank(sr: tuple[str, m.Rating]) -> tuple[bool, float]:
        # Among the source's own ratings: its plain verdict, else its newest CVSS version.
        method = sr[1].method
        return method is not None, -float(_CVSS_METHODS.get((method or "").lower(), "0"))

    own = sorted(((s, r) for s, r in rated if source is not None and by(r) == source), key=rank)
    for s, r in own or [(s, r) for s, r in rated if not r.method]:
        return s, by(r)
    return "unknown", None


def _fix(v: m.Vulnerability, a: m.Affect | None) -> Row:
    """Return fixed_version and fix_state for one affected component."""
    versions = a.versions or [] if a else []
    fixed = [f for x in versions if x.status == "unaffected" and (f := x.version or x.range)]
    if not fixed:
        grype = m.first_prop(m.props(v.properties), "grype:fixed_versions")
        match = _UPGRADE.match(v.recommendation.strip()) if v.recommendation else None
        fixed = [grype] if grype else [match.group(1)] if match else []
    responses = set(v.analysis.response or ()) if v.analysis else set()
    state = ("wont-fix" if responses & _WONT_FIX else
             "fixed" if fixed or "update" in responses else "unknown")
    return {"fixed_version": ", ".join(fixed) or None, "fix_state": state}
