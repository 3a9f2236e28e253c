"""OCI image layouts: `oci-layout`, `index.json` and content-addressed `blobs/<alg>/<hex>`.

See the image-spec `image-layout.md`. `index.json` lists descriptors of image manifests or of
(nested) image indexes; names come from the descriptor annotations `io.containerd.image.name`
(a full reference) and `org.opencontainers.image.ref.name` (a full reference, or often just a
tag, which names no repository and is then not used). Every blob read is checked against the
digest (and size) of the descriptor that names it. Attestation manifests (BuildKit's
`unknown/unknown` entries) and manifests of artifacts that are not images are skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditlib.identity import Reference, parse_reference
from auditlib.sources._archive_members import (
    ArchiveError,
    ArchiveLimitError,
    ArchiveLimits,
    Members,
    decode_json,
)

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
MANIFEST_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)
CONFIG_TYPES = frozenset(
    {
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)
CONTAINERD_NAME = "io.containerd.image.name"
REF_NAME = "org.opencontainers.image.ref.name"
_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")


@dataclass(slots=True)
class FoundImage:
    """One image found in an archive, ready for `image_record`."""

    image_id: str
    """`sha256:` of the config bytes."""
    config: dict[str, Any]
    """The decoded image config."""
    tags: list[str] = field(default_factory=list)
    """`repo:tag` references."""
    repo_digests: list[str] = field(default_factory=list)
    """`repo@sha256:...` references (a name and the manifest or index digest it points at)."""
    size_bytes: int | None = None
    """Sum of the layer sizes, when every one is known."""


@dataclass(slots=True)
class ManifestRef:
    """An image manifest reached from `index.json`."""

    where: str
    """How it was reached: `index.json manifests[0] > manifests[1]`."""
    digest: str
    """The manifest's digest."""
    manifest: dict[str, Any]
    """The decoded manifest."""
    names: list[Reference]
    """The names the `index.json` descriptor gives."""
    named_digest: str
    """The digest of that `index.json` descriptor (an index, for a multi-platform image)."""


def blob_name(digest: str) -> str:
    """Return the member name of a blob: `blobs/sha256/<hex>`."""
    alg, _, encoded = digest.partition(":")
    return f"blobs/{alg}/{encoded}"


def read_blob(members: Members, desc: Mapping[str, Any], where: str) -> tuple[bytes, Any]:
    """Return the bytes and decoded JSON of the blob `desc` (a descriptor) names.

    Raises:
        ArchiveError: if the digest is invalid or of an unsupported algorithm, the blob is
            missing or unreadable, its content digest or size differs from the descriptor's, or
            it is not JSON.
    """
    digest = desc.get("digest")
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ArchiveError(f"{where}: invalid or unsupported digest {digest!r}")
    name = blob_name(digest)
    try:
        data = members.read(name)
    except ArchiveError as exc:
        raise ArchiveError(f"{exc} (named by {where})") from None
    alg = digest.partition(":")[0]
    actual = f"{alg}:{hashlib.new(alg, data).hexdigest()}"
    if actual != digest:
        raise ArchiveError(f"{name}: content digest {actual} does not match {where}")
    size = desc.get("size")
    if type(size) is int and size != len(data):
        raise ArchiveError(f"{name}: {len(data)} bytes, but {where} says {size}")
    return data, decode_json(name, data)


def _annotations(desc: Mapping[str, Any]) -> dict[str, Any]:
    value = desc.get("annotations")
    return value if isinstance(value, dict) else {}


def names_of(desc: Mapping[str, Any]) -> list[Reference]:
    """Return the image names an `index.json` descriptor's annotations give, normalised.

    A `ref.name` without `/`, `:` or `@` is a bare tag (`latest`): it names no repository and
    is left out.
    """
    out: list[Reference] = []
    ann = _annotations(desc)
    for key in (CONTAINERD_NAME, REF_NAME):
        text = ann.get(key)
        if not isinstance(text, str) or (key == REF_NAME and not re.search(r"[/:@]", text)):
            continue
        ref = parse_reference(text)
        if ref is not None and ref not in out:
            out.append(ref)
    return out


def _is_attestation(desc: Mapping[str, Any]) -> bool:
    if _annotations(desc).get("vnd.docker.reference.type") == "attestation-manifest":
        return True
    platform = desc.get("platform")
    return isinstance(platform, dict) and platform.get("os") == "unknown"


def _platform(desc: Mapping[str, Any]) -> str:
    platform = desc.get("platform")
    if not isinstance(platform, dict):
        return ""
    parts = [platform.get(k) for k in ("os", "architecture", "variant")]
    return " (" + "/".join(str(p) for p in parts if p) + ")"


