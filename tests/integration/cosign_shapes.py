"""What cosign pushes to a registry, in its exact shape, for the integration tests and the
signature benchmark (cosign itself cannot be installed here: not in Debian, PyPI or npm).

`cosign sign --key` pushes an OCI manifest under the tag `sha256-<hex>.sig` whose config is
cosign's empty image config and whose layer is the simple-signing payload, the base64 signature
in the annotation `dev.cosignproject.cosign/signature`; `cosign attest --key` pushes DSSE envelopes
of in-toto statements under `sha256-<hex>.att`, each layer annotated with its `predicateType`.
`referrers` pushes a signature and an SBOM as OCI 1.1 artifacts (with `subject`) listed in the
fallback tag `sha256-<hex>`, as ORAS and cosign's `oci-1-1` mode do on a registry without the
referrers API. Keys are P-256, as `cosign generate-key-pair` makes them.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from auditlib.sources.cosign_keys import CosignKey, load_key
from tests.integration.registry_server import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Pusher,
    canonical_json,
    digest_of,
)

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
SLSA = "https://slsa.dev/provenance/v0.2"
SPDX = "https://spdx.dev/Document"
REPO = "signed/app"


class Signer:
    """A P-256 key pair, as `cosign generate-key-pair` makes (the public half as cosign.pub)."""

    def __init__(self, folder: Path, name: str) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.pub = folder / name
        self.pub.write_bytes(self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def sign(self, data: bytes) -> str:
        """Return the base64 ECDSA (SHA-256) signature of `data`, DER-encoded as cosign's."""
        return base64.b64encode(self.private.sign(data, ec.ECDSA(hashes.SHA256()))).decode()

    def key(self) -> CosignKey:
        """Return the public key, as auditlib reads cosign.pub."""
        return load_key(self.pub)


def cosign_config(layers: list[dict[str, Any]]) -> bytes:
    """Return cosign's image config of a signature or attestation manifest."""
    return canonical_json({
        "architecture": "", "config": {}, "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
        "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in layers]},
    })


def simple_signing(reference: str, digest: str) -> bytes:
    """Return the simple-signing payload `cosign sign` signs for `reference@digest`."""
    return json.dumps({
        "critical": {"identity": {"docker-reference": reference},
                     "image": {"docker-manifest-digest": digest},
                     "type": "cosign container image signature"},
        "optional": None,
    }, separators=(",", ":")).encode()


def dsse_envelope(signer: Signer, digest: str, predicate_type: str,
                  predicate: dict[str, Any]) -> bytes:
    """Return a DSSE envelope of an in-toto statement about `digest`, as `cosign attest`
    writes it."""
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v0.1", "predicateType": predicate_type,
        "subject": [{"name": REPO, "digest": {"sha256": digest.split(":", 1)[1]}}],
        "predicate": predicate,
    }).encode()
    kind = b"application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(statement), statement)
    return json.dumps({
        "payloadType": kind.decode(), "payload": base64.b64encode(statement).decode(),
        "signatures": [{"keyid": "", "sig": signer.sign(pae)}],
    }).encode()


def _push_cosign_manifest(pusher: Pusher, reference: str, layers: list[dict[str, Any]]) -> str:
    config = pusher.blob(REPO, cosign_config(layers), OCI_CONFIG)
    body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
    return pusher.manifest(REPO, reference, body)[0]


def _layer(pusher: Pusher, data: bytes, media_type: str, notes: dict[str, str]) -> dict[str, Any]:
    return {**pusher.blob(REPO, data, media_type), "annotations": notes}


def push_image(pusher: Pusher, tag: str) -> str:
    """Push a small image (its own config and layer) as `REPO:tag`; return its digest."""
    config = {"architecture": "amd64", "os": "linux", "created": "2026-11-01T00:00:00Z",
              "config": {"User": "app", "Labels": {"tag": tag}},
              "rootfs": {"type": "layers", "diff_ids": []}}
    return pusher.image(REPO, tag, config, [f"layer of {tag}".encode()]).manifest


def push_signature(pusher: Pusher, signer: Signer, target: str, *,
                   signed: bytes | None = None, tamper: bool = False) -> None:
    """Sign `target` as `cosign sign --key` does (or sign the payload `signed` and put it under
    `target`'s tag); with `tamper`, change the payload after signing."""
    data = signed or simple_signing(f"{pusher.registry.host}/{REPO}", target)
    sig = signer.sign(data)
    if tamper:  # changed after signing: the blob (and its digest) no longer match the signature
        data = data.replace(b"cosign container image signature",
                            b"cosign container image signaturE")
    layer = _layer(pusher, data, SIMPLE_SIGNING, {"dev.cosignproject.cosign/signature": sig})
    _push_cosign_manifest(pusher, target.replace(":", "-") + ".sig", [layer])


def push_attestations(pusher: Pusher, signer: Signer, target: str) -> None:
    """Attest SLSA provenance and an SPDX SBOM of `target`, as `cosign attest --key` does."""
    layers = [
        _layer(pusher, dsse_envelope(signer, target, SLSA, {"builder": {"id": "ci"},
                                                             "buildType": "buildkit"}),
               DSSE, {"dev.cosignproject.cosign/signature": "", "predicateType": SLSA}),
        _layer(pusher, dsse_envelope(signer, target, SPDX, {"spdxVersion": "SPDX-2.3"}),
               DSSE, {"dev.cosignproject.cosign/signature": "", "predicateType": SPDX}),
    ]
    _push_cosign_manifest(pusher, target.replace(":", "-") + ".att", layers)


def push_referrers(pusher: Pusher, signer: Signer, target: str) -> None:
    """Push a signature and an SBOM as OCI 1.1 artifacts of `target`, listed in the fallback
    tag's index."""
    subject = {"mediaType": OCI_MANIFEST, "digest": target, "size": 0}
    data = simple_signing(f"{pusher.registry.host}/{REPO}", target)
    sig = _layer(pusher, data, SIMPLE_SIGNING,
                 {"dev.cosignproject.cosign/signature": signer.sign(data)})
    sbom = _layer(pusher, b'{"spdxVersion": "SPDX-2.3"}', "text/spdx+json", {})
    entries = []
    for layer, kind in ((sig, "application/vnd.dev.cosign.artifact.sig.v1+json"),
                        (sbom, "application/spdx+json")):
        empty = pusher.blob(REPO, b"{}", "application/vnd.oci.empty.v1+json")
        body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind,
                "config": empty, "layers": [layer], "subject": subject}
        digest, raw = pusher.manifest(REPO, digest_of(canonical_json(body)), body)
        entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(raw),
                        "artifactType": kind})
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    pusher.manifest(REPO, target.replace(":", "-"), index)
