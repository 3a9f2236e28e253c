"""hadolint JSON into `misconfigurations`: real outputs and small failure cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from auditlib.parsers.hadolint_json import rule_url

ONE = "hadolint-json/dd-hadolint-one-dockerfile.json"
MANY = "hadolint-json/dd-hadolint-many-dockerfiles.json"
REAL = "hadolint-json/hadolint-2.15.1-debian-latest-dockerfile.json"
DJANGO = "django-DefectDojo\\Dockerfile.django"
NGINX = "django-DefectDojo\\Dockerfile.nginx"


def _finding(code: str = "DL3006", line: Any = 1, **extra: Any) -> dict[str, Any]:
    item = {
        "code": code,
        "column": 1,
        "file": "Dockerfile",
        "level": "warning",
        "line": line,
        "message": "Always tag the version of an image explicitly",
    }
    item.update(extra)
    return item


@pytest.mark.corpus
def test_one_dockerfile(corpus: Any) -> None:
    data = corpus.load(ONE)
    m = data.misconfigurations
    # DefectDojo test_parse_file_with_one_dockerfile: 4 findings; [0] line 9, that file_path.
    assert len(m) == 4
    first = m.iloc[0]
    assert first["start_line"] == 9 and first["end_line"] == 9
    assert first["file_path"] == DJANGO and first["target"] == DJANGO
    assert (first["tool"], first["rule_id"], first["status"]) == ("hadolint", "DL3008", "fail")
    assert first["severity"] == "medium"
    assert first["message"].startswith("Pin versions in apt get install.")
    assert first["primary_url"] == "https://github.com/hadolint/hadolint/wiki/DL3008"
    assert pd.isna(first["title"])
    assert m["rule_id"].tolist() == ["DL3008", "DL3015", "DL3008", "DL3013"]
    assert m["severity"].astype(str).tolist() == ["medium", "negligible", "medium", "medium"]
    assert m["start_line"].tolist() == [9, 9, 25, 44]
    assert m["image_id"].isna().all()
    scan = data.scans.iloc[0]
    assert (scan["format"], scan["format_version"], scan["tool"]) == (
        "hadolint-json",
        "1",
        "hadolint",
    )
    assert (scan["target"], scan["target_type"]) == (DJANGO, "dockerfile")
    assert pd.isna(scan["tool_version"]) and pd.isna(scan["image_id"])
    assert data.images.empty and data.load_errors.empty


@pytest.mark.corpus
def test_many_dockerfiles(corpus: Any) -> None:
    data = corpus.load(MANY)
    m = data.misconfigurations
    # DefectDojo test_parse_file_with_many_dockerfile: 12 findings.
    assert len(m) == 12
    assert m["file_path"].value_counts().to_dict() == {NGINX: 8, DJANGO: 4}
    assert (m["target"] == m["file_path"]).all()
    last = m.iloc[-1]
    assert (last["rule_id"], last["start_line"], last["file_path"]) == ("DL3006", 57, NGINX)
    assert m.loc[m["rule_id"] == "DL3002", "message"].tolist() == ["Last USER should not be root"]
    assert data.scans.iloc[0]["target"] == "several Dockerfiles"


@pytest.mark.corpus
def test_real_hadolint_2_15_1(corpus: Any) -> None:
    data = corpus.load(REAL)
    m = data.misconfigurations.set_index("rule_id")
    assert m.index.tolist() == ["DL3007", "DL3008", "DL3015", "DL3009", "DL3064"]
    latest = m.loc["DL3007"]
    # The Dockerfile starts `FROM debian:latest`: the finding the audit looks for.
    assert (latest["start_line"], latest["severity"], latest["file_path"]) == (
        1,
        "medium",
        "Dockerfile",
    )
    assert latest["message"].startswith("Using latest is prone to errors")
    assert m.loc["DL3009", "severity"] == "negligible"  # info
    assert data.scans.iloc[0]["target"] == "Dockerfile"


def test_clean_dockerfile_gives_a_scan_and_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "clean.json"
    path.write_text("[]\n")
    data = auditlib.load(path)
    assert data.load_errors.empty
    assert data.misconfigurations.empty
    assert len(data.scans) == 1
    scan = data.scans.iloc[0]
    assert (scan["format"], scan["tool"], scan["target_type"]) == (
        "hadolint-json",
        "hadolint",
        "dockerfile",
    )
    assert pd.isna(scan["target"])


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("error", "high"),
        ("warning", "medium"),
        ("info", "negligible"),
        ("style", "negligible"),
        ("Warning", "medium"),
        ("bogus", "unknown"),
    ],
)
def test_levels(tmp_path: Path, level: str, severity: str) -> None:
    path = tmp_path / "lint.json"
    path.write_text(json.dumps([_finding(level=level)]))
    m = auditlib.load(path).misconfigurations
    assert m["severity"].astype(str).tolist() == [severity]


def test_rule_urls_and_files(tmp_path: Path) -> None:
    path = tmp_path / "lint.json"
    items = [
        _finding("SC2086", 3, file="a/Dockerfile"),
        _finding("DL3006", 1, file="b/Dockerfile"),
        _finding("XX0001", 2, file="b/Dockerfile"),
    ]
    path.write_text(json.dumps(items))
    data = auditlib.load(path)
    m = data.misconfigurations.set_index("rule_id")
    assert m.loc["SC2086", "primary_url"] == "https://www.shellcheck.net/wiki/SC2086"
    assert m.loc["DL3006", "primary_url"] == "https://github.com/hadolint/hadolint/wiki/DL3006"
    assert m["primary_url"].isna().tolist() == [False, False, True]
    assert m.loc["SC2086", "target"] == "a/Dockerfile"
    assert data.scans.iloc[0]["target"] == "several Dockerfiles"
    assert rule_url("DL3007") == "https://github.com/hadolint/hadolint/wiki/DL3007"


# (items, rows kept, warning locators): one bad record costs a warning, never the file.
BAD_RECORDS: list[tuple[str, list[Any], int, list[str]]] = [
    ("no code", [_finding(), {"level": "info", "line": 2, "file": "Dockerfile"}], 1, ["$[1]"]),
    ("line not int", [_finding(), _finding(line="two")], 1, ["$[1]"]),
    ("not an object", [_finding(), "DL3006"], 1, ["$[1]"]),
    ("two bad", [_finding(), 7, _finding(line=3), {"code": "DL1"}], 2, ["$[1]", "$[3]"]),
    ("no file", [_finding(), {"code": "DL3006", "level": "info", "line": 4}], 2, []),
]


@pytest.mark.parametrize(
    ("items", "kept", "locators"), [c[1:] for c in BAD_RECORDS], ids=[c[0] for c in BAD_RECORDS]
)
def test_bad_records_are_warnings(
    tmp_path: Path, items: list[Any], kept: int, locators: list[str]
) -> None:
    path = tmp_path / "lint.json"
    path.write_text(json.dumps(items))
    data = auditlib.load(path)
    errors = data.load_errors
    assert (errors["level"] == "warning").all()
    assert errors["locator"].tolist() == locators
    assert errors["format"].eq("hadolint-json@1").all()
    assert len(data.misconfigurations) == kept
    assert len(data.scans) == 1


def test_line_not_int_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "lint.json"
    path.write_text(json.dumps([_finding(), _finding(line="x")]))
    reason = auditlib.load(path).load_errors["reason"].iloc[0]
    assert "`$[1].line`" in reason


@pytest.mark.parametrize("line", [2**70, -3, 1.5, None])
def test_impossible_line_is_a_warning(tmp_path: Path, line: Any) -> None:
    # 2**70 decodes as a Python int but fits no Int64 column: it must cost the record, not the load.
    path = tmp_path / "lint.json"
    path.write_text(json.dumps([_finding(), _finding(line=line)]))
    data = auditlib.load(path)
    assert data.load_errors["locator"].tolist() == ["$[1]"]
    assert data.misconfigurations["start_line"].tolist() == [1]
