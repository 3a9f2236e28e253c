"""Cosign's documents: the simple-signing payload of an image signature, and the DSSE envelope of
an in-toto attestation, read and (with public keys) verified.

A cosign image signature is a layer of media type `application/vnd.dev.cosign.simplesigning.v1+json`
whose blob is the signed payload (`{"critical": {"identity": {"docker-reference": ...}, "image":
{"docker-manifest-digest": "sha256:..."}, "type": "cosign container image signature"}, ...}`)
and whose annotation `dev.cosignproject.cosign/signature` is the base64 signature over exactly
those bytes. It is verified when a key verifies the signature AND the digest it signed is the
image's: a valid signature of another image is no signature of this one.

An attestation is a DSSE envelope (`{"payloadType": "application/vnd.in-toto+json", "payload":
base64, "signatures": [{"keyid", "sig"}]}`) whose signatures are over the DSSE pre-authentication
encoding of the payload; the payload is an in-toto statement naming its subjects (by digest) and
its `predicateType` (SLSA provenance, an SPDX or CycloneDX SBOM, a vulnerability scan, ...).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from auditlib.errors import MalformedInputError
from auditlib.sources.cosign_keys import CosignKey, verifying_key

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
"""The media type of a cosign signature layer."""
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
"""The layer annotation holding the base64 signature."""
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
"""The layer annotation of a keyless signature's certificate."""
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
"""The media type of a cosign attestation layer."""
IN_TOTO = "application/vnd.in-toto+json"
"""The payload type of an in-toto statement (and BuildKit's unsigned attestation layers)."""
SIGNATURE_TYPE = "cosign container image signature"
"""The `critical.type` of a cosign image signature payload."""

SBOM_MEDIA_TYPES: dict[str, str] = {
    "text/spdx+json": "sbom-spdx", "text/spdx": "sbom-spdx", "application/spdx+json": "sbom-spdx",
    "text/spdx+xml": "sbom-spdx",
    "application/vnd.cyclonedx+json": "sbom-cyclonedx",
    "application/vnd.cyclonedx+xml": "sbom-cyclonedx",
    "application/vnd.cyclonedx": "sbom-cyclonedx",
    "application/vnd.syft+json": "sbom-syft",
}
"""Media types of SBOMs attached to images (`cosign attach sbom --type`, ORAS artifacts), and
the kind each is."""

_PREDICATE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("https://slsa.dev/provenance/", "provenance"),
    ("https://spdx.dev/document", "sbom-spdx"),
    ("https://cyclonedx.org/bom", "sbom-cyclonedx"),
    ("https://syft.dev/bom", "sbom-syft"),
    ("https://cosign.sigstore.dev/attestation/vuln/", "vulnerability-scan"),
    ("https://openvex.dev/ns", "vex"),
    ("https://in-toto.io/attestation/vulns", "vulnerability-scan"),
)
_SHORT_PREDICATES = {
    "slsaprovenance": "provenance", "slsaprovenance02": "provenance",
    "slsaprovenance1": "provenance", "spdx": "sbom-spdx", "spdxjson": "sbom-spdx",
    "cyclonedx": "sbom-cyclonedx", "vuln": "vulnerability-scan", "openvex": "vex",
}


class DocumentError(MalformedInputError, ValueError):
    """A signature payload or attestation envelope that cannot be read (the reason says why)."""


def predicate_kind(predicate_type: str | None) -> str:
    """Return what an in-toto `predicateType` (or cosign's short name) is: `provenance`,
    `sbom-spdx`, `sbom-cyclonedx`, `sbom-syft`, `vulnerability-scan`, `vex`, or `other`
    (`unknown` when there is none).
    """
    if not predicate_type:
        return "unknown"
    low = predicate_type.strip().lower()
    if low in _SHORT_PREDICATES:
        return _SHORT_PREDICATES[low]
    return next((kind for prefix, kind in _PREDICATE_PREFIXES if low.startswith(prefix)),
                "other")


def sbom_kind(media_type: str | None) -> str | None:
    """Return the kind of SBOM a media type is (`sbom-spdx`, ...), None when it is none."""
    if not media_type:
        return None
    return SBOM_MEDIA_TYPES.get(media_type.split(";", 1)[0].strip().lower())


@dataclass(frozen=True, slots=True)
class Check:
    """What a signature check found."""

    verified: bool | None
    """True: a key verified it and it is about the image; False: it failed; None: no key was
    given (unknown)."""
    verified_by: str | None = None
    """The name of the key that verified it."""
    failure: str | None = None
    """Why it failed, when it did."""


