"""Harbor vulnerability reports into `vulnerabilities`: real API output and small failure cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib

REPORT = "other/dd-harbor-trivy-vulns.json"
MIME = "application/vnd.security.vulnerability.report; version=1.1"
AT = f"$[{json.dumps(MIME)}]"
DIGEST = "sha256:" + "ab" * 32
DIFF_ID = "sha256:" + "cd" * 32
CVSS4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"
SCANNER = {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.50.1"}


def _vuln(vuln_id: str = "CVE-2024-0001", **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": vuln_id,
        "package": "openssl",
        "version": "3.0.11-1",
        "fix_version": "",
        "severity": "Medium",
        "description": "d",
        "links": ["https://avd.aquasec.com/nvd/" + vuln_id.lower()],
    }
    item.update(extra)
    return item


def _report(vulns: Any, **extra: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "generated_at": "2024-05-01T10:00:00Z",
        "scanner": SCANNER,
        "severity": "Medium",
        "vulnerabilities": vulns,
    }
    report.update(extra)
    return report


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "harbor.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.corpus
def test_harbor_api_report(corpus: Any) -> None:
    data = corpus.load(REPORT)
    v = data.vulnerabilities
    assert v["vuln_id"].tolist() == ["CVE-2022-1304", "CVE-2019-1010023", "CVE-2019-1010024"]
    first = v.iloc[0]
    # DefectDojo: [0] High, cwe 125 (unsaved_cwes CWE-125, CWE-787). auditlib has the severity; the
    # vulnerabilities table has no CWE column (CWEs describe the weakness, not the finding), so
    # cwe_ids is not read.
    assert first["severity"] == "high"
    assert (first["pkg_name"], first["pkg_version"]) == ("e2fsprogs", "1.46.2-2")
    assert (first["fix_state"], pd.isna(first["fixed_version"])) == ("unknown", True)
    assert first["primary_url"] == "https://avd.aquasec.com/nvd/cve-2022-1304"
    assert first["description"].startswith("An out-of-bounds read/write vulnerability")
    # vendor_attributes.CVSS names its sources: NVD's v3.1 vector beats the sourceless preferred.
    assert (first["cvss_score"], first["cvss_version"], first["cvss_source"]) == (7.8, "3.1", "nvd")
    assert first["cvss_vector"] == "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"
    assert v["severity"].astype(str).tolist() == ["high", "low", "low"]
    assert v["cvss_score"].tolist() == [7.8, 8.8, 5.3]
    assert v["cvss_version"].tolist() == ["3.1", "3.0", "3.0"]
    assert (v["target"] == "harbor artifact").all()
    assert v["layer_diff_id"].isna().all() and v["title"].isna().all()
    scan = data.scans.iloc[0]
    assert (scan["format"], scan["format_version"]) == ("harbor-json", "1.1")
    assert (scan["tool"], scan["tool_version"]) == ("harbor", "Trivy v0.44.0")
    assert scan["generated_at"] == pd.Timestamp("2023-09-08T00:19:11.258693685Z")
    assert (scan["target"], scan["target_type"]) == ("harbor artifact", "container_image")
    # Harbor's API report has no `artifact`: no image (see harbor_json._image).
    assert pd.isna(scan["image_ref"]) and pd.isna(scan["repo_digest"])
    assert data.images.empty and data.load_errors.empty


def test_adapter_report_with_artifact(tmp_path: Path) -> None:
    artifact = {
        "repository": "library/mongo",
        "digest": DIGEST,
        "tag": "7.0",
        "mime_type": "application/vnd.oci.image.manifest.v1+json",
    }
    vulns = [
        _vuln(
            fix_version="3.0.13-1",
            layer={"digest": "sha256:" + "ef" * 32, "diff_id": DIFF_ID},
            severity="Critical",
        )
    ]
    data = auditlib.load(_write(tmp_path, _report(vulns, artifact=artifact)))
    assert data.load_errors.empty
    scan = data.scans.iloc[0]
    assert scan["format_version"] == "unknown"  # a bare report does not carry its MIME version
    assert (scan["target"], scan["tool_version"]) == ("library/mongo:7.0", "Trivy v0.50.1")
    # Harbor does not name its registry host, so the reference normalises onto docker.io.
    assert scan["image_ref"] == "docker.io/library/mongo:7.0"
    assert scan["repo_digest"] == DIGEST
    assert data.images["repo_digest"].tolist() == [DIGEST]
    row = data.vulnerabilities.iloc[0]
    assert (row["fix_state"], row["fixed_version"]) == ("fixed", "3.0.13-1")
    assert (row["layer_diff_id"], row["severity"], row["target"]) == (
        DIFF_ID,
        "critical",
        "library/mongo:7.0",
    )
    assert pd.isna(row["cvss_score"])


def test_artifact_without_tag_is_named_by_digest(tmp_path: Path) -> None:
    doc = {MIME: _report([], artifact={"repository": "team/app", "digest": DIGEST})}
    data = auditlib.load(_write(tmp_path, doc))
    scan = data.scans.iloc[0]
    assert scan["target"] == "team/app"
    assert scan["image_ref"] == f"docker.io/team/app@{DIGEST}"
    assert scan["repo_digest"] == DIGEST


@pytest.mark.parametrize(
    ("vuln", "score", "version", "source"),
    [
        # Only preferred_cvss: its v3 score, version from the vector, no source.
        (
            _vuln(
                preferred_cvss={
                    "score_v3": 9.8,
                    "score_v2": None,
                    "vector_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                    "vector_v2": "",
                }
            ),
            9.8,
            "3.1",
            None,
        ),
        # Harbor's own model writes missing scores as 0 and "": that is no score.
        (
            _vuln(preferred_cvss={"score_v3": 0, "score_v2": 0, "vector_v3": "", "vector_v2": ""}),
            None,
            None,
            None,
        ),
        (
            _vuln(
                preferred_cvss={
                    "score_v3": 0,
                    "score_v2": 5.0,
                    "vector_v3": "",
                    "vector_v2": "AV:N/AC:L/Au:N/C:P/I:N/A:N",
                }
            ),
            5.0,
            "2.0",
            None,
        ),
        # Vendor scores: the newest version wins, then NVD.
        (
            _vuln(
                vendor_attributes={
                    "CVSS": {
                        "redhat": {
                            "V3Score": 6.5,
                            "V3Vector": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
                        },
                        "nvd": {
                            "V3Score": 7.5,
                            "V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
                            "V2Score": 5.0,
                            "V2Vector": "AV:N/AC:L/Au:N/C:P/I:N/A:N",
                        },
                        "ghsa": {
                            "V40Score": 8.7,
                            "V40Vector": CVSS4,
                        },
                    }
                }
            ),
            8.7,
            "4.0",
            "ghsa",
        ),
        (_vuln(vendor_attributes={}), None, None, None),
    ],
    ids=["preferred-only", "zeros", "v2-only", "vendors", "empty-vendor-attributes"],
)
def test_cvss(
    tmp_path: Path,
    vuln: dict[str, Any],
    score: float | None,
    version: str | None,
    source: str | None,
) -> None:
    data = auditlib.load(_write(tmp_path, {MIME: _report([vuln])}))
    assert data.load_errors.empty
    row = data.vulnerabilities.iloc[0]
    assert (None if pd.isna(row["cvss_score"]) else row["cvss_score"]) == score
    assert (None if pd.isna(row["cvss_version"]) else row["cvss_version"]) == version
    assert (None if pd.isna(row["cvss_source"]) else row["cvss_source"]) == source


def test_empty_and_null_vulnerabilities(tmp_path: Path) -> None:
    vulns: list[Any] | None
    for vulns in ([], None):
        data = auditlib.load(_write(tmp_path, {MIME: _report(vulns)}))
        assert data.load_errors.empty and data.vulnerabilities.empty
        assert data.scans["tool"].tolist() == ["harbor"]
    # The Trivy adapter leaves `vulnerabilities` out of a clean report (omitempty).
    doc = _report([])
    del doc["vulnerabilities"]
    data = auditlib.load(_write(tmp_path, {MIME: doc}))
    assert data.load_errors.empty and len(data.scans) == 1


# (name, document, rows, warning locators): a bad item costs a warning, never the file.
BAD_RECORDS: list[tuple[str, Any, int, list[str]]] = [
    ("no id", {MIME: _report([{"package": "zlib"}, _vuln()])}, 1, [f"{AT}.vulnerabilities[0]"]),
    (
        "package not a string",
        {MIME: _report([_vuln(), _vuln(package=7)])},
        1,
        [f"{AT}.vulnerabilities[1]"],
    ),
    ("item not an object", _report(["CVE-1", _vuln()]), 1, ["$.vulnerabilities[0]"]),
    ("links not a list", _report([_vuln(links="https://x")]), 0, ["$.vulnerabilities[0]"]),
    # Vendor attributes are the scanner's own: a shape auditlib does not know loses the CVSS only.
    (
        "CVSS not an object",
        {MIME: _report([_vuln(vendor_attributes={"CVSS": [7.5]})])},
        1,
        [f"{AT}.vulnerabilities[0].vendor_attributes"],
    ),
    (
        "CVSS after a skipped item",
        _report([{"id": "x"}, _vuln(vendor_attributes={"CVSS": "high"})]),
        1,
        ["$.vulnerabilities[0]", '$.vulnerabilities[?(@.id=="CVE-2024-0001")].vendor_attributes'],
    ),
]


@pytest.mark.parametrize(
    ("doc", "rows", "locators"), [c[1:] for c in BAD_RECORDS], ids=[c[0] for c in BAD_RECORDS]
)
def test_bad_records_are_warnings(tmp_path: Path, doc: Any, rows: int, locators: list[str]) -> None:
    data = auditlib.load(_write(tmp_path, doc))
    errors = data.load_errors
    assert (errors["level"] == "warning").all()
    assert errors["locator"].tolist() == locators
    assert len(data.vulnerabilities) == rows
    assert len(data.scans) == 1


# (name, document, text the error names): the file gives no rows and one error naming the path.
MALFORMED: list[tuple[str, Any, str]] = [
    ("report not an object", {MIME: [_vuln()]}, AT),
    ("report empty", {MIME: {}}, "no vulnerability report"),
    ("vulnerabilities an object", {MIME: _report({"id": "CVE-1"})}, f"{AT}.vulnerabilities"),
    ("scanner a string", {MIME: _report([], scanner="Trivy")}, f"{AT}.scanner"),
    ("artifact a list", _report([], artifact=["library/mongo"]), "$.artifact"),
    ("generated_at a number", _report([], generated_at=1714557600), "$.generated_at"),
]


@pytest.mark.parametrize(
    ("doc", "where"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_is_an_error(tmp_path: Path, doc: Any, where: str) -> None:
    path = _write(tmp_path, doc)
    data = auditlib.load(path)
    errors = data.load_errors
    assert errors["level"].tolist() == ["error"]
    assert errors["format"].tolist() == ["harbor-json"]
    reason = errors["reason"].iloc[0]
    assert str(path) in reason and where in reason
    assert data.scans.empty and data.vulnerabilities.empty
