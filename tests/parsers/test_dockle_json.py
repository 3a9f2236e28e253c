"""Dockle JSON (`dockle -f json`) into `misconfigurations`: real outputs and small failure cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from auditlib.parsers.dockle_json import checkpoint_status

THREE = "other/dd-dockle-json-3-findings.json"
NONE = "other/dd-dockle-json-no-findings.json"
SUMMARY = {"fatal": 0, "warn": 1, "info": 0, "skip": 0, "pass": 15}
URL = "https://github.com/goodwithtech/dockle/blob/master/CHECKPOINT.md#"


def _detail(code: str = "CIS-DI-0001", level: str = "WARN", **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "code": code,
        "title": "Create a user for the container",
        "level": level,
        "alerts": ["Last user should not be root"],
    }
    item.update(extra)
    return item


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "dockle.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.corpus
def test_three_findings(corpus: Any) -> None:
    data = corpus.load(THREE)
    m = data.misconfigurations
    # DefectDojo test_parse_many_findings: 3 findings, because it drops the IGNORE detail. auditlib
    # keeps every detail: the ignored CIS-DI-0006 is a row of status `exception`, so the three
    # failing checks are the rows of status `fail`.
    assert len(m) == 4
    failing = m[m["status"] == "fail"]
    assert failing["rule_id"].tolist() == ["CIS-DI-0001", "CIS-DI-0005", "CIS-DI-0008"]
    first = failing.iloc[0]
    # DefectDojo: "CIS-DI-0001: Create a user for the container" Medium; auditlib: WARN is medium.
    assert (first["title"], first["severity"]) == ("Create a user for the container", "medium")
    assert first["message"] == "Last user should not be root"
    assert (first["tool"], first["primary_url"]) == ("dockle", URL + "CIS-DI-0001")
    # DefectDojo maps INFO to Low; auditlib's scale puts INFO at negligible (anchors.md section 10).
    assert failing["severity"].astype(str).tolist()[1:] == ["negligible", "negligible"]
    setuid = failing.iloc[2]["message"].split("\n")
    # Alerts keep Dockle's order (DefectDojo sorts them); one line per alert.
    assert len(setuid) == 13 and setuid[0] == "setuid file: urwxr-xr-x usr/bin/chfn"
    ignored = m.iloc[3]
    assert (ignored["rule_id"], ignored["status"], ignored["severity"]) == (
        "CIS-DI-0006",
        "exception",
        "negligible",
    )
    assert m["file_path"].isna().all() and m["start_line"].isna().all()
    # This report predates Dockle's `image` key: no target and no image.
    assert m["target"].isna().all()
    scan = data.scans.iloc[0]
    assert (scan["format"], scan["tool"], scan["target_type"]) == (
        "dockle-json",
        "dockle",
        "container_image",
    )
    assert pd.isna(scan["target"]) and pd.isna(scan["image_ref"])
    assert data.images.empty and data.load_errors.empty


@pytest.mark.corpus
def test_no_findings(corpus: Any) -> None:
    data = corpus.load(NONE)
    # DefectDojo test_parse_no_findings: 0 findings. The 16 passes are only counted in `summary`.
    assert data.misconfigurations.empty
    assert len(data.scans) == 1 and data.load_errors.empty


def test_image_key_names_target_and_image(tmp_path: Path) -> None:
    doc = {"image": "nginx:1.25", "summary": SUMMARY, "details": [_detail()]}
    data = auditlib.load(_write(tmp_path, doc))
    scan = data.scans.iloc[0]
    assert scan["target"] == "nginx:1.25"
    assert scan["image_ref"] == "docker.io/library/nginx:1.25"
    assert data.images["image_ref"].tolist() == ["docker.io/library/nginx:1.25"]
    assert data.misconfigurations["target"].tolist() == ["nginx:1.25"]


@pytest.mark.parametrize(
    ("level", "severity", "status"),
    [
        ("FATAL", "critical", "fail"),
        ("WARN", "medium", "fail"),
        ("INFO", "negligible", "fail"),
        ("PASS", "negligible", "pass"),
        ("SKIP", "negligible", "skip"),
        ("IGNORE", "negligible", "exception"),
        ("NEW", "unknown", "fail"),
    ],
)
def test_levels(tmp_path: Path, level: str, severity: str, status: str) -> None:
    doc = {"summary": SUMMARY, "details": [_detail(level=level)]}
    m = auditlib.load(_write(tmp_path, doc)).misconfigurations
    assert m["severity"].astype(str).tolist() == [severity]
    assert m["status"].tolist() == [status]
    assert checkpoint_status(level.lower()) == status


def test_alerts_are_kept_as_text(tmp_path: Path) -> None:
    alerts = ["=cmd|' /C calc'!A0", "<script>alert(1)</script>", "ENV KEY: AWS_SECRET"]
    doc = {
        "summary": SUMMARY,
        "details": [
            _detail(alerts=alerts),
            _detail("CIS-DI-0005", alerts=None),
            _detail("CIS-DI-0008", alerts=[], title=""),
        ],
    }
    m = auditlib.load(_write(tmp_path, doc)).misconfigurations
    assert m.iloc[0]["message"] == "\n".join(alerts)
    assert m["message"].isna().tolist() == [False, True, True]
    assert pd.isna(m.iloc[2]["title"])


# (name, document, rows, warning locators): a bad detail costs a warning, never the file.
BAD_RECORDS: list[tuple[str, dict[str, Any], int, list[str]]] = [
    (
        "no level",
        {"summary": SUMMARY, "details": [_detail(), {"code": "CIS-DI-0005"}]},
        1,
        ["$.details[1]"],
    ),
    (
        "no code",
        {"summary": SUMMARY, "details": [{"level": "WARN"}, _detail()]},
        1,
        ["$.details[0]"],
    ),
    (
        "alerts not strings",
        {"summary": SUMMARY, "details": [_detail(alerts=[1, 2])]},
        0,
        ["$.details[0]"],
    ),
    (
        "detail not an object",
        {"summary": SUMMARY, "details": ["CIS-DI-0001", _detail()]},
        1,
        ["$.details[0]"],
    ),
    ("details null", {"summary": SUMMARY, "details": None}, 0, []),
]


@pytest.mark.parametrize(
    ("doc", "rows", "locators"), [c[1:] for c in BAD_RECORDS], ids=[c[0] for c in BAD_RECORDS]
)
def test_bad_records_are_warnings(
    tmp_path: Path, doc: dict[str, Any], rows: int, locators: list[str]
) -> None:
    data = auditlib.load(_write(tmp_path, doc))
    errors = data.load_errors
    assert (errors["level"] == "warning").all()
    assert errors["locator"].tolist() == locators
    assert len(data.misconfigurations) == rows
    assert len(data.scans) == 1


# (name, document, text the error names): the file gives no rows and one error naming the path.
MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("details an object", {"summary": SUMMARY, "details": {"code": "CIS-DI-0001"}}, "$.details"),
    ("details a string", {"summary": SUMMARY, "details": "none"}, "$.details"),
    ("image not a string", {"image": ["nginx"], "summary": SUMMARY, "details": []}, "$.image"),
]


@pytest.mark.parametrize(
    ("doc", "where"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_is_an_error(tmp_path: Path, doc: dict[str, Any], where: str) -> None:
    path = _write(tmp_path, doc)
    data = auditlib.load(path)
    errors = data.load_errors
    assert errors["level"].tolist() == ["error"]
    assert errors["format"].tolist() == ["dockle-json"]
    reason = errors["reason"].iloc[0]
    assert str(path) in reason and where in reason
    assert data.scans.empty and data.misconfigurations.empty
