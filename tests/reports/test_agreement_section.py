"""The compliance page's section on where scanners disagree (`auditlib.reports.agreement`)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditlib.cli import main
from auditlib.reports import ReportRun, open_report
from auditlib.reports import agreement as ag
from auditlib.reports.markup import note_html, table_html
from tests.test_agreement import IMAGE, OTHER, grype_doc, trivy_doc

EVIL = "<img src=x onerror=alert(1)>zlib"


def _store(tmp_path: Path) -> Path:
    trivy = trivy_doc()
    trivy["Results"][0]["Vulnerabilities"][2]["PkgName"] = EVIL
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, doc in {"t.json": trivy, "g.json": grype_doc(), "o.json": grype_doc(OTHER)}.items():
        (docs / name).write_text(json.dumps(doc))
    store = tmp_path / "store"
    result = CliRunner().invoke(main, ["ingest", str(docs), "--store", str(store)])
    assert result.exit_code == 0, result.output
    return store


def test_section_parts(tmp_path: Path) -> None:
    r = open_report("compliance", store=str(_store(tmp_path)))
    lines = ag.sentences(r)
    assert lines[0].startswith("Trivy and Grype agree on 20% of 5 findings in 1 image")
    assert r.summary["scanner_agreement"]["single_tool_images"] == {"grype": 1}
    per = ag.per_image(r)
    assert per.to_dict("records") == [{
        "image": r.assessment.view.names[IMAGE], "tools": "Grype, Trivy", "findings": 5,
        "agree": 1, "agree %": 20.0, "differ": 2, "found by some only": 2,
        "of them in Java archives": 1}]
    dis = ag.disagreements(r)
    assert list(dis["state"]) == ["differ", "differ", "partial", "partial"]
    page = table_html(dis)
    assert EVIL not in page and html.escape(EVIL) in page


def test_empty_section_says_why(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "g.json").write_text(json.dumps(grype_doc()))
    store = tmp_path / "store"
    assert CliRunner().invoke(main, ["ingest", str(docs), "--store", str(store)]).exit_code == 0
    r = open_report("compliance", store=str(store))
    assert ag.per_image(r).empty and ag.disagreements(r).empty
    assert ag.empty(r) == "no image was scanned for vulnerabilities by two or more tools"


@pytest.mark.slow  # reads the page the report tests execute
def test_page_has_the_section(report_runs: dict[str, ReportRun], small_store: Path) -> None:
    page = report_runs["compliance"].html.read_text()
    assert "Where scanners disagree" in page
    # What the section says, by the one definition (the assessment's `agreement`),
    # over the data the page assesses.
    said = open_report("compliance", store=str(small_store)).assessment.agreement.sentences()
    assert said
    for line in said:
        assert note_html(line) in page, line
