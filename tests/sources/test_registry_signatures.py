"""What the real registry (distribution 2.8) cannot show: a registry WITH the OCI referrers API,
BuildKit's attestation manifests in an index, an envelope over the size limit, and a referrers
answer that is not an index. The fake registry answers; the documents are the real cosign
vectors of tests/data/cosign (sources in tests/data/SOURCES.tsv), so a signature verifies only
where cosign's did.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from auditlib.ingest.collect import to_audit_data
from auditlib.sources.cosign_keys import load_key
from auditlib.sources.registry import RegistryLimits, collect_registry
from tests.sources.fake_registry import (
    OCI_INDEX,
    OCI_MANIFEST,
    FakeRegistry,
    Resp,
    config_for,
    dumps,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "cosign"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    with FakeRegistry() as registry:
        yield registry


def _artifact(fake: FakeRegistry, subject: str, layer: dict[str, object], kind: str) -> dict:
    body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind,
            "config": fake.blob(b"{}", "application/vnd.oci.empty.v1+json"), "layers": [layer],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1}}
    digest = fake.manifest("team/app", None, body)
    return {"mediaType": OCI_MANIFEST, "digest": digest, "size": 1, "artifactType": kind}


def test_referrers_api_is_read_and_the_real_signature_checked(fake: FakeRegistry) -> None:
    digest, _config = fake.image("team/app", "1")
    sig = {**fake.blob((DATA / "sigstore-rs-simplesigning.json").read_bytes(), SIMPLE_SIGNING),
           "annotations": {"dev.cosignproject.cosign/signature":
                           (DATA / "sigstore-rs-simplesigning.sig").read_text().strip()}}
    listed = [_artifact(fake, digest, sig, "application/vnd.dev.cosign.artifact.sig.v1+json")]
    fake.hooks.append(lambda r: Resp(200, dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                                 "manifests": listed}),
                                     {"Content-Type": OCI_INDEX})
                      if r.path == f"/v2/team/app/referrers/{digest}" else None)
    cols = collect_registry([f"{fake.host}/team/app"],
                            cosign_keys=[load_key(DATA / "sigstore-rs-signer.pub")])
    assert not cols[0].errors
    sigs = to_audit_data(cols).image_signatures
    assert list(sigs["found_by"].astype(str)) == ["referrers-api"]
    row = sigs.iloc[0]
    # cosign's real signature verifies, but it signs sigstore-rs's busybox, not this image
    assert row["verified_by"] == "sigstore-rs-signer.pub" and not row["verified"]
    assert "not this image's " + digest in row["failure"]
    assert row["signed_reference"] == "registry-testing.svc.lan/busybox"


def test_buildkit_attestations_in_the_index(fake: FakeRegistry) -> None:
    amd64, _ = fake.image("team/app", None)
    statement = fake.blob(b'{"_type": "https://in-toto.io/Statement/v0.1"}',
                          "application/vnd.in-toto+json")
    layers = [{**statement, "annotations": {"in-toto.io/predicate-type": kind}}
              for kind in ("https://slsa.dev/provenance/v0.2", "https://spdx.dev/Document")]
    att = fake.manifest("team/app", None, {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": fake.blob(b"{}", "application/vnd.oci.image.config.v1+json"),
        "layers": layers})
    fake.manifest("team/app", "1", {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": amd64, "size": 1,
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_MANIFEST, "digest": att, "size": 1,
         "platform": {"os": "unknown", "architecture": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                         "vnd.docker.reference.digest": amd64}},
    ]})
    cols = collect_registry([f"{fake.host}/team/app"])
    assert not cols[0].errors
    data = to_audit_data(cols)
    atts = data.image_attestations
    assert sorted(atts["predicate_kind"].astype(str)) == ["provenance", "sbom-spdx"]
    assert set(atts["found_by"].astype(str)) == {"buildkit-index"}
    assert not atts["signed"].astype(bool).any() and atts["verified"].isna().all()
    assert len(data.images) == 1  # the attestation manifest is no image


def test_an_envelope_over_the_limit_is_a_failure_of_that_row_only(fake: FakeRegistry) -> None:
    digest, _ = fake.image("team/app", "1")
    envelope = (DATA / "cosign-slsa-provenance.dsse.json").read_bytes()
    layer = {**fake.blob(envelope, "application/vnd.dsse.envelope.v1+json"),
             "annotations": {"predicateType": "https://slsa.dev/provenance/v0.2"}}
    fake.manifest("team/app", digest.replace(":", "-") + ".att", {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": fake.blob(b"{}", "application/vnd.oci.image.config.v1+json"),
        "layers": [layer]})
    cols = collect_registry([f"{fake.host}/team/app"],
                            limits=RegistryLimits(max_artifact_bytes=100),
                            cosign_keys=[load_key(DATA / "cosign-verify-blob-attestation.pub")])
    assert not cols[0].errors
    data = to_audit_data(cols)
    row = data.image_attestations.iloc[0]
    assert row["predicate_kind"] == "provenance" and not row["verified"]
    assert "max_artifact_bytes" in row["failure"]
    assert data.registry_tags["artifacts_checked"].astype(bool).all()


def test_a_referrers_answer_that_is_not_an_index_is_an_error(fake: FakeRegistry) -> None:
    fake.image("team/app", "1")
    fake.hooks.append(lambda r: Resp(200, b'"nothing"') if "/referrers/" in r.path else None)
    cols = collect_registry([f"{fake.host}/team/app"])
    assert len(cols[0].records) == 1
    assert any("the referrers answer is not an image index" in e for e in cols[0].errors)
    data = to_audit_data(cols)
    assert not data.registry_tags["artifacts_checked"].astype(bool).any()


@pytest.mark.parametrize("has_api", [False, True])
def test_tags_read_at_once_ask_a_registry_without_the_referrers_api_once(
        fake: FakeRegistry, has_api: bool) -> None:
    digests = [fake.image("team/app", f"1.{i}", config_for(created=f"2024-05-0{i + 1}T10:00Z"))[0]
               for i in range(6)]
    if has_api:  # an empty index for each: every image's own list is asked for
        fake.hooks.append(lambda r: Resp(200, dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                                     "manifests": []}),
                                         {"Content-Type": OCI_INDEX})
                          if "/referrers/" in r.path else None)
    cols = collect_registry([f"{fake.host}/team/app"], workers=8)
    assert not cols[0].errors
    asked = [r.path for r in fake.requests if "/referrers/" in r.path]
    if has_api:
        assert sorted(asked) == sorted(f"/v2/team/app/referrers/{d}" for d in digests)
    else:  # the first 404 answers for all six tags, read at once
        assert len(asked) == 1
    assert len(to_audit_data(cols).registry_tags) == 6


def test_a_404_for_one_repository_does_not_turn_the_api_off_for_another(
        fake: FakeRegistry) -> None:
    # A registry with the referrers API that answers 404 for a repository it will not serve.
    digests = [fake.image("team/app", f"1.{i}", config_for(created=f"2024-05-0{i + 1}T10:00Z"))[0]
               for i in range(3)]
    fake.image("team/hidden", "1.0")
    fake.hooks.append(lambda r: (Resp(404, b"{}") if "/team/hidden/referrers/" in r.path else
                                 Resp(200, dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                                  "manifests": []}),
                                      {"Content-Type": OCI_INDEX}))
                      if "/referrers/" in r.path else None)
    cols = collect_registry([f"{fake.host}/team/hidden", f"{fake.host}/team/app"], workers=1)
    assert not any(c.errors for c in cols), [c.errors for c in cols]
    asked = [r.path for r in fake.requests if "/referrers/" in r.path]
    assert sorted(p for p in asked if "/team/app/" in p) == sorted(
        f"/v2/team/app/referrers/{d}" for d in digests)
    assert len([p for p in asked if "/team/hidden/" in p]) == 1
