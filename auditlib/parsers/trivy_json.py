"""Trivy JSON reports: SchemaVersion 2 and the older list form (before 0.20).

Row meanings (one document is one `trivy image|fs|repo|config` run):

* `packages`: one row per entry of `Results[].Packages` (written with `--list-all-pkgs`);
  `package_id` is `Identifier.UID`, else `ID`, else name@version; `found_by` is the result `Class`;
  `version` (and `source_version`) joins Trivy's `Version`, `Release` and `Epoch` as dpkg and rpm
  write them (`auditlib.normalize.pkg_versions`), as vulnerabilities' `InstalledVersion` already is.
* `package_licenses`: one `declared` row per distinct licence in a package's `Licenses`, and one
  `scanner` row per entry of a `license` / `license-file` result (the licence scanner's finding,
  with its severity and category).
* `package_dependencies`: one `depends-on` row per entry of a package's `DependsOn` (package ids
  of the same result, written by `--list-all-pkgs` and in SBOM mode).
* `vulnerabilities`: one row per entry of `Results[].Vulnerabilities`, `target` = result `Target`.
* `vulnerability_cwes` / `vulnerability_aliases`: a vulnerability's `CweIDs` and `VendorIDs`, once
  per vulnerability id and document.
* `misconfigurations`: one row per entry of `Results[].Misconfigurations`, `file_path` = `Target`.
* `secrets`: one row per entry of `Results[].Secrets`; `Match` and `Code` (the secret text) are
  never decoded, so they cannot reach a table.

`Class: custom` results (`CustomResources`, from custom analyzers) have no table and are skipped.
`trivy k8s` reports are refused: their resources are workloads, not images auditlib can identify.
"""

from __future__ import annotations

from typing import Any

import msgspec

from auditlib.errors import MalformedInputError, UnsupportedFormatError
from auditlib.normalize.severity import normalize_severity
from auditlib.parsers import _trivy_model as m
from auditlib.parsers import _trivy_refs as refs_of
from auditlib.parsers import _trivy_rows as build
from auditlib.parsers._vuln_refs import VulnRefs
from auditlib.parsers.interface import Document, Parser
from auditlib.rows import ImageInfo, Output, Row, decode

# Go's zero `time.Time`, which Trivy writes for an unset `created` (e.g. `Metadata.ImageConfig` of a
# filesystem scan). It is not a time anyone meant, and pandas cannot hold year 1 in ns precision.
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"

# `ArtifactType` values (pkg/fanal/types/artifact.go) mapped to `target_type`; a scan of an SBOM
# file (`trivy sbom`) is `sbom`; `vm` and `aws_account` scans become `unknown`.
_TARGET_TYPES = {"container_image": "container_image", "filesystem": "filesystem",
                 "repository": "repository", "cyclonedx": "sbom", "spdx": "sbom"}

_LICENSE_CLASSES = ("license", "license-file")

_RESULTS = msgspec.json.Decoder(list[m.Result] | None)

_RESULT_KEYS = frozenset(
    {"Class", "Type", "Vulnerabilities", "Misconfigurations", "Secrets", "Licenses", "Packages"}
)
"""Keys of a Trivy result besides `Target`; one of them tells a result by its shape."""


