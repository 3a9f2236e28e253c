"""SARIF 2.1.0 from Trivy, Grype, Dockle and Docker Scout: the real corpus, then written logs."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from tests.conftest import CORPUS, CorpusLoader, _corpus_missing

# Rows each corpus file gives: (vulnerabilities, misconfigurations, secrets). A new SARIF file in
# the corpus fails `test_every_sarif_corpus_file_is_checked` until it is added here.
EXPECTED_ROWS = {
    "sarif/dd-dockle-0.3.15.sarif": (0, 4, 0),
    "sarif/grype-head-presenter-image-mockdata.sarif": (2, 0, 0),
    "sarif/secobserve-trivy-0.47.0-config.sarif": (0, 1, 0),
    "sarif/trivy-0.76.0-config-dockerfile.sarif": (0, 5, 0),
    "sarif/trivy-sarif-native-head-alpine-310.sarif": (4, 0, 0),
    "sarif/trivy-sarif-template-era-v0.19dev-alpine-310.sarif": (8, 0, 0),
}


def _records(df: pd.DataFrame, *cols: str) -> list[tuple[Any, ...]]:
    rows = df[list(cols)].itertuples(index=False)
    return [tuple(None if pd.isna(v) else v for v in row) for row in rows]


def _scan(data: auditlib.AuditData) -> dict[str, Any]:
    assert len(data.scans) == 1
    return {str(k): (None if pd.isna(v) else v) for k, v in data.scans.iloc[0].items()}


# --- the real corpus ---


@pytest.mark.corpus
def test_every_sarif_corpus_file_is_checked() -> None:
    if not CORPUS.is_dir():
        _corpus_missing()
    with (CORPUS / "MANIFEST.tsv").open() as f:
        listed = {r["file"] for r in csv.DictReader(f, delimiter="\t") if r["format"] == "sarif"}
    assert listed == set(EXPECTED_ROWS)


@pytest.mark.corpus
@pytest.mark.parametrize("rel", sorted(EXPECTED_ROWS))
def test_corpus_rows_per_table(corpus: type[CorpusLoader], rel: str) -> None:
    data = corpus.load(rel)
    got = (len(data.vulnerabilities), len(data.misconfigurations), len(data.secrets))
    assert got == EXPECTED_ROWS[rel]
    assert data.load_errors.empty, data.load_errors["reason"].tolist()
    assert _scan(data)["format"] == "sarif" and _scan(data)["format_version"] == "2.1.0"
    assert data.packages.empty and data.package_licenses.empty


@pytest.mark.corpus
def test_dockle_matches_defectdojo(corpus: type[CorpusLoader]) -> None:
    data = corpus.load("sarif/dd-dockle-0.3.15.sarif")
    # DefectDojo: [0] CIS-DI-0010 High, [1..3] Info; auditlib's scale calls Info negligible.
    assert _records(data.misconfigurations, "rule_id", "severity", "tool", "status") == [
        ("CIS-DI-0010", "high", "dockle", "fail"),
        ("CIS-DI-0005", "negligible", "dockle", "fail"),
        ("CIS-DI-0006", "negligible", "dockle", "fail"),
        ("CIS-DI-0008", "negligible", "dockle", "fail"),
    ]
    first = data.misconfigurations.iloc[0]
    assert first["title"] == "Do not store credential in ENVIRONMENT vars/files"
    assert first["message"].startswith("Suspicious ENV key found : DD_ADMIN_PASSWORD")
    assert first["primary_url"].endswith("CHECKPOINT.md#CIS-DI-0010")
    scan = _scan(data)
    assert scan["tool"] == "dockle" and scan["tool_version"] is None
    assert scan["target_type"] == "container_image"


@pytest.mark.corpus
def test_grype_presenter_snapshot(corpus: type[CorpusLoader]) -> None:
    data = corpus.load("sarif/grype-head-presenter-image-mockdata.sarif")
    v = data.vulnerabilities.sort_values("vuln_id")
    cols = ("vuln_id", "pkg_name", "pkg_version", "package_type", "pkg_path", "target")
    assert _records(v, *cols) == [
        ("CVE-1999-0001", "package-1", "1.1.1", "rpm", "somefile-1.txt", "user-input"),
        ("CVE-1999-0002", "package-2", "2.2.2", "deb", "somefile-2.txt", "user-input"),
    ]
    # The severity word in the message wins over the score; the score is kept as the CVSS.
    assert _records(v, "severity", "cvss_score", "cvss_source") == [
        ("low", 8.2, "sarif:security-severity"), ("critical", 8.5, "sarif:security-severity")]
    assert _records(v, "fix_state", "fixed_version", "purl") == [
        ("fixed", "1.2.1,2.1.3,3.4.0", None), ("unknown", None, "pkg:deb/package-2@2.2.2")]
    assert v["primary_url"].isna().all()  # helpUri is Grype's home page, not an advisory
    scan = _scan(data)
    assert (scan["tool"], scan["tool_version"], scan["target"], scan["target_type"]) == (
        "grype", "0.0.0-dev", "user-input", "container_image")
    assert scan["image_ref"] == "docker.io/library/user-input:latest"


@pytest.mark.corpus
def test_secobserve_trivy_config(corpus: type[CorpusLoader]) -> None:
    data = corpus.load("sarif/secobserve-trivy-0.47.0-config.sarif")
    scan = _scan(data)
    assert f"{scan['tool'].title()} / {scan['tool_version']}" == "Trivy / 0.47.0"
    assert scan["target_type"] == "filesystem"
    row = data.misconfigurations.iloc[0]
    assert (row["rule_id"], row["title"], row["severity"]) == (
        "AVD-AZU-0014", "Ensure that the expiration date is set on all keys", "medium")
    assert row["file_path"] == "modules/azure-cosmosdb/main.tf"
    assert (row["start_line"], row["end_line"]) == (164, 176)
    assert row["message"] == "Key should have an expiry date specified."
    assert row["primary_url"] == "https://avd.aquasec.com/misconfig/avd-azu-0014"


@pytest.mark.corpus
def test_trivy_config_sarif_agrees_with_trivy_json(corpus: type[CorpusLoader]) -> None:
    sarif = corpus.load("sarif/trivy-0.76.0-config-dockerfile.sarif")
    native = corpus.load("trivy-json/trivy-0.76.0-config-dockerfile.json")
    cols = ("rule_id", "severity", "target", "message", "status")
    from_sarif = sorted(_records(sarif.misconfigurations, *cols))
    assert from_sarif == sorted(_records(native.misconfigurations, *cols))
    raw = json.loads(corpus.path("trivy-json/trivy-0.76.0-config-dockerfile.json").read_text())
    failed = sorted(m["ID"] for r in raw["Results"] for m in r.get("Misconfigurations") or []
                    if m["Status"] == "FAIL")
    assert sorted(sarif.misconfigurations["rule_id"]) == failed
    m = sarif.misconfigurations.set_index("rule_id")
    assert (m.at["DS-0029", "start_line"], m.at["DS-0031", "severity"]) == (2, "critical")
    assert sarif.secrets.empty  # DS-0031 is a check about secrets, not a secret found
    assert (_scan(sarif)["target"], _scan(sarif)["target_type"]) == ("Dockerfile", "dockerfile")


@pytest.mark.corpus
def test_trivy_native_writer_reads_package_from_the_result(corpus: type[CorpusLoader]) -> None:
    data = corpus.load("sarif/trivy-sarif-native-head-alpine-310.sarif")
    v = data.vulnerabilities.sort_values(["pkg_name", "vuln_id"])
    # The rule's help names libssl1.1 for both CVEs; each result names its own package.
    assert _records(v, "pkg_name", "vuln_id", "pkg_version", "fixed_version", "fix_state") == [
        ("libcrypto1.1", "CVE-2019-1549", "1.1.1c-r0", "1.1.1d-r0", "fixed"),
        ("libcrypto1.1", "CVE-2019-1551", "1.1.1c-r0", "1.1.1d-r2", "fixed"),
        ("libssl1.1", "CVE-2019-1549", "1.1.1c-r0", "1.1.1d-r0", "fixed"),
        ("libssl1.1", "CVE-2019-1551", "1.1.1c-r0", "1.1.1d-r2", "fixed"),
    ]
    first = v.iloc[0]
    assert (first["severity"], first["cvss_score"], first["cvss_version"]) == ("medium", 5.3, "3.1")
    assert first["cvss_vector"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"
    assert first["primary_url"] == "https://avd.aquasec.com/nvd/cve-2019-1549"
    assert first["title"] == "openssl: information disclosure in fork()"
    assert v["pkg_path"].isna().all()
    assert (v["target"] == "testdata/fixtures/images/alpine-310.tar.gz").all()
    image_id = "sha256:961769676411f082461f9ef46626dd7a2d1e2b2a38e6a44364bcbecf51e66dd4"
    scan = _scan(data)
    assert (scan["image_id"], scan["target_type"], scan["tool_version"]) == (
        image_id, "container_image", "dev")
    tag = "ghcr.io/aquasecurity/trivy-test-images:alpine-310"
    assert data.image_tags["reference"].tolist() == [tag] and scan["image_ref"] == tag
    assert (v["image_id"] == image_id).all()


@pytest.mark.corpus
def test_trivy_template_era(corpus: type[CorpusLoader]) -> None:
    data = corpus.load("sarif/trivy-sarif-template-era-v0.19dev-alpine-310.sarif")
    v = data.vulnerabilities
    assert sorted(set(v["vuln_id"])) == [f"CVE-2019-{n}" for n in (1547, 1549, 1551, 1563)]
    assert sorted(set(v["pkg_name"])) == ["libcrypto1.1", "libssl1.1"]
    assert set(v["pkg_version"]) == {"1.1.1c-r0"}
    low = v[v["vuln_id"] == "CVE-2019-1547"]
    assert set(low["severity"]) == {"low"} and set(low["fixed_version"]) == {"1.1.1d-r0"}
    # The template put the title in fullDescription and the description in the message.
    assert low["title"].iloc[0] == "openssl: side-channel weak encryption vulnerability."
    assert low["description"].iloc[0].startswith("Normally in OpenSSL EC groups")
    assert v["cvss_score"].isna().all()
    scan = _scan(data)
    assert (scan["tool"], scan["tool_version"], scan["target_type"]) == (
        "trivy", "0.15.0", "container_image")


# --- small written logs ---


def _log(*runs: dict[str, Any], version: str = "2.1.0") -> dict[str, Any]:
    schema = "https://json.schemastore.org/sarif-2.1.0.json"
    return {"version": version, "$schema": schema, "runs": list(runs)}


def _run(name: str, rules: list[Any], results: Any, **extra: Any) -> dict[str, Any]:
    driver = {"name": name, "version": "1.0", "rules": rules}
    return {"tool": {"driver": driver}, "results": results, **extra}


def _load(tmp_path: Path, doc: Any) -> auditlib.AuditData:
    path = tmp_path / "log.sarif"
    path.write_text(json.dumps(doc))
    return auditlib.load(path)


GOOD = {"ruleId": "KSV001", "level": "warning", "message": {"text": "m"}}
BAD_TEXT = {"ruleId": "KSV001", "message": {"text": 42}}
NO_RULE = {"message": {"text": "no rule"}}


@pytest.mark.parametrize(
    ("doc", "level", "words", "misconfigurations"),
    [
        ({"version": "2.1.0", "runs": {}}, "error", ["$.runs", "array"], 0),
        ({"version": "2.1.0", "runs": None}, "error", ["$.runs"], 0),
        (_log({"results": []}), "error", ["$.runs[0]", "tool"], 0),
        (_log({"tool": {}}), "error", ["$.runs[0].tool", "driver"], 0),
        (_log({"tool": {"driver": {}}}), "error", ["$.runs[0].tool.driver", "name"], 0),
        (_log({"tool": {"driver": {"name": 7}}}), "error", ["$.runs[0].tool.driver.name"], 0),
        (_log(_run("x", [], {})), "error", ["$.runs[0].results"], 0),
        (_log(_run("x", [], []), version="2.0.0"), "error", ["version 2.0.0 is not supported"], 0),
        (_log(_run("x", [], [GOOD, BAD_TEXT])), "warning", ["results[1]", "message.text"], 1),
        (_log(_run("x", [], [GOOD, NO_RULE])), "warning", ["names no rule"], 1),
        (_log(_run("x", [{"id": 1}], [GOOD])), "warning", ["$.runs[0].tool.driver.rules[0]"], 1),
        (_log(_run("x", [], [GOOD], properties=[])), "warning", ["$.runs[0].properties"], 1),
    ],
    ids=["runs-object", "runs-null", "no-tool", "no-driver", "no-driver-name", "driver-name-number",
         "results-object", "version-2.0.0", "bad-result", "result-without-rule", "bad-rule",
         "bad-run-properties"],
)
def test_bad_input(
    tmp_path: Path, doc: Any, level: str, words: list[str], misconfigurations: int
) -> None:
    data = _load(tmp_path, doc)
    errors = data.load_errors
    assert errors["level"].tolist() == [level]
    text = f"{errors['locator'].iloc[0]} {errors['reason'].iloc[0]}"
    assert all(w in text for w in words), text
    if level == "error":
        assert str(tmp_path / "log.sarif") in errors["reason"].iloc[0]
        assert data.scans.empty
    assert len(data.misconfigurations) == misconfigurations


SECRET = "AKIA2E0A8F3B244C9986"
TRIVY_SECRET = _run(
    "Trivy",
    [{"id": "aws-access-key-id", "name": "Secret",
      "shortDescription": {"text": "AWS Access Key ID"},
      "fullDescription": {"text": f"AWS_ACCESS_KEY_ID={SECRET}"},
      "help": {"text": f"Secret AWS Access Key ID\nMatch: AWS_ACCESS_KEY_ID={SECRET}"},
      "properties": {"tags": ["secret", "security", "CRITICAL"], "security-severity": "9.5"}}],
    [{"ruleId": "aws-access-key-id", "ruleIndex": 0, "level": "error",
      "message": {"text": "Artifact: app/.env\nType: \nSecret AWS Access Key ID\n"
                          f"Severity: CRITICAL\nMatch: AWS_ACCESS_KEY_ID={SECRET}"},
      "locations": [{"physicalLocation": {"artifactLocation": {"uri": "app/.env"},
                                          "region": {"startLine": 3, "endLine": 3}}}]},
     # Another tool, no tags: the message says a secret was found, and carries the secret.
     {"ruleId": "generic-token", "message": {"text": f"Secret detected: token={SECRET}"},
      "locations": [{"physicalLocation": {"artifactLocation": {"uri": "config.yml"},
                                          "region": {"startLine": 9}}}]}],
)


def test_secret_text_never_reaches_a_table(tmp_path: Path) -> None:
    data = _load(tmp_path, _log(TRIVY_SECRET))
    s = data.secrets.sort_values("file_path")
    assert _records(s, "rule_id", "title", "severity", "file_path", "start_line", "end_line") == [
        ("aws-access-key-id", "AWS Access Key ID", "critical", "app/.env", 3, 3),
        ("generic-token", None, "unknown", "config.yml", 9, None),
    ]
    for name, df in data.tables().items():
        for col in df.columns:
            cells = df[col].dropna().astype(str)
            assert not cells.str.contains(SECRET[4:12], regex=False).any(), f"{name}.{col}"


def test_docker_scout_rules(tmp_path: Path) -> None:
    rules = [
        {"id": "GHSA-4374-p667-p6c8", "name": "OsPackageVulnerability",
         "helpUri": "https://scout.docker.com/v/x",
         "properties": {"cvssV3_severity": "HIGH", "security-severity": "7.5",
                        "fixed_version": "not fixed",
                        "purls": ["pkg:pypi/django@4.2.28", "pkg:pypi/django@4.1.0"]}},
        {"id": "CVE-2024-0002",
         "properties": {"cvssV3_severity": "UNSPECIFIED", "security-severity": "3.1",
                        "purl": "pkg:deb/debian/tar@1.35%2Bdfsg-3.1?os_distro=trixie",
                        "fixed_version": "1.36"}},
    ]
    results = [{"ruleId": "GHSA-4374-p667-p6c8", "ruleIndex": 0, "message": {"text": "x"}},
               {"ruleId": "CVE-2024-0002", "ruleIndex": 1, "message": {"text": "y"},
                "suppressions": [{"kind": "external"}]}]
    data = _load(tmp_path, _log(_run("docker scout", rules, results)))
    v = data.vulnerabilities.sort_values(["vuln_id", "pkg_version"])
    cols = ("vuln_id", "pkg_name", "pkg_version", "package_type", "severity", "fix_state",
            "fixed_version", "cvss_score", "status")
    assert _records(v, *cols) == [
        ("CVE-2024-0002", "tar", "1.35+dfsg-3.1", "deb", "low", "fixed", "1.36", 3.1, "suppressed"),
        ("GHSA-4374-p667-p6c8", "django", "4.1.0", "pypi", "high", "not-fixed", None, 7.5, None),
        ("GHSA-4374-p667-p6c8", "django", "4.2.28", "pypi", "high", "not-fixed", None, 7.5, None),
    ]
    assert v["primary_url"].iloc[1] == "https://scout.docker.com/v/x"
    assert _scan(data)["tool"] == "docker scout"


def test_classification_and_runs(tmp_path: Path) -> None:
    text = ("The path /var/lib/dpkg/status reports zlib at version 1.2  "
            "which is a vulnerable (deb) package installed in the container")
    grype_old = {"ruleId": "ANCHOREVULN_app:1_CVE-2020-1234_deb_zlib_1.2", "ruleIndex": 0,
                 "level": "error", "message": {"text": text}}
    iac = {"ruleId": "KSV001", "level": "note", "kind": "pass", "message": {"text": "ok"},
           "locations": [{"physicalLocation": {"artifactLocation": {"uri": "k8s/pod.yaml"}}}]}
    licence = {"ruleId": "alpine:GPL-2.0", "message": {"text": "l"}}
    doc = _log(
        _run("Anchore Container Vulnerability Report (T0)", [{"id": grype_old["ruleId"]}],
             [grype_old, iac], invocations=[{"endTimeUtc": "2024-05-01T10:00:00Z"}]),
        _run("Trivy", [{"id": "alpine:GPL-2.0", "properties": {"tags": ["license"]}}], [licence]),
    )
    data = _load(tmp_path, doc)
    cols = ("vuln_id", "pkg_name", "pkg_version", "package_type", "pkg_path", "severity")
    assert _records(data.vulnerabilities, *cols) == [
        ("CVE-2020-1234", "zlib", "1.2", "deb", "/var/lib/dpkg/status", "high")]
    assert _records(data.misconfigurations, "rule_id", "tool", "severity", "status", "target") == [
        ("KSV001", "grype", "low", "pass", "k8s/pod.yaml")]
    assert data.load_errors["locator"].tolist() == ["$.runs[1].results"]  # the licence result
    scan = _scan(data)
    assert (scan["tool"], str(scan["generated_at"])) == ("grype", "2024-05-01 10:00:00+00:00")


def test_trivy_image_language_package_keeps_its_path(tmp_path: Path) -> None:
    text = ("Package: django\nInstalled Version: 4.2.0\nVulnerability CVE-2024-1111\n"
            "Severity: HIGH\nFixed Version: \nLink: [CVE-2024-1111](https://avd.aquasec.com/x)")
    result = {"ruleId": "CVE-2024-1111", "ruleIndex": 0, "message": {"text": text},
              "locations": [{"physicalLocation": {"artifactLocation": {"uri": "app/req.txt"}}}]}
    rule = {"id": "CVE-2024-1111", "name": "LanguageSpecificPackageVulnerability",
            "help": {"text": "Vulnerability CVE-2024-1111\nPackage: flask\nFixed Version: 9.9"},
            "properties": {"tags": ["vulnerability", "HIGH"], "security-severity": "8.0"}}
    props = {"imageName": "app:1", "imageID": "sha256:" + "a" * 64, "repoTags": ["app:1"]}
    data = _load(tmp_path, _log(_run("Trivy", [rule], [result], properties=props)))
    cols = ("vuln_id", "pkg_name", "pkg_path", "target", "fix_state", "fixed_version", "cvss_score")
    # Empty "Fixed Version" in the message is not filled from the rule's help (another package).
    assert _records(data.vulnerabilities, *cols) == [
        ("CVE-2024-1111", "django", "app/req.txt", "app:1", "unknown", None, None)]
    scan = _scan(data)
    assert scan["target_type"] == "container_image"
    assert scan["image_ref"] == "docker.io/library/app:1"
