"""SPDX JSON 2.2 and 2.3 documents (SPDX 3.0 JSON-LD is refused with a clear error).

What auditlib reads, and why:

* `packages[]` become `packages` rows, except the document's own subject (the packages in
  `documentDescribes` or DESCRIBES-related from the document): that is the image or folder the SBOM
  is about, which the loader already records as the scan target and image. Trivy's OPERATING-SYSTEM
  package (`debian 12.15`) and its APPLICATION packages (a lock file such as `Manifest.toml`) are
  kept, with package_type `operating-system` / `application`: SPDX declares them packages, peers
  (SecObserve) count them, and a user can filter them out by type but could not get them back.
* Each present licence field gives one `package_licenses` row (`declared` / `concluded`); the
  package's own `license_expression` is the concluded licence, else the declared one.
* `relationships[]` between two package rows become `package_dependencies` rows (see
  `_RELATIONSHIPS`): the dependency kinds as `depends-on` (`X_DEPENDENCY_OF` reversed), `CONTAINS`
  and `CONTAINED_BY` as `contains`. Relationships to files, to the document or from its subject
  (`DESCRIBES`, Syft's image `CONTAINS` its packages) link no two packages and are left out.
* Trivy writes its properties as `Key: value` annotations (older releases: attribution texts): the
  image's config digest (`ImageID`), repo digests and tags, and each package's `LayerDiffID`,
  `PkgType` and source package. Syft names the image in the described package (name = repository,
  version = tag or manifest digest) and carries no config digest, so its image_id stays empty.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import msgspec

from auditlib.errors import MalformedInputError, UnsupportedFormatError
from auditlib.identity import is_digest
from auditlib.normalize import classify_license
from auditlib.normalize.pkg_versions import distro_version, join_evr
from auditlib.parsers._edges import CONTAINS, DEPENDS_ON, Edges
from auditlib.parsers._spdx_model import (
    CreationInfo,
    File,
    Package,
    Relationship,
    first,
    parse_purl,
)
from auditlib.parsers.interface import Document, Parser
from auditlib.rows import ImageInfo, Output, Row

_SUPPORTED = ("2.2", "2.3")
_TRIMMED = "unknown"
"""The version of a document told by its shape, its `spdxVersion` gone: read as SPDX 2."""
_NO_LICENSE = {"", "NOASSERTION", "NONE"}
_SOURCE_PACKAGE = "built package from: "  # Trivy: `built package from: zlib 1:1.2.13.dfsg-1`
_FOUND_IN = ("package found in: ", "acquired package info from ")  # Trivy, Syft
_IMAGE_IDS = ("SPDXRef-ContainerImage-", "SPDXRef-DocumentRoot-Image-")  # Trivy, Syft
_FOLDER_IDS = (
    "SPDXRef-Filesystem-", "SPDXRef-DocumentRoot-Directory-", "SPDXRef-DocumentRoot-File-",
)
_NAMESPACE_KINDS = (  # for documents that name no subject (Syft before 0.50)
    ("/container_image/", "container_image"), ("/syft/image/", "container_image"),
    ("/filesystem/", "filesystem"), ("/syft/dir/", "filesystem"), ("/syft/file/", "filesystem"),
    ("/repository/", "repository"),
)
_TYPE_BY_ID = {  # SPDX 2.2 has no primaryPackagePurpose: Trivy's ids say what the package is
    "SPDXRef-OperatingSystem-": "operating-system", "SPDXRef-Application-": "application",
}


class SpdxJsonParser(Parser):
    """SPDX JSON 2.2 and 2.3 documents (SPDX 3.0 JSON-LD is refused with a clear error)."""

    format_id = "spdx-json"
    # None: `parse` refuses other versions itself, so that SPDX 3.0 gets its own message.
    supported_versions = None

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None:
            return None
        version: str | None = doc.peek("spdxVersion", str)
        context = str(doc.peek("@context") or "")
        if version and version.startswith("SPDX-"):
            return version.removeprefix("SPDX-")
        if "spdx.org/rdf/3" in context:
            return "3.0"
        return None

    shape = "`packages` of objects with `SPDXID` and `name`, or `SPDXID` `SPDXRef-DOCUMENT`"

    def identify_shape(self, doc: Document) -> str | None:
        """Return `unknown` if `doc` is an SPDX 2 document without `spdxVersion`, as its packages
        or its own `SPDXID` tell, else None. Never raises."""
        if doc.top is None:
            return None
        head = doc.peek_first("packages")
        if head is not None and {"SPDXID", "name"} <= head.keys():
            return "unknown"
        if doc.peek("SPDXID", str) == "SPDXRef-DOCUMENT" and (
                doc.has("packages") or doc.has("relationships")):
            return "unknown"
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`: the scan and image it describes, packages and their licences.

        `version` `unknown` is a document without `spdxVersion` told by its shape
        (`identify_shape`): it is read as SPDX 2, and may lack `creationInfo` (no tool, no time).

        Raises:
            UnsupportedFormatError: for SPDX 3.x, and for any version other than 2.2 and 2.3.
            MalformedInputError: if `creationInfo` is missing (from a document that names its
                version), or a top-level key auditlib reads has the wrong type (`packages` not a
                list, ...), naming the file and the JSON path.
        """
        out.scan.vulnerability_scan = False  # an SBOM
        _check_version(doc.source, version)
        top = doc.top or {}
        info = doc.get("creationInfo", CreationInfo)
        if info is None and version == _TRIMMED:
            info = CreationInfo(creators=[])
        if info is None:
            raise MalformedInputError(f"{doc.source}: required key `$.creationInfo` is missing")
        doc_id = doc.get("SPDXID", str, "SPDXRef-DOCUMENT")
        name = doc.get("name", str | None)
        namespace = doc.get("documentNamespace", str | None) or ""
        describes = doc.get("documentDescribes", list[str] | None) or []
        packages = out.decode_list(top.get("packages"), Package, "$.packages")
        rels = out.decode_list(top.get("relationships"), Relationship, "$.relationships")

        scan = out.scan
        scan.tool, scan.tool_version = info.tool()
        scan.generated_at = info.created
        by_id = {p.spdx_id: p for p in packages}
        links = _links(rels, by_id)
        subject_ids = _subjects(doc_id, describes, links)
        subjects = [by_id[i] for i in subject_ids if i in by_id]
        subject = next((p for p in subjects if _is_image(p)), subjects[0] if subjects else None)
        scan.target = subject.name if subject else name
        scan.target_type = _kind(subject, namespace)
        if scan.target_type == "container_image":
            scan.image = _image(subject, packages)
            if scan.image.reference is None and scan.tool == "trivy":
                scan.image.reference = name  # Trivy names the document after the scanned artifact

        files = _package_files(top, rels, packages, out) if scan.tool == "trivy" else {}
        skip = set(subject_ids)
        for p in packages:
            if p.spdx_id not in skip:
                _add_package(p, files.get(p.spdx_id), out)
        _add_dependencies(links, set(by_id) - skip, set(by_id), out)


