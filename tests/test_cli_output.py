"""What commands print when their output is not a terminal: tables as plain aligned columns with
every image name whole (nothing cut, wrapped or boxed), markup never printed raw, and untrusted
text shown as it is: `[bold]` in a name is `[bold]`, neither a style nor dropped."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditlib.cli import main
from auditlib.cli.console import out_console, progress, show
from auditlib.cli.plain import table_lines
from auditlib.policy import evaluate, load_policy
from auditlib.policy.output import table_view
from auditlib.policy.rules import RULES
from auditlib.store import read_latest
from tests.samples import TRIVY

ROOT = Path(__file__).resolve().parents[1]
LONG = "registry.example.test/platform/" + "payments-" * 12 + "settlement-service:2024.11.3"
PKG = "lib[bold]x[/bold][/y]"
"""A package name that is also rich markup (and unbalanced: parsing it would raise)."""
UNTAGGED = "<untagged> sha256:972772258713"
BOX = re.compile("[\u2500-\u257f\u2026]")
"""Box-drawing characters and the ellipsis rich cuts with."""


def _doc(n: int, ref: str | None, pkg: str = "musl") -> dict[str, object]:
    doc = copy.deepcopy(TRIVY)
    doc["ArtifactName"] = ref or f"image-{n}.tar"
    image_id = "sha256:972772258713" + "0" * 52 if ref is None else f"sha256:{n:064x}"
    doc["Metadata"] = {"ImageID": image_id, **({"RepoTags": [ref]} if ref else {})}
    doc["Results"][0]["Vulnerabilities"][0]["PkgName"] = pkg
    return doc


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of three scanned images: one with a name of more than 100 characters, one
    untagged, one whose vulnerable package is named with markup."""
    root = tmp_path_factory.mktemp("output")
    docs = root / "docs"
    docs.mkdir()
    for n, (ref, pkg) in enumerate([(LONG, "musl"), (None, "musl"), ("alpine:3.19", PKG)], 1):
        (docs / f"t{n}.json").write_text(json.dumps(_doc(n, ref, pkg)))
    result = CliRunner().invoke(main, ["ingest", str(docs), "--store", str(root / "store"),
                                       "--quiet"])
    assert result.exit_code == 0, result.output
    assert len(LONG) > 100
    return root / "store"


def _line_with(text: str, output: str) -> str:
    (line,) = [x for x in output.splitlines() if text in x][:1]
    return line


def _no_markup(output: str) -> None:
    assert "[red]" not in output and "[/" not in output.replace(PKG, "")
    assert "[bold" not in output.replace(PKG, "")


