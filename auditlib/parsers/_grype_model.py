"""Typed `msgspec` models of the parts of a Grype JSON report that auditlib reads.

Only the fields auditlib reads are named; msgspec skips every other field without building Python
objects (notably `artifact.metadata`, `matchDetails[].searchedBy` and `.found`, `cpes` and the
base64 `manifest`). Every field
that some Grype release omits has a default, so one model reads Grype 0.7 to the newest: 0.7 wrote
`cvssV2`/`cvssV3`/`fixedInVersion`/`links`, later releases `cvss[]`/`fix`/`urls`, and DB schema v6
releases (0.87+) add `epss`, `knownExploited` and `risk`. A field absent from the document stays
None, so the parser can tell "not said" from "said empty".
"""

from __future__ import annotations

import msgspec


class Location(msgspec.Struct, gc=False):
    """`artifact.locations[]`: where the package was found."""

    path: str | None = None
    layer_id: str | None = msgspec.field(default=None, name="layerID")


class Artifact(msgspec.Struct, gc=False):
    """`artifact`: the matched package. Name and version are required: a row is keyed by them."""

    name: str
    version: str
    type: str | None = None
    purl: str | None = None
    locations: list[Location] | None = None


class CvssMetrics(msgspec.Struct, gc=False):
    """`cvss[].metrics`."""

    base_score: float | None = msgspec.field(default=None, name="baseScore")


class Cvss(msgspec.Struct, gc=False):
    """`cvss[]` (Grype 0.13+); `source` only in later releases."""

    version: str | None = None
    vector: str | None = None
    metrics: CvssMetrics | None = None
    source: str | None = None


class OldCvss(msgspec.Struct, gc=False):
    """`cvssV2` / `cvssV3` of Grype 0.7 to 0.12."""

    base_score: float | None = msgspec.field(default=None, name="baseScore")
    vector: str | None = None


class FixAvailable(msgspec.Struct, gc=False):
    """`fix.available[]`: when a fix became known (newest releases)."""

    version: str | None = None
    date: str | None = None


class Fix(msgspec.Struct, gc=False):
    """`fix`."""

    versions: list[str] | None = None
    state: str | None = None
    available: list[FixAvailable] | None = None


class Epss(msgspec.Struct, gc=False):
    """`epss[]`."""

    epss: float | None = None
    percentile: float | None = None


class Cwe(msgspec.Struct, gc=False):
    """`cwes[]` of a vulnerability record (newest releases): `{cve, cwe, source, type}`."""

    cwe: str | None = None
    source: str | None = None


class Related(msgspec.Struct, gc=False):
    """`relatedVulnerabilities[]`: the same flaw as other databases (mostly NVD) describe it."""

    id: str | None = None
    namespace: str | None = None
    description: str | None = None
    cvss: list[Cvss] | None = None
    epss: list[Epss] | None = None
    # Only the count matters; the entries stay undecoded.
    known_exploited: list[msgspec.Raw] | None = msgspec.field(default=None, name="knownExploited")
    cwes: list[Cwe] | None = None


class Vulnerability(msgspec.Struct, gc=False):
    """`vulnerability`: the record the match was made against."""

    id: str
    severity: str | None = None
    namespace: str | None = None
    data_source: str | None = msgspec.field(default=None, name="dataSource")
    urls: list[str] | None = None
    description: str | None = None
    cvss: list[Cvss] | None = None
    fix: Fix | None = None
    epss: list[Epss] | None = None
    known_exploited: list[msgspec.Raw] | None = msgspec.field(default=None, name="knownExploited")
    risk: float | None = None
    cwes: list[Cwe] | None = None
    # Grype 0.7 to 0.12.
    links: list[str] | None = None
    cvss_v2: OldCvss | None = msgspec.field(default=None, name="cvssV2")
    cvss_v3: OldCvss | None = msgspec.field(default=None, name="cvssV3")
    fixed_in_version: str | None = msgspec.field(default=None, name="fixedInVersion")


class MatchDetail(msgspec.Struct, gc=False):
    """`matchDetails[]`: one way the match was found."""

    matcher: str | None = None
    """`dpkg-matcher`, `java-matcher`, `stock-matcher`, ..."""
    type: str | None = None
    """`exact-direct-match`, `exact-indirect-match`, `cpe-match` (not written by Grype 0.28 and
    older)."""


class Match(msgspec.Struct, gc=False):
    """`matches[]`."""

    vulnerability: Vulnerability
    artifact: Artifact
    related: list[Related] | None = msgspec.field(default=None, name="relatedVulnerabilities")
    # Grype 0.7 wrote one object, later releases a list.
    details: list[MatchDetail] | MatchDetail | None = msgspec.field(
        default=None, name="matchDetails"
    )


_NULL = msgspec.Raw(b"null")


class MatchParts(msgspec.Struct, gc=False):
    """`matches[]` with the vulnerability record, its related records and the match details kept
    undecoded: a fleet repeats them, so the grype parser decodes and normalises each distinct one
    once (by its bytes). Decodes a record exactly when `Match` does, once each part decodes as its
    `Match` field's type."""

    vulnerability: msgspec.Raw
    artifact: Artifact
    related: msgspec.Raw = msgspec.field(default=_NULL, name="relatedVulnerabilities")
    details: msgspec.Raw = msgspec.field(default=_NULL, name="matchDetails")


class ImageTarget(msgspec.Struct, gc=False):
    """`source.target` of an image scan. `layers` and `config` stay undecoded until needed."""

    user_input: str | None = msgspec.field(default=None, name="userInput")
    image_id: str | None = msgspec.field(default=None, name="imageID")
    manifest_digest: str | None = msgspec.field(default=None, name="manifestDigest")
    repo_digests: list[str] | None = msgspec.field(default=None, name="repoDigests")
    tags: list[str] | None = None
    image_size: int | None = msgspec.field(default=None, name="imageSize")
    os: str | None = None
    architecture: str | None = None
    layers: list[msgspec.Raw] | None = None
    labels: dict[str, str] | None = None
    config: str | None = None
    """Base64 of the image config JSON."""


class Source(msgspec.Struct, gc=False):
    """`source`: a string target for folders and files, an object for images."""

    type: str | None = None
    target: str | ImageTarget | None = None


class Descriptor(msgspec.Struct, gc=False):
    """`descriptor`."""

    name: str | None = None
    version: str | None = None
    timestamp: str | None = None


class Distro(msgspec.Struct, gc=False):
    """`distro`; 0.7 to 0.28 wrote `idLike` as a string, which is not read."""

    name: str | None = None
    version: str | None = None


class Alert(msgspec.Struct, gc=False):
    """`alertsByPackage[].alerts[]`."""

    type: str | None = None


class PackageAlerts(msgspec.Struct, gc=False):
    """`alertsByPackage[]`."""

    alerts: list[Alert] | None = None


class ConfigBody(msgspec.Struct, gc=False):
    """`config` of an image config."""

    user: str | None = msgspec.field(default=None, name="User")
    labels: dict[str, str] | None = msgspec.field(default=None, name="Labels")


class ImageConfig(msgspec.Struct, gc=False):
    """The image config JSON that `source.target.config` carries in base64."""

    created: str | None = None
    config: ConfigBody | None = None
