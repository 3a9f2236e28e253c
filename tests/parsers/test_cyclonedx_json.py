"""CycloneDX JSON: every corpus file, the peers' expectations, and hand-written failure cases.

Row meanings checked here: a `packages` row per component that is a package (not the document
subject, not an OS, container or Trivy result component); a `package_licenses` row per distinct
licence text of a package; a `vulnerabilities` row per vulnerability and `affects[]` entry.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from tests.conftest import CorpusLoader

CDX = "cyclonedx-json/"
DEBIAN_IMAGE_ID = "sha256:dde33cad6cb4d17f6e0fc0abac6c4153b750d4ddb25533686f480400a692160f"
DEBIAN_LAYER = "sha256:80766e1a4ba03d0ffae15fc5282d3c89bf58026ea7ef8cd199f7e861a5840d2e"



@functools.cache
def _load(name: str) -> auditlib.AuditData:
    """Load a cyclonedx-json corpus file once per session (asserting no error); tests only read."""
    return CorpusLoader.load(CDX + name)


# file, packages, package_licenses, vulnerabilities, warnings, tool, tool_version, target_type.
# Counts were checked against the raw JSON with a separate walk of the components tree.
CORPUS = [
    ("cdx-1.2-cyclonedx-gomod-0.6.1-proton-bridge.json", 201, 197, 0, 0,
     "cyclonedx-gomod", "v0.6.1", "repository"),
    ("cdx-1.2-maven-plugin-2.0.2-dropwizard.json", 167, 165, 0, 0,
     "CycloneDX Maven plugin", "2.0.2", "repository"),
    ("cdx-1.3-cyclonedx-php-composer-laravel.json", 62, 62, 0, 0,
     "cyclonedx-php-composer", "in-dev", "repository"),
    ("cdx-1.4-cyclonedx-php-composer-laravel.json", 62, 62, 0, 0,
     "cyclonedx-php-composer", "in-dev", "repository"),
    ("dd-cdx-1.4-grype-0.41.0-log4j.json", 1, 0, 8, 0, "grype", "0.41.0", "filesystem"),
    ("dd-cdx-1.4-grype-0.41.0-nested-component-log4j.json", 1, 0, 8, 0,
     "grype", "0.41.0", "filesystem"),
    ("dd-cdx-1.4-jake-python-lib-1.3.0-vulns.json", 67, 59, 7, 0,
     "cyclonedx-python-lib", "1.3.0", "sbom"),
    ("dd-cdx-1.5-trivy-0.48.1-issue9277.json", 101, 343, 14, 1,
     "trivy", "0.48.1", "container_image"),
    # Grype's snapshot writes the placeholder "[not provided]" as its version: read as unknown.
    ("grype-cdx-1.7-head-presenter-image-mockdata.json", 2, 2, 2, 0,
     "grype", None, "container_image"),
    ("secobserve-cdx-1.4-grype-0.59.1-image.json", 106, 114, 8, 0,
     "grype", "0.59.1", "container_image"),
    ("secobserve-cdx-1.5-cdxgen-10.10.6-licenses.json", 66, 72, 0, 0,
     "cdxgen", "10.10.6", "repository"),
    ("secobserve-cdx-1.5-grype-0.73.5-tools-components.json", 1, 1, 1, 0,
     "grype", "0.73.5", "container_image"),
    ("syft-1.18.1-cdx-debian-bookworm-image.json", 88, 595, 0, 0,
     "syft", "1.18.1", "container_image"),
    ("trivy-0.76.0-cdx-debian-bookworm-image.json", 88, 589, 0, 0,
     "trivy", "0.76.0", "container_image"),
    ("trivy-cdx-1.4-v0.29dev-centos7.json", 0, 0, 3, 1, "trivy", "dev", "sbom"),
    ("trivy-cdx-1.6-v0.64dev-npm.json", 12, 5, 1, 0, "trivy", "dev", "repository"),
    ("trivy-cdx-1.7-head-npm.json", 12, 5, 1, 0, "trivy", "dev", "repository"),
    ("trivy-cdx-1.7-head-pom-with-vulns.json", 2, 0, 2, 0, "trivy", "dev", "repository"),
]


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "packages", "licenses", "vulns", "warnings", "tool", "tool_version", "target_type"),
    CORPUS, ids=[c[0] for c in CORPUS],
)
def test_corpus_file(corpus: type[CorpusLoader], name: str, packages: int, licenses: int,
                     vulns: int, warnings: int, tool: str, tool_version: str | None,
                     target_type: str) -> None:
    data = _load(name)
    raw = json.loads(corpus.path(CDX + name).read_bytes())
    scan = data.scans.iloc[0]
    assert (scan["format"], scan["format_version"]) == ("cyclonedx-json", raw["specVersion"])
    assert (scan["tool"], scan["target_type"]) == (tool, target_type)
    assert (None if pd.isna(scan["tool_version"]) else scan["tool_version"]) == tool_version
    assert len(data.packages) == packages
    assert len(data.package_licenses) == licenses
    assert len(data.vulnerabilities) == vulns
    assert len(data.load_errors) == warnings
    # Every package row is addressable and every licence row joins a package.
    assert data.packages["package_id"].is_unique and data.packages["package_id"].notna().all()
    assert set(data.package_licenses["package_id"]) <= set(data.packages["package_id"])
    assert data.packages["license_class"].notna().all()
    assert data.vulnerabilities["vuln_id"].notna().all()


@pytest.mark.corpus
def test_trivy_debian_image_lands_on_its_config_digest() -> None:
    data = _load("trivy-0.76.0-cdx-debian-bookworm-image.json")
    assert data.scans.at[0, "image_id"] == DEBIAN_IMAGE_ID
    image = data.images.iloc[0]
    assert (image["image_ref"], image["os_family"], image["os_version"]) == (
        "docker.io/local/debian:bookworm", "debian", "12.15")
    assert (image["size_bytes"], image["layer_count"]) == (203796480, 1)
    pkgs = data.packages
    assert (pkgs["image_id"] == DEBIAN_IMAGE_ID).all()
    # The OS component is the result Trivy JSON calls "local/debian:bookworm (debian 12.15)".
    assert set(pkgs["target"]) == {"local/debian:bookworm (debian 12.15)"}
    assert set(pkgs["layer_diff_id"]) == {DEBIAN_LAYER}
    assert set(pkgs["found_by"]) == {"debian"} and set(pkgs["package_type"]) == {"deb"}
    adduser = pkgs[pkgs["name"] == "adduser"].iloc[0]
    assert (adduser["version"], adduser["source_name"], adduser["license_class"]) == (
        "3.134", "adduser", "strong-copyleft")
    assert adduser["license_expression"] == "GPL-2.0-or-later AND GPL-2.0-only"


@pytest.mark.corpus
def test_syft_and_trivy_agree_on_the_debian_packages() -> None:
    syft = _load("syft-1.18.1-cdx-debian-bookworm-image.json")
    trivy = _load("trivy-0.76.0-cdx-debian-bookworm-image.json")
    assert set(zip(syft.packages["name"], syft.packages["version"], strict=True)) == set(
        zip(trivy.packages["name"], trivy.packages["version"], strict=True))
    # Syft CycloneDX carries no config digest (its container version is the tag), so no image_id.
    assert pd.isna(syft.scans.at[0, "image_id"]) and syft.image_tags.at[0, "tag"] == "bookworm"
    assert (syft.images.at[0, "os_family"], syft.images.at[0, "os_version"]) == ("debian", "12")
    adduser = syft.packages[syft.packages["name"] == "adduser"].iloc[0]
    assert adduser["found_by"] == "dpkg-db-cataloger" and adduser["layer_diff_id"] == DEBIAN_LAYER
    assert adduser["path"] == "/usr/share/doc/adduser/copyright"


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["dd-cdx-1.4-grype-0.41.0-log4j.json",
                                  "dd-cdx-1.4-grype-0.41.0-nested-component-log4j.json"])
def test_defectdojo_log4j(name: str) -> None:
    # DefectDojo: 8 findings, [0] "log4j-core:2.13.2 | CVE-2021-44228" Critical, CVSS:3.1 vector.
    # The nested file puts log4j-core under a container component, which is not a package.
    vulns = _load(name).vulnerabilities
    first = vulns.iloc[0]
    assert (first["pkg_name"], first["pkg_version"], first["vuln_id"]) == (
        "log4j-core", "2.13.2", "CVE-2021-44228")
    assert first["severity"] == "critical" and first["cvss_version"] == "3.1"
    assert first["cvss_vector"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"
    assert first["status"] == "in_triage" and first["fix_state"] == "unknown"
    ghsa = vulns.set_index("vuln_id").loc["GHSA-7rjr-3q55-vv33"]
    assert (ghsa["fixed_version"], ghsa["fix_state"]) == ("2.16.0", "fixed")  # grype:fixed_versions


@pytest.mark.corpus
def test_defectdojo_jake() -> None:
    data = _load("dd-cdx-1.4-jake-python-lib-1.3.0-vulns.json")
    row = data.vulnerabilities.set_index("vuln_id").loc["c7129ff8-08bc-4afe-82ec-7d97b9491741"]
    assert (row["pkg_name"], row["pkg_version"], row["severity"]) == ("Django", "2.0", "high")
    # jake writes a bare vector with method CVSSv3 (= CVSS 3.0); auditlib prefixes it with the
    # version the method names. DefectDojo reports it as CVSS:3.1 (its cvss library's default).
    assert row["cvss_vector"] == "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
    assert row["description"].startswith("[CVE-2021-33203] Django before 2.2.24")
    assert data.scans["generated_at"].tolist() == [pd.Timestamp("2022-01-28T07:05:16.397158Z")]


@pytest.mark.corpus
def test_defectdojo_issue9277_affects_fan_out() -> None:
    data = _load("dd-cdx-1.5-trivy-0.48.1-issue9277.json")
    vulns = data.vulnerabilities
    assert len(vulns) == 14 and vulns["vuln_id"].nunique() == 10
    assert sorted(vulns[vulns["vuln_id"] == "CVE-2022-27943"]["pkg_name"]) == [
        "gcc-12-base", "libgcc-s1", "libstdc++6"]
    # The file's tar ref names no component (the fixture was edited): kept, read from its purl.
    tar = vulns.iloc[1]
    assert (tar["vuln_id"], tar["pkg_name"], tar["pkg_version"]) == (
        "TEMP-0290435-0B57B5", "tar", "1.30+dfsg-6")
    assert data.load_errors.at[0, "locator"] == "$.vulnerabilities[1].affects[0].ref"
    # DefectDojo fills "Description was not provided."; auditlib leaves a missing text missing.
    assert pd.isna(tar["description"])
    first = vulns.iloc[0]  # severity from the data source's own rating, as Trivy JSON reports it
    assert (first["severity"], first["severity_source"], first["data_source"]) == (
        "low", "ubuntu", "ubuntu")
    assert first["primary_url"] == "https://avd.aquasec.com/nvd/cve-2016-2781"
    assert first["target"] == "ubuntu:latest (ubuntu 22.04)"
    assert data.scans.at[0, "image_id"] == (
        "sha256:174c8c134b2a94b5bb0b37d9a2b6ba0663d82d23ebf62bd51f74a2fd457333da")
    assert data.scans.at[0, "repo_digest"] == (
        "sha256:6042500cf4b44023ea1894effe7890666b0c5c7871ed83a97c36c76ae560bb9b")


@pytest.mark.corpus
def test_secobserve_grype_image() -> None:
    # SecObserve: scanner "grype / 0.59.1"; 8 observations; [0] CVE-2007-4559 Medium python
    # 3.11.3 pkg:generic/python@3.11.3; image example/example:dev, digest sha256:88901af2...
    data = _load("secobserve-cdx-1.4-grype-0.59.1-image.json")
    first = data.vulnerabilities.iloc[0]
    assert (first["vuln_id"], first["severity"], first["pkg_name"], first["pkg_version"]) == (
        "CVE-2007-4559", "medium", "python", "3.11.3")
    assert first["purl"] == "pkg:generic/python@3.11.3" and first["cvss_version"] == "2.0"
    scan = data.scans.iloc[0]
    assert scan["image_ref"] == "docker.io/example/example:dev"
    assert scan["repo_digest"].startswith("sha256:88901af2")
    assert (data.vulnerabilities["vuln_id"] == "CVE-2022-47015").sum() == 5  # one per package


@pytest.mark.corpus
def test_secobserve_grype_tools_components() -> None:
    data = _load("secobserve-cdx-1.5-grype-0.73.5-tools-components.json")
    assert data.vulnerabilities["vuln_id"].tolist() == ["CVE-2023-42363"]
    assert data.image_tags["reference"].tolist() == ["docker.io/example/example-backend:dev"]


@pytest.mark.corpus
def test_grype_epss_and_kev_ratings() -> None:
    vulns = _load("grype-cdx-1.7-head-presenter-image-mockdata.json").vulnerabilities
    assert vulns["epss_score"].tolist() == [0.03, 0.08]
    assert vulns["is_known_exploited"].tolist() == [pd.NA, True]
    # package-1 has no purl: its type is Syft's package type.
    assert vulns["package_type"].tolist() == ["rpm", "deb"]


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["trivy-cdx-1.6-v0.64dev-npm.json", "trivy-cdx-1.7-head-npm.json"])
def test_trivy_npm_recommendation_gives_fixed_version(name: str) -> None:
    data = _load(name)
    row = data.vulnerabilities.iloc[0]
    assert (row["pkg_name"], row["fixed_version"], row["fix_state"]) == ("jquery", "3.4.0", "fixed")
    # package-lock.json is a Trivy result: the target of every package reached from it.
    assert set(data.packages["target"]) == {"package-lock.json"}


@pytest.mark.corpus
def test_trivy_pom_maven_names() -> None:
    vulns = _load("trivy-cdx-1.7-head-pom-with-vulns.json").vulnerabilities
    assert set(vulns["pkg_name"]) == {"com.fasterxml.jackson.core:jackson-databind"}
    assert vulns["fixed_version"].tolist() == ["2.9.10.4", "2.9.10.7"]
    assert vulns["severity"].tolist() == ["critical", "high"]


@pytest.mark.corpus
def test_trivy_vulnerability_only_bom_links() -> None:
    data = _load("trivy-cdx-1.4-v0.29dev-centos7.json")
    vulns = data.vulnerabilities
    assert vulns["pkg_name"].tolist() == ["bash", "openssl-libs", "openssl-libs"]
    assert vulns["pkg_version"].tolist()[0] == "4.2.46-31.el7"
    assert data.load_errors["reason"].str.contains("3 affects refs are BOM-Links").all()


@pytest.mark.corpus
def test_cdxgen_licences() -> None:
    data = _load("secobserve-cdx-1.5-cdxgen-10.10.6-licenses.json")
    pkgs = data.packages.set_index("name")
    assert pkgs.at["cvss", "license_expression"] == "GPL-3.0-or-later AND BSD-3-Clause"
    assert pkgs.at["cvss", "license_class"] == "strong-copyleft"
    assert set(data.package_licenses["license_source"]) == {"declared"}


# --- hand-written documents -------------------------------------------------------------------

def _bom(spec: str = "1.5", **top: Any) -> dict[str, Any]:
    return {"bomFormat": "CycloneDX", "specVersion": spec, **top}


_LIB = {"type": "library", "name": "lib", "version": "1.0", "purl": "pkg:npm/lib@1.0"}

# name, document, level expected in load_errors, locator (or reason fragment), packages, vulns
FAILURES: list[tuple[str, dict[str, Any], str, str, int, int]] = [
    ("spec 1.1", _bom("1.1", components=[_LIB]), "error", "version 1.1 is not supported", 0, 0),
    ("spec 2.0", _bom("2.0"), "error", "version 2.0 is not supported", 0, 0),
    ("no specVersion", {"bomFormat": "CycloneDX"}, "error", "version unknown is not supported",
     0, 0),
    ("components not a list", _bom(components={"name": "x"}), "error", "$.components", 0, 0),
    ("metadata not an object", _bom(metadata=[]), "error", "$.metadata", 0, 0),
    ("tools a string", _bom(metadata={"tools": "trivy"}), "error", "$.metadata.tools", 0, 0),
    ("vulnerabilities not a list", _bom(vulnerabilities="x"), "error", "$.vulnerabilities", 0, 0),
    ("one bad component", _bom(components=[_LIB, {"type": "library"}, {**_LIB, "name": "b"}]),
     "warning", "$.components[1]", 2, 0),
    ("bad nested component",
     _bom(components=[{"type": "container", "name": "c", "components": [
         _LIB, {"name": 5}, {**_LIB, "name": "x"}]}]),
     "warning", "$.components[0].components[1]", 2, 0),
    ("vulnerability without id",
     _bom(components=[{**_LIB, "bom-ref": "r"}],
          vulnerabilities=[{"affects": [{"ref": "r"}]},
                           {"id": "CVE-1", "affects": [{"ref": "r"}]}]),
     "warning", "$.vulnerabilities[0]", 1, 1),
    ("unknown affects ref", _bom(vulnerabilities=[{"id": "CVE-1", "affects": [{"ref": "nope"}]}]),
     "warning", "$.vulnerabilities[0].affects[0].ref", 0, 1),
    ("repeated bom-ref", _bom(components=[{**_LIB, "bom-ref": "r"}, {**_LIB, "bom-ref": "r"}]),
     "warning", "$.components[1]", 2, 0),
]


@pytest.mark.parametrize(("name", "bom", "level", "where", "packages", "vulns"), FAILURES,
                         ids=[f[0] for f in FAILURES])
def test_failure_cases(write_json: Callable[[str, str], Path], name: str, bom: dict[str, Any],
                       level: str, where: str, packages: int, vulns: int) -> None:
    data = auditlib.load(write_json("bom.cdx.json", json.dumps(bom)))
    errors = data.load_errors
    assert errors["level"].tolist() == [level], errors["reason"].tolist()
    text = f"{errors['locator'].iloc[0]} {errors['reason'].iloc[0]}"
    assert where in text and (level != "error" or "bom.cdx.json" in text)
    assert (len(data.packages), len(data.vulnerabilities)) == (packages, vulns)


def test_hand_written_features(write_json: Callable[[str, str], Path]) -> None:
    bom = _bom("1.6", metadata={"component": {"type": "application", "name": "app"}},
               components=[
                   {"type": "library", "group": "org.acme", "name": "core", "version": "2",
                    "purl": "pkg:maven/org.acme/core@2", "licenses": [
                        {"expression": "MIT OR Apache-2.0"}, {"license": {"id": "BSD-3-Clause"}},
                        {"license": {"id": "GPL-2.0-only", "acknowledgement": "concluded"}}]},
                   {"type": "library", "name": "noref", "version": "1"}],
               vulnerabilities=[{
                   "id": "CVE-9", "ratings": [{"score": 9.1, "method": "CVSSv4",
                                               "vector": "CVSS:4.0/AV:N"}],
                   "analysis": {"state": "exploitable", "response": ["will_not_fix"]},
                   "affects": [{"ref": "pkg:npm/%40s/x@1", "versions": [
                       {"version": "1", "status": "affected"},
                       {"version": "2", "status": "unaffected"}]}]}])
    data = auditlib.load(write_json("f.json", json.dumps(bom)))
    core, noref = data.packages.iloc[0], data.packages.iloc[1]
    assert core["name"] == "org.acme:core"
    assert core["package_id"] == "pkg:maven/org.acme/core@2#components[0]"
    assert core["license_expression"] == "(MIT OR Apache-2.0) AND BSD-3-Clause"
    assert noref["package_id"] == "noref@1#components[1]"  # no bom-ref: name@version#position
    licences = data.package_licenses.set_index("license")["license_source"].to_dict()
    assert licences["GPL-2.0-only"] == "concluded" and licences["BSD-3-Clause"] == "declared"
    v = data.vulnerabilities.iloc[0]
    assert (v["pkg_name"], v["pkg_version"], v["package_type"]) == ("@s/x", "1", "npm")
    assert (v["severity"], v["cvss_version"], v["status"]) == ("critical", "4.0", "exploitable")
    assert (v["fix_state"], v["fixed_version"]) == ("wont-fix", "2")
    assert data.scans.at[0, "target"] == "app" and data.scans.at[0, "target_type"] == "repository"


def test_synthesized_ids_keep_positions_past_skipped_records(
        write_json: Callable[[str, str], Path]) -> None:
    nested = {"type": "container", "name": "c", "components": [_LIB, {"name": 5}, _LIB]}
    bom = _bom(components=[{"version": "x"}, nested])
    data = auditlib.load(write_json("p.json", json.dumps(bom)))
    assert data.packages["package_id"].tolist() == [
        "pkg:npm/lib@1.0#components[1].components[0]",
        "pkg:npm/lib@1.0#components[1].components[2]",
    ]
    assert data.load_errors["locator"].tolist() == [
        "$.components[0]", "$.components[1].components[1]"]
