"""Harbor vulnerability reports (the registry's Trivy-backed scan, as its API returns it).

Harbor's API (`.../artifacts/{ref}/additions/vulnerabilities`) returns the report under its MIME
type, `{"application/vnd.security.vulnerability.report; version=1.1": {report}}`; a scanner adapter
returns the report alone. The report is `HarborVulnerabilityReport` of
goharbor/pluggable-scanner-spec: `{generated_at, artifact?{repository, digest, tag, mime_type},
scanner{name, vendor, version}, severity, vulnerabilities[]}`. Each vulnerability has `id, package,
version, fix_version, severity, description, links, preferred_cvss, cwe_ids, vendor_attributes`
and, from the Trivy adapter, `layer`.

The Trivy adapter's `preferred_cvss` is taken from whichever vendor Go's map iteration meets first,
so it names no source; `vendor_attributes.CVSS` (Trivy's per-vendor CVSS map) does, and wins.
"""

from __future__ import annotations

import json

import msgspec

from auditlib.errors import MalformedInputError
from auditlib.normalize.cvss import CvssScore, best_cvss, cvss_version
from auditlib.normalize.severity import normalize_severity
from auditlib.parsers._vuln_refs import VulnRefs
from auditlib.parsers.interface import Document, Parser
from auditlib.rows import ImageInfo, Output, Row, decode

REPORT_MIME_PREFIX = "application/vnd.security.vulnerability.report"
"""The key Harbor's API puts the vulnerability report under (followed by `; version=...`)."""

UNNAMED_TARGET = "harbor artifact"
"""`scans.target` of a report that does not say which artifact it describes."""

# msgspec cannot decode `Raw | None`; an absent key keeps this very object, so absence can be told.
_ABSENT = msgspec.Raw(b"null")


class _Scanner(msgspec.Struct):
    name: str | None = None
    version: str | None = None


class _Artifact(msgspec.Struct):
    repository: str | None = None
    digest: str | None = None
    tag: str | None = None


class _Report(msgspec.Struct):
    """The report; vulnerabilities stay undecoded so a bad record costs a warning, not the file."""

    generated_at: str | None = None
    artifact: _Artifact | None = None
    scanner: _Scanner | None = None
    vulnerabilities: msgspec.Raw = _ABSENT


class _Layer(msgspec.Struct):
    diff_id: str | None = None


class _PreferredCvss(msgspec.Struct):
    score_v3: float | None = None
    score_v2: float | None = None
    vector_v3: str | None = None
    vector_v2: str | None = None


class _Vulnerability(msgspec.Struct):
    id: str
    package: str
    version: str | None = None
    fix_version: str | None = None
    severity: str | None = None
    description: str | None = None
    links: list[str] | None = None
    layer: _Layer | None = None
    preferred_cvss: _PreferredCvss | None = None
    cwe_ids: list[str] | None = None
    # Vendor-defined: decoded on its own, so an unexpected shape loses the CVSS, not the record.
    vendor_attributes: msgspec.Raw = _ABSENT


class _VendorCvss(msgspec.Struct, rename={
    "v2_score": "V2Score", "v2_vector": "V2Vector",
    "v3_score": "V3Score", "v3_vector": "V3Vector",
    "v40_score": "V40Score", "v40_vector": "V40Vector",
}):
    """One vendor's entry of Trivy's `CVSS` map, as the Trivy adapter copies it."""

    v2_score: float | None = None
    v2_vector: str | None = None
    v3_score: float | None = None
    v3_vector: str | None = None
    v40_score: float | None = None
    v40_vector: str | None = None


class _VendorAttributes(msgspec.Struct, rename={"cvss": "CVSS"}):
    cvss: dict[str, _VendorCvss] | None = None


def _score(score: float | None, vector: str | None, declared: str, source: str | None) -> CvssScore:
    vector = vector or None
    return CvssScore(score, vector, cvss_version(vector, declared), source)


def cvss_scores(item: _Vulnerability, attrs: _VendorAttributes | None) -> list[CvssScore]:
    """Return every CVSS score a Harbor vulnerability carries.

    Args:
        item: the vulnerability, for `preferred_cvss` (scored by an unnamed source).
        attrs: its decoded `vendor_attributes`, for `CVSS` by vendor (`nvd`, `redhat`, `ghsa`, ...).

    Returns:
        The scores, in no order; `best_cvss` picks one. Entries with neither a vector nor a non-zero
        score are left out.
    """
    scores: list[CvssScore] = []
    for source, c in ((attrs.cvss if attrs else None) or {}).items():
        scores.append(_score(c.v40_score, c.v40_vector, "4.0", source))
        scores.append(_score(c.v3_score, c.v3_vector, "3", source))
        scores.append(_score(c.v2_score, c.v2_vector, "2", source))
    p = item.preferred_cvss
    if p is not None:
        scores.append(_score(p.score_v3, p.vector_v3, "3", None))
        scores.append(_score(p.score_v2, p.vector_v2, "2", None))
    # Harbor's own report model writes absent scores as 0 and "": a real 0.0 score has a vector.
    return [s for s in scores if s.score or s.vector]


def _report_location(doc: Document) -> tuple[msgspec.Raw | bytes, str]:
    """Return the report's bytes and its JSON path: under the MIME key, or the whole document."""
    for key, raw in (doc.top or {}).items():
        if key.startswith(REPORT_MIME_PREFIX):
            return raw, f"$[{json.dumps(key)}]"
    return doc.data, "$"


