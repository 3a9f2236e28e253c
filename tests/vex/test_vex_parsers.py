"""The three VEX formats read from real documents (tests/data/vex, sources in
tests/data/SOURCES.tsv): OpenVEX (both shapes), CycloneDX VEX and CSAF 2.0 VEX."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

import auditlib

DATA = Path(__file__).resolve().parents[1] / "data"
VEX = DATA / "vex"


def load(name: str) -> auditlib.AuditData:
    data = auditlib.load(VEX / name)
    assert [f.error for f in data.files] == [None]
    return data


def rows(name: str) -> list[dict[str, object]]:
    st = load(name).vex_statements
    return [{k: (None if pd.isna(v) else v) for k, v in r.items()}
            for r in st.drop(columns=["scan_id", "source", "collected_at"]).to_dict("records")]


def test_every_document_has_its_source_and_a_licence_that_allows_keeping_it() -> None:
    with (DATA / "SOURCES.tsv").open() as f:
        listed = {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}
    kept = {str(p.relative_to(DATA)) for p in DATA.rglob("*")
            if p.is_file() and p.name != "SOURCES.tsv"}
    assert kept == set(listed)
    assert {r["licence"] for r in listed.values()} <= {"Apache-2.0", "CC0-1.0"}
    assert all(len(r["commit"]) == 40 for r in listed.values())


@pytest.mark.parametrize(("name", "fmt", "version"), [
    ("trivy-openvex-oci.json", "openvex-json", "0.2.0"),
    ("vexctl-images.vex.json", "openvex-json", "unknown"),
    ("trivy-cyclonedx.json", "cyclonedx-vex", "1.5"),
    ("bom-examples-cisa-1-not_affected.json", "cyclonedx-vex", "1.4"),
    ("trivy-csaf-relationships.json", "csaf-vex", "2.0"),
    ("vexctl-csaf.json", "csaf-vex", "2.0"),
])
def test_identified_by_content(name: str, fmt: str, version: str) -> None:
    f = load(name).files[0]
    assert (f.format, f.format_version) == (fmt, version)
    assert f.rows["vex_statements"] >= 1
    assert "vulnerabilities" not in f.rows  # a statement is no finding


def test_openvex_image_product_with_subcomponent() -> None:
    (r,) = rows("trivy-openvex-oci.json")
    assert r["vuln_id"] == "CVE-2022-3715" and r["status"] == "not_affected"
    assert r["justification"] == "vulnerable_code_not_in_execute_path"
    assert r["product"] == r["product_purl"] == "pkg:oci/debian"
    assert r["subcomponent_purl"] == "pkg:deb/debian/bash"
    assert r["author"] == "Aqua Security"
    # The statement has no timestamp: the document's, in UTC.
    assert r["statement_at"] == pd.Timestamp("2023-01-17 01:07:16.853479631", tz="UTC")


def test_openvex_first_shape_products_as_references_digests_and_oci_purls() -> None:
    got = {r["product"]: (r["product_ref"], r["product_digest"])
           for r in rows("vexctl-images.vex.json")}
    digest = "sha256:f271e74b17ced29b915d351685fd4644785c6d1559dd1f2d4189a5e851ef753a"
    assert got == {
        "pkg:oci/alpine@sha256%3Af271e74b17ced29b915d351685fd4644785c6d1559dd1f2d4189a5e851ef753a":
            (None, digest),
        # written without a tag: the repository, any tag of it
        "nginx": ("docker.io/library/nginx", None),
        "registry.k8s.io/kube-apiserver:v1.26.0": ("registry.k8s.io/kube-apiserver:v1.26.0", None),
        "pkg:oci/kube-apiserver?repository_url=registry.k8s.io&tag=v1.26.0":
            ("registry.k8s.io/kube-apiserver:v1.26.0", None),
    }
    assert {r["status"] for r in rows("vexctl-images.vex.json")} == {"under_investigation"}


def test_openvex_later_statement_kept_beside_the_earlier() -> None:
    got = [(r["statement_index"], r["status"]) for r in rows("trivy-openvex-multiple.json")]
    assert got == [(0, "affected"), (1, "not_affected")]


def test_cyclonedx_states_mapped_and_written_state_kept() -> None:
    (na,) = rows("bom-examples-cisa-1-not_affected.json")
    assert (na["status"], na["justification"], na["action_statement"]) == (
        "not_affected", "code_not_present", "will_not_fix")
    assert na["product"] == "ABC 4.2"  # the BOM's subject, by name and version
    assert str(na["impact_statement"]).startswith("This version of Product ABC is not affected")
    (ui,) = rows("bom-examples-cisa-1-under_investigation.json")
    assert (ui["status"], ui["status_written"]) == ("under_investigation", "in_triage")


def test_cyclonedx_bom_links_name_the_package() -> None:
    got = [(r["vuln_id"], r["product_purl"]) for r in rows("trivy-cyclonedx.json")]
    assert got == [
        ("CVE-2021-44228", "pkg:maven/org.springframework.boot/spring-boot@2.6.0"),
        ("CVE-2022-27943", "pkg:deb/ubuntu/libstdc%2B%2B6@12.3.0-1ubuntu1~22.04"
                           "?arch=amd64&distro=ubuntu-22.04"),
    ]


def test_csaf_relationship_gives_product_and_subcomponent() -> None:
    (r,) = rows("trivy-csaf-relationships.json")
    assert r["product_purl"] == "pkg:golang/github.com/aquasecurity/go-direct1@v2.0.0"
    assert r["subcomponent_purl"] == "pkg:golang/github.com/aquasecurity/go-transitive@v4.0.0"
    assert (r["status"], r["status_written"]) == ("not_affected", "known_not_affected")
    assert r["justification"] == "vulnerable_code_cannot_be_controlled_by_adversary"
    assert r["author"] == "VMWare, Inc."
    assert r["statement_at"] == pd.Timestamp("2024-01-04 16:17:25", tz="UTC")


def test_csaf_impact_statement_and_publisher() -> None:
    (r,) = rows("vexctl-csaf.json")
    assert (r["vuln_id"], r["product_purl"]) == ("CVE-2009-4487", "pkg:generic/component1@1.3.4")
    assert r["impact_statement"] == "Class with vulnerable code was removed before shipping."
    assert r["author"] == "Example Company"


def test_a_bom_with_components_stays_a_cyclonedx_report(tmp_path: Path) -> None:
    doc = json.loads((VEX / "trivy-cyclonedx.json").read_text())
    doc["components"] = [{"type": "library", "name": "spring-boot", "version": "2.6.0",
                          "purl": "pkg:maven/org.springframework.boot/spring-boot@2.6.0"}]
    (tmp_path / "bom.json").write_text(json.dumps(doc))
    data = auditlib.load(tmp_path / "bom.json")
    assert data.files[0].format == "cyclonedx-json"
    assert len(data.vex_statements) == 0


@pytest.mark.parametrize(("statement", "reason"), [
    ({"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:npm/a@1"}],
      "status": "maybe"}, "unknown status 'maybe'"),
    ({"vulnerability": {}, "products": [{"@id": "pkg:npm/a@1"}], "status": "fixed"},
     "names no vulnerability"),
    ({"vulnerability": {"name": "CVE-1"}, "products": [], "status": "fixed"},
     "names no product"),
    ({"vulnerability": {"name": "CVE-1"}, "products": "pkg:npm/a@1", "status": "fixed"},
     "record skipped"),
])
def test_a_bad_openvex_statement_is_a_warning_the_rest_is_read(
        tmp_path: Path, statement: dict[str, object], reason: str) -> None:
    good = {"vulnerability": {"name": "CVE-2"}, "products": [{"@id": "pkg:npm/b@2"}],
            "status": "not_affected", "justification": "component_not_present"}
    doc = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:x", "author": "t",
           "statements": [statement, good]}
    (tmp_path / "v.json").write_text(json.dumps(doc))
    data = auditlib.load(tmp_path / "v.json")
    assert data.vex_statements["vuln_id"].astype(str).tolist() == ["CVE-2"]
    warnings = data.load_errors[data.load_errors["level"] == "warning"]
    assert warnings["locator"].str.startswith("$.statements[0]").all()
    assert reason in " ".join(warnings["reason"])


@pytest.mark.parametrize("name", ["nginx", "rhel9/nginx-122", "Example Company ABC 4.2"])
def test_a_csaf_product_name_names_no_image(tmp_path: Path, name: str) -> None:
    """A CSAF product known by its name only (no purl) is free text: `nginx` is not the image
    `docker.io/library/nginx`, so no statement about it settles that image's findings."""
    doc = json.loads((VEX / "vexctl-csaf.json").read_text())
    product = doc["product_tree"]["branches"][0]["branches"][0]["product"]
    product["name"] = name
    del product["product_identification_helper"]
    (tmp_path / "csaf.json").write_text(json.dumps(doc))
    (r,) = auditlib.load(tmp_path / "csaf.json").vex_statements.to_dict("records")
    assert r["product"] == name
    assert pd.isna(r["product_ref"]) and pd.isna(r["product_purl"])