class _Walk:
    """One walk of `index.json` and the indexes it names.

    Each blob is read, verified and decoded once, however often it is named; each `index.json`
    entry is followed depth first, visiting each index and manifest once (an index naming
    another many times, on many levels, costs one visit per descriptor, not one per path).
    Descriptors read are counted against `max_entries`.
    """

    def __init__(self, members: Members, limits: ArchiveLimits, errors: list[str]) -> None:
        self.members = members
        self.limits = limits
        self.errors = errors
        self.found: list[ManifestRef] = []
        self.entries = 0
        self._blobs: dict[str, dict[str, Any] | ArchiveError] = {}
        """Each blob read: its decoded object, or why it could not be read."""
        self._reported: set[str] = set()
        """Reasons already in `errors` (a blob that is named many times is reported once)."""

    def count(self, n: int = 1) -> None:
        """Count `n` more descriptors read.

        Raises:
            ArchiveLimitError: past `max_entries`.
        """
        self.entries += n
        if self.entries > self.limits.max_entries:
            raise ArchiveLimitError(
                f"index.json: more than {self.limits.max_entries} descriptors in it and the "
                f"image indexes it names (limit max_entries={self.limits.max_entries})"
            )

    def _blob(self, desc: Mapping[str, Any], digest: str, where: str) -> dict[str, Any]:
        """Return the decoded JSON object of the blob `desc` names, read once per digest.

        Raises:
            ArchiveError: as `read_blob`, or if it is not a JSON object.
        """
        if not _DIGEST.match(digest):  # as read_blob says it, without keeping it by digest
            raise ArchiveError(
                f"{where}{_platform(desc)}: invalid or unsupported digest {desc.get('digest')!r}"
            )
        seen = self._blobs.get(digest)
        if seen is None:
            try:
                _, doc = read_blob(self.members, desc, where + _platform(desc))
                if not isinstance(doc, dict):
                    raise ArchiveError(f"{blob_name(digest)}: not a JSON object (named by {where})")
                seen = doc
            except ArchiveLimitError:
                raise
            except ArchiveError as exc:
                seen = exc
            self._blobs[digest] = seen
        if isinstance(seen, ArchiveError):
            raise seen
        return seen

    def visit(self, desc: Mapping[str, Any], where: str, top: _Top, visited: set[str],
              path: tuple[str, ...]) -> None:
        """Record the image manifests `desc` reaches (itself, or an index's children) that this
        `index.json` entry has not reached yet.

        Raises:
            ArchiveError: if its blob cannot be read or verified, is not an object, or is an
                index nested too deep or naming itself.
        """
        media = desc.get("mediaType")
        if _is_attestation(desc) or (
            isinstance(media, str) and media not in INDEX_TYPES | MANIFEST_TYPES
        ):
            return  # not an image: an attestation, a signature, an artifact
        digest = str(desc.get("digest"))
        if digest in path:
            raise ArchiveError(f"{where}: index names itself (a cycle); skipped")
        if digest in visited:
            return  # reached already from this index.json entry: nothing new below it
        doc = self._blob(desc, digest, where)
        visited.add(digest)
        if media is None:
            media = doc.get("mediaType")
        is_index = media in INDEX_TYPES or (media is None and "manifests" in doc)
        if not is_index:
            if media in MANIFEST_TYPES or (media is None and "config" in doc):
                self.found.append(ManifestRef(where, digest, doc, top.names, top.digest))
            return
        if len(path) >= self.limits.max_index_depth:
            raise ArchiveError(
                f"{where}: indexes nested deeper than {self.limits.max_index_depth} "
                f"(limit max_index_depth={self.limits.max_index_depth}); skipped"
            )
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise ArchiveError(f"{blob_name(digest)}: image index without a 'manifests' list")
        self.count(len(children))
        for j, child in enumerate(children):
            self.descend(child, f"{where} > manifests[{j}]", top, visited, (*path, digest))

    def descend(self, desc: Any, where: str, top: _Top, visited: set[str],
                path: tuple[str, ...] = ()) -> None:
        """Visit one descriptor, recording (not raising) why it could not be read; a limit of
        the whole archive is raised."""
        if not isinstance(desc, dict):
            self.report(f"{where}: not a descriptor object; skipped")
            return
        try:
            self.visit(desc, where, top, visited, path)
        except ArchiveLimitError:
            raise
        except ArchiveError as exc:
            self.report(str(exc))

    def report(self, reason: str) -> None:
        """Add `reason` to the errors, once."""
        if reason not in self._reported:
            self._reported.add(reason)
            self.errors.append(reason)


