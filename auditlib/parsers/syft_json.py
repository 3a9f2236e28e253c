"""Syft JSON SBOMs, schema 1.x to 16.

A Syft document is one catalog of one source (an image, a folder or a file). `parse` fills
`out.scan` from `descriptor`, `source` and `distro`, and writes:

* `packages`: one row per element of `artifacts`;
* `package_licenses`: one row per distinct (licence, licence type) of an artifact;
* `package_dependencies`: one row per `artifactRelationships` entry between two packages of kind
  `dependency-of` (and the scoped `runtime-`/`dev-`/`build-dependency-of` of some 2022 releases)
  as `depends-on`, child to parent (Syft's parent is a dependency of its child), or `contains`.
  The other kinds link packages to files (`contains`, `evident-by`, `described-by`), the image to
  its packages (`contains` from the source id), or say only that a package's metadata lists a
  file another package was found by (`ownership-by-file-overlap`: a heuristic, which Syft itself
  leaves out of its CycloneDX dependencies and writes as `OTHER` in SPDX). They are left out:
  none is a dependency or a containment between two packages;
* for an image, the image config Syft embeds in `source.metadata.config` (base64 of the config
  JSON): read by the collectors' reader (`auditlib.normalize.image_config`) into the image's
  created time, user, labels, entrypoint, ports, volumes and healthcheck, and `image_layers`,
  `image_history` and `image_env` rows, so that an SBOM alone describes its image.

`files`, most of a large SBOM, is never decoded, and of an artifact's `metadata` only dpkg's
`source`/`sourceVersion` are read (see `auditlib.parsers._syft_model`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec

from auditlib.identity import normalize_digest, parse_reference
from auditlib.normalize.image_config import (
    ImageConfigError,
    decode_base64_config,
    read_image_config,
)
from auditlib.normalize.licenses import LicenseInfo, classify_license
from auditlib.normalize.pkg_versions import distro_version
from auditlib.normalize.purl import purl_type
from auditlib.parsers._edges import CONTAINS, DEPENDS_ON, Edges
from auditlib.parsers._syft_model import (
    Artifact,
    Descriptor,
    Distro,
    ImageMetadata,
    Relationship,
    Source,
)
from auditlib.parsers.interface import Document, Parser
from auditlib.rows import ImageInfo, Output, Row

_TARGET_TYPES = {"image": "container_image", "directory": "filesystem", "file": "filesystem"}
"""Syft source type to `scans.target_type`; other types (`snap`, ...) are `unknown`."""

_INT64_LIMIT = 2**63
"""`images.size_bytes` is an Int64 column: a larger (or negative) size is not kept."""

_NOT_A_VERSION = "[not provided]"
"""What Syft writes as its own version when it was built without one."""


class SyftJsonParser(Parser):
    """Syft JSON SBOMs, schema 1.x to 16."""

    format_id = "syft-json"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None or not doc.has("artifacts"):
            return None
        schema: Any = doc.peek("schema", dict) or {}
        descriptor: Any = doc.peek("descriptor", dict) or {}
        if "anchore/syft" in str(schema.get("url", "")) or descriptor.get("name") == "syft":
            return str(schema.get("version") or "unknown")
        return None

    shape = "`artifacts` of objects with `name`, `version`, `type`, and `foundBy` or `locations`"

    def identify_shape(self, doc: Document) -> str | None:
        """Return `unknown` if `doc` keeps Syft's `artifacts` (and maybe `artifactRelationships`)
        without `schema` and `descriptor`, else None. Never raises."""
        head = doc.peek_first("artifacts")
        if (head is not None and {"name", "version", "type"} <= head.keys()
                and ("foundBy" in head or "locations" in head)):
            return "unknown"
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`: the scan and image (with its config's rows), then `packages`,
        `package_licenses` and `package_dependencies` rows.

        Args:
            doc: the document; only `descriptor`, `source`, `distro`, `artifacts` and
                `artifactRelationships` are decoded.
            version: the schema version `identify` saw (`unknown` when `schema` is absent).
            out: receives `out.scan`, the rows, a warning per artifact or relationship skipped,
                and one when the embedded image config cannot be read (the rest still is).

        Raises:
            MalformedInputError: naming the file and the JSON path, if `artifacts` or
                `artifactRelationships` is not an array, or `descriptor`, `source` or `distro` is
                not an object of the expected shape.
        """
        out.scan.vulnerability_scan = False  # an SBOM
        descriptor: Descriptor | None = doc.get("descriptor", Descriptor | None)
        source: Source | None = doc.get("source", Source | None)
        distro: Distro | None = doc.get("distro", Distro | None)

        scan = out.scan
        scan.tool = "syft"
        if descriptor is not None:
            if descriptor.version and descriptor.version != _NOT_A_VERSION:
                scan.tool_version = descriptor.version
            scan.generated_at = descriptor.timestamp or None
        subject_id: str | None = None
        if source is None:
            out.warn("$.source", "no source: the target of the SBOM is unknown")
        else:
            subject_id = source.id
            _read_source(source, distro, out)

        top = doc.top or {}
        artifacts = out.decode_list(top.get("artifacts"), Artifact, "$.artifacts")
        _add_packages(artifacts, scan.target, subject_id, out)
        if "artifactRelationships" in top:
            _add_dependencies(top["artifactRelationships"], out)