class TrivyJsonParser(Parser):
    """Trivy JSON reports: SchemaVersion 2 and the older list form (before 0.20)."""

    format_id = "trivy-json"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is not None:
            if doc.has("ClusterName") and (doc.has("Resources") or doc.has("Vulnerabilities")
                                           or doc.has("Misconfigurations")):
                return "k8s"  # trivy k8s report; refused in parse
            schema = doc.peek("SchemaVersion", int)
            if schema is not None and (doc.has("Results") or doc.has("ArtifactName")
                                       or doc.has("ArtifactType")):
                return str(schema)
            return None
        if doc.items:
            head: Any = doc.peek_item(0)
            if isinstance(head, dict) and "Target" in head and ("Vulnerabilities" in head
                                                                or "Type" in head):
                return "1"
        return None

    shape = "`Results` of objects with `Target` and `Class`, `Type` or a list of findings"

    def identify_shape(self, doc: Document) -> str | None:
        """Return `2` if `doc` keeps Trivy's `Results` without `SchemaVersion` (only SchemaVersion
        2 has `Results`; before it the report was the bare list), else None. Never raises."""
        head = doc.peek_first("Results")
        if head is not None and "Target" in head and not _RESULT_KEYS.isdisjoint(head):
            return "2"
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`: the scan and image facts, and rows of every finding table.

        Args:
            doc: the document, top level decoded.
            version: `"2"` (SchemaVersion 2), `"1"` (the top-level list of results written before
                Trivy 0.20) or `"k8s"` (a `trivy k8s` report).
            out: where rows, scan facts and warnings go.

        Raises:
            UnsupportedFormatError: for a `trivy k8s` report, or a SchemaVersion other than 2.
            MalformedInputError: if the header, `Metadata` or a result's `Target`/`Class`/`Type` is
                of the wrong type, or `Results` (or a section of a result) is not a list. A bad
                record inside a section is skipped with a warning instead.
        """
        out.scan.tool = "trivy"
        if version == "k8s":
            raise UnsupportedFormatError(
                f"{doc.source}: trivy kubernetes (trivy k8s) reports are not supported; "
                "scan the images with `trivy image` instead"
            )
        raw: msgspec.Raw | bytes | None
        if version == "1":
            # Before v0.20 the report was the bare list of results: no metadata at all.
            locator, raw = "$", doc.data
        elif version == "2" and doc.top is not None:
            _read_header(doc, out)
            locator, raw = "$.Results", doc.top.get("Results")
        else:
            raise UnsupportedFormatError(
                f"{doc.source}: trivy-json SchemaVersion {version} is not supported "
                "(supported: 2, and the list form written before Trivy 0.20)"
            )
        results = _results(raw, locator, out)
        out.scan.vulnerability_scan = True if version == "1" else _vulnerability_scan(results)
        _read_results(results, locator, out)


def _vulnerability_scan(results: list[m.Result]) -> bool | None:
    """Return whether Trivy's vulnerability scanner ran, as far as its results tell.

    Trivy writes a result of class `os-pkgs` or `lang-pkgs` when its vulnerability scanner runs
    (with the findings, if any) or when `--list-all-pkgs` asks for the packages (a licence scan
    does: `--scanners license --list-all-pkgs` gives `os-pkgs` results with packages and no
    vulnerabilities, as the corpus's Debian bookworm licence scan shows). So: findings, or a
    package result without packages, say it ran; package results that only list packages cannot
    tell (None); results of only other classes (config, secret, license) say it did not; no
    result at all (every target skipped) cannot tell.
    """
    if any(r.Vulnerabilities for r in results):
        return True
    pkg_results = [r for r in results if r.Class in ("os-pkgs", "lang-pkgs")]
    if any(not r.Packages for r in pkg_results):
        return True
    if pkg_results or not results:
        return None
    return False


def _read_header(doc: Document, out: Output) -> None:
    """Fill `out.scan` (and `out.scan.image` for an image scan) from the SchemaVersion 2 header.

    Raises:
        MalformedInputError: if a header key or `Metadata` has the wrong type.
    """
    scan = out.scan
    trivy: m.TrivyInfo | None = doc.get("Trivy", m.TrivyInfo | None)
    scan.tool_version = (trivy.Version or None) if trivy else None
    scan.generated_at = _time(doc.get("CreatedAt", str | None))
    name: str | None = doc.get("ArtifactName", str | None)
    kind: str | None = doc.get("ArtifactType", str | None)
    scan.target = name or None
    scan.target_type = _TARGET_TYPES.get(kind or "", "unknown")
    if kind != "container_image":
        # Filesystem and repository scans carry an all-zero `Metadata.ImageConfig`; it is no image.
        return
    md: m.Metadata = doc.get("Metadata", m.Metadata | None) or m.Metadata()
    img = ImageInfo(
        image_id=md.ImageID or None,
        # `Reference` appeared in v0.5x; before it, `ArtifactName` is what the user asked to scan.
        reference=md.Reference or name or None,
        # Trivy writes `[""]` for an image loaded from an archive without a tag (corpus: DefectDojo
        # all_statuses.json), so empty entries are dropped.
        repo_digests=[d for d in md.RepoDigests or () if d],
        tags=[t for t in md.RepoTags or () if t],
        size_bytes=md.Size,
    )
    # Family "none" is what Trivy writes when no OS was detected (corpus: the alpine-39-skip
    # golden, whose OS files were skipped with --skip-files): no distribution, no EOL verdict.
    if md.OS is not None and md.OS.Family and md.OS.Family != "none":
        img.os_family = md.OS.Family
        img.os_version = md.OS.Name or None
        # `EOSL` is `omitempty` (pkg/fanal/types/artifact.go): absent on a detected OS means false.
        img.is_os_eol = bool(md.OS.EOSL)
    cfg = md.ImageConfig
    if cfg is not None:
        img.created_at = _time(cfg.created)
        img.os = cfg.os or None
        img.architecture = cfg.architecture or None
        # An unset `User` means the image runs as root: kept as "" (the column's convention).
        img.user = (cfg.config.User or "") if cfg.config else ""
        img.labels = dict(cfg.config.Labels or {}) if cfg.config else {}
        if cfg.rootfs is not None and cfg.rootfs.diff_ids is not None:
            img.layer_count = len(cfg.rootfs.diff_ids)
    if img.layer_count is None and md.DiffIDs is not None:
        img.layer_count = len(md.DiffIDs)
    scan.image = img


def _time(value: str | None) -> str | None:
    """Return an ISO time as written, or None when it is empty or Go's zero time."""
    return None if not value or value == _GO_ZERO_TIME else value


def _results(raw: msgspec.Raw | bytes | None, locator: str, out: Output) -> list[m.Result]:
    """Decode the results array, skipping (with a warning) only the bad records inside it.

    The whole array is decoded in one typed pass; only if that fails is it decoded again with each
    section left raw, so that each section can be decoded record by record (`Output.decode_list`).

    Args:
        raw: the undecoded array (`Results`, or the whole pre-0.20 document); None when absent
            (Trivy omits it when every target was skipped: `Results json:",omitempty"`,
            pkg/types/report.go).
        locator: JSON path of the array.
        out: for warnings and the source name.

    Returns:
        The results, each with its good records.

    Raises:
        MalformedInputError: if the array, a result's header or a section is not of the right type.
    """
    if raw is None:
        return []
    try:
        try:
            return _RESULTS.decode(raw) or []
        except msgspec.ValidationError:
            pass
        heads: list[m.ResultSections] = (
            decode(raw, list[m.ResultSections] | None, locator, out.source) or [])
        results: list[m.Result] = []
        for i, h in enumerate(heads):
            at = f"{locator}[{i}]"
            results.append(m.Result(
                Target=h.Target, Class=h.Class, Type=h.Type,
                Packages=out.decode_list(h.Packages or None, m.Package, f"{at}.Packages"),
                Vulnerabilities=out.decode_list(h.Vulnerabilities or None, m.Vulnerability,
                                                f"{at}.Vulnerabilities"),
                Misconfigurations=out.decode_list(h.Misconfigurations or None, m.Misconfiguration,
                                                  f"{at}.Misconfigurations"),
                Secrets=out.decode_list(h.Secrets or None, m.Secret, f"{at}.Secrets"),
                Licenses=out.decode_list(h.Licenses or None, m.License, f"{at}.Licenses"),
            ))
        return results
    except msgspec.DecodeError as e:
        # The top-level read only skips over the values, so a string that is not UTF-8 is first
        # seen here: the file is not valid JSON, as `decode_document` would have said.
        raise MalformedInputError(f"{out.source}: invalid JSON at {locator}: {e}") from e


def _read_results(results: list[m.Result], locator: str, out: Output) -> None:
    """Turn decoded results into rows of packages, package_licenses, package_dependencies,
    vulnerabilities (with their CWEs and aliases), ... in `out`.

    Args:
        results: the decoded results.
        locator: JSON path of the results array, for warnings.
        out: where rows and warnings go.
    """
    packages = build.columns(build.PACKAGE_COLUMNS)
    licenses = build.columns(build.LICENCE_COLUMNS)
    scanner_licenses: list[Row] = []
    vulns: list[Row] = []
    misconfigs: list[Row] = []
    secrets: list[Row] = []
    found: list[m.License] = []
    linked: list[tuple[list[m.Package], list[str]]] = []
    refs = VulnRefs()
    for ri, r in enumerate(results):
        target = r.Target or None
        if r.Packages:
            start = len(packages["package_id"])
            build.package_rows(r.Packages, target, r.Class, r.Type, packages, licenses)
            linked.append((r.Packages, packages["package_id"][start:]))
        if r.Vulnerabilities:
            build.vulnerability_rows(r.Vulnerabilities, target, r.Type, vulns, out,
                                f"{locator}[{ri}].Vulnerabilities")
            refs_of.vuln_refs(r.Vulnerabilities, refs)
        if r.Misconfigurations:
            build.misconfiguration_rows(r.Misconfigurations, target, misconfigs)
        if r.Secrets:
            secrets.extend(
                {"target": target, "rule_id": s.RuleID, "category": s.Category or None,
                 "title": s.Title or None, "severity": normalize_severity(s.Severity),
                 "file_path": target, "start_line": s.StartLine, "end_line": s.EndLine,
                 "layer_diff_id": (s.Layer.DiffID or None) if s.Layer else None}
                for s in r.Secrets
            )
        if r.Licenses and r.Class in _LICENSE_CLASSES:
            found.extend(r.Licenses)
    if found:
        build.scanner_license_rows(found, packages, scanner_licenses)
    out.add_columns("packages", packages)
    out.add_columns("package_licenses", licenses)
    # After the declared licences, given as columns (the loader adds a table's rows first).
    if scanner_licenses:
        out.add_columns("package_licenses", _as_columns(scanner_licenses))
    for table, rows in (("vulnerabilities", vulns), ("misconfigurations", misconfigs),
                        ("secrets", secrets)):
        if rows:
            out.extend(table, rows)
    refs_of.dependency_rows(linked, out, locator)
    refs.write(out, locator)


def _as_columns(rows: list[Row]) -> dict[str, list[object]]:
    """Return rows that all have the same keys as columns."""
    return {k: [r[k] for r in rows] for k in rows[0]}
