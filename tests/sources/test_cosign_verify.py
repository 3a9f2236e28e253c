"""Cosign signature and attestation checks on real sigstore test vectors (tests/data/cosign,
sources in tests/data/SOURCES.tsv): a simple-signing signature from sigstore-rs and DSSE
envelopes signed by cosign.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest

from auditlib.sources import cosign_documents
from auditlib.sources.cosign_documents import (
    DocumentError,
    check_attestation,
    check_signature,
    predicate_kind,
    read_envelope,
    read_simple_signing,
    sbom_kind,
)
from auditlib.sources.cosign_keys import KeyFileError, load_key, load_keys

DATA = Path(__file__).resolve().parents[1] / "data" / "cosign"
SIGNED = "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b"
BLOB = "sha256:658781cd4ed9bca60dacd09f7bb914bb51502e8b5d619f57f39a1d652596cc24"


def _sig() -> str:
    return (DATA / "sigstore-rs-simplesigning.sig").read_text().strip()


def _payload() -> bytes:
    return (DATA / "sigstore-rs-simplesigning.json").read_bytes()


def test_sources_name_every_vector() -> None:
    rows = [r for r in (DATA.parent / "SOURCES.tsv").read_text().splitlines()[1:]
            if r.startswith("cosign/")]
    listed = {r.split("\t")[0].removeprefix("cosign/") for r in rows}
    assert listed == {p.name for p in DATA.iterdir()}
    assert all(len(r.split("\t")[3]) == 40 for r in rows)


def test_simple_signing_signature_verifies_with_its_key() -> None:
    keys = load_keys([DATA / "sigstore-rs-other.pub", DATA / "sigstore-rs-signer.pub"])
    check = check_signature(_payload(), _sig(), keys, SIGNED)
    assert check.verified is True
    assert check.verified_by == "sigstore-rs-signer.pub"
    assert check.failure is None
    signed = read_simple_signing(_payload())
    assert signed.reference == "registry-testing.svc.lan/busybox"
    assert signed.digest == SIGNED


def test_signature_of_another_image_fails_though_valid() -> None:
    keys = [load_key(DATA / "sigstore-rs-signer.pub")]
    other = "sha256:" + "0" * 64
    check = check_signature(_payload(), _sig(), keys, other)
    assert check.verified is False
    assert check.verified_by == "sigstore-rs-signer.pub"
    assert SIGNED in (check.failure or "") and other in (check.failure or "")


def test_tampered_payload_and_unknown_key_fail() -> None:
    keys = [load_key(DATA / "sigstore-rs-signer.pub")]
    tampered = _payload().replace(b"busybox", b"busyb0x")
    check = check_signature(tampered, _sig(), keys, SIGNED)
    assert check.verified is False and "does not verify" in (check.failure or "")
    unknown = check_signature(_payload(), _sig(), [load_key(DATA / "sigstore-rs-other.pub")],
                              SIGNED)
    assert unknown.verified is False and "sigstore-rs-other.pub" in (unknown.failure or "")


def test_no_key_is_unknown_not_a_pass_or_failure() -> None:
    check = check_signature(_payload(), _sig(), [], SIGNED)
    assert check.verified is None and check.failure is None


def test_bad_annotation_is_a_failure_naming_it() -> None:
    keys = [load_key(DATA / "sigstore-rs-signer.pub")]
    assert "not base64" in (check_signature(_payload(), "%%%", keys, SIGNED).failure or "")
    assert "no signature" in (check_signature(_payload(), None, keys, SIGNED).failure or "")
    bad = check_signature(b"[1]", _sig(), keys, SIGNED)
    assert bad.verified is False and "not a JSON object" in (bad.failure or "")


def test_a_payload_read_by_the_caller_is_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [load_key(DATA / "sigstore-rs-signer.pub")]
    signed = read_simple_signing(_payload())

    def read_again(payload: bytes) -> None:
        raise AssertionError("the payload was read a second time")

    monkeypatch.setattr(cosign_documents, "read_simple_signing", read_again)
    assert check_signature(_payload(), _sig(), keys, SIGNED, signed=signed).verified is True
    # The caller's reading is what is judged: its error, or the digest it read.
    unread = check_signature(_payload(), _sig(), keys, SIGNED,
                             signed=DocumentError("the signature payload is not JSON"))
    assert unread.verified is False and unread.failure == "the signature payload is not JSON"
    other = dataclasses.replace(signed, digest="sha256:" + "0" * 64)
    assert check_signature(_payload(), _sig(), keys, SIGNED, signed=other).verified is False


def test_cosign_attestation_envelope_verifies() -> None:
    keys = [load_key(DATA / "cosign-verify-blob-attestation.pub")]
    data = (DATA / "cosign-slsa-provenance.dsse.json").read_bytes()
    att = check_attestation(data, keys, BLOB)
    assert att.check.verified is True, att.check.failure
    assert att.predicate_type == "https://slsa.dev/provenance/v0.2"
    assert predicate_kind(att.predicate_type) == "provenance"
    assert att.subject_matches is True
    two = check_attestation((DATA / "cosign-multiple-subjects.dsse.json").read_bytes(), keys,
                            BLOB)
    assert two.check.verified is True and two.subject_matches is True


def test_attestation_about_another_subject_or_tampered_fails() -> None:
    keys = [load_key(DATA / "cosign-verify-blob-attestation.pub")]
    data = (DATA / "cosign-slsa-provenance.dsse.json").read_bytes()
    other = check_attestation(data, keys, "sha256:" + "1" * 64)
    assert other.check.verified is False and other.subject_matches is False
    assert BLOB in (other.check.failure or "")
    env = json.loads(data)
    statement = json.loads(base64.b64decode(env["payload"]))
    statement["predicate"]["builder"]["id"] = "someone-else"
    env["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    forged = check_attestation(json.dumps(env).encode(), keys, BLOB)
    assert forged.check.verified is False and "no signature" in (forged.check.failure or "")
    wrong_key = check_attestation(data, [load_key(DATA / "sigstore-rs-signer.pub")], BLOB)
    assert wrong_key.check.verified is False
    unknown = check_attestation(data, [], BLOB)
    assert unknown.check.verified is None and unknown.predicate_type is not None


def test_envelope_pae_is_dsse_v1() -> None:
    env = read_envelope((DATA / "cosign-slsa-provenance.dsse.json").read_bytes())
    assert env.payload_type == "application/vnd.in-toto+json"
    assert env.pae().startswith(b"DSSEv1 28 application/vnd.in-toto+json %d {" % len(env.payload))


def test_unreadable_envelope_is_said() -> None:
    att = check_attestation(b"not json", [], BLOB)
    assert att.check.verified is None and "not JSON" in (att.check.failure or "")


@pytest.mark.parametrize(("given", "kind"), [
    ("https://slsa.dev/provenance/v1", "provenance"),
    ("https://spdx.dev/Document", "sbom-spdx"),
    ("https://cyclonedx.org/bom/v1.4", "sbom-cyclonedx"),
    ("https://cosign.sigstore.dev/attestation/vuln/v1", "vulnerability-scan"),
    ("https://example.com/custom", "other"),
    (None, "unknown"),
])
def test_predicate_kinds(given: str | None, kind: str) -> None:
    assert predicate_kind(given) == kind


def test_sbom_media_types() -> None:
    assert sbom_kind("text/spdx+json") == "sbom-spdx"
    assert sbom_kind("application/vnd.cyclonedx+json; charset=utf-8") == "sbom-cyclonedx"
    assert sbom_kind("application/octet-stream") is None


def test_key_files_that_are_not_public_keys(tmp_path: Path) -> None:
    private = tmp_path / "cosign.key"
    private.write_text("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n")
    with pytest.raises(KeyFileError, match="cosign.key: this is a private key"):
        load_key(private)
    junk = tmp_path / "junk.pub"
    junk.write_text("hello")
    with pytest.raises(KeyFileError, match="junk.pub: not a PEM public key"):
        load_key(junk)
    with pytest.raises(KeyFileError, match="missing.pub: cannot read"):
        load_key(tmp_path / "missing.pub")
