"""Signatures, attestations and attached SBOMs of an image's manifest, found in its registry.

For a manifest digest `sha256:<hex>`, `find_artifacts` looks where the tools put them:

- cosign's tag scheme: `sha256-<hex>.sig` (signatures: simple-signing layers), `.att`
  (attestations: DSSE envelope layers), `.sbom` (`cosign attach sbom`: the SBOM as a layer);
- the OCI referrers API, `/v2/<name>/referrers/<digest>` (cosign's `oci-1-1` mode, ORAS), and
  where the registry has no such API (it answers 404, as distribution 2.8 does) the fallback tag
  `sha256-<hex>` holding an index of the referrers;
- and, in the image's own index, BuildKit's attestation manifests (`vnd.docker.reference.type:
  attestation-manifest`), whose in-toto layers name their predicate type.

Every request goes through the `RegistryClient` (its limits, budget, origin checks and
credentials); payloads and envelopes are read up to `max_artifact_bytes` and verified against
their digests. A tag or referrer that is not there is none found; any other failure makes the
lookup of that manifest an error (its `registry_tags.artifacts_checked` is then false), while one
unreadable artifact is a row whose `failure` says why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from auditlib.errors import AuditlibError
from auditlib.identity import is_digest
from auditlib.rows import Row
from auditlib.sources._registry_client import RegistryClient
from auditlib.sources._registry_http import Budget, RegistryError, SourceLimitError
from auditlib.sources._registry_manifest import MANIFEST_TYPES, Manifest
from auditlib.sources.cosign_documents import (
    CERTIFICATE_ANNOTATION,
    DSSE_ENVELOPE,
    IN_TOTO,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING,
    Check,
    DocumentError,
    SimpleSigning,
    check_attestation,
    check_signature,
    predicate_kind,
    read_simple_signing,
    sbom_kind,
)
from auditlib.sources.cosign_keys import CosignKey

ARTIFACT_TAG = re.compile(r"sha(256|384|512)-[0-9a-f]{64,128}(\.(sig|att|sbom))?")
"""Tags that hold a manifest's artifacts (cosign's and the referrers fallback), not images."""
PREDICATE_ANNOTATIONS = ("in-toto.io/predicate-type", "predicateType")
"""Layer annotations that name an attestation's predicate type (BuildKit's, cosign's)."""
BUILDKIT_REFERENCE_TYPE = "vnd.docker.reference.type"
BUILDKIT_REFERENCE_DIGEST = "vnd.docker.reference.digest"


def is_artifact_tag(tag: str) -> bool:
    """Return whether `tag` is one of cosign's or the referrers fallback's, not an image's."""
    return ARTIFACT_TAG.fullmatch(tag) is not None


@dataclass(slots=True)
class Found:
    """What one manifest's lookup found: rows without `image_id` (the caller adds it)."""

    signatures: list[Row] = field(default_factory=list)
    attestations: list[Row] = field(default_factory=list)
    error: str | None = None
    """Why the lookup failed (then it is incomplete); None when it was done."""


@dataclass(slots=True)
class Known:
    """What the lookups of one repository learn once and share: which of its tags exist
    (whether it has the referrers API is the client's to know,
    `RegistryClient.referrers_api` and `RegistryClient.without_referrers`)."""

    tags: frozenset[str] | None = None
    """The repository's tags, when it was listed: a cosign or fallback tag not among them is
    not asked for. None: every one is asked for."""


