"""Public keys that verify cosign signatures (`cosign generate-key-pair` writes `cosign.pub`).

`load_keys(["cosign.pub"])` reads PEM public keys (`-----BEGIN PUBLIC KEY-----`, as cosign
writes them); `verifying_key(keys, signature, data)` returns the first key that verifies a
signature over some bytes. Cosign's default keys are ECDSA P-256 with SHA-256 (P-384 with SHA-384,
P-521 with SHA-512); RSA (PKCS #1 v1.5 or PSS, SHA-256) and Ed25519 keys are read too. The
signature is what cosign writes: DER-encoded for ECDSA, base64 in the manifest annotation or the
DSSE envelope, decoded by the caller.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from auditlib.errors import ParameterError

__all__ = ["CosignKey", "KeyFileError", "load_key", "load_keys", "verifying_key"]

MAX_KEY_BYTES = 64 * 1024
"""A public key file larger than this is refused (a PEM key is a few hundred bytes)."""

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

_CURVE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256, "secp384r1": hashes.SHA384, "secp521r1": hashes.SHA512,
}


class KeyFileError(ParameterError):
    """A key file that cannot be read, or is not a public key auditlib can verify with."""


@dataclass(frozen=True, slots=True)
class CosignKey:
    """A public key and the name it is shown by."""

    name: str
    """The key file's name (`cosign.pub`), as tables and messages show it."""
    key: PublicKey
    """The key."""

    def __repr__(self) -> str:
        """Return `CosignKey('cosign.pub')`."""
        return f"CosignKey({self.name!r})"

    def verifies(self, signature: bytes, data: bytes) -> bool:
        """Return whether `signature` is this key's signature over `data`."""
        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                algorithm = _CURVE_HASHES.get(self.key.curve.name, hashes.SHA256)()
                self.key.verify(signature, data, ec.ECDSA(algorithm))
            elif isinstance(self.key, rsa.RSAPublicKey):
                return _rsa_verifies(self.key, signature, data)
            else:
                self.key.verify(signature, data)
        except (InvalidSignature, ValueError):
            return False
        return True


def _rsa_verifies(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    for pad in (padding.PKCS1v15(), pss):
        try:
            key.verify(signature, data, pad, hashes.SHA256())
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def load_key(path: str | os.PathLike[str]) -> CosignKey:
    """Read one PEM public key file.

    Returns:
        The key, named by the file's name.

    Raises:
        KeyFileError: the file cannot be read, is larger than 64 KiB, is not a PEM public key,
            or holds a key of a kind that cannot verify cosign signatures (naming the file and
            the reason).
    """
    p = Path(path)
    try:
        if p.stat().st_size > MAX_KEY_BYTES:
            raise KeyFileError(f"{p}: not a public key: larger than {MAX_KEY_BYTES:,} bytes")
        data = p.read_bytes()
    except OSError as e:
        raise KeyFileError(f"{p}: cannot read the key file: {e.strerror or e}") from None
    if b"PRIVATE KEY" in data:
        raise KeyFileError(f"{p}: this is a private key; give the public key (cosign.pub)")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise KeyFileError(f"{p}: not a PEM public key ({why})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey
                      | ed25519.Ed25519PublicKey):
        raise KeyFileError(
            f"{p}: a {type(key).__name__} cannot verify cosign signatures (ECDSA, RSA or "
            "Ed25519 keys can)"
        )
    return CosignKey(p.name, key)


def load_keys(paths: Iterable[str | os.PathLike[str]]) -> list[CosignKey]:
    """Read public key files (`load_key` for each), in the order given.

    Raises:
        KeyFileError: as `load_key`, for the first file that fails.
    """
    return [load_key(p) for p in paths]


def verifying_key(keys: Sequence[CosignKey], signature: bytes, data: bytes) -> CosignKey | None:
    """Return the first of `keys` whose signature over `data` `signature` is, else None."""
    return next((k for k in keys if k.verifies(signature, data)), None)
