"""Signatures and attestations in the real `docker-registry` (distribution 2.8) on 127.0.0.1.

cosign cannot be installed here (not in Debian, PyPI or npm), so the test pushes what cosign
pushes, in its exact shape (the manifests of `cosign sign --key` and `cosign attest --key`: the
`sha256-<hex>.sig` and `.att` tags, an OCI manifest whose config is cosign's empty image config
and whose layers are the simple-signing payload, its signature in the annotation
`dev.cosignproject.cosign/signature`, and DSSE envelopes with `predicateType` annotations), signed
with a P-256 key made by the test as `cosign generate-key-pair` makes one. Distribution 2.8 has no
referrers API (it answers 404), so one image's signature and SBOM are pushed as OCI 1.1 artifacts
(with `subject`) listed in the fallback tag `sha256-<hex>`, as ORAS and cosign's `oci-1-1` mode do
on such registries. The real cosign documents are checked in tests/sources/test_cosign_verify.py.

Images: `valid` (signed, provenance and SPDX attestations), `tampered` (its payload changed
after signing), `other` (a valid signature of another image under its tag), `unsigned`, and
`referrer` (signed and with an SBOM through the fallback tag). Collected with the signer's key,
with an unknown key, and with none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from auditlib.data import AuditData
from auditlib.ingest.collect import to_audit_data
from auditlib.policy import evaluate, load_policy
from auditlib.sources.cosign_keys import CosignKey
from auditlib.sources.registry import collect_registry
from tests.integration.cosign_shapes import (
    REPO,
    Signer,
    push_attestations,
    push_image,
    push_referrers,
    push_signature,
    simple_signing,
)
from tests.integration.registry_server import Pusher, RunningRegistry

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def signed_repo(registry_server: RunningRegistry, tmp_path_factory: pytest.TempPathFactory,
                ) -> tuple[RunningRegistry, Signer, Signer, dict[str, str]]:
    folder = tmp_path_factory.mktemp("keys")
    signer, stranger = Signer(folder, "cosign.pub"), Signer(folder, "stranger.pub")
    pusher = Pusher(registry_server)
    digests = {tag: push_image(pusher, tag)
               for tag in ("valid", "tampered", "other", "unsigned", "referrer")}
    push_signature(pusher, signer, digests["valid"])
    push_attestations(pusher, signer, digests["valid"])
    push_signature(pusher, signer, digests["tampered"], tamper=True)
    push_signature(pusher, signer, digests["other"],
                   signed=simple_signing(f"{registry_server.host}/{REPO}", digests["valid"]))
    push_referrers(pusher, signer, digests["referrer"])
    return registry_server, signer, stranger, digests


def _collect(registry: RunningRegistry, keys: list[CosignKey]) -> AuditData:
    cols = collect_registry([f"{registry.host}/{REPO}"], cosign_keys=keys)
    assert len(cols) == 1 and not cols[0].errors, cols[0].errors
    return to_audit_data(cols)


def _tags(data: AuditData) -> dict[str, str]:
    rt = data.registry_tags
    return dict(zip(rt["tag"].astype(str), rt["image_id"].astype(str), strict=True))


def _verdicts(data: AuditData) -> dict[str, tuple[str, str]]:
    r = evaluate(data, load_policy(None)).results
    r = r[r["rule"] == "signed-and-attested"]
    by_image = dict(zip(r["image_id"].astype(str),
                        zip(r["status"].astype(str), r["evidence"].astype(str), strict=True),
                        strict=True))
    return {tag: by_image[image] for tag, image in _tags(data).items()}


def test_signatures_verified_with_the_signers_key(signed_repo: Any) -> None:
    registry, signer, _stranger, digests = signed_repo
    data = _collect(registry, [signer.key()])
    tags = _tags(data)
    assert set(tags) == {"valid", "tampered", "other", "unsigned", "referrer"}  # no .sig images
    assert data.registry_tags["artifacts_checked"].astype(bool).all()
    sigs = data.image_signatures.assign(tag=data.image_signatures["image_id"].astype(str).map(
        {v: k for k, v in tags.items()}))
    by_tag = {t: g.iloc[0] for t, g in sigs.groupby("tag")}
    assert set(by_tag) == {"valid", "tampered", "other", "referrer"}
    assert by_tag["valid"]["verified"] and by_tag["valid"]["verified_by"] == "cosign.pub"
    assert by_tag["valid"]["found_by"] == "cosign-tag"
    assert by_tag["valid"]["signed_digest"] == digests["valid"]
    assert not by_tag["tampered"]["verified"]
    assert "does not verify" in by_tag["tampered"]["failure"]
    assert not by_tag["other"]["verified"]
    assert digests["valid"] in by_tag["other"]["failure"]
    assert by_tag["referrer"]["verified"] and by_tag["referrer"]["found_by"] == "referrers-tag"
    atts = data.image_attestations
    valid = atts[atts["image_id"].astype(str) == tags["valid"]]
    assert sorted(valid["predicate_kind"].astype(str)) == ["provenance", "sbom-spdx"]
    assert valid["verified"].astype(bool).all() and valid["subject_matches"].astype(bool).all()
    ref = atts[atts["image_id"].astype(str) == tags["referrer"]]
    assert list(ref["kind"].astype(str)) == ["sbom"]
    assert pd.isna(ref["verified"].iloc[0])  # an attached SBOM is not signed: unknown

    verdicts = _verdicts(data)
    assert verdicts["valid"][0] == "pass", verdicts["valid"]
    assert "cosign.pub" in verdicts["valid"][1]
    assert verdicts["tampered"][0] == "fail" and "does not verify" in verdicts["tampered"][1]
    assert verdicts["other"][0] == "fail"
    assert verdicts["unsigned"] == ("fail", "no cosign signature; no provenance attestation; "
                                            "no SBOM attestation")
    assert verdicts["referrer"][0] == "fail" and "no provenance" in verdicts["referrer"][1]


def test_an_unknown_key_verifies_nothing(signed_repo: Any) -> None:
    registry, _signer, stranger, _digests = signed_repo
    data = _collect(registry, [stranger.key()])
    sigs = data.image_signatures
    assert len(sigs) == 4 and not sigs["verified"].astype(bool).any()
    assert sigs["failure"].astype(str).str.contains("stranger.pub").all()
    atts = data.image_attestations
    signed = atts[atts["kind"].astype(str) == "attestation"]
    assert len(signed) == 2 and not signed["verified"].astype(bool).any()
    verdicts = _verdicts(data)
    assert verdicts["valid"][0] == "fail"


def test_without_a_key_signatures_are_found_not_judged(signed_repo: Any) -> None:
    registry, _signer, _stranger, digests = signed_repo
    data = _collect(registry, [])
    sigs = data.image_signatures
    assert len(sigs) == 4 and sigs["verified"].isna().all() and sigs["failure"].isna().all()
    signed = {digests[t] for t in ("valid", "tampered", "referrer")}
    assert set(sigs["signed_digest"].astype(str)) == signed
    verdicts = _verdicts(data)
    assert verdicts["valid"][0] == "no-data" and "--cosign-key" in verdicts["valid"][1]
    assert verdicts["unsigned"][0] == "fail"


def test_not_collected_is_no_data(signed_repo: Any) -> None:
    registry, _signer, _stranger, _digests = signed_repo
    cols = collect_registry([f"{registry.host}/{REPO}:valid"], artifacts=False)
    data = to_audit_data(cols)
    assert data.image_signatures.empty and data.registry_tags["artifacts_checked"].isna().all()
    verdicts = _verdicts(data)
    assert verdicts["valid"][0] == "no-data"


def test_collect_and_check_commands(signed_repo: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from auditlib.cli import main

    registry, signer, _stranger, _digests = signed_repo
    store = tmp_path / "store"
    got = CliRunner().invoke(main, ["collect", "--registry", f"{registry.host}/{REPO}",
                                    "--cosign-key", str(signer.pub), "--store", str(store),
                                    "--quiet"])
    assert got.exit_code == 0, got.output
    out = tmp_path / "check.json"
    got = CliRunner().invoke(main, ["check", "--store", str(store), "--format", "json",
                                    "--fail-on", "never", "--output", str(out)])
    assert got.exit_code == 0, got.output
    body = json.loads(out.read_text())
    mine = {i["image_name"].rsplit(":", 1)[1]: r["status"] for i in body["images"]
            for r in i["results"] if r["rule"] == "signed-and-attested"}
    assert mine == {"valid": "pass", "tampered": "fail", "other": "fail", "unsigned": "fail",
                    "referrer": "fail"}
    bad = CliRunner().invoke(main, ["collect", "--registry", f"{registry.host}/{REPO}",
                                    "--cosign-key", str(tmp_path / "none.pub"),
                                    "--store", str(store)])
    assert bad.exit_code == 2 and "none.pub: cannot read the key file" in bad.output
