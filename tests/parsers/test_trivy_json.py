"""Trivy JSON: every trivy-json corpus file, DefectDojo's expectations of them, and bad inputs.

Row meanings: a `vulnerabilities` row is one entry of `Results[].Vulnerabilities` (target = the
result's `Target`); `packages` rows come from `Results[].Packages` only (Trivy lists them with
`--list-all-pkgs`); `package_licenses` has a `declared` row per licence of a package and a `scanner`
row per licence-scanner finding; misconfigurations and secrets are one row per entry. DefectDojo
counts vulnerabilities, misconfigurations, secrets and licences together as "findings"; here they
are rows of four tables, so its counts are checked as sums.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from tests.conftest import CORPUS, CorpusLoader, _corpus_missing
from tests.samples import DELETE, one_row, set_path

DIR = "trivy-json"
BOOKWORM_IMAGE_ID = "sha256:dde33cad6cb4d17f6e0fc0abac6c4153b750d4ddb25533686f480400a692160f"
TABLES = ("packages", "package_licenses", "vulnerabilities", "misconfigurations", "secrets")

# file: (rows of packages, package_licenses, vulnerabilities, misconfigurations, secrets),
# warnings, format_version, tool_version, target_type, target, image_id prefix, os_family,
# os_version. Counts were checked against the files (jq-style, by reading each section).
CORPUS_FILES: dict[str, tuple[tuple[int, ...], int, str, str | None, str, str | None, str | None,
                              str | None, str | None]] = {
    "dd-legacy-v1-list-debian-93.json": (
        (0, 0, 93, 0, 0), 0, "1", None, "unknown", None, None, None, None),
    # One vulnerability has only a PkgName (no VulnerabilityID): skipped with a warning.
    "dd-legacy-v1-list-mix-6-targets.json": (
        (0, 0, 6, 0, 0), 1, "1", None, "unknown", None, None, None, None),
    "dd-schema2-all-vuln-statuses-debian.json": (
        (0, 0, 8, 0, 0), 0, "2", None, "container_image", None, "sha256:22ae3921", "debian",
        "10.13"),
    "dd-schema2-alpine-jar-5vulns.json": (
        (0, 0, 5, 0, 0), 0, "2", None, "container_image", "teamdojo:latest", None, "alpine",
        "3.9.4"),
    "dd-schema2-alpine-zero-vulns.json": (
        (0, 0, 0, 0, 0), 0, "2", None, "container_image", "trivy-unittest:latest", None, "alpine",
        "3.14.0"),
    "dd-schema2-debian-13vulns-issue9333.json": (
        (0, 0, 13, 0, 0), 0, "2", None, "container_image", None, "sha256:22ae3921", "debian",
        "10.13"),
    "dd-schema2-licenses-alpine-3.11.json": (
        (0, 19, 0, 0, 0), 0, "2", None, "container_image", "alpine:3.11", "sha256:a787cb98",
        "alpine", "3.11.13"),
    "dd-schema2-misconfig-and-secrets.json": (
        (0, 0, 2, 1, 2), 0, "2", None, "filesystem", ".", None, None, None),
    "dd-trivy-0.69.1-cvssv4-jar.json": (
        (1, 0, 3, 0, 0), 0, "2", "0.69.1", "filesystem", "lib/catalina.jar", None, None, None),
    "trivy-0.76.0-config-dockerfile.json": (
        (0, 0, 0, 5, 0), 0, "2", "0.76.0", "filesystem", ".", None, None, None),
    "trivy-0.76.0-licenses-pkgs-debian-bookworm-image.json": (
        (88, 1178, 0, 0, 0), 0, "2", "0.76.0", "container_image", "local/debian:bookworm",
        BOOKWORM_IMAGE_ID, "debian", "12.15"),
    "trivy-golden-alpine-310-image.json": (
        (0, 0, 4, 0, 0), 0, "2", "dev", "container_image",
        "testdata/fixtures/images/alpine-310.tar.gz", "sha256:96176967", "alpine", "3.10.2"),
    # Every file skipped: no `Results` key at all, and OS family "none".
    "trivy-golden-alpine-39-skip-no-results-key.json": (
        (0, 0, 0, 0, 0), 0, "2", "dev", "container_image",
        "testdata/fixtures/images/alpine-39.tar.gz", "sha256:055936d3", None, None),
    "trivy-golden-centos-7-image.json": (
        (0, 0, 3, 0, 0), 0, "2", "dev", "container_image",
        "testdata/fixtures/images/centos-7.tar.gz", "sha256:f1cb7c7d", "centos", "7.6.1810"),
    "trivy-golden-debian-buster-image.json": (
        (0, 0, 2, 0, 0), 0, "2", "dev", "container_image",
        "testdata/fixtures/images/debian-buster.tar.gz", "sha256:c2c03a29", "debian", "10.1"),
    "trivy-golden-dockerfile-misconfig.json": (
        (0, 0, 0, 1, 0), 0, "2", "dev", "repository", "testdata/fixtures/repo/dockerfile", None,
        None, None),
    "trivy-golden-npm-fs-list-all-pkgs.json": (
        (12, 5, 1, 0, 0), 0, "2", "dev", "repository", "testdata/fixtures/repo/npm", None, None,
        None),
    "trivy-golden-secrets-fs.json": (
        (0, 0, 0, 0, 2), 0, "2", "dev", "repository", "testdata/fixtures/repo/secrets", None, None,
        None),
    # The `custom` result (CustomResources) has no table.
    "trivy-golden-spring4shell-jre8-custom-class.json": (
        (0, 0, 1, 0, 0), 0, "2", "dev", "container_image",
        "testdata/fixtures/images/spring4shell-jre8.tar.gz", "sha256:b88bc3d2", "debian", "11.3"),
    "trivy-golden-ubuntu-1804-image.json": (
        (0, 0, 5, 0, 0), 0, "2", "dev", "container_image",
        "testdata/fixtures/images/ubuntu-1804.tar.gz", "sha256:a2a15feb", "ubuntu", "18.04"),
    "trivy-v0.19dev-list-with-class-alpine-310.json": (
        (0, 0, 8, 0, 0), 0, "1", None, "unknown", None, None, None, None),
    "trivy-v0.20dev-schema2-first-alpine-310.json": (
        (0, 0, 8, 0, 0), 0, "2", None, "container_image",
        "testdata/fixtures/images/alpine-310.tar.gz", "sha256:96176967", "alpine", "3.10.2"),
}

# `trivy k8s` reports: refused. DefectDojo reads 20 and 37 findings from them; auditlib asks for
# `trivy image` reports of the workloads' images instead (their identity is then known).
REFUSED = ("dd-k8s-resources-issue10991.json", "dd-k8s-summary-cluster-vulns-misconfigs.json")

_CACHE: dict[str, auditlib.AuditData] = {}


def _load(corpus: type[CorpusLoader], name: str) -> auditlib.AuditData:
    """Load a corpus file once per test session (the tables are only read)."""
    if name not in _CACHE:
        _CACHE[name] = corpus.load(f"{DIR}/{name}")
    return _CACHE[name]


def _na(value: Any) -> Any:
    return None if pd.isna(value) else value




def _strings(data: auditlib.AuditData) -> str:
    """Return every string cell of every table but load_errors, joined (to search for leaks)."""
    parts: list[str] = []
    for name, df in data.tables().items():
        if name == "load_errors":
            continue
        for col in df.columns:
            if str(df[col].dtype) == "string":
                parts.extend(df[col].dropna().tolist())
    return "\n".join(parts)


# --- every corpus file ---------------------------------------------------------------------------


@pytest.mark.corpus
def test_every_trivy_corpus_file_is_covered() -> None:
    if not CORPUS.is_dir():
        _corpus_missing()
    with (CORPUS / "MANIFEST.tsv").open() as f:
        listed = {r["file"].split("/", 1)[1] for r in csv.DictReader(f, delimiter="\t")
                  if r["file"].startswith(f"{DIR}/")}
    on_disk = {p.name for p in (CORPUS / DIR).iterdir()}
    assert on_disk == listed == set(CORPUS_FILES) | set(REFUSED)


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(CORPUS_FILES))
def test_corpus_file(corpus: type[CorpusLoader], name: str) -> None:
    (counts, warnings, fmt_version, tool_version, target_type, target, image_id, os_family,
     os_version) = CORPUS_FILES[name]
    data = _load(corpus, name)
    assert tuple(len(getattr(data, t)) for t in TABLES) == counts
    assert (data.load_errors["level"] == "warning").sum() == warnings
    assert len(data.scans) == 1
    scan = data.scans.iloc[0]
    assert (scan["format"], scan["format_version"], scan["tool"]) == ("trivy-json", fmt_version,
                                                                     "trivy")
    assert scan["source_format"] == f"trivy-json@{fmt_version}"
    assert _na(scan["tool_version"]) == tool_version
    assert scan["target_type"] == target_type and _na(scan["target"]) == target
    assert (_na(scan["os_family"]), _na(scan["os_version"])) == (os_family, os_version)
    if image_id is None:
        assert pd.isna(scan["image_id"])
    else:
        assert scan["image_id"].startswith(image_id)
        for t in TABLES:
            assert (getattr(data, t)["image_id"] == scan["image_id"]).all(), t
    if target_type != "container_image":
        assert data.images.empty  # a folder or repository scan carries an all-zero ImageConfig
    v = data.vulnerabilities
    assert v["vuln_id"].notna().all() and v["pkg_name"].notna().all()
    assert v["target"].notna().all() and v["severity"].notna().all()
    assert v["fix_state"].isin(["fixed", "not-fixed", "wont-fix", "unknown"]).all()
    assert (data.misconfigurations["tool"] == "trivy").all()
    assert data.misconfigurations["status"].isin(["fail", "pass", "exception"]).all()


@pytest.mark.corpus
@pytest.mark.parametrize("name", REFUSED)
def test_trivy_k8s_reports_are_refused(corpus: type[CorpusLoader], name: str) -> None:
    data = corpus.load(f"{DIR}/{name}", allow_error=True)
    errors = data.load_errors
    assert errors["level"].tolist() == ["error"] and errors["format"].tolist() == ["trivy-json"]
    assert "trivy kubernetes (trivy k8s) reports are not supported" in errors["reason"].iloc[0]
    assert "`trivy image`" in errors["reason"].iloc[0]
    assert data.scans.empty and data.vulnerabilities.empty


# --- DefectDojo's expectations (MANIFEST.tsv peer_expectation) -----------------------------------


@pytest.mark.corpus
def test_dd_legacy_many_vulns(corpus: type[CorpusLoader]) -> None:
    v = _load(corpus, "dd-legacy-v1-list-debian-93.json").vulnerabilities
    assert len(v) == 93  # DefectDojo: 93 findings
    first = v.iloc[0]
    assert (first["vuln_id"], first["severity"], first["pkg_name"], first["pkg_version"]) == (
        "CVE-2011-3374", "low", "apt", "1.8.2.2")
    # DefectDojo's cwe 347 (CweIDs) has no auditlib column.
    assert first["target"] == "debian (debian 10.8)" and first["package_type"] == "debian"
    assert (first["severity_source"], first["cvss_version"], first["cvss_score"]) == (
        "debian", "3.1", 3.7)
    assert first["layer_diff_id"].startswith("sha256:7f03bfe4")
    # Before Trivy 0.34 there was no Status: a fixed version is what says "fixed".
    assert v["status"].isna().all()
    by_fix = v["fixed_version"].notna().map({True: "fixed", False: "not-fixed"})
    assert (v["fix_state"] == by_fix).all()


@pytest.mark.corpus
def test_legacy_mix_skips_the_record_without_an_id(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "dd-legacy-v1-list-mix-6-targets.json")
    warning = data.load_errors.iloc[0]
    assert (warning["level"], warning["locator"]) == ("warning", "$[0].Vulnerabilities[0]")
    assert "VulnerabilityID" in warning["reason"]
    v = data.vulnerabilities
    assert v["target"].value_counts().to_dict() == {
        "trivy-ci-test (alpine 3.7.1)": 5, "node-app/package-lock.json": 1}
    lodash = one_row(v, pkg_name="lodash")
    assert (lodash["vuln_id"], lodash["fixed_version"], lodash["severity"]) == (
        "CVE-2018-16487", ">=4.17.11", "high")
    assert lodash["package_type"] == "npm" and pd.isna(lodash["cvss_score"])


@pytest.mark.corpus
def test_dd_scheme_2_many_vulns(corpus: type[CorpusLoader]) -> None:
    v = _load(corpus, "dd-schema2-alpine-jar-5vulns.json").vulnerabilities
    assert len(v) == 5  # DefectDojo: 5 findings
    first, second = v.iloc[0], v.iloc[1]
    assert (first["vuln_id"], first["pkg_name"], first["pkg_version"], first["severity"]) == (
        "CVE-2020-15999", "freetype", "2.9.1-r2", "medium")
    # DefectDojo's file_path is Trivy's PkgPath; its mitigation is the fixed version.
    assert first["pkg_path"] == "app/libs/freetype-2.9.1-r2"
    assert (first["fixed_version"], first["fix_state"]) == ("2.9.1-r3", "fixed")
    assert first["cvss_vector"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"
    assert (first["cvss_score"], first["cvss_source"]) == (6.5, "nvd")
    assert (second["vuln_id"], second["pkg_name"], second["pkg_version"]) == (
        "CVE-2020-28196", "krb5-libs", "1.15.5-r0")
    assert (second["severity"], second["fixed_version"], second["fix_state"]) == (
        "high", "1.15.5-r1", "fixed")
    assert list(v["package_type"]) == ["alpine"] * 3 + ["jar"] * 2  # no purl: the result Type


@pytest.mark.corpus
def test_dd_scheme_2_no_vuln(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "dd-schema2-alpine-zero-vulns.json")
    assert data.vulnerabilities.empty  # DefectDojo: 0 findings
    img = data.images.iloc[0]
    assert img["image_ref"] == "docker.io/library/trivy-unittest:latest"
    assert pd.isna(img["image_id"]) and img["os_family"] == "alpine" and not img["is_os_eol"]


@pytest.mark.corpus
def test_dd_misconfigurations_and_secrets(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "dd-schema2-misconfig-and-secrets.json")
    # DefectDojo: 5 findings = 2 vulnerabilities + 1 misconfiguration + 2 secrets.
    assert (len(data.vulnerabilities), len(data.misconfigurations), len(data.secrets)) == (2, 1, 2)
    m = data.misconfigurations.iloc[0]
    # DefectDojo's title "DS002 - Image user should not be 'root'", High.
    assert (m["rule_id"], m["title"], m["severity"]) == (
        "DS002", "Image user should not be 'root'", "high")
    assert (m["status"], m["file_path"], m["target"]) == ("fail", "Dockerfile", "Dockerfile")
    assert m["resolution"] == "Add 'USER <non root user name>' line to the Dockerfile"
    assert pd.isna(m["start_line"])  # CauseMetadata has no lines for this check
    s = one_row(data.secrets, file_path="Dockerfile")
    # DefectDojo: "Secret detected in Dockerfile - GitHub Personal Access Token", Critical, line 24.
    assert (s["rule_id"], s["category"], s["title"], s["severity"]) == (
        "github-pat", "GitHub", "GitHub Personal Access Token", "critical")
    assert (s["start_line"], s["end_line"]) == (24, 24)
    assert "GITHUB_PAT" not in _strings(data)  # the Match text is never stored
    assert data.images.empty  # a filesystem scan: its zeroed ImageConfig is no image


@pytest.mark.corpus
def test_dd_license_scheme(corpus: type[CorpusLoader]) -> None:
    lic = _load(corpus, "dd-schema2-licenses-alpine-3.11.json").package_licenses
    assert len(lic) == 19 and (lic["license_source"] == "scanner").all()  # DefectDojo: 19 findings
    first = lic.iloc[0]
    # DefectDojo: High, description "GPL-2.0 / Category restricted / Package alpine-baselayout".
    assert (first["license"], first["category"], first["package_name"], first["severity"]) == (
        "GPL-2.0", "restricted", "alpine-baselayout", "high")
    assert first["license_class"] == "strong-copyleft"
    # DefectDojo's file_path "" is Trivy's empty FilePath; auditlib leaves it empty (<NA>). The
    # document has no Packages, so the finding cannot be tied to a package_id.
    assert pd.isna(first["file_path"]) and pd.isna(first["package_id"])
    files = lic[lic["file_path"].notna()]
    assert list(files["file_path"]) == ["/etc/ssl/misc/CA.pl", "/etc/ssl/misc/tsget.pl"]
    assert (files["license"] == "OpenSSL").all() and files["package_name"].isna().all()


@pytest.mark.corpus
def test_dd_all_statuses(corpus: type[CorpusLoader]) -> None:
    v = _load(corpus, "dd-schema2-all-vuln-statuses-debian.json").vulnerabilities
    assert list(v["status"]) == [
        "unknown", "not_affected", "affected", "fixed", "under_investigation", "will_not_fix",
        "fix_deferred", "end_of_life"]
    assert list(v["fix_state"]) == [
        "unknown", "unknown", "not-fixed", "fixed", "unknown", "wont-fix", "not-fixed",
        "not-fixed"]
    r = v.iloc[3]  # DefectDojo: "CVE-2018-1000876 binutils 2.31.1-16" (CWEs have no column)
    assert (r["vuln_id"], r["pkg_name"], r["pkg_version"]) == (
        "CVE-2018-1000876", "binutils", "2.31.1-16")
    assert v.iloc[2]["vuln_id"] == "TEMP-0841856-B18BAF" and pd.isna(v.iloc[2]["cvss_score"])
    assert (v["data_source"] == "Debian Security Tracker").all()


@pytest.mark.corpus
def test_dd_all_statuses_image_without_tags(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "dd-schema2-all-vuln-statuses-debian.json")
    # RepoTags and RepoDigests are [""], ArtifactName "": the image is known by its id only.
    assert data.image_tags.empty
    img = data.images.iloc[0]
    assert pd.isna(img["image_ref"]) and img["layer_count"] == 12 and img["user"] == ""
    assert (img["os"], img["architecture"]) == ("linux", "amd64")


@pytest.mark.corpus
def test_dd_cvssv4_severity_sources(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "dd-trivy-0.69.1-cvssv4-jar.json")
    v = data.vulnerabilities
    assert len(v) == 3  # DefectDojo: 3 findings
    first = v.iloc[0]
    assert first["severity"] == "medium"
    assert first["cvss_vector"] == "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N"
    assert (first["cvss_score"], first["cvss_version"], first["cvss_source"]) == (
        6.3, "4.0", "ghsa")
    assert (first["purl"], first["package_type"], first["pkg_path"]) == (
        "pkg:maven/org.apache.tomcat/tomcat-catalina@9.0.109", "maven", "catalina.jar")
    assert first["fixed_version"] == "11.0.14, 10.1.49, 9.0.112"
    assert first["data_source"] == "GitHub Security Advisory Maven"
    assert first["published_at"] == pd.Timestamp("2026-02-17T19:21:55.31Z")
    # CVSS 4.0 wins over the redhat 3.1 score for every row (newest version first).
    assert (v["cvss_version"] == "4.0").all()
    p = data.packages.iloc[0]
    assert (p["package_id"], p["name"], p["version"], p["path"]) == (
        "ac2f42ab8f82e098", "org.apache.tomcat:tomcat-catalina", "9.0.109", "catalina.jar")
    assert (p["package_type"], p["found_by"], p["license_class"]) == ("maven", "lang-pkgs",
                                                                       "unknown")


@pytest.mark.corpus
def test_dd_issue_9333(corpus: type[CorpusLoader]) -> None:
    v = _load(corpus, "dd-schema2-debian-13vulns-issue9333.json").vulnerabilities
    assert len(v) == 13 and v.iloc[0]["severity"] == "low"  # DefectDojo: 13; [0] Low
    cookie = one_row(v, pkg_name="tough-cookie")
    assert (cookie["severity_source"], cookie["cvss_source"]) == ("ghsa", "ghsa")


# --- trivy's own goldens and real-tool outputs ---------------------------------------------------


@pytest.mark.corpus
def test_bookworm_image_identity_and_packages(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "trivy-0.76.0-licenses-pkgs-debian-bookworm-image.json")
    img = data.images.iloc[0]
    assert img["image_id"] == BOOKWORM_IMAGE_ID
    assert img["image_ref"] == "docker.io/local/debian:bookworm"
    assert (img["size_bytes"], img["layer_count"], img["user"]) == (203796480, 1, "")
    assert img["created_at"] == pd.Timestamp("2026-11-29T14:55:59.064261084Z")
    assert img["is_os_eol"] == False  # noqa: E712 - EOSL absent on a detected OS means false
    p = data.packages
    assert p["package_id"].is_unique and (p["found_by"] == "os-pkgs").all()
    assert (p["package_type"] == "deb").all()
    assert p["layer_diff_id"].eq(
        "sha256:80766e1a4ba03d0ffae15fc5282d3c89bf58026ea7ef8cd199f7e861a5840d2e").all()
    apt = one_row(p, name="apt")
    assert (apt["package_id"], apt["version"], apt["source_name"], apt["source_version"]) == (
        "163a6e5e3a1cf2bf", "2.6.1", "apt", "2.6.1")
    assert apt["purl"] == "pkg:deb/debian/apt@2.6.1?arch=amd64&distro=debian-12.15"
    assert apt["license_expression"] == "GPL-2.0-or-later AND GPL-2.0-only AND BSD-3-Clause AND MIT"
    assert apt["license_class"] == "strong-copyleft"


@pytest.mark.corpus
def test_bookworm_declared_and_scanner_licences_join_packages(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "trivy-0.76.0-licenses-pkgs-debian-bookworm-image.json")
    lic = data.package_licenses
    assert lic["license_source"].value_counts().to_dict() == {"declared": 589, "scanner": 589}
    # Every scanner finding names a package of the document by PkgName: each gets its package_id.
    assert lic["package_id"].isin(data.packages["package_id"]).all()
    scanner = lic[lic["license_source"] == "scanner"]
    first = scanner.iloc[0]
    assert (first["package_name"], first["package_version"], first["license"]) == (
        "adduser", "3.134", "GPL-2.0-or-later")
    assert (first["severity"], first["category"]) == ("high", "restricted")
    declared = lic[lic["license_source"] == "declared"]
    assert declared["severity"].eq("unknown").all() and declared["category"].isna().all()


@pytest.mark.corpus
def test_golden_alpine_310(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "trivy-golden-alpine-310-image.json")
    scan, img = data.scans.iloc[0], data.images.iloc[0]
    assert scan["is_os_eol"] == True  # noqa: E712 - Metadata.OS.EOSL
    assert scan["generated_at"] == pd.Timestamp("2021-08-25T12:20:30.000000005Z")
    # `Reference` names the image; the ArtifactName is a `docker save` archive.
    assert img["image_ref"] == "ghcr.io/aquasecurity/trivy-test-images:alpine-310"
    assert (img["size_bytes"], img["layer_count"]) == (5843968, 1)
    r = one_row(data.vulnerabilities, vuln_id="CVE-2019-1549", pkg_name="libcrypto1.1")
    assert (r["pkg_version"], r["fixed_version"], r["status"], r["fix_state"]) == (
        "1.1.1c-r0", "1.1.1d-r0", "fixed", "fixed")
    assert (r["package_type"], r["data_source"]) == ("apk", "Alpine Secdb")
    # nvd is the SeveritySource and has a 3.1 vector; redhat's 3.0 one loses.
    assert (r["cvss_score"], r["cvss_version"], r["cvss_source"]) == (5.3, "3.1", "nvd")
    assert r["title"] == "openssl: information disclosure in fork()"
    assert r["primary_url"] == "https://avd.aquasec.com/nvd/cve-2019-1549"
    assert r["layer_diff_id"] == (
        "sha256:03901b4a2ea88eeaad62dbe59b072b28b6efa00491962b8741081c5df50c65e0")
    assert r["modified_at"] == pd.Timestamp("2020-10-20T22:15:00Z")


@pytest.mark.corpus
def test_same_image_in_the_list_form_and_the_first_schema_2(corpus: type[CorpusLoader]) -> None:
    old = _load(corpus, "trivy-v0.19dev-list-with-class-alpine-310.json")
    new = _load(corpus, "trivy-v0.20dev-schema2-first-alpine-310.json")
    cols = ["target", "vuln_id", "pkg_name", "pkg_version", "severity", "fix_state"]
    assert old.vulnerabilities[cols].equals(new.vulnerabilities[cols])
    assert old.images.empty  # the list form has no metadata
    assert new.images.iloc[0]["image_id"].startswith("sha256:96176967")
    # At that time nvd had only a v2 score for CVE-2019-1549: redhat's 3.0 score is newer.
    r = one_row(new.vulnerabilities, vuln_id="CVE-2019-1549", pkg_name="libssl1.1")
    assert (r["cvss_version"], r["cvss_source"], r["cvss_score"]) == ("3.0", "redhat", 4.8)


@pytest.mark.corpus
def test_golden_alpine_39_without_results(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "trivy-golden-alpine-39-skip-no-results-key.json")
    img = data.images.iloc[0]
    # OS family "none": Trivy detected no OS, so there is no EOL verdict either.
    assert pd.isna(img["os_family"]) and pd.isna(img["is_os_eol"])
    assert img["image_ref"] == "ghcr.io/aquasecurity/trivy-test-images:alpine-39"


@pytest.mark.corpus
def test_golden_centos_labels_and_redhat_scores(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "trivy-golden-centos-7-image.json")
    labels = dict(zip(data.image_labels["label"], data.image_labels["value"], strict=True))
    assert labels["org.label-schema.name"] == "CentOS Base Image" and len(labels) == 5
    bash = one_row(data.vulnerabilities, pkg_name="bash")
    assert (bash["status"], bash["fix_state"], bash["severity"]) == ("will_not_fix", "wont-fix",
                                                                     "low")
    assert bash["severity_source"] == "redhat"


@pytest.mark.corpus
@pytest.mark.parametrize(("name", "expected"), [
    ("trivy-golden-debian-buster-image.json",
     [("CVE-2019-18276", "bash", "low", "not-fixed"),
      ("CVE-2019-18224", "libidn2-0", "critical", "fixed")]),
    ("trivy-golden-ubuntu-1804-image.json",
     [("CVE-2019-18276", "bash", "low", "not-fixed")]
     + [("CVE-2019-5094", p, "medium", "fixed")
        for p in ("e2fsprogs", "libcom-err2", "libext2fs2", "libss2")]),
])
def test_golden_os_images(corpus: type[CorpusLoader], name: str,
                          expected: list[tuple[str, str, str, str]]) -> None:
    v = _load(corpus, name).vulnerabilities
    got = list(zip(v["vuln_id"], v["pkg_name"], v["severity"], v["fix_state"], strict=True))
    assert got == expected
    assert v["purl"].str.startswith("pkg:").all() and (v["package_type"] == "deb").all()


@pytest.mark.corpus
def test_golden_spring4shell(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "trivy-golden-spring4shell-jre8-custom-class.json")
    r = data.vulnerabilities.iloc[0]
    assert (r["vuln_id"], r["pkg_name"], r["target"]) == (
        "CVE-2022-22965", "org.springframework:spring-beans", "Java")
    assert r["pkg_path"] == (
        "usr/local/tomcat/webapps/helloworld.war/WEB-INF/lib/spring-beans-5.3.15.jar")
    assert (r["package_type"], r["severity"], r["cvss_score"], r["cvss_source"]) == (
        "maven", "low", 9.8, "ghsa")
    assert r["layer_diff_id"].startswith("sha256:eb769943")
    assert data.images.iloc[0]["layer_count"] == 9


@pytest.mark.corpus
def test_golden_npm_packages(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "trivy-golden-npm-fs-list-all-pkgs.json")
    p = data.packages
    assert (p["target"] == "package-lock.json").all() and (p["package_type"] == "npm").all()
    jquery = one_row(p, name="jquery")
    assert (jquery["package_id"], jquery["version"], jquery["license_expression"]) == (
        "5624abe72853740", "3.3.9", "MIT")
    assert one_row(p, name="asap")["license_class"] == "unknown"  # no Licenses
    assert set(data.package_licenses["package_name"]) == {
        "jquery", "promise", "react", "react-is", "redux"}
    v = data.vulnerabilities.iloc[0]
    assert (v["vuln_id"], v["purl"], v["fix_state"]) == (
        "CVE-2019-11358", "pkg:npm/jquery@3.3.9", "fixed")


@pytest.mark.corpus
def test_golden_secrets_never_store_the_secret(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "trivy-golden-secrets-fs.json")
    s = data.secrets
    assert list(zip(s["rule_id"], s["category"], s["severity"], s["start_line"], strict=True)) == [
        ("aws-access-key-id", "AWS", "critical", 3), ("mysecret", "Custom", "high", 7)]
    assert (s["file_path"] == "deploy.sh").all() and s["layer_diff_id"].isna().all()
    text = _strings(data)
    # `Code` shows a neighbouring line with a real-looking token; `Match` the masked line.
    assert "ghp_0123456789" not in text and "AWS_ACCESS_KEY_ID" not in text


@pytest.mark.corpus
def test_golden_and_real_dockerfile_misconfigurations(corpus: type[CorpusLoader]) -> None:
    golden = _load(corpus, "trivy-golden-dockerfile-misconfig.json").misconfigurations.iloc[0]
    assert (golden["rule_id"], golden["severity"], golden["status"]) == ("DS-0002", "high", "fail")
    assert golden["primary_url"] == "https://avd.aquasec.com/misconfig/ds-0002"
    data = _load(corpus, "trivy-0.76.0-config-dockerfile.json")
    m = data.misconfigurations
    assert list(m["rule_id"]) == ["DS-0001", "DS-0002", "DS-0026", "DS-0029", "DS-0031"]
    ds31 = one_row(m, rule_id="DS-0031")
    assert (ds31["severity"], ds31["start_line"], ds31["end_line"]) == ("critical", 3, 3)
    assert ds31["message"] == 'Possible exposure of secret env "DB_PASSWORD" in ENV'
    assert "hunter2" not in _strings(data)  # the ENV line is in CauseMetadata.Code, never read


# --- hand-written documents ----------------------------------------------------------------------

_DIFF = "sha256:" + "a" * 64
_IMAGE_ID = "sha256:" + "b" * 64
_SECRET = "SUPERSECRET-c0ffee-1234567890"


def _vuln(vid: str = "CVE-2024-0001", name: str = "openssl", **extra: Any) -> dict[str, Any]:
    return {
        "VulnerabilityID": vid, "PkgName": name, "InstalledVersion": "3.0.1",
        "PkgIdentifier": {"PURL": f"pkg:deb/debian/{name}@3.0.1", "UID": "u1"},
        "FixedVersion": "3.0.2", "Status": "fixed", "Layer": {"DiffID": _DIFF},
        "SeveritySource": "redhat", "Severity": "HIGH", "Title": "t", "Description": "d",
        "References": ["https://example.com"], "VendorSeverity": {"nvd": 3},
        "CVSS": {"nvd": {"V3Vector": "CVSS:3.1/AV:N", "V3Score": 9.8},
                 "redhat": {"V3Vector": "CVSS:3.1/AV:L", "V3Score": 7.0}},
        "PublishedDate": "2024-01-01T00:00:00Z", **extra,
    }


def _report(**top: Any) -> dict[str, Any]:
    return {
        "SchemaVersion": 2, "Trivy": {"Version": "0.60.0"}, "CreatedAt": "2025-01-02T03:04:05Z",
        "ArtifactName": "alpine:3.18", "ArtifactType": "container_image",
        "Metadata": {
            "OS": {"Family": "debian", "Name": "12.1"}, "ImageID": _IMAGE_ID,
            "RepoTags": ["alpine:3.18"], "RepoDigests": [f"alpine@sha256:{'c' * 64}"],
            "ImageConfig": {"created": "0001-01-01T00:00:00Z", "os": "linux",
                            "architecture": "arm64", "config": {"User": "app"},
                            "rootfs": {"diff_ids": [_DIFF, _DIFF]}}},
        "Results": [
            {"Target": "alpine:3.18 (debian 12.1)", "Class": "os-pkgs", "Type": "debian",
             "Vulnerabilities": [_vuln(), _vuln("CVE-2024-0002")]},
            {"Target": "app/.env", "Class": "secret", "Secrets": [
                {"RuleID": "generic", "Category": "Generic", "Severity": "HIGH", "Title": "x",
                 "StartLine": 2, "EndLine": 2, "Match": f"TOKEN={_SECRET}",
                 "Code": {"Lines": [{"Number": 2, "Content": f"TOKEN={_SECRET}"}]},
                 "Layer": {"DiffID": _DIFF}}]},
        ],
        **top,
    }




def _write(tmp_path: Path, doc: Any) -> tuple[Path, auditlib.AuditData]:
    path = tmp_path / "trivy.json"
    path.write_text(json.dumps(doc))
    return path, auditlib.load(path)


def test_hand_written_report(tmp_path: Path) -> None:
    _, data = _write(tmp_path, _report())
    assert data.load_errors.empty
    v = data.vulnerabilities
    assert list(v["vuln_id"]) == ["CVE-2024-0001", "CVE-2024-0002"]
    r = v.iloc[0]
    # Of two 3.1 scores the SeveritySource's (redhat) wins over nvd's higher one.
    assert (r["cvss_score"], r["cvss_source"], r["cvss_vector"]) == (7.0, "redhat", "CVSS:3.1/AV:L")
    assert (r["purl"], r["package_type"], r["layer_diff_id"]) == (
        "pkg:deb/debian/openssl@3.0.1", "deb", _DIFF)
    img = data.images.iloc[0]
    assert (img["user"], img["layer_count"], img["architecture"]) == ("app", 2, "arm64")
    assert pd.isna(img["created_at"])  # Go's zero time is no time
    assert img["repo_digest"] == "sha256:" + "c" * 64
    s = data.secrets.iloc[0]
    assert (s["rule_id"], s["file_path"], s["start_line"], s["layer_diff_id"]) == (
        "generic", "app/.env", 2, _DIFF)


def test_secret_match_and_code_never_reach_a_table(tmp_path: Path) -> None:
    doc = _report()
    doc["Results"][1]["Secrets"][0]["Title"] = "Generic secret"
    _, data = _write(tmp_path, doc)
    assert len(data.secrets) == 1
    for name, df in data.tables().items():
        for col in df.columns:
            assert not df[col].astype(str).str.contains(_SECRET, regex=False).any(), (name, col)


def test_package_licences_are_and_joined_with_compound_ones_kept_whole(tmp_path: Path) -> None:
    pkgs = [{"ID": "a@1", "Name": "a", "Version": "1",
             "Licenses": ["MIT OR Apache-2.0", "BSD-3-Clause", "MIT OR Apache-2.0"]},
            {"Name": "b", "Version": "2", "Licenses": ["GPL-3.0-only"]}]
    lic = [{"Name": "GPL-3.0-only", "PkgName": "b", "Severity": "HIGH", "Category": "restricted"}]
    doc = _report(Results=[
        {"Target": "requirements.txt", "Class": "lang-pkgs", "Type": "pip", "Packages": pkgs},
        {"Target": "requirements.txt", "Class": "license", "Licenses": lic}])
    _, data = _write(tmp_path, doc)
    p = data.packages
    a, b = one_row(p, name="a"), one_row(p, name="b")
    assert (a["package_id"], b["package_id"]) == ("a@1", "b@2")  # ID, else name@version
    assert a["license_expression"] == "(MIT OR Apache-2.0) AND BSD-3-Clause"
    assert (a["license_class"], b["license_class"], a["package_type"]) == (
        "permissive", "strong-copyleft", "pip")
    lic_rows = data.package_licenses
    assert len(lic_rows[lic_rows["package_id"] == "a@1"]) == 2  # the repeated licence counts once
    found = one_row(lic_rows, license_source="scanner")
    assert (found["package_id"], found["package_version"], found["severity"]) == (
        "b@2", "2", "high")


def test_non_image_scan_has_no_image(tmp_path: Path) -> None:
    _, data = _write(tmp_path, _report(ArtifactType="filesystem", ArtifactName="."))
    assert data.images.empty and data.image_tags.empty
    assert (data.scans.iloc[0]["target_type"], data.scans.iloc[0]["target"]) == ("filesystem", ".")
    assert data.vulnerabilities["image_id"].isna().all()


# (case, document change (dotted path, value) or a whole document, level, locator, words, vulns)
BAD_INPUTS: list[tuple[str, Any, str, str | None, str, int]] = [
    ("results-not-a-list", ("Results", "none"), "error", None, "`$.Results`", 0),
    ("results-an-object", ("Results", {}), "error", None, "`$.Results`", 0),
    ("target-a-number", ("Results.0.Target", 7), "error", None, "`$.Results[0].Target`", 0),
    ("vulnerabilities-not-a-list", ("Results.0.Vulnerabilities", "x"), "error", None,
     "`$.Results[0].Vulnerabilities`", 0),
    ("metadata-config-a-string", ("Metadata.ImageConfig", "cfg"), "error", None,
     "`$.Metadata.ImageConfig`", 0),
    ("tool-version-a-number", ("Trivy.Version", 1), "error", None, "`$.Trivy.Version`", 0),
    ("created-at-a-number", ("CreatedAt", 1), "error", None, "`$.CreatedAt`", 0),
    ("severity-a-number", ("Results.0.Vulnerabilities.1.Severity", 3), "warning",
     "$.Results[0].Vulnerabilities[1]", "`$.Results[0].Vulnerabilities[1].Severity`", 1),
    ("no-vulnerability-id", ("Results.0.Vulnerabilities.1.VulnerabilityID", DELETE), "warning",
     "$.Results[0].Vulnerabilities[1]", "VulnerabilityID", 1),
    ("cvss-not-a-map", ("Results.0.Vulnerabilities.0.CVSS", ["x"]), "warning",
     "$.Results[0].Vulnerabilities[0].CVSS", "CVSS ignored", 2),
    ("secret-line-a-string", ("Results.1.Secrets.0.StartLine", "two"), "warning",
     "$.Results[1].Secrets[0]", "`$.Results[1].Secrets[0].StartLine`", 2),
    ("k8s-report", {"ClusterName": "kind", "Resources": []}, "error", None,
     "trivy kubernetes (trivy k8s) reports are not supported", 0),
    ("schema-version-3", ("SchemaVersion", 3), "error", None, "SchemaVersion 3 is not supported",
     0),
    ("legacy-vulnerabilities-not-a-list",
     [{"Target": "x", "Type": "alpine", "Vulnerabilities": "none"}], "error", None,
     "`$[0].Vulnerabilities`", 0),
    ("legacy-bad-record",
     [{"Target": "x", "Type": "alpine", "Vulnerabilities": [_vuln(), _vuln(Severity=[1])]}],
     "warning", "$[0].Vulnerabilities[1]", "`$[0].Vulnerabilities[1].Severity`", 1),
]


@pytest.mark.parametrize(("case", "change", "level", "locator", "words", "vulns"), BAD_INPUTS,
                         ids=[b[0] for b in BAD_INPUTS])
def test_bad_input(tmp_path: Path, case: str, change: Any, level: str, locator: str | None,
                   words: str, vulns: int) -> None:
    doc = set_path(_report(), *change) if isinstance(change, tuple) else change
    path, data = _write(tmp_path, doc)
    errors = data.load_errors
    assert errors["level"].tolist() == [level], errors.to_dict("records")
    row = errors.iloc[0]
    assert words in row["reason"]
    assert _na(row["locator"]) == locator
    if level == "error":
        assert str(path) in row["reason"] and row["format"] == "trivy-json"
        assert data.scans.empty
    else:
        assert len(data.scans) == 1
    assert len(data.vulnerabilities) == vulns


def test_invalid_utf8_inside_a_string_is_an_error(tmp_path: Path) -> None:
    raw = json.dumps(_report()).replace('"Title": "t"', '"Title": "caf\\u00e9"').encode()
    raw = raw.replace(b"caf\\u00e9", b"caf\xe9")
    path = tmp_path / "trivy.json"
    path.write_bytes(raw)
    data = auditlib.load(path)
    assert data.load_errors["level"].tolist() == ["error"]
    assert "invalid JSON at $.Results" in data.load_errors.iloc[0]["reason"]