def _read_source(source: Source, distro: Distro | None, out: Output) -> None:
    """Fill `out.scan` target, target type and, for an image source, the image."""
    scan = out.scan
    stype = source.type or ""
    scan.target_type = _TARGET_TYPES.get(stype, "unknown")
    # Schema 1.x names a folder or file by a plain string in `target`, an image by an object.
    meta = source.metadata
    if isinstance(source.target, ImageMetadata):
        meta = source.target
    target = meta.userInput if meta is not None else None
    if not target:
        target = source.target if isinstance(source.target, str) else source.name
    scan.target = target or None
    if stype != "image" or meta is None:
        return
    size = meta.imageSize
    if size is not None and not 0 <= size < _INT64_LIMIT:
        where = "$.source.target" if meta is source.target else "$.source.metadata"
        out.warn(f"{where}.imageSize", f"image size {size} is not a size in bytes; ignored")
        size = None
    image = ImageInfo(
        image_id=meta.imageID or None,
        reference=meta.userInput or None,
        repo_digests=_repo_digests(meta),
        tags=[t for t in meta.tags or () if t],
        os=meta.os or None,
        architecture=meta.architecture or None,
        size_bytes=size,
        layer_count=len(meta.layers) if meta.layers is not None else None,
    )
    if distro is not None:
        # os-release `ID`/`VERSION_ID` from schema 2 on; schema 1.x had only name and version,
        # and its name was already the ID (`ubuntu`, `alpine`).
        image.os_family = distro.id or distro.name or None
        image.os_version = distro.versionID or distro.version or None
    if len(meta.config):
        where = "$.source.target" if meta is source.target else "$.source.metadata"
        _read_config(meta.config, image, f"{where}.config", out)
    scan.image = image


def _read_config(raw: msgspec.Raw, image: ImageInfo, where: str, out: Output) -> None:
    """Read the image config Syft embeds (base64) into `image` and its layer, history and
    environment rows.

    The config is the image's only when its digest is the image id Syft gives (`imageID`, the
    config digest); without an `imageID` (or with one that is no digest) the config's digest
    becomes the image id. A config that cannot be read, or is another image's, is left out with
    a warning at `where`; the rest of the document is read all the same.
    """
    try:
        config, digest = decode_base64_config(raw)
    except ImageConfigError as e:
        out.warn(where, f"image config ignored: {e}")
        return
    said = normalize_digest(image.image_id)
    if said is not None and said != digest:
        out.warn(where, f"image config ignored: its digest {digest} is not the imageID {said}")
        return
    if said is None:
        image.image_id = digest
    read_image_config(config, image, out)


def _repo_digests(meta: ImageMetadata) -> list[str]:
    """Return the image's `repo@sha256:...` references (from repoDigests or manifestDigest).

    Returns:
        Syft's repo digests when it gave any; else the manifest digest under the repository of the
        image's first tag or user input; else nothing. A bare `sha256:...` is not returned because
        the reference grammar reads it as `name:tag` (`docker.io/library/sha256:<hex>`).
    """
    digests = [d for d in meta.repoDigests or () if d]
    if digests or not meta.manifestDigest:
        return digests
    for text in (*(meta.tags or ()), meta.userInput or ""):
        ref = parse_reference(text)
        if ref is not None:
            return [f"{ref.name}@{meta.manifestDigest}"]
    return []


_NO_LICENCE = classify_license(None)
"""The classification of a package without a licence."""


@lru_cache(maxsize=65536)
def _expression(parts: tuple[str, ...]) -> LicenseInfo:
    """Return the classified AND of a package's licence expressions, repeats dropped.

    Cached by the tuple of expressions: a fleet repeats the same few hundred licence lists over
    hundreds of thousands of packages, and joining and hashing a new AND string per package (then
    looking it up in `classify_license`'s cache) cost more than the rest of a licence row.
    """
    unique = list(dict.fromkeys(parts))
    if len(unique) == 1:
        return classify_license(unique[0])
    if not unique:
        return _NO_LICENCE
    return classify_license(" AND ".join([f"({e})" if " " in e else e for e in unique]))


