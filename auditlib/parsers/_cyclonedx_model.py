"""Typed models of the parts of a CycloneDX JSON BOM (spec 1.2 to 1.7) that auditlib reads.

Each model names only the fields read; msgspec ignores every other field, so hashes, external
references, evidence and long texts are skipped while decoding. Nested `components` are kept as
undecoded `msgspec.Raw` and decoded level by level (`Output.decode_list`), so one bad grandchild
costs one warning rather than its parent and every sibling. Small readers of these models
(properties, purls, names, the image of a container component) live here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import count
from typing import TypeVar

import msgspec
from packageurl import PackageURL

from auditlib.identity import is_digest, parse_reference
from auditlib.rows import ImageInfo, Output

T = TypeVar("T")

_TRIVY = "aquasecurity:trivy:"
NO_COMPONENTS = msgspec.Raw(b"null")
"""`Component.components` when a component has no nested components."""


class Property(msgspec.Struct, frozen=True):
    """A `{name, value}` pair (`aquasecurity:trivy:ImageID`, `syft:package:foundBy`)."""

    name: str | None = None
    value: str | None = None


class License(msgspec.Struct, frozen=True):
    """`licenses[].license`: an SPDX id or a free-text name."""

    id: str | None = None
    name: str | None = None
    acknowledgement: str | None = None
    """1.6+: `declared` or `concluded`."""


class LicenseChoice(msgspec.Struct, frozen=True):
    """One entry of `licenses`: a licence or an SPDX expression."""

    license: License | None = None
    expression: str | None = None
    acknowledgement: str | None = None
    """1.6+, on expression entries."""


class Component(msgspec.Struct, frozen=True):
    """A component: a package, or an OS, container or Trivy result that holds packages."""

    name: str
    type: str | None = None
    bom_ref: str | None = msgspec.field(name="bom-ref", default=None)
    group: str | None = None
    version: str | None = None
    purl: str | None = None
    licenses: list[LicenseChoice] | None = None
    properties: list[Property] | None = None
    components: msgspec.Raw = NO_COMPONENTS
    """Nested components, decoded separately (msgspec cannot put `Raw` in a union with None)."""


class Tool(msgspec.Struct, frozen=True):
    """A tool: the 1.2-1.4 `{vendor, name, version}` form or a 1.5+ component or service."""

    name: str | None = None
    version: str | None = None
    vendor: str | None = None
    type: str | None = None


class Tools(msgspec.Struct, frozen=True):
    """1.5+ `metadata.tools`: components and services."""

    components: list[Tool] | None = None
    services: list[Tool] | None = None


class Metadata(msgspec.Struct, frozen=True):
    """`metadata`: when, by what, and about what."""

    timestamp: str | None = None
    tools: list[Tool] | Tools | None = None
    component: Component | None = None


class Source(msgspec.Struct, frozen=True):
    """Who reported or scored a vulnerability."""

    name: str | None = None
    url: str | None = None


class Rating(msgspec.Struct, frozen=True):
    """`ratings[]`: a severity, a score, or both, by a method (`CVSSv31`, `OWASP`, `other`)."""

    source: Source | None = None
    score: float | None = None
    severity: str | None = None
    method: str | None = None
    vector: str | None = None


class Advisory(msgspec.Struct, frozen=True):
    """`advisories[]`."""

    title: str | None = None
    url: str | None = None


class AffectedVersion(msgspec.Struct, frozen=True):
    """`affects[].versions[]`: a version or a range, `affected` or `unaffected`."""

    version: str | None = None
    range: str | None = None
    status: str | None = None


class Affect(msgspec.Struct, frozen=True):
    """`affects[]`: a `bom-ref` (or a BOM-Link into another BOM) of an affected component."""

    ref: str
    versions: list[AffectedVersion] | None = None


class Analysis(msgspec.Struct, frozen=True):
    """`analysis`: the VEX state and responses."""

    state: str | None = None
    response: list[str] | None = None


class Reference(msgspec.Struct, frozen=True):
    """`vulnerabilities[].references[]`: the same vulnerability in another source (1.4+)."""

    id: str | None = None
    source: Source | None = None


class Vulnerability(msgspec.Struct, frozen=True):
    """`vulnerabilities[]`."""

    id: str
    source: Source | None = None
    # CWE numbers (ints, as the schema says; a tool writing `CWE-79` text is read too).
    cwes: list[int | str] | None = None
    references: list[Reference] | None = None
    ratings: list[Rating] | None = None
    description: str | None = None
    detail: str | None = None
    recommendation: str | None = None
    advisories: list[Advisory] | None = None
    published: str | None = None
    updated: str | None = None
    analysis: Analysis | None = None
    affects: list[Affect] | None = None
    properties: list[Property] | None = None


class Dependency(msgspec.Struct, frozen=True):
    """`dependencies[]`: what a component depends on, by `bom-ref`."""

    ref: str
    depends_on: list[str] | None = msgspec.field(name="dependsOn", default=None)


def props(properties: list[Property] | None) -> dict[str, list[str]]:
    """Return property values by name, in document order (Trivy repeats `RepoTag`, `DiffID`)."""
    out: dict[str, list[str]] = {}
    for p in properties or ():
        if p.name and p.value is not None:
            out.setdefault(p.name, []).append(p.value)
    return out


def first_props(properties: list[Property] | None) -> dict[str, str]:
    """Return the first non-empty value of each property name: what `first_prop` finds, for a
    record whose properties are looked up many times (one pass, no lists)."""
    out: dict[str, str] = {}
    for p in properties or ():
        if p.name and p.value and p.name not in out:
            out[p.name] = p.value
    return out


def first_prop(p: dict[str, list[str]], *names: str) -> str | None:
    """Return the first non-empty value of the first of `names` that `p` has, or None."""
    for name in names:
        for value in p.get(name, ()):
            if value:
                return value
    return None


@lru_cache(maxsize=65536)
def purl_of(text: str | None) -> PackageURL | None:
    """Return the parsed purl, or None when `text` is not one."""
    if not text or not text.startswith("pkg:"):
        return None
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None


# Ecosystems whose purl namespace is part of the package's name (for deb, rpm and apk it is the
# distribution instead). Maven names are `group:artifact`, as Trivy JSON and Maven write them.
_NAMESPACED = {"npm", "composer", "golang", "github", "bitbucket", "swift", "cocoapods"}


def package_name(group: str | None, name: str, purl: PackageURL | None) -> str:
    """Return a component's name with the group it wrote: `@scope/pkg`, `group:artifact`.

    Maven names are `group:artifact`, as Trivy JSON and Maven write them; other groups join with
    `/`. A component without a group keeps its name as the tool wrote it (Grype's `log4j-core`).
    """
    if not group or name.startswith((f"{group}/", f"{group}:")):
        return name
    return f"{group}:{name}" if purl is not None and purl.type == "maven" else f"{group}/{name}"


def purl_name(purl: PackageURL) -> str:
    """Return the package name a purl gives, with its namespace where that is part of the name."""
    namespaced = purl.type in _NAMESPACED or purl.type == "maven"
    return package_name(purl.namespace if namespaced else None, purl.name, purl)


def image_of(c: Component) -> ImageInfo:
    """Return what a container component says about its image.

    Trivy writes properties (ImageID, RepoDigest, RepoTag, Size, one DiffID per layer) and a
    `pkg:oci` purl; Syft and Grype write the reference as `name` and `version` (a tag, or the
    manifest digest).
    """
    p = props(c.properties)
    tags, digests = list(p.get(f"{_TRIVY}RepoTag", ())), list(p.get(f"{_TRIVY}RepoDigest", ()))
    name, version = c.name, c.version
    base = name.split("@", 1)[0]  # `repo:tag@sha256:...` pins a digest after the tag
    repo = base.rsplit(":", 1)[0] if ":" in base.rsplit("/", 1)[-1] else base
    reference = first_prop(p, f"{_TRIVY}Reference")
    if version and is_digest(version):
        # `repo@digest`; a bare digest when `name` is not a repository (Syft names an archive
        # by its path), so the manifest digest is still known.
        digests.append(f"{repo}@{version}" if parse_reference(f"{repo}@{version}") else version)
    elif version and repo == base:
        name = base = f"{base}:{version}"
    if base != repo:
        tags.append(base)  # only a tag the document wrote: never an implied `latest`
    if "@" in name:
        digests.append(name)
    purl = purl_of(c.purl)
    arch = None
    if purl is not None and purl.type == "oci":
        quals = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
        arch = quals.get("arch")
        if purl.version and is_digest(purl.version):
            digests.append(f"{quals.get('repository_url') or purl.name}@{purl.version}")
    size = first_prop(p, f"{_TRIVY}Size")
    return ImageInfo(
        image_id=first_prop(p, f"{_TRIVY}ImageID"), reference=reference or name,
        repo_digests=digests, tags=tags, architecture=arch,
        size_bytes=int(size) if size and size.isdigit() else None,
        layer_count=len(p.get(f"{_TRIVY}DiffID", ())) or None,
    )


_GENERATORS = ("trivy", "grype", "syft", "cdxgen", "jake", "snyk", "osv-scanner", "scout")


def pick_tool(tools: list[Tool] | Tools | None) -> Tool | None:
    """Return the tool that wrote the BOM: a known scanner, else a non-library, else the first."""
    if isinstance(tools, Tools):
        tools = [*(tools.components or ()), *(tools.services or ())]
    named = [t for t in tools or () if t.name]

    def rank(t: Tool) -> int:
        name = (t.name or "").lower()
        library = t.type == "library" or name.endswith(("-lib", " library"))
        return 0 if any(g in name for g in _GENERATORS) and not library else 2 if library else 1

    return min(named, key=rank, default=None)


def license_texts(licenses: Iterable[LicenseChoice]) -> tuple[list[str], list[str]]:
    """Return the distinct declared and concluded licence texts of a component's `licenses`, in
    order.

    An entry is concluded only when it says so (`acknowledgement`, 1.6+); before 1.6 every
    licence a BOM lists is the declared one.
    """
    declared: dict[str, None] = {}
    concluded: dict[str, None] = {}
    for lc in licenses:
        lic = lc.license
        text = lc.expression or (lic.id or lic.name if lic else None)
        ack = lc.acknowledgement or (lic.acknowledgement if lic else None)
        if text and text.strip():
            (concluded if ack == "concluded" else declared)[text.strip()] = None
    return list(declared), list(concluded)


def positioned(out: Output, raw: msgspec.Raw | None, type: type[T], locator: str
               ) -> Iterator[tuple[int, T]]:
    """Decode a record array with `Output.decode_list`, pairing each record with its position.

    Skipped records leave gaps; their positions are read back from the warnings just added, so
    locators and synthesized ids name the record's real place in the document.

    Raises:
        MalformedInputError: if `raw` is not an array.
    """
    before = len(out.warnings)
    items = out.decode_list(raw, type, locator)
    skipped = {int(loc[len(locator) + 1:].split("]", 1)[0]) for loc, _ in out.warnings[before:]}
    return zip((i for i in count() if i not in skipped), items, strict=False)