_RELATIONSHIPS: dict[str, tuple[str, bool]] = {
    "DEPENDS_ON": (DEPENDS_ON, False),
    "DEPENDENCY_OF": (DEPENDS_ON, True),
    "BUILD_DEPENDENCY_OF": (DEPENDS_ON, True),
    "DEV_DEPENDENCY_OF": (DEPENDS_ON, True),
    "OPTIONAL_DEPENDENCY_OF": (DEPENDS_ON, True),
    "PROVIDED_DEPENDENCY_OF": (DEPENDS_ON, True),
    "RUNTIME_DEPENDENCY_OF": (DEPENDS_ON, True),
    "TEST_DEPENDENCY_OF": (DEPENDS_ON, True),
    "DYNAMIC_LINK": (DEPENDS_ON, False),
    "STATIC_LINK": (DEPENDS_ON, False),
    "CONTAINS": (CONTAINS, False),
    "CONTAINED_BY": (CONTAINS, True),
}
"""SPDX 2.x relationship types that can link two packages: the `package_dependencies`
relationship each becomes, and whether it reads backwards (`A DEPENDENCY_OF B`: B depends on A)."""


def _add_dependencies(rels: list[Relationship], packages: set[str], elements: set[str],
                      out: Output) -> None:
    """Add a `package_dependencies` row per relationship of `_RELATIONSHIPS` between two of
    `packages` (the package rows' SPDXIDs) among `rels` (all of them, or their `_links`).

    A dependency naming an id that is none of the document's packages (`elements`, the subject
    included) is counted in a warning; a containment of files or other elements is the usual
    case and left out quietly.
    """
    edges = Edges(packages)
    for r in rels:
        kind = _RELATIONSHIPS.get(r.type)
        if kind is None:
            continue
        relationship, backwards = kind
        a, b = (r.related, r.element) if backwards else (r.element, r.related)
        expected = relationship == DEPENDS_ON and not (a in elements and b in elements)
        edges.add(a, b, relationship, r.type, expected=expected)
    edges.write(out, "$.relationships")


