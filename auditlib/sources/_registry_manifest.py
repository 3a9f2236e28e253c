"""Manifests: media types, digests, and the resolution of a tag to one platform's image.

A tag names an image manifest or an index (OCI image index, Docker manifest list). An index is
resolved to the manifest of one platform (`_registry_platform.choose`), whose config descriptor
names the image config: its digest is the image id. The size of an image is the sum of its layer
sizes in the manifest (compressed, as the registry stores them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from auditlib.identity import is_digest
from auditlib.normalize.redact import redact
from auditlib.sources._registry_http import Budget, RegistryError, shorten
from auditlib.sources._registry_platform import Platform, choose

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
SHORT_NAMES = {
    OCI_MANIFEST: "oci-manifest-v1", OCI_INDEX: "oci-index-v1",
    DOCKER_MANIFEST: "docker-manifest-v2", DOCKER_LIST: "docker-manifest-list-v2",
}
"""Short names of the manifest media types, for `source_format` versions."""

@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest or index as the registry served it."""

    digest: str
    """Its digest (`sha256:...`), verified against its bytes."""
    media_type: str
    """Its media type (from the body, else `Content-Type`)."""
    body: Mapping[str, Any]
    """The decoded JSON."""

    @property
    def is_index(self) -> bool:
        """Whether it is an index (manifest list) of per-platform manifests."""
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    """What a tag points at, resolved down to one platform's image config."""

    top: Manifest
    """What the tag points at: an image manifest, or an index."""
    manifest: Manifest
    """The image manifest of the chosen platform (`top` when that is not an index)."""
    platform: str | None
    """The platform chosen from the index, or the image's own platform (`linux/amd64`)."""
    config_digest: str
    """The image id: the digest of the config blob."""
    config: Mapping[str, Any]
    """The decoded, verified config."""
    size_bytes: int | None
    """The sum of the layer sizes the manifest gives (compressed), None when it gives none."""


def media_type_of(body: Mapping[str, Any], content_type: str) -> str:
    """Return the media type of a manifest: its `mediaType`, else a known `Content-Type`,
    else guessed from its fields.
    """
    declared = body.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    ct = content_type.split(";", 1)[0].strip().lower()
    if body.get("schemaVersion") == 1:
        return ct if ct.startswith("application/vnd.") else DOCKER_SCHEMA1
    if ct in INDEX_TYPES or ct in MANIFEST_TYPES or ct.startswith("application/vnd."):
        return ct
    # OCI allows an index or a manifest without `mediaType`: tell them apart by their fields.
    return OCI_INDEX if "manifests" in body else OCI_MANIFEST


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """Return `algorithm:hex` of `data`."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class ManifestSource(Protocol):
    """What `resolve_image` reads from (a `RegistryClient`)."""

    registry: str

    def manifest(
        self, repository: str, reference: str, *, budget: Budget | None = None
    ) -> Manifest:
        """Return the manifest or index `reference` names."""

    def config(
        self, repository: str, digest: str, *, budget: Budget | None = None
    ) -> Mapping[str, Any]:
        """Return the decoded image config blob `digest`."""


def resolve_image(
    client: ManifestSource, repository: str, reference: str, platform: Platform,
    *, budget: Budget | None = None,
) -> ResolvedImage:
    """Resolve `reference` to one image: its manifest (chosen from an index for `platform`)
    and its config, within `budget` (a repository's time and bytes) when one is given.

    Raises:
        RegistryError: as `manifest` and `config`; an index without that platform; a manifest
            without a config descriptor.
    """
    top = client.manifest(repository, reference, budget=budget)
    manifest, chosen = top, None
    if top.is_index:
        sep = "@" if is_digest(reference) else ":"
        subject = f"{client.registry}/{repository}{sep}{reference}"
        fit = choose(top.body.get("manifests") or [], platform)
        if fit is None:
            have = sorted(
                {str(p) for d in top.body.get("manifests") or [] if isinstance(d, Mapping)
                 and (p := Platform.from_descriptor(d.get("platform")))}
            )
            listed = shorten(redact(", ".join(have)), 200)  # the registry's words
            raise RegistryError(
                f"{subject}: the index has no {platform} image (it has: {listed or 'none'})"
            )
        desc, chosen = fit
        child = desc.get("digest")
        if not isinstance(child, str) or not is_digest(child):
            raise RegistryError(f"{subject}: the index entry for {chosen} has no valid digest")
        manifest = client.manifest(repository, child, budget=budget)
        if manifest.is_index:
            raise RegistryError(f"{subject}: nested indexes are not supported")
    cfg_desc = manifest.body.get("config")
    config_digest = cfg_desc.get("digest") if isinstance(cfg_desc, Mapping) else None
    if not isinstance(config_digest, str) or not is_digest(config_digest):
        raise RegistryError(
            f"{client.registry}/{repository}@{manifest.digest}: the manifest has no config "
            "descriptor"
        )
    config = client.config(repository, config_digest, budget=budget)
    sizes = [
        layer.get("size") for layer in manifest.body.get("layers") or []
        if isinstance(layer, Mapping)
    ]
    size = sum(s for s in sizes if type(s) is int) if sizes else None
    if chosen is None:
        os_, arch = config.get("os"), config.get("architecture")
        if isinstance(os_, str) and isinstance(arch, str) and os_ and arch:
            var = config.get("variant")
            chosen = Platform.of(os_, arch, var if isinstance(var, str) else None)
    return ResolvedImage(
        top, manifest, str(chosen) if chosen else None, config_digest, config, size
    )