def test_check_piped_prints_plain_columns_with_every_name_whole(store: Path) -> None:
    result = CliRunner().invoke(main, ["check", "--store", str(store), "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert not BOX.search(out)
    _no_markup(out)
    lines = out.splitlines()
    header = lines[1].split()
    assert header == ["IMAGE", "GRADE", "SCORE", "FAIL", "WARN", "NO-DATA", "WAIVED", "PASS"]
    # Every name on one line of its own row, whole; the columns line up after the widest name.
    for name in (LONG, UNTAGGED, "docker.io/library/alpine:3.19"):
        assert _line_with(name, out).startswith(name + "   ")
    grade_end = lines[1].index("GRADE") + len("GRADE")
    for n in (LONG, UNTAGGED):  # the grade column (right-aligned) ends where its header does
        row = _line_with(n, out)
        assert row[grade_end - 1] != " " and row[grade_end] == " ", row
    assert "EVIDENCE" in out  # the findings table, plain too
    _no_markup(result.stderr)
    assert f"3 images, {len(RULES)} rules" in result.stderr


def test_check_output_file_is_plain_and_whole(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "check.txt"
    result = CliRunner().invoke(main, ["check", "--store", str(store), "--fail-on", "never",
                                       "--output", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert LONG in text and UNTAGGED in text and not BOX.search(text)
    _no_markup(text)


def test_staleness_piped_prints_plain_columns_with_every_name_whole(store: Path) -> None:
    result = CliRunner().invoke(main, ["staleness", "--store", str(store)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert not BOX.search(out)
    _no_markup(out)
    assert out.splitlines()[1].split()[:2] == ["#", "IMAGE"]
    for name in (LONG, UNTAGGED):
        assert re.search(rf"^\d+\s+{re.escape(name)}\s", out, re.MULTILINE), name
        assert re.search(rf"^\d+\. {re.escape(name)}: fixable", out, re.MULTILINE), name


def test_a_real_pipe_gets_plain_output_even_with_force_color(store: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80", "FORCE_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "auditlib.cli", "check", "--store", str(store),
                           "--fail-on", "never"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert LONG in done.stdout and UNTAGGED in done.stdout
    assert not BOX.search(done.stdout) and "\x1b[" not in done.stdout
    _no_markup(done.stdout)


def test_ingest_errors_print_no_markup(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "broken.json").write_text("{")
    result = CliRunner().invoke(main, ["ingest", str(docs), str(tmp_path / "gone"), "--store",
                                       str(tmp_path / "store"), "--quiet"])
    assert result.exit_code == 2
    assert f"error: {docs / 'broken.json'}: not valid JSON" in result.stderr
    assert f"error: {tmp_path / 'gone'}: no such file or folder" in result.stderr
    _no_markup(result.output)
    assert not BOX.search(result.stdout) and "TABLE" in result.stdout


def test_untrusted_markup_in_a_message_is_shown_literally(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    bad = docs / "a[bold]b[" / "bold][" / "x].json"  # .../a[bold]b[/bold][/x].json
    bad.parent.mkdir(parents=True)
    bad.write_text("{")
    assert "[bold]b[/bold][/x]" in str(bad)
    result = CliRunner().invoke(main, ["ingest", str(docs), "--store", str(tmp_path / "store"),
                                       "--quiet"])
    assert result.exit_code == 2
    assert f"error: {bad}: not valid JSON" in result.stderr


def test_untrusted_markup_in_tables_is_shown_literally_piped_and_on_a_terminal(
        store: Path, tmp_path: Path) -> None:
    # Piped: the evidence names the package as it is.
    result = CliRunner().invoke(main, ["check", "--store", str(store), "--fail-on", "never"])
    assert f"in {PKG} 1.2.4-r2" in result.stdout
    # A policy file whose path is markup (its closing tag used to crash the table's title).
    policy = tmp_path / "p[" / "x][bold]policy.yaml"  # .../p[/x][bold]policy.yaml
    policy.parent.mkdir()
    policy.write_text("rules: {}\n")
    result = CliRunner().invoke(main, ["check", "--store", str(store), "--fail-on", "never",
                                       "--policy", str(policy)])
    assert result.exit_code == 0, result.output
    assert f"policy: {policy};" in result.stdout
    # On a terminal: rich draws the tables, and still reads no markup from the data.
    ev = evaluate(read_latest(store), load_policy(str(policy)))
    buf = io.StringIO()
    show(Console(file=buf, force_terminal=True, width=400), *table_view(ev))
    drawn = re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue())
    assert BOX.search(drawn)
    assert f"in {PKG} 1.2.4-r2" in drawn and f"policy: {policy};" in drawn


def test_progress_columns_read_no_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    from auditlib.cli import console

    buf = io.StringIO()
    monkeypatch.setattr(console, "err", Console(file=buf, force_terminal=True, width=200))
    with progress("{task.description}", extra="{task.description}") as bar:
        task = bar.add_task(PKG, total=2)
        bar.advance(task)
        bar.refresh()
    assert PKG in re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", buf.getvalue())


def test_plain_tables_align_columns_and_keep_cells_whole() -> None:
    table = Table(title=Text("t [b]x[/b]"))
    table.add_column("name")
    table.add_column("n", justify="right")
    table.add_column("note")
    table.add_row(Text("a" * 150), "7", Text("two\nlines"))
    table.add_row(Text("漢字"), "[bold]12[/bold]", Text(""))
    assert table_lines(table) == [
        "t [b]x[/b]",
        "NAME" + " " * 146 + "    N   NOTE",
        "a" * 150 + "    7   two lines",
        "漢字" + " " * 146 + "   12",
    ]


def test_out_console_is_plain_unless_standard_output_is_a_terminal(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert not out_console(io.StringIO()).is_terminal
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert not out_console().is_terminal