_CONTAINMENT = frozenset(t for t, (kind, _) in _RELATIONSHIPS.items() if kind == CONTAINS)
"""The relationship types that become `contains` edges (never counted as dangling)."""


def _links(rels: list[Relationship], elements: Collection[str]) -> list[Relationship]:
    """Return `rels` without the containments that do not join two of `elements` (the
    document's packages, its subject included): what `_subjects` and `_add_dependencies` read.

    Most relationships of an SBOM are a package's CONTAINS of its files (Syft: 56 a package),
    never an edge and never counted as dangling; one comprehension drops them, so that the loops
    after it see a few hundred relationships rather than thousands.
    """
    return [r for r in rels if r.type not in _CONTAINMENT
            or (r.element in elements and r.related in elements)]


def _check_version(source: str, version: str) -> None:
    if version.startswith("3"):
        raise UnsupportedFormatError(
            f"{source}: SPDX 3.0 is not supported (the document is SPDX-{version}); auditlib "
            "reads SPDX-2.2 and SPDX-2.3 JSON: export the SBOM as SPDX 2.3 JSON"
        )
    if version not in _SUPPORTED and version != _TRIMMED:
        supported = ", ".join(_SUPPORTED)
        raise UnsupportedFormatError(
            f"{source}: spdx-json version {version} is not supported (supported: {supported})"
        )


def _subjects(doc_id: str, describes: list[str], rels: list[Relationship]) -> list[str]:
    """Return the ids of what the document describes, in document order, without repeats."""
    ids = list(describes)
    for r in rels:
        if r.type == "DESCRIBES" and r.element == doc_id:
            ids.append(r.related)
        elif r.type == "DESCRIBED_BY" and r.related == doc_id:
            ids.append(r.element)
    return list(dict.fromkeys(ids))


def _is_image(p: Package) -> bool:
    purl = p.purl()
    return (
        (p.purpose or "").upper() == "CONTAINER"
        or (purl is not None and purl.type in ("oci", "docker"))
        or p.spdx_id.startswith(_IMAGE_IDS)
    )


def _kind(subject: Package | None, namespace: str) -> str:
    """Return the scan's target_type from the described package, else the document namespace."""
    if subject is not None:
        if _is_image(subject):
            return "container_image"
        if subject.spdx_id.startswith(_FOLDER_IDS):
            return "filesystem"
        if subject.spdx_id.startswith("SPDXRef-Repository-"):
            return "repository"
    return next((kind for marker, kind in _NAMESPACE_KINDS if marker in namespace), "sbom")


def _reference(name: str, version: str | None) -> str:
    # Syft: name `local/debian`, version `bookworm` (the tag) or, untagged, the manifest digest.
    # Trivy gives no version and names the package by the full reference.
    if not version or "@" in name or ":" in name.rsplit("/", 1)[-1]:
        return name
    return f"{name}@{version}" if is_digest(version) else f"{name}:{version}"


def _repository(reference: str) -> str:
    """Return `reference` without its tag and digest."""
    head, _, last = reference.split("@", 1)[0].rpartition("/")
    last = last.split(":", 1)[0]
    return f"{head}/{last}" if head else last


def _image(subject: Package | None, packages: list[Package]) -> ImageInfo:
    """Return what the described image package (and Trivy's OS package) say about the image."""
    img = ImageInfo()
    os_pkg = next((p for p in packages if (p.purpose or "").upper() == "OPERATING-SYSTEM"
                   or p.spdx_id.startswith("SPDXRef-OperatingSystem-")), None)
    if os_pkg is not None:
        img.os_family, img.os_version = os_pkg.name.lower() or None, os_pkg.version or None
    if subject is None:
        return img
    facts = subject.facts()
    img.image_id = first(facts, "ImageID")
    img.repo_digests = list(facts.get("RepoDigest", []))
    img.tags = list(facts.get("RepoTag", []))
    img.layer_count = len(facts["DiffID"]) if "DiffID" in facts else None
    size = first(facts, "Size")
    img.size_bytes = int(size) if size and size.isascii() and size.isdigit() else None
    img.labels = {k[7:]: v[0] for k, v in facts.items() if k.startswith("Labels:")}
    img.reference = first(facts, "Reference") or _reference(subject.name, subject.version)
    repository = _repository(img.reference)
    if not img.tags and repository != img.reference and "@" not in img.reference:
        img.tags = [img.reference]
    purl = subject.purl()
    if purl is not None and purl.type in ("oci", "docker"):
        qualifiers: Any = purl.qualifiers or {}
        img.architecture = qualifiers.get("arch") or None
        if purl.version and is_digest(purl.version) and not img.repo_digests:
            # The OCI purl's version is the manifest digest. Written as `repository@digest`, a
            # full reference, because the loader files a bare digest only when no reference parses.
            img.repo_digests = [f"{repository}@{purl.version}"]
    return img


