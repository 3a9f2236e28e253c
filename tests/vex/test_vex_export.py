"""`auditlib vex export`: the policy's waivers of vulnerability rules as OpenVEX, valid against
the OpenVEX JSON schema of openvex/spec (tests/data/openvex_json_schema.json), and understood by
auditlib itself when read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from packageurl import PackageURL

import auditlib
from auditlib.assess import assess
from auditlib.assess.vex_export import export_waivers, image_purl
from auditlib.cli.main import main
from auditlib.fleet.vex import manifest_digests
from tests.conftest import corpus_path
from tests.policy.builders import make_data

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "data" /
                     "openvex_json_schema.json").read_text())
XJOIN = "grype-json/dd-grype-0.96.0-image-35-matches.json"
ALPINE = "trivy-json/trivy-golden-alpine-310-image.json"
DIGEST = "sha256:97e6d5aeed19f627205b218f45b284cd01ff658dd181416ab1d3e21aeb28d68e"
POLICY = """
waivers:
  - rule: fixable-vulns-sla
    image: "quay.io/cloudservices/xjoin-kafka-connect-strimzi:*"
    reason: "vendor image, replaced in Q1"
    expires: 2027-03-31
  - rule: fixable-vulns-sla
    image: "ghcr.io/aquasecurity/trivy-test-images:*"
    reason: "test image"
  - rule: fixable-vulns-sla
    image: "docker.io/library/gone:*"
    reason: "expired"
    expires: 2020-01-01
"""
AS_OF = "2026-12-01"


def valid(doc: dict[str, Any]) -> None:
    cls = jsonschema.validators.validator_for(SCHEMA)
    cls.check_schema(SCHEMA)
    cls(SCHEMA, format_checker=cls.FORMAT_CHECKER).validate(doc)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    out = tmp_path / "store"
    r = CliRunner().invoke(main, ["ingest", str(corpus_path(XJOIN)), str(corpus_path(ALPINE)),
                                  "--store", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    p = tmp_path / "policy.yaml"
    p.write_text(POLICY)
    return p


def test_the_schema_rejects_what_it_should() -> None:
    with pytest.raises(jsonschema.ValidationError):
        valid({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:x", "author": "a",
               "timestamp": "2026-01-01T00:00:00Z", "version": 1,
               "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "not_affected"}]})


@pytest.mark.slow
def test_export_is_valid_openvex_of_every_waived_finding(store: Path, policy: Path) -> None:
    a = assess(store, as_of=AS_OF, policy=policy)
    done = export_waivers(a, author="Platform team")
    doc = done.document
    valid(doc)
    f = a.findings
    xjoin = f[f["image_id"].astype(str).isin(
        a.data.scans.loc[a.data.scans["repo_digest"] == DIGEST, "image_id"].astype(str))]
    assert len(xjoin) > 0
    names = sorted(s["vulnerability"]["name"] for s in doc["statements"])
    assert names == sorted(set(xjoin["vuln_id"].astype(str)))
    product = image_purl("quay.io/cloudservices/xjoin-kafka-connect-strimzi", DIGEST)
    assert product is not None
    parsed = PackageURL.from_string(product)
    assert (parsed.type, parsed.name, parsed.version) == (
        "oci", "xjoin-kafka-connect-strimzi", DIGEST)
    assert parsed.qualifiers == {
        "repository_url": "quay.io/cloudservices/xjoin-kafka-connect-strimzi"}
    # Docker Hub is written as Trivy (go-containerregistry) writes it.
    hub = image_purl("nginx:1.25", DIGEST)
    assert hub is not None and PackageURL.from_string(hub).qualifiers == {
        "repository_url": "index.docker.io/library/nginx"}
    subs = 0
    for s in doc["statements"]:
        assert s["status"] == "not_affected"
        assert s["impact_statement"].endswith("vendor image, replaced in Q1 (until 2027-03-31)")
        (p,) = s["products"]
        assert p["@id"] == product
        subs += len(p["subcomponents"])
    assert subs == len(xjoin)  # one subcomponent per finding (package version)
    # The alpine image is waived too, but nothing names its manifest: said, not guessed.
    assert len(done.skipped) == 1 and "trivy-test-images:alpine-310" in done.skipped[0]


@pytest.mark.slow
def test_read_back_the_export_settles_what_the_waiver_accepted(
        store: Path, policy: Path, tmp_path: Path) -> None:
    before = assess(store, as_of=AS_OF, policy=policy)
    out = tmp_path / "waivers.openvex.json"
    r = CliRunner().invoke(main, ["vex", "export", "--store", str(store), "--policy",
                                  str(policy), "--as-of", AS_OF, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "alpine-310: 4 waived findings not written" in r.output
    data = auditlib.load(out)
    assert data.files[0].format == "openvex-json"
    r = CliRunner().invoke(main, ["ingest", str(out), "--store", str(store), "--quiet"])
    assert r.exit_code == 0, r.output
    after = assess(store, as_of=AS_OF, policy=policy)
    settled = after.summary()["vex"]
    assert settled["findings"]["not_affected"] == len(before.findings) - 4
    assert settled["unmatched"] == 0
    assert len(after.findings) == 4  # the alpine image's, not exported
    res = after.evaluation.results
    xjoin = res[(res["rule"] == "fixable-vulns-sla")
                & res["image_name"].str.contains("xjoin")].iloc[0]
    assert xjoin["status"] == "pass"  # no waiver needed any more


@pytest.mark.slow
def test_an_expired_waiver_exports_nothing(store: Path, tmp_path: Path) -> None:
    p = tmp_path / "expired.yaml"
    p.write_text(POLICY.replace("2027-03-31", "2026-06-30"))
    doc = export_waivers(assess(store, as_of=AS_OF, policy=p), author="t").document
    assert doc["statements"] == []
    out = tmp_path / "none.json"
    r = CliRunner().invoke(main, ["vex", "export", "--store", str(store), "--policy", str(p),
                                  "--as-of", AS_OF, "-o", str(out)])
    assert r.exit_code == 0 and "no document written" in r.output
    assert not out.exists()  # OpenVEX needs a statement: no invalid document


def test_run_refuses_a_vex_path_that_is_no_vex_document(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["run", "--store", str(tmp_path / "s"), "--no-scan",
                                  "--reports", "none", "--vex", str(corpus_path(XJOIN))])
    assert r.exit_code == 2
    assert "not a VEX document" in r.output and "grype-json" in r.output


def test_manifest_digests_name_each_digest_by_the_repository_it_was_read_with() -> None:
    d1, d2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    data = make_data(
        images=[{"image_id": "sha256:" + "a" * 64, "repo_digest": f"ghcr.io/org/app@{d1}"}],
        image_tags=[{"image_id": "sha256:" + "a" * 64, "reference": "ghcr.io/org/app:1",
                     "repo_digest": d2},
                    {"image_id": "sha256:" + "b" * 64, "reference": "not a reference",
                     "repo_digest": d2},
                    {"image_id": "sha256:" + "b" * 64, "reference": "x:1",
                     "repo_digest": "not a digest"}],
    )
    got = manifest_digests(data)
    assert sorted(got.itertuples(index=False, name=None), key=str) == sorted([
        ("sha256:" + "a" * 64, "ghcr.io/org/app", d1),
        ("sha256:" + "a" * 64, "ghcr.io/org/app", d2),  # a bare digest: the row's reference
        ("sha256:" + "b" * 64, None, d2),  # the digest is known, its repository is not
    ], key=str)