def _json_object(data: bytes, what: str) -> Mapping[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise DocumentError(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise DocumentError(f"the {what} is not a JSON object")
    return value


def _b64(text: object, what: str) -> bytes:
    if not isinstance(text, str) or not text:
        raise DocumentError(f"no {what}")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DocumentError(f"the {what} is not base64") from None


@dataclass(frozen=True, slots=True)
class SimpleSigning:
    """The fields of a simple-signing payload that say what was signed."""

    digest: str | None
    """`critical.image.docker-manifest-digest`."""
    reference: str | None
    """`critical.identity.docker-reference`."""
    type: str | None
    """`critical.type`."""


def read_simple_signing(payload: bytes) -> SimpleSigning:
    """Read a simple-signing payload.

    Raises:
        DocumentError: not a JSON object, or without a `critical` object.
    """
    body = _json_object(payload, "signature payload")
    critical = body.get("critical")
    if not isinstance(critical, Mapping):
        raise DocumentError("the signature payload has no `critical` section")
    image = critical.get("image")
    identity = critical.get("identity")
    digest = image.get("docker-manifest-digest") if isinstance(image, Mapping) else None
    ref = identity.get("docker-reference") if isinstance(identity, Mapping) else None
    kind = critical.get("type")
    return SimpleSigning(
        digest if isinstance(digest, str) else None, ref if isinstance(ref, str) else None,
        kind if isinstance(kind, str) else None,
    )


def check_signature(payload: bytes, signature: str | None, keys: Sequence[CosignKey],
                    image_digest: str, *, signed: SimpleSigning | DocumentError | None = None
                    ) -> Check:
    """Verify a cosign image signature: `signature` (base64, from the layer annotation) over
    `payload` (the layer's blob) with one of `keys`, and the payload's signed digest against
    `image_digest` (the manifest the signature is for).

    Args:
        signed: the payload as `read_simple_signing` read it (or the error it raised), when the
            caller read it already; None: read here.

    Returns:
        The check; `verified` None when no key was given.
    """
    if not keys:
        return Check(None)
    names = ", ".join(k.name for k in keys)
    try:
        raw = _b64(signature, f"signature annotation ({SIGNATURE_ANNOTATION})")
        if signed is None:
            signed = read_simple_signing(payload)
        elif isinstance(signed, DocumentError):
            raise signed
    except DocumentError as e:
        return Check(False, failure=str(e))
    key = verifying_key(keys, raw, payload)
    if key is None:
        return Check(False, failure=f"the signature does not verify with the key(s) given "
                                    f"({names}): the payload was changed or another key signed it")
    if signed.digest != image_digest:
        return Check(False, key.name, f"the signature is valid but signs "
                                      f"{signed.digest or 'no digest'}, not this image's "
                                      f"{image_digest}")
    if signed.type is not None and signed.type.lower() != SIGNATURE_TYPE:
        return Check(False, key.name, f"the signed payload is a {signed.type!r}, not a "
                                      f"{SIGNATURE_TYPE!r}")
    return Check(True, key.name)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A DSSE envelope."""

    payload_type: str
    payload: bytes
    signatures: tuple[bytes, ...]
    """The decoded signatures (those that are not base64 are left out)."""

    def pae(self) -> bytes:
        """Return the DSSE pre-authentication encoding: what the signatures sign."""
        kind = self.payload_type.encode()
        return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(self.payload), self.payload)


def read_envelope(data: bytes) -> Envelope:
    """Read a DSSE envelope.

    Raises:
        DocumentError: not a JSON object, no payload type, or a payload that is not base64.
    """
    body = _json_object(data, "attestation envelope")
    kind = body.get("payloadType")
    if not isinstance(kind, str) or not kind:
        raise DocumentError("the attestation envelope has no payloadType")
    payload = _b64(body.get("payload"), "payload in the attestation envelope")
    sigs = []
    for entry in body.get("signatures") or []:
        if isinstance(entry, Mapping):
            try:
                sigs.append(_b64(entry.get("sig"), "signature"))
            except DocumentError:
                continue
    return Envelope(kind, payload, tuple(sigs))


@dataclass(frozen=True, slots=True)
class Statement:
    """What an in-toto statement says it is about."""

    predicate_type: str | None
    subject_digests: frozenset[str]
    """The subjects' digests, as `algorithm:hex`."""

    def names(self, digest: str) -> bool:
        """Return whether one of the subjects is `digest` (`sha256:...`)."""
        return digest.lower() in self.subject_digests


def read_statement(payload: bytes) -> Statement:
    """Read an in-toto statement (v0.1 or v1).

    Raises:
        DocumentError: not a JSON object.
    """
    body = _json_object(payload, "in-toto statement")
    digests = set()
    for subject in body.get("subject") or []:
        found = subject.get("digest") if isinstance(subject, Mapping) else None
        if isinstance(found, Mapping):
            digests |= {f"{alg}:{hex_}".lower() for alg, hex_ in found.items()
                        if isinstance(alg, str) and isinstance(hex_, str)}
    kind = body.get("predicateType")
    return Statement(kind if isinstance(kind, str) else None, frozenset(digests))


@dataclass(frozen=True, slots=True)
class Attestation:
    """An attestation read from its envelope, and its check."""

    predicate_type: str | None
    subject_matches: bool | None
    """Whether the statement names the image's digest among its subjects."""
    check: Check


def check_attestation(data: bytes, keys: Sequence[CosignKey], image_digest: str) -> Attestation:
    """Read a DSSE envelope holding an in-toto statement; with `keys`, verify its signatures
    (any of them by any key) and that its subject is `image_digest`.

    Returns:
        The attestation. An envelope that cannot be read is an attestation of unknown type
        whose check failed (with keys) or is unknown (without), the reason given either way.
    """
    try:
        envelope = read_envelope(data)
        statement = read_statement(envelope.payload)
    except DocumentError as e:
        return Attestation(None, None, Check(False if keys else None, failure=str(e)))
    matches = statement.names(image_digest)
    if not keys:
        return Attestation(statement.predicate_type, matches, Check(None))
    names = ", ".join(k.name for k in keys)
    pae = envelope.pae()
    key = next((k for sig in envelope.signatures if (k := verifying_key(keys, sig, pae))), None)
    if key is None:
        why = ("the envelope has no signature" if not envelope.signatures else
               f"no signature of the envelope verifies with the key(s) given ({names})")
        return Attestation(statement.predicate_type, matches, Check(False, failure=why))
    if not matches:
        shown = ", ".join(sorted(statement.subject_digests)) or "no digest"
        return Attestation(statement.predicate_type, matches, Check(
            False, key.name, f"the attestation is valid but about {shown}, not this image's "
                             f"{image_digest}"))
    return Attestation(statement.predicate_type, matches, Check(True, key.name))
