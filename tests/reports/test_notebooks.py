"""The report notebooks: their parameters cell, and each executed on a small store into a page
that renders offline, carries its header and escapes untrusted text (design.md section 6)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import papermill
import pytest

from auditlib.reports import ReportRun
from auditlib.reports.export import network_refs
from auditlib.reports.runner import notebook_path
from tests.reports.conftest import REPORTS
from tests.reports.fleet import (
    BIDI_LABEL,
    BIDI_LABEL_SHOWN,
    BIDI_PACKAGE,
    BIDI_PACKAGE_SHOWN,
    EVIL_LABEL,
    EVIL_PACKAGE,
)

pytestmark = pytest.mark.slow  # notebooks executed with papermill

PARAMETERS = {
    "compliance": {"store", "policy", "as_of", "image_filter", "severity_threshold", "top_n",
                   "matrix_rows", "title", "synthetic", "assessment"},
    "staleness": {"store", "policy", "as_of", "image_filter", "top_n", "history", "title",
                  "synthetic", "assessment"},
    "explore": {"store", "policy", "as_of", "image_filter", "title", "synthetic", "assessment"},
}


@pytest.mark.parametrize("name", REPORTS)
def test_parameters_cell(name: str) -> None:
    path = notebook_path(name)
    params = papermill.inspect_notebook(str(path))
    assert set(params) == PARAMETERS[name]
    assert params["store"]["default"] == "None"  # the CLI's default store (default_store)
    assert params["as_of"]["default"] == "None"
    nb = nbformat.read(str(path), as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", [])
    # Thin: the cells call auditlib, they define nothing of their own.
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not re.search(r"^\s*(def|class) ", cell.source, re.M), cell.source


@pytest.mark.parametrize("name", REPORTS)
def test_report_runs(report_runs: dict[str, ReportRun], name: str) -> None:
    run = report_runs[name]
    assert run.ok, run.error
    assert run.html.exists() and run.notebook.exists() and run.summary.exists()
    summary = json.loads(run.summary.read_text())
    assert summary["status"] == "ok"
    assert summary["facts"]["images"] == 7
    assert summary["facts"]["is_synthetic"] is True
    assert len(summary["facts"]["snapshots"]) == 2
    executed = nbformat.read(str(run.notebook), as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    # The figures the notebook drew (its outputs), counted apart from the page's own count.
    drawn = sum(str(o).count("plotly-graph-div") > 0 for c in executed.cells
                if c.cell_type == "code" for o in c.get("outputs", []))
    assert summary["figures"] == summary["results"]["figures"] == drawn >= 2


@pytest.mark.parametrize("name", REPORTS)
def test_page_renders_offline(report_runs: dict[str, ReportRun], name: str) -> None:
    page = report_runs[name].html.read_text()
    assert '<script src="http' not in page and "<script src='http" not in page
    assert "https://cdn" not in page
    # Everything is inline: no script, stylesheet or module is loaded from anywhere.
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r"<link[^>]*\bhref=[\"']?(https?:)?//", page)
    assert network_refs(page) == []
    assert page.count("plotly.js v") == 1  # the bundle's banner: embedded once
    executed = nbformat.read(str(report_runs[name].notebook), as_version=4)
    drawn = sum(str(o).count("plotly-graph-div") > 0 for c in executed.cells
                if c.cell_type == "code" for o in c.get("outputs", []))
    assert page.count("Plotly.newPlot(") == drawn
    assert "application/vnd.plotly.v1+json" not in page
    # No code cells on the page.
    assert 'class="jp-CodeMirrorEditor' not in page and "open_report(" not in page
    assert "from auditlib.reports import" not in page


@pytest.mark.parametrize("name", REPORTS)
def test_page_header(report_runs: dict[str, ReportRun], name: str) -> None:
    page = report_runs[name].html.read_text()
    header = page[page.index('<header class="auditlib-header">'):page.index("</header>")]
    assert "SYNTHETIC DATA" in header
    assert "made</dt>" in header and "auditlib 0." in header
    assert "2 snapshots of the store" in header
    assert "coverage</dt>" in header and "7 images: vulnerability scan 7 (100%)" in header
    assert "parameters</dt>" in header and "<code>store</code>" in header
    assert "REPORT INCOMPLETE" not in header


def test_staleness_page_counts_what_it_cannot_judge(report_runs: dict[str, ReportRun]
                                                     ) -> None:
    """Issue 12 on the executed page: the store has two snapshots (no "one snapshot only"),
    the drift chart and the cards say what is unknown, count axes tick whole numbers."""
    run = report_runs["staleness"]
    page = run.html.read_text()
    assert "one snapshot only" not in page
    assert "New, fixed and gone vulnerabilities at each snapshot" in page
    assert "base known, drift unknown: base tag not collected" in page
    assert "nothing to rebuild" not in page
    assert '"tickformat":",d"' in page.replace(" ", "")
    summary = json.loads(run.summary.read_text())["results"]
    assert summary["history_snapshots"] == 2
    assert summary["headline"]["deployment_lag"] is None  # no engine: unknown, not 0
    assert summary["headline"]["base_drift_unknown"] == 7


def test_untrusted_text_is_escaped(report_runs: dict[str, ReportRun]) -> None:
    pages = {n: r.html.read_text() for n, r in report_runs.items()}
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escaped in pages["compliance"]  # SLA table, licence table, evidence
    assert "&lt;img src=x onerror=" in pages["explore"]  # the label value
    for page in pages.values():
        assert EVIL_PACKAGE not in page
        assert EVIL_LABEL not in page
        assert "<img src=x" not in page


def test_bidi_and_invisible_characters_show_as_escapes(report_runs: dict[str, ReportRun]
                                                       ) -> None:
    pages = {n: r.html.read_text() for n, r in report_runs.items()}
    shown = BIDI_PACKAGE_SHOWN.replace("<", "&lt;").replace(">", "&gt;")
    assert shown in pages["compliance"]  # the SLA table, the licence table, evidence
    assert BIDI_LABEL_SHOWN.replace("<", "&lt;").replace(">", "&gt;") in pages["explore"]
    for page in pages.values():
        assert BIDI_PACKAGE not in page and BIDI_LABEL not in page
        assert not any(c in page for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068"
                       "\u2069\u200e\u200f")


def test_index_lists_every_run(report_runs: dict[str, ReportRun]) -> None:
    folder = next(iter(report_runs.values())).html.parent
    index = (folder.parent / "index.html").read_text()
    for name in report_runs:
        assert f'href="{folder.name}/{name}.html"' in index
    assert index.count("SYNTHETIC") >= 3
    assert "<script" not in index


def test_papermill_with_string_parameters_then_export(small_store: Path, tmp_path: Path) -> None:
    """As Airflow's PapermillOperator runs it: every parameter a string, then the page made
    from the executed notebook."""
    from auditlib.reports import export_notebook, write_index
    from auditlib.reports.kernel import find_kernel

    out = tmp_path / "airflow-run" / "staleness.ipynb"
    out.parent.mkdir()
    papermill.execute_notebook(
        str(notebook_path("staleness")), str(out), kernel_name=find_kernel(), progress_bar=False,
        parameters={"store": str(small_store), "as_of": "2026-03-01", "top_n": "3",
                    "history": "false", "synthetic": "auto", "title": "Weekly staleness"})
    run = export_notebook(out)
    assert run.ok and run.html.exists() and run.summary.exists()
    summary = json.loads(run.summary.read_text())
    assert summary["parameters"]["as_of"] == "2026-03-01T00:00:00+00:00"
    assert summary["parameters"]["top_n"] == "3"
    page = run.html.read_text()
    assert "Weekly staleness" in page and "SYNTHETIC DATA" in page
    assert "trends left out" in page
    assert "airflow-run/staleness.html" in write_index(tmp_path).read_text()
