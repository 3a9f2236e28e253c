"""Bad input: each bad file gives one load_errors row naming the file and the reason; nothing
raises.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import auditlib
from tests.samples import TRIVY


def _errors(data: auditlib.AuditData, level: str = "error") -> list[str]:
    df = data.load_errors
    return df.loc[df["level"] == level, "reason"].tolist()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"   \n", "empty file"),
        (b"hello, world", "not valid JSON"),
        (b"null", "JSON null"),
        (b"{}", "not a recognised scanner report or SBOM"),
        (b"[1, 2, 3]", "not a recognised scanner report or SBOM"),
        (json.dumps(TRIVY).encode()[:150], "not valid JSON"),
        (b'"a string"', "top level is not a JSON object or array"),
        (b"42", "top level is not a JSON object or array"),
        (b'{"SchemaVersion": 2, "ArtifactName": "caf\xe9", "Results": []}', "UTF-8"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "9.9"}', "version 9.9 is not supported"),
    ],
    ids=[
        "empty",
        "blank",
        "not-json",
        "null",
        "empty-object",
        "list-of-numbers",
        "truncated",
        "string",
        "number",
        "latin-1",
        "future-version",
    ],
)
def test_bad_file_gives_one_error_row(write_json, content: bytes, reason: str) -> None:  # type: ignore[no-untyped-def]
    path = write_json("report.json", content)
    data = auditlib.load(path)
    errors = _errors(data)
    assert len(errors) == 1, data.load_errors.to_dict("records")
    assert reason in errors[0]
    assert str(path) in errors[0]
    assert data.load_errors["source"].tolist() == [str(path)]
    assert data.scans.empty


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "a-bad.json").write_bytes(b"{")
    (tmp_path / "b-good.json").write_text(json.dumps(TRIVY))
    (tmp_path / "c-missing-link.json").write_text("null")
    data = auditlib.load(tmp_path)
    assert len(data.scans) == 1
    assert len(_errors(data)) == 2
    assert [f.error is None for f in data.files] == [False, True, False]


def test_plainly_not_json_files_are_skipped_not_errors(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / "list.tsv").write_text("a\tb\n")
    (tmp_path / "Dockerfile").write_text("FROM debian:12\n")
    (tmp_path / "report").write_text(json.dumps(TRIVY))  # no suffix, but JSON: read
    data = auditlib.load(tmp_path)
    assert _errors(data) == []
    skipped = data.load_errors[data.load_errors["level"] == "skipped"]["source"].tolist()
    assert sorted(Path(s).name for s in skipped) == ["Dockerfile", "README.md", "list.tsv"]
    assert len(data.scans) == 1


def test_what_a_skipped_or_failed_file_quotes_is_redacted(tmp_path: Path) -> None:
    """Why a file was skipped quotes its first bytes; that reason is printed and kept in the
    store's manifest (`FileResult`) and in `load_errors`: both are redacted."""
    (tmp_path / "run.sh").write_text("--password hunter2 --verbose\n")
    data = auditlib.load(tmp_path)
    (f,) = data.files
    assert f.skipped == "not a JSON document (begins '--password <redacted>"
    assert data.load_errors["reason"].iloc[0] == f.skipped
    failed = auditlib.data.FileResult("x.json", error="x.json: --password hunter2 refused")
    assert failed.error == "x.json: --password <redacted> refused"


def test_missing_path_is_an_error_row(tmp_path: Path) -> None:
    data = auditlib.load(tmp_path / "nope.json")
    assert "cannot read" in _errors(data)[0]


def test_utf8_bom_and_utf16_are_read(tmp_path: Path) -> None:
    text = json.dumps(TRIVY)
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + text.encode())
    (tmp_path / "utf16.json").write_bytes(text.encode("utf-16"))  # PowerShell's `>` writes this
    data = auditlib.load(tmp_path)
    assert _errors(data) == []
    assert len(data.scans) == 2


def test_huge_string_and_markup_are_kept_as_text(write_json) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(json.dumps(TRIVY))
    big = "A" * (10 * 1024 * 1024)
    markup = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    vuln = doc["Results"][0]["Vulnerabilities"][0]
    vuln["Description"] = big
    vuln["Title"] = markup
    data = auditlib.load(write_json("big.json", json.dumps(doc)))
    assert _errors(data) == []
    row = data.vulnerabilities.iloc[0]
    assert len(row["description"]) == len(big)
    assert row["title"] == markup


def test_a_bad_record_is_a_warning_and_the_rest_is_read(write_json) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(json.dumps(TRIVY))
    vulns = doc["Results"][0]["Vulnerabilities"]
    vulns.append(dict(vulns[0], VulnerabilityID="CVE-2024-0002", Severity=5))
    vulns.append(dict(vulns[0], VulnerabilityID="CVE-2024-0003"))
    path = write_json("partly-bad.json", json.dumps(doc))
    data = auditlib.load(path)
    assert _errors(data) == []
    warnings = data.load_errors[data.load_errors["level"] == "warning"]
    assert len(warnings) == 1
    assert "Vulnerabilities[1]" in warnings["locator"].iloc[0]
    assert sorted(data.vulnerabilities["vuln_id"]) == ["CVE-2024-0001", "CVE-2024-0003"]