def _add_packages(
    artifacts: list[Artifact], target: str | None, subject_id: str | None, out: Output
) -> None:
    """Add a `packages` row per artifact and a `package_licenses` row per distinct licence of each.

    One tight loop over typed artifacts; `classify_license` caches its answers, so it is simply
    called per licence, and `_expression` caches the package's expression per licence list.
    """
    packages: list[Row] = []
    licenses: list[Row] = []
    add_package = packages.append
    add_license = licenses.append
    classify = classify_license
    seen: set[str] = set()
    for i, a in enumerate(artifacts):
        name = a.name
        purl = a.purl if a.purl and a.purl.startswith("pkg:") else None
        ptype = purl_type(purl) or a.type or None
        # Syft writes dpkg's and apk's versions as they do, an rpm one with `0:` when its epoch is
        # set to 0 (which `rpm -q` leaves out).
        version = distro_version(a.version, ptype, purl)
        pid = a.id
        if pid:
            if pid == subject_id:
                continue  # the document's own subject is not one of its packages
            if pid in seen:
                # No index in the locator: `artifacts` no longer counts records decode_list skipped.
                out.warn("$.artifacts", f"record skipped: id {pid!r} repeats an earlier artifact")
                continue
        else:
            # Schema 1.0 artifacts have no id: name them by purl, else by type, name and version.
            pid = purl or f"{a.type or 'unknown'}:{name}@{version or ''}"
            if pid in seen:
                pid = f"{pid}#{i}"
        seen.add(pid)

        path = layer = None
        if a.locations:
            loc = a.locations[0]
            if isinstance(loc, str):
                path = loc or None
            else:
                path, layer = loc.path or None, loc.layerID or None

        src_name = src_version = None
        if a.type == "deb":
            m = a.metadata
            if m is not None:
                src_name = m.source if isinstance(m.source, str) else None
                src_version = m.sourceVersion if isinstance(m.sourceVersion, str) else None
            # Debian policy: no Source field means the source package has the binary's name, and a
            # Source field without "(version)" means the source version is the binary's version.
            src_name = src_name or name
            src_version = distro_version(src_version, ptype) or version

        if a.licenses:
            declared: list[str] = []
            other: list[str] = []
            pairs: set[tuple[str, str]] = set()
            for lic in a.licenses:
                file_path = None
                if isinstance(lic, str):
                    text = expr = lic
                    kind = "declared"
                else:
                    text = lic.value or ""
                    expr = lic.spdxExpression or text
                    kind = lic.type or "declared"
                    if lic.locations:
                        first = lic.locations[0]
                        file_path = (first if isinstance(first, str) else first.path) or None
                if not expr:
                    continue
                text = text or expr
                if (text, kind) in pairs:
                    continue  # the key of package_licenses; Syft repeats a licence per file it saw
                pairs.add((text, kind))
                (declared if kind == "declared" else other).append(expr)
                info = classify(expr)
                add_license({
                    "package_id": pid, "package_name": name, "package_version": version,
                    "license": text, "license_spdx": info.spdx, "license_class": info.license_class,
                    "license_source": kind, "severity": "unknown", "file_path": file_path,
                })
            # The package's expression is the AND of what its authors declared; only a package
            # with no declared licence falls back to what Syft concluded.
            info = _expression(tuple(declared or other))
        else:
            info = _NO_LICENCE

        add_package({
            "target": target, "package_id": pid, "name": name, "version": version,
            "package_type": ptype, "purl": purl, "path": path, "layer_diff_id": layer,
            "source_name": src_name, "source_version": src_version,
            "license_expression": info.spdx, "license_class": info.license_class,
            "found_by": a.foundBy or None,
        })
    if packages:
        out.extend("packages", packages)
    if licenses:
        out.extend("package_licenses", licenses)


_DEPENDENCY_KINDS = frozenset(
    {"dependency-of", "runtime-dependency-of", "dev-dependency-of", "build-dependency-of"})
"""Syft's dependency kinds: `dependency-of` now; the scoped three in some 2022 releases."""


def _add_dependencies(raw: msgspec.Raw, out: Output) -> None:
    """Add a `package_dependencies` row per `dependency-of` or `contains` relationship between
    two packages of the document (see the module for the kinds left out, and why).

    A `dependency-of` naming an id that is no package is counted in a warning; a `contains` from
    or to something else (a package's files, the image's packages) is the usual case and left out
    quietly. Most entries of a large SBOM are package-to-file `contains`: two comprehensions pass
    over them before any edge is recorded.
    """
    rels = out.decode_list(raw, Relationship, "$.artifactRelationships")
    packages = {r["package_id"] for r in out.rows.get("packages", ())}
    kinds = _DEPENDENCY_KINDS
    # `{parent: A, child: B, type: dependency-of}`: A is a dependency of B.
    needs = [r for r in rels if r.type in kinds]
    holds = [r for r in rels if r.type == "contains" and r.child in packages
             and r.parent in packages]
    edges = Edges(packages)
    for r in needs:
        edges.add(r.child, r.parent, DEPENDS_ON, r.type)
    for r in holds:
        edges.add(r.parent, r.child, CONTAINS, r.type)
    edges.write(out, "$.artifactRelationships")