@dataclass(frozen=True, slots=True)
class _Top:
    """The `index.json` entry a walk started from: the names it gives, and its digest."""

    names: list[Reference]
    digest: str


def walk_index(members: Members, limits: ArchiveLimits, errors: list[str]) -> list[ManifestRef]:
    """Return the image manifests `index.json` reaches, depth first, in its order: each once
    per `index.json` entry that reaches it.

    Descriptors that cannot be read are skipped, each with a reason appended to `errors`.

    Raises:
        ArchiveError: if `index.json` itself cannot be read or is not an image index.
        ArchiveLimitError: if the indexes hold more than `max_entries` descriptors in all.
    """
    _, index = members.read_json("index.json")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list):
        raise ArchiveError("index.json: not an image index (no 'manifests' list)")
    walk = _Walk(members, limits, errors)
    walk.count(len(manifests))
    for i, desc in enumerate(manifests):
        names = names_of(desc) if isinstance(desc, dict) else []
        named_digest = desc.get("digest") if isinstance(desc, dict) else None
        walk.descend(desc, f"index.json manifests[{i}]", _Top(names, str(named_digest)), set())
    return walk.found


def name_refs(names: list[Reference], named_digest: str) -> tuple[list[str], list[str]]:
    """Return the tags and repo digests that `names` give an image reached by `named_digest`."""
    tags: list[str] = []
    digests: list[str] = []
    for ref in names:
        if ref.tag:
            tags.append(str(Reference(ref.registry, ref.repository, ref.tag, None)))
        for digest in (named_digest, ref.digest):
            if digest and _DIGEST.match(digest) and f"{ref.name}@{digest}" not in digests:
                digests.append(f"{ref.name}@{digest}")
    return tags, digests


def layout_version(members: Members, errors: list[str]) -> str:
    """Return the `imageLayoutVersion` of the `oci-layout` file, or `unknown`."""
    if not members.has("oci-layout"):
        errors.append("oci-layout: missing (read as an OCI layout anyway)")
        return "unknown"
    try:
        _, layout = members.read_json("oci-layout")
    except ArchiveError as exc:
        errors.append(str(exc))
        return "unknown"
    version = layout.get("imageLayoutVersion") if isinstance(layout, dict) else None
    return version if isinstance(version, str) and version else "unknown"


def _layers_size(manifest: Mapping[str, Any]) -> int | None:
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not layers:
        return None
    sizes = [d.get("size") if isinstance(d, dict) else None for d in layers]
    if not all(type(s) is int and s >= 0 for s in sizes):
        return None
    return sum(s for s in sizes if isinstance(s, int))


def layout_images(members: Members, limits: ArchiveLimits, errors: list[str]) -> list[FoundImage]:
    """Return every image of an OCI layout: one per image manifest (one per platform).

    Manifests whose config cannot be read, or does not match its digest, are skipped with a
    reason appended to `errors`.

    Raises:
        ArchiveError: if `index.json` cannot be read or is not an image index.
    """
    out: list[FoundImage] = []
    configs: dict[str, tuple[str, Any] | ArchiveError] = {}
    """Each config read: its image id and decoded JSON, or why not (read once, however many
    manifests name it)."""
    for ref in walk_index(members, limits, errors):
        desc = ref.manifest.get("config")
        where = f"the config of {blob_name(ref.digest)} ({ref.where})"
        if not isinstance(desc, dict):
            errors.append(f"{blob_name(ref.digest)}: manifest without a config ({ref.where})")
            continue
        media = desc.get("mediaType")
        if isinstance(media, str) and media not in CONFIG_TYPES:
            continue  # an artifact (Helm chart, signature, SBOM), not an image
        key = f"{desc.get('digest')} {desc.get('size')}"
        read = configs.get(key)
        if read is None:
            try:
                data, config = read_blob(members, desc, where)
                if not isinstance(config, dict):
                    raise ArchiveError(
                        f"{blob_name(str(desc.get('digest')))}: config is not a JSON object"
                    )
                read = ("sha256:" + hashlib.sha256(data).hexdigest(), config)
            except ArchiveError as exc:
                read = exc
                errors.append(str(exc))
            configs[key] = read
        if isinstance(read, ArchiveError):
            continue
        image_id, config = read
        tags, digests = name_refs(ref.names, ref.named_digest)
        out.append(FoundImage(image_id, config, tags, digests, _layers_size(ref.manifest)))
    return out