def _target(art: _Artifact | None) -> str:
    """Return `repository:tag` (or the repository) of the artifact, else `UNNAMED_TARGET`."""
    if art is None or not art.repository:
        return UNNAMED_TARGET
    return f"{art.repository}:{art.tag}" if art.tag else art.repository


def _image(art: _Artifact | None) -> ImageInfo | None:
    """Return the image the report's `artifact` names: its reference and manifest digest.

    Harbor names the repository inside the registry (`library/mongo`), never the registry host,
    so the loader normalises the reference as if it were on docker.io. A digest is given only with
    its repository: the loader reads a bare digest in `repo_digests` as a repository named `sha256`.
    For that reason reports from Harbor's API, which have no `artifact` (each item carries
    `artifact_digest(s)` instead), get no image.
    """
    if art is None or not art.repository:
        return None
    return ImageInfo(
        reference=f"{art.repository}:{art.tag}" if art.tag else None,
        repo_digests=[f"{art.repository}@{art.digest}"] if art.digest else [],
    )


class HarborJsonParser(Parser):
    """Harbor vulnerability reports (the registry's Trivy-backed scan, as its API returns it)."""

    format_id = "harbor-json"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None:
            return None
        for key in doc.top:
            if key.startswith("application/vnd.security.vulnerability.report"):
                return key.split("version=", 1)[1].strip() if "version=" in key else "unknown"
        if doc.has("vulnerabilities") and doc.has("scanner") and doc.has("generated_at"):
            return "unknown"
        return None

    shape = "`vulnerabilities` of objects with `id`, `package`, `version` and `severity`"

    def identify_shape(self, doc: Document) -> str | None:
        """Return `unknown` if `doc` keeps a Harbor report's `vulnerabilities` without `scanner`
        and `generated_at`, else None. Never raises."""
        head = doc.peek_first("vulnerabilities")
        if head is not None and {"id", "package", "version", "severity"} <= head.keys():
            return "unknown"
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read a Harbor vulnerability report into `out`: one `vulnerabilities` row per item.

        Each row has the vulnerability id, package name and version, `fixed_version` and
        `fix_state` (`fixed` when a fix version is given, else `unknown`: Harbor has no word for
        "no fix"), severity, description, the first link as `primary_url`, the best CVSS score of
        `vendor_attributes.CVSS` and `preferred_cvss`, and the layer diff id when given. Its
        `target` is the scan's. `out.scan` has tool `harbor`, the scanner's name and version as
        `tool_version`, `generated_at`, the artifact as target (`repository:tag`, else
        "harbor artifact"), and the image reference and manifest digest (see `_image`). Each
        vulnerability's `cwe_ids` give `vulnerability_cwes` rows.

        Raises:
            MalformedInputError: if the report is not an object, has none of `scanner`,
                `generated_at` and `vulnerabilities`, or has `artifact`, `scanner` or
                `vulnerabilities` of the wrong type.
        """
        out.scan.vulnerability_scan = True  # a Harbor vulnerability report
        raw, where = _report_location(doc)
        report: _Report = decode(raw, _Report, where, doc.source)
        if report.vulnerabilities is _ABSENT and report.scanner is None and not report.generated_at:
            # The MIME key around something else, such as `{}` for an artifact not scanned yet.
            raise MalformedInputError(
                f"{doc.source}: no vulnerability report at `{where}` "
                "(none of generated_at, scanner, vulnerabilities)"
            )
        scan = out.scan
        scan.tool = "harbor"
        scan.target_type = "container_image"
        scan.generated_at = report.generated_at or None
        if report.scanner is not None:
            parts = [p for p in (report.scanner.name, report.scanner.version) if p]
            scan.tool_version = " ".join(parts) or None
        vulns_at = f"{where}.vulnerabilities"
        warned = len(out.warnings)
        items = out.decode_list(report.vulnerabilities, _Vulnerability, vulns_at)
        # Once a record was skipped, list positions no longer match the file's; name items by id.
        exact = len(out.warnings) == warned
        target = _target(report.artifact)
        rows: list[Row] = []
        for i, v in enumerate(items):
            attrs: _VendorAttributes | None = None
            try:
                attrs = msgspec.json.decode(v.vendor_attributes, type=_VendorAttributes | None)
            except msgspec.ValidationError as e:
                at = f"{vulns_at}[{i}]" if exact else f"{vulns_at}[?(@.id=={json.dumps(v.id)})]"
                at += ".vendor_attributes"
                out.warn(at, f"CVSS ignored: {str(e).replace('`$', f'`{at}', 1)}")
            best = best_cvss(cvss_scores(v, attrs))
            fixed = v.fix_version or None
            rows.append({
                "target": target,
                "vuln_id": v.id,
                "pkg_name": v.package,
                "pkg_version": v.version or None,
                "severity": normalize_severity(v.severity),
                "fix_state": "fixed" if fixed else "unknown",
                "fixed_version": fixed,
                "cvss_score": best.score if best else None,
                "cvss_vector": best.vector if best else None,
                "cvss_version": best.version if best else None,
                "cvss_source": best.source if best else None,
                "description": v.description or None,
                "primary_url": v.links[0] if v.links else None,
                "layer_diff_id": (v.layer.diff_id or None) if v.layer else None,
            })
        out.extend("vulnerabilities", rows)
        refs = VulnRefs()
        for v in items:
            for cwe in v.cwe_ids or ():
                refs.cwe(v.id, cwe)
        refs.write(out, vulns_at)
        scan.image = _image(report.artifact)
        scan.target = target
