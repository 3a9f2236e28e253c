"""`auditlib report` and `auditlib run` from the command line: pages, exit codes, a failing
notebook that still leaves a page, parameters typed and checked."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from auditlib.cli import main
from tests.reports.fleet import make_store

pytestmark = pytest.mark.slow  # notebooks executed with papermill


def _broken_notebooks(folder: Path) -> Path:
    """A notebooks folder with one report that shows a chart, then raises with HTML in the
    message."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('store = "x"\ntitle = None\nsynthetic = "auto"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "from auditlib.reports import open_report\n"
            "from auditlib.reports.figures import bar\n"
            "r = open_report('broken', store=store, title=title, synthetic=synthetic)\n"
            "r.show(bar(['a', 'b'], [1, 2], 'before the error'))"),
        nbformat.v4.new_code_cell("raise ValueError('<b>boom</b> at the second cell')"),
        nbformat.v4.new_code_cell("r.finish()"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / "broken.ipynb"))
    return folder


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("cli-report"), images=3)


def test_report_all_writes_pages_and_index(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = CliRunner().invoke(main, ["report", "all", "--store", str(store), "--out", str(out),
                                       "--as-of", "2026-01-31", "-p", "top_n", "5"])
    assert result.exit_code == 0, result.output
    assert "2 of 2 reports written" in result.output and "index:" in result.output
    (run,) = out.glob("run-*")
    for name in ("compliance", "staleness"):
        assert (run / f"{name}.html").exists() and (run / f"{name}.ipynb").exists()
        summary = json.loads((run / f"{name}.json").read_text())
        assert summary["status"] == "ok"
        assert summary["parameters"]["as_of"] == "2026-01-31T00:00:00+00:00"
        assert summary["parameters"]["top_n"] == "5"
        executed = nbformat.read(str(run / f"{name}.ipynb"), as_version=4)
        injected = next(c for c in executed.cells
                        if "injected-parameters" in c.metadata.get("tags", []))
        assert "top_n = 5\n" in injected.source  # typed: an int, not "5"
        # a date goes in as a string (the notebook parses it with ReportParams)
        assert 'as_of = "2026-01-31T00:00:00+00:00"' in injected.source
    assert (out / "index.html").exists()


def test_failing_notebook_gives_a_page_and_exit_2(store: Path, tmp_path: Path) -> None:
    notebooks = _broken_notebooks(tmp_path / "nb")
    out = tmp_path / "reports"
    result = CliRunner().invoke(main, ["report", "broken", "--store", str(store), "--out",
                                       str(out), "--notebooks", str(notebooks)])
    assert result.exit_code == 2, result.output
    assert "0 of 1 reports written" in result.output
    (run,) = out.glob("run-*")
    page = (run / "broken.html").read_text()
    assert "REPORT INCOMPLETE" in page and "ValueError" in page
    assert "&lt;b&gt;boom&lt;/b&gt;" in page and "<b>boom</b>" not in page
    assert "SYNTHETIC DATA" in page  # the header still says what the data was
    assert page.count("Plotly.newPlot(") == 1  # what ran before the error is there
    summary = json.loads((run / "broken.json").read_text())
    assert summary["status"] == "failed" and "ValueError" in summary["error"]
    index = (out / "index.html").read_text()
    assert "failed" in index


def test_unknown_parameter_is_a_usage_error(store: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "compliance", "--store", str(store),
                                       "--out", str(tmp_path), "-p", "colour", "red"])
    assert result.exit_code == 2
    assert "colour: not a parameter of compliance" in result.output
    assert not list(tmp_path.glob("run-*"))


@pytest.mark.parametrize(("args", "message"), [
    (["-p", "top_n", "many"], "'many' is not an int"),
    (["--as-of", "someday"], "is not a date"),
    (["-p", "severity_threshold", "dire"], "is not a severity"),
])
def test_bad_parameter_values(store: Path, tmp_path: Path, args: list[str], message: str
                              ) -> None:
    result = CliRunner().invoke(main, ["report", "compliance", "--store", str(store),
                                       "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_report_on_an_empty_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "all", "--store", str(tmp_path / "none"),
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "no snapshot in this store" in result.output


def test_run_without_engine_ingests_checks_and_reports(tmp_path: Path) -> None:
    from tests.reports.fleet import make_store as fleet_store

    fleet = fleet_store(tmp_path / "src", images=3).parent / "fleet"
    store, out = tmp_path / "store", tmp_path / "reports"
    result = CliRunner().invoke(main, [
        "run", "--store", str(store), "--engine", f"unix://{tmp_path}/no-such.sock",
        "--ingest", str(fleet), "--out", str(out), "--reports", "compliance", "--quiet",
    ])
    # The demo fleet breaks the default policy: exit 1, and everything was still written.
    assert result.exit_code == 1, result.output
    assert "not collected" in result.output  # the missing engine is a note
    assert "scan skipped (no engine)" in result.output
    assert "ingested 6 files" in result.output
    (run,) = out.glob("run-*")
    assert (run / "compliance.html").exists()
    assert json.loads((run / "policy.json").read_text())["summary"]["images"] == 3
    assert (run / "policy.xml").read_text().startswith("<?xml")
    assert f"wrote {run / 'compliance.html'}" in result.output
    never = CliRunner().invoke(main, [
        "run", "--store", str(store), "--engine", f"unix://{tmp_path}/no-such.sock",
        "--no-scan", "--out", str(out), "--reports", "none", "--fail-on", "never", "--quiet"])
    assert never.exit_code == 0, never.output


def test_reports_on_sboms_only(tmp_path: Path) -> None:
    """A store with packages but no vulnerability scan: every section says what it lacks."""
    from auditlib import load
    from auditlib.demo import write_fleet
    from auditlib.store import write_snapshot

    write_fleet(tmp_path / "fleet", images=2, files_per_image=5)
    store = tmp_path / "store"
    write_snapshot(store, load(tmp_path / "fleet" / "syft"), sources=["syft"])
    out = tmp_path / "reports"
    result = CliRunner().invoke(main, ["report", "all", "--store", str(store), "--out", str(out),
                                       "-p", "severity_threshold", "critical"])
    assert result.exit_code == 0, result.output
    (run,) = out.glob("run-*")
    page = (run / "compliance.html").read_text()
    # Nobody scanned for vulnerabilities: unknown, never "no fixable vulnerability".
    assert "no fixable vulnerability" not in page
    assert "no image has a vulnerability scan" in page
    assert "vulnerability scan 0 (0%)" in page


def test_bad_policy_file_is_one_line(store: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "compliance", "--store", str(store), "--out",
                                       str(tmp_path), "--policy", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml: cannot read" in result.output
    assert not list(tmp_path.glob("run-*"))