def _package_files(
    top: dict[str, msgspec.Raw], rels: list[Relationship], packages: list[Package], out: Output
) -> dict[str, list[str]]:
    """Return Trivy's file names by package id: the file each language package was found in.

    Trivy links a package to that file with `hasFiles` (SPDX 2.2) or a CONTAINS relationship (2.3).
    Syft is not read this way: its CONTAINS files are the files a package installed.
    """
    names = {f.spdx_id: f.name for f in out.decode_list(top.get("files"), File, "$.files")}
    if not names:
        return {}
    owned: dict[str, list[str]] = {}
    for p in packages:
        for file_id in p.has_files or ():
            if file_id in names:
                owned.setdefault(p.spdx_id, []).append(names[file_id])
    for r in rels:
        if r.type == "CONTAINS" and r.related in names:
            owned.setdefault(r.element, []).append(names[r.related])
    return owned


def _path(p: Package, files: list[str] | None) -> str | None:
    info = p.source_info or ""
    if info.startswith(_FOUND_IN):
        # Syft lists every location, comma-separated and sorted (so the first is not the main
        # one): only a single location is taken as the path.
        _, sep, rest = info.partition(": ")
        if sep and rest.strip() and ", " not in rest:
            return rest.strip()
    own = set(files or ())
    return own.pop() if len(own) == 1 else None


def _source(p: Package, facts: dict[str, list[str]]) -> tuple[str | None, str | None]:
    name = first(facts, "SrcName")
    if name:
        return name, join_evr(first(facts, "SrcVersion"), first(facts, "SrcRelease"),
                              first(facts, "SrcEpoch"))
    info = p.source_info or ""
    if info.startswith(_SOURCE_PACKAGE):
        src_name, _, src_version = info.removeprefix(_SOURCE_PACKAGE).strip().partition(" ")
        return src_name or None, src_version.strip() or None
    return None, None


def _license(text: str | None) -> str | None:
    return text.strip() if text and text.strip().upper() not in _NO_LICENSE else None


def _add_package(p: Package, files: list[str] | None, out: Output) -> None:
    facts = p.facts()
    purl_text = p.purl_text()
    purl = parse_purl(purl_text) if purl_text else None
    if purl_text and purl is None:
        out.warn(f'$.packages[?(@.SPDXID=="{p.spdx_id}")].externalRefs',
                 f"purl {purl_text[:80]!r} is not a package URL; left empty")
    # Trivy 0.58 wrote `versionInfo: ""` for some Python packages whose purl has the version.
    version = p.version or (purl.version if purl else None) or None
    ptype = purl.type if purl else None
    # As the distribution writes it: an epoch only in the purl's `epoch` qualifier goes in front.
    version = distro_version(version, ptype, purl_text)
    purpose = (p.purpose or "").lower() or next(
        (t for prefix, t in _TYPE_BY_ID.items() if p.spdx_id.startswith(prefix)), None)
    concluded, declared = _license(p.license_concluded), _license(p.license_declared)
    main = classify_license(concluded or declared)
    src_name, src_version = _source(p, facts)
    src_version = distro_version(src_version, ptype)
    out.add("packages", {
        "package_id": p.spdx_id, "name": p.name, "version": version,
        "package_type": ptype or purpose, "purl": purl_text if purl else None,
        "path": _path(p, files), "layer_diff_id": first(facts, "LayerDiffID"),
        "source_name": src_name, "source_version": src_version,
        "license_expression": main.spdx, "license_class": main.license_class,
        # SPDX has no per-package result class; Trivy's PkgType (`debian`, `python-pkg`) names
        # the analyser that found the package (Result.Type in Trivy JSON). Syft SPDX names none.
        "found_by": first(facts, "PkgType"),
    })
    for text, source in ((declared, "declared"), (concluded, "concluded")):
        if text is not None:
            info = classify_license(text)
            row: Row = {
                "package_id": p.spdx_id, "package_name": p.name, "package_version": version,
                "license": text, "license_spdx": info.spdx, "license_class": info.license_class,
                "license_source": source,
            }
            out.add("package_licenses", row)