class _Lookup:
    def __init__(self, client: RegistryClient, repository: str, digest: str,
                 keys: Sequence[CosignKey], budget: Budget | None, known: Known) -> None:
        self.client, self.repository, self.digest = client, repository, digest
        self.keys, self.budget, self.known = keys, budget, known
        self.found = Found()
        self.seen: set[tuple[str, int]] = set()

    def _base(self, found_by: str, artifact: str, index: int) -> Row:
        return {
            "registry": self.client.registry, "repository": self.repository,
            "subject_digest": self.digest, "found_by": found_by, "artifact_digest": artifact,
            "layer_index": index,
        }

    def _manifest(self, reference: str) -> Manifest | None:
        """Return the manifest `reference` names, None when the registry has none."""
        if (self.known.tags is not None and not is_digest(reference)
                and reference not in self.known.tags):
            return None  # the listing has no such tag
        try:
            return self.client.manifest(self.repository, reference, budget=self.budget)
        except SourceLimitError:
            raise
        except RegistryError as e:
            if e.status == 404:
                return None
            raise

    def _blob(self, digest: object) -> bytes | str:
        """Return an artifact blob, or why it could not be read."""
        if not isinstance(digest, str) or not is_digest(digest):
            return "the layer has no valid digest"
        try:
            return self.client.blob(self.repository, digest, budget=self.budget,
                                    what="signature or attestation",
                                    limit="max_artifact_bytes")
        except SourceLimitError:
            raise
        except RegistryError as e:
            return f"not read: {str(e).partition(': ')[2] or e}"

    def _unread(self, why: str) -> Check:
        return Check(False if self.keys else None, failure=why)

    def read(self, manifest: Manifest, found_by: str) -> None:
        """Add the rows of every signature, attestation and SBOM layer of `manifest`."""
        layers = manifest.body.get("layers")
        for index, layer in enumerate(layers if isinstance(layers, list) else []):
            if not isinstance(layer, Mapping) or (manifest.digest, index) in self.seen:
                continue
            self.seen.add((manifest.digest, index))
            media = str(layer.get("mediaType") or "")
            notes = layer.get("annotations")
            notes = notes if isinstance(notes, Mapping) else {}
            row = self._base(found_by, manifest.digest, index)
            if media == SIMPLE_SIGNING:
                self._signature(row, layer, notes)
            elif media == DSSE_ENVELOPE:
                self._attestation(row, layer, notes)
            elif media == IN_TOTO:
                kind = _predicate(notes)
                self.found.attestations.append({
                    **row, "kind": "attestation", "media_type": media, "predicate_type": kind,
                    "predicate_kind": predicate_kind(kind), "signed": False,
                })
            elif (sbom := sbom_kind(media)) is not None:
                self.found.attestations.append({
                    **row, "kind": "sbom", "media_type": media, "predicate_type": media,
                    "predicate_kind": sbom, "signed": False,
                })

    def _signature(self, row: Row, layer: Mapping[str, Any], notes: Mapping[str, Any]) -> None:
        payload = self._blob(layer.get("digest"))
        signed_digest = signed_ref = None
        if isinstance(payload, str):
            check = self._unread(f"the signature payload was {payload}")
        else:
            signed: SimpleSigning | DocumentError
            try:
                signed = read_simple_signing(payload)
                signed_digest, signed_ref = signed.digest, signed.reference
            except DocumentError as e:
                signed = e
            check = check_signature(payload, notes.get(SIGNATURE_ANNOTATION), self.keys,
                                    self.digest, signed=signed)
        keyless = bool(notes.get(CERTIFICATE_ANNOTATION))
        failure = check.failure
        if keyless and check.verified is not True:
            failure = "; ".join(filter(None, [
                failure, "keyless (certificate) signature: auditlib verifies key signatures only",
            ]))
        self.found.signatures.append({
            **row, "signed_digest": signed_digest, "signed_reference": signed_ref,
            "keyless": keyless, "verified": check.verified, "verified_by": check.verified_by,
            "failure": failure,
        })

    def _attestation(self, row: Row, layer: Mapping[str, Any],
                     notes: Mapping[str, Any]) -> None:
        data = self._blob(layer.get("digest"))
        declared = _predicate(notes)
        if isinstance(data, str):
            check, kind, matches = self._unread(f"the envelope was {data}"), declared, None
        else:
            att = check_attestation(data, self.keys, self.digest)
            check, kind, matches = att.check, att.predicate_type or declared, att.subject_matches
        self.found.attestations.append({
            **row, "kind": "attestation", "media_type": DSSE_ENVELOPE, "predicate_type": kind,
            "predicate_kind": predicate_kind(kind), "subject_matches": matches, "signed": True,
            "verified": check.verified, "verified_by": check.verified_by,
            "failure": check.failure,
        })

    def cosign_tags(self) -> None:
        base = self.digest.replace(":", "-", 1)
        for suffix in (".sig", ".att", ".sbom"):
            manifest = self._manifest(base + suffix)
            if manifest is not None and not manifest.is_index:
                self.read(manifest, "cosign-tag")

    def referrers(self) -> None:
        listed = self.client.referrers(self.repository, self.digest, budget=self.budget)
        how = "referrers-api"
        if listed is None:
            how = "referrers-tag"
            index = self._manifest(self.digest.replace(":", "-", 1))
            entries = index.body.get("manifests") if index is not None and index.is_index else []
            listed = [d for d in entries or [] if isinstance(d, Mapping)]
        for desc in listed:
            child, media = desc.get("digest"), desc.get("mediaType")
            if media is not None and media not in MANIFEST_TYPES:
                continue  # an artifact manifest of the OCI 1.1 drafts, or an index: not cosign's
            if isinstance(child, str) and is_digest(child):
                manifest = self._manifest(child)
                if manifest is not None and not manifest.is_index:
                    self.read(manifest, how)

    def buildkit(self, top: Manifest, platform_digest: str) -> None:
        if not top.is_index:
            return
        for desc in top.body.get("manifests") or []:
            notes = desc.get("annotations") if isinstance(desc, Mapping) else None
            if (not isinstance(notes, Mapping)
                    or notes.get(BUILDKIT_REFERENCE_TYPE) != "attestation-manifest"
                    or notes.get(BUILDKIT_REFERENCE_DIGEST) != platform_digest):
                continue
            child = desc.get("digest")
            if isinstance(child, str) and is_digest(child):
                manifest = self._manifest(child)
                if manifest is not None and not manifest.is_index:
                    self.read(manifest, "buildkit-index")


def _predicate(notes: Mapping[str, Any]) -> str | None:
    value = next((notes.get(k) for k in PREDICATE_ANNOTATIONS if notes.get(k)), None)
    return value if isinstance(value, str) else None


def find_artifacts(
    client: RegistryClient, repository: str, digest: str, keys: Sequence[CosignKey], *,
    budget: Budget | None = None, top: Manifest | None = None, known: Known | None = None,
) -> Found:
    """Find the signatures, attestations and attached SBOMs of manifest `digest`; with `keys`,
    verify the signatures and attestations.

    Args:
        client: the registry's client.
        repository: the repository (`team/app`).
        digest: the manifest (`sha256:...`).
        keys: public keys (none: nothing is verified, `verified` stays unknown).
        budget: the repository's time and bytes.
        top: the index `digest`'s image was chosen from, whose BuildKit attestation manifests
            for `digest` are read too.
        known: what earlier lookups of the repository learnt (its tags, whether the registry
            has the referrers API); updated by this one. None: nothing is known.

    Returns:
        The rows found; `error` set when the lookup could not be completed (rows found before
        the failure are kept).

    Raises:
        SourceLimitError: the repository's budget is spent.
    """
    lookup = _Lookup(client, repository, digest, keys, budget, known or Known())
    try:
        lookup.cosign_tags()
        lookup.referrers()
        if top is not None:
            lookup.buildkit(top, digest)
    except SourceLimitError:
        raise
    except (AuditlibError, requests.RequestException, ValueError) as e:
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        lookup.found.error = text
    return lookup.found
