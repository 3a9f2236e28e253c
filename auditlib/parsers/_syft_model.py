"""Typed msgspec models of the parts of a Syft JSON document that auditlib reads (schema 1.x to 16).

Only the fields the parser reads are named; msgspec skips every other field without building Python
objects for it, which is what keeps a large SBOM cheap (artifact `metadata.files`, `cpes`, the image
`manifest`; the image `config` stays undecoded until the parser has checked its size). Optional
fields default to None because Syft left many of them out in old schemas, and the old and new
spellings of a block share one model where their field names allow it.
`gc=False` is safe here (no model can hold a cycle) and makes creating many small structs cheaper.
Attribute names keep Syft's JSON spelling (`layerID`, `spdxExpression`) so no renaming is needed.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Location(msgspec.Struct, gc=False):
    """A coordinate where an artifact or a licence was found."""

    path: str | None = None
    layerID: str | None = None


class License(msgspec.Struct, gc=False):
    """A licence object (schema 9 and later); older schemas write plain strings instead."""

    value: str | None = None
    spdxExpression: str | None = None
    type: str | None = None
    locations: list[str | Location] | None = None


class ArtifactMetadata(msgspec.Struct, gc=False):
    """The two fields of an artifact's `metadata` that auditlib reads (dpkg's source package).

    `Any` rather than `str`: catalogers other than dpkg write other things under `source` (the
    parser only reads it for `deb` artifacts), and a stray type there must not cost the artifact.
    """

    source: Any = None
    sourceVersion: Any = None


class Artifact(msgspec.Struct, gc=False):
    """One element of `artifacts`: a package Syft catalogued."""

    name: str
    id: str | None = None
    version: str | None = None
    type: str | None = None
    foundBy: str | None = None
    purl: str | None = None
    # Before schema 1.0 a location could be a bare path string.
    locations: list[str | Location] | None = None
    # Strings up to schema 8, objects from schema 9 on.
    licenses: list[str | License] | None = None
    metadata: ArtifactMetadata | None = None


class ImageMetadata(msgspec.Struct):
    """`source.target` (schema 1.x) or `source.metadata` (later) of an image source.

    Directory and file sources use the same field (with `path`, `digests`, ...): every field is
    optional, so their metadata decodes here too and leaves the image fields empty.
    """

    userInput: str | None = None
    imageID: str | None = None
    manifestDigest: str | None = None
    repoDigests: list[str] | None = None
    tags: list[str] | None = None
    imageSize: int | None = None
    architecture: str | None = None
    os: str | None = None
    # Only counted: Raw keeps each layer undecoded.
    layers: list[msgspec.Raw] | None = None
    # Base64 of the image config JSON (schema 1.1 on), left undecoded so that its size is checked
    # before it is decoded, and a value of another type costs the config, not the source. An
    # absent config is an empty `Raw` (msgspec does not allow `Raw | None`).
    config: msgspec.Raw = msgspec.Raw()


class Relationship(msgspec.Struct, gc=False):
    """One element of `artifactRelationships`: `parent` and `child` are artifact, file or source
    ids; `type` is `dependency-of`, `contains`, `evident-by`, `ownership-by-file-overlap`, ..."""

    parent: str
    child: str
    type: str


class Source(msgspec.Struct):
    """`source`: schema 1.x `{type, target}`; later `{id, name, version, type, metadata}`."""

    type: str | None = None
    target: str | ImageMetadata | None = None
    id: str | None = None
    name: str | None = None
    version: str | None = None
    metadata: ImageMetadata | None = None


class Distro(msgspec.Struct):
    """`distro`: schema 1.x `{name, version, idLike}`; later os-release `{id, versionID, ...}`."""

    id: str | None = None
    versionID: str | None = None
    name: str | None = None
    version: str | None = None


class Descriptor(msgspec.Struct):
    """`descriptor`: the tool that wrote the document."""

    name: str | None = None
    version: str | None = None
    timestamp: str | None = None
