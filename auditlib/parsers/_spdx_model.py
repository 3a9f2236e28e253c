"""Typed `msgspec` models of the parts of an SPDX 2.2/2.3 JSON document that auditlib reads.

Only fields auditlib reads are named; msgspec skips the rest (checksums, copyright texts,
`hasExtractedLicensingInfos`) without building Python objects. A package's `SPDXID` and `name`
(mandatory in SPDX 2.x) are required, so a package without them is skipped with a warning; every
other field has a default, because Trivy, Syft and hand-written SBOMs leave out different fields.
The few methods read the conventions of the tools that write SPDX: Trivy's `Key: value`
properties and the `Tool: name-version` creator.
"""

from __future__ import annotations

import re
from functools import lru_cache

import msgspec
from packageurl import PackageURL

# `trivy-0.58.0`, `syft-v0.42.0-bogus`: the version starts at the first `-` followed by a digit
# (or `v` and a digit), so tool names that contain dashes stay whole.
_TOOL_VERSION = re.compile(r"^(?P<name>.+?)-(?P<version>v?\d.*)$")
_KNOWN_TOOLS = {"trivy", "syft"}  # `trivy-dev`, `syft-[not provided]`: versions without digits
_PURL_CATEGORIES = {"PACKAGE-MANAGER", "PACKAGE_MANAGER"}  # 2.3 spelling, 2.2 spelling


class CreationInfo(msgspec.Struct, gc=False):
    """`creationInfo`: who wrote the document and when (`creators` is mandatory in SPDX 2.x)."""

    creators: list[str]
    created: str | None = None

    def tool(self) -> tuple[str | None, str | None]:
        """Return the lower-cased name and the version of the first `Tool:` creator, or Nones."""
        for creator in self.creators:
            kind, sep, value = creator.partition(":")
            value = value.strip()
            if not sep or kind.strip().lower() != "tool" or not value:
                continue
            m = _TOOL_VERSION.match(value)
            if m:
                return m["name"].lower(), m["version"]
            name, dash, rest = value.partition("-")
            if dash and name.lower() in _KNOWN_TOOLS:
                return name.lower(), rest or None
            return value.lower(), None
        return None, None


class ExternalRef(msgspec.Struct, gc=False):
    """`packages[].externalRefs[]`: a purl, a CPE or an advisory link."""

    category: str | None = msgspec.field(default=None, name="referenceCategory")
    type: str | None = msgspec.field(default=None, name="referenceType")
    locator: str | None = msgspec.field(default=None, name="referenceLocator")


class Annotation(msgspec.Struct, gc=False):
    """`packages[].annotations[]`: Trivy writes its properties here as `Key: value` comments."""

    comment: str | None = None


class Package(msgspec.Struct, gc=False):
    """`packages[]`."""

    spdx_id: str = msgspec.field(name="SPDXID")
    name: str
    version: str | None = msgspec.field(default=None, name="versionInfo")
    purpose: str | None = msgspec.field(default=None, name="primaryPackagePurpose")
    license_concluded: str | None = msgspec.field(default=None, name="licenseConcluded")
    license_declared: str | None = msgspec.field(default=None, name="licenseDeclared")
    source_info: str | None = msgspec.field(default=None, name="sourceInfo")
    external_refs: list[ExternalRef] | None = msgspec.field(default=None, name="externalRefs")
    annotations: list[Annotation] | None = None
    # Trivy before ~0.40 wrote its properties as attribution texts instead of annotations.
    attribution_texts: list[str] | None = msgspec.field(default=None, name="attributionTexts")
    # The SPDX 2.2 way to list a package's files (Trivy 0.38); 2.3 uses CONTAINS relationships.
    has_files: list[str] | None = msgspec.field(default=None, name="hasFiles")

    def purl_text(self) -> str | None:
        """Return the locator of the first PACKAGE-MANAGER `purl` reference, as written."""
        for ref in self.external_refs or ():
            if ((ref.category or "").upper() in _PURL_CATEGORIES
                    and (ref.type or "").lower() == "purl" and ref.locator):
                return ref.locator
        return None

    def purl(self) -> PackageURL | None:
        """Return the package's purl, parsed; None when there is none or it does not parse."""
        text = self.purl_text()
        return parse_purl(text) if text else None

    def facts(self) -> dict[str, list[str]]:
        """Return Trivy's `Key: value` properties (`ImageID`, `LayerDiffID`), all values of each."""
        texts = [a.comment or "" for a in self.annotations or ()]
        texts += self.attribution_texts or ()
        facts: dict[str, list[str]] = {}
        for text in texts:
            key, sep, value = text.partition(": ")
            if sep and value.strip():
                facts.setdefault(key.strip(), []).append(value.strip())
        return facts


class Relationship(msgspec.Struct, gc=False):
    """`relationships[]`."""

    element: str = msgspec.field(name="spdxElementId")
    type: str = msgspec.field(name="relationshipType")
    related: str = msgspec.field(name="relatedSpdxElement")


class File(msgspec.Struct, gc=False):
    """`files[]`: only the id and the name are read (Trivy's package paths)."""

    spdx_id: str = msgspec.field(name="SPDXID")
    name: str = msgspec.field(name="fileName")


@lru_cache(maxsize=65536)
def parse_purl(text: str) -> PackageURL | None:
    """Return `text` parsed as a package URL, or None when it is not one (cached: purls repeat)."""
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None


def first(facts: dict[str, list[str]], key: str) -> str | None:
    """Return the first value of property `key`, or None."""
    values = facts.get(key)
    return values[0] if values else None
