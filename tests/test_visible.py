"""Display spoofing: bidirectional overrides and other invisible characters in untrusted text
(package names, labels, evidence, OS names) are shown as `<U+XXXX>` on pages and in the command
line's tables, never passed through to reorder or hide what is around them."""

from __future__ import annotations

import copy
import json
import sys
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from auditlib.cli import main
from auditlib.normalize.visible import is_visible, visible
from auditlib.reports.facts import FleetFacts
from auditlib.reports.figures import esc
from auditlib.reports.header import header_html
from auditlib.reports.index import write_index
from auditlib.reports.markup import Card, cards_html, note_html, table_html
from tests.samples import TRIVY

RLO = "\u202e"
SPOOFED = f"lib{RLO}gpj.exe"
"""Reads as `libexe.jpg` where it is shown raw."""
SHOWN = "lib<U+202E>gpj.exe"

BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]


def test_bidi_controls_and_invisible_characters_become_escapes() -> None:
    assert visible(SPOOFED) == SHOWN
    for cp in BIDI:
        assert visible(f"a{chr(cp)}b") == f"a<U+{cp:04X}>b"
    assert visible("zero\u200bwidth\ufeff\u2060") == "zero<U+200B>width<U+FEFF><U+2060>"
    assert visible("tag\U000e0041") == "tag<U+E0041>"
    assert visible("ansi\x1b[31mred\x07") == "ansi<U+001B>[31mred<U+0007>"
    assert visible("tab\tand\nnewline stay; é, 中文, emoji 🙂 too") == (
        "tab\tand\nnewline stay; é, 中文, emoji 🙂 too")
    assert visible(5) == "5" and is_visible("plain") and not is_visible(SPOOFED)


def test_every_format_separator_and_control_character_is_covered() -> None:
    missed = [f"U+{cp:04X}" for cp in range(sys.maxunicode + 1)
              if unicodedata.category(chr(cp)) in {"Cf", "Zl", "Zp", "Cc"}
              and chr(cp) not in "\t\n" and is_visible(chr(cp))]
    assert missed == []


def test_pages_show_escapes_in_tables_cards_notes_figures_and_the_header() -> None:
    df = pd.DataFrame({"package": [SPOOFED], f"label{RLO}": [1], "when": [pd.NaT]},
                      index=[f"img{RLO}"])
    html = table_html(df, index=True)
    assert "lib&lt;U+202E&gt;gpj.exe" in html and "label&lt;U+202E&gt;" in html
    assert "img&lt;U+202E&gt;" in html
    cards = cards_html([Card(SPOOFED, SPOOFED, SPOOFED)])
    assert cards.count("lib&lt;U+202E&gt;gpj.exe") == 3
    assert note_html(SPOOFED) == '<p class="auditlib-note">lib&lt;U+202E&gt;gpj.exe</p>'
    assert esc(SPOOFED) == "lib&lt;U+202E&gt;gpj.exe"
    assert esc(f"{RLO}<b>", 12) == "&lt;U+202E&gt;&lt;b&gt;"
    header = header_html(title=f"t{RLO}", meta={
        "facts": FleetFacts(images=1, warnings=[f"damaged snapshot x left out: {SPOOFED}"])
        .to_dict(), "parameters": {"image_filter": SPOOFED}})
    assert "t&lt;U+202E&gt;" in header and "lib&lt;U+202E&gt;gpj.exe" in header
    for page in (html, cards, header):
        assert RLO not in page


def test_the_index_shows_escapes(tmp_path: Path) -> None:
    run = tmp_path / "run-20260101T000000Z"
    run.mkdir()
    (run / "compliance.json").write_text(json.dumps({
        "report": "compliance", "status": "failed", "error": f"boom {SPOOFED}",
        "run": run.name, "made_at": "2026-01-01T00:00:00",
        "files": {"html": "compliance.html"}, "facts": {"images": 1},
        "results": {"title": f"title{RLO}"}}))
    page = write_index(tmp_path).read_text()
    assert RLO not in page
    assert "title&lt;U+202E&gt;" in page and "boom lib&lt;U+202E&gt;gpj.exe" in page


@pytest.fixture(scope="module")
def spoofed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of one image whose vulnerable package is named `lib<RLO>gpj.exe` and whose OS
    version holds a right-to-left override."""
    root = tmp_path_factory.mktemp("spoofed")
    doc = copy.deepcopy(TRIVY)
    doc["Metadata"]["OS"] = {"Family": "alpine", "Name": f"3.19{RLO}1"}
    doc["Results"][0]["Vulnerabilities"][0]["PkgName"] = SPOOFED
    (root / "t.json").write_text(json.dumps(doc))
    result = CliRunner().invoke(main, ["ingest", str(root / "t.json"), "--store",
                                       str(root / "store"), "--quiet"])
    assert result.exit_code == 0, result.output
    return root / "store"


def test_check_and_staleness_tables_show_escapes(spoofed_store: Path) -> None:
    check = CliRunner().invoke(main, ["check", "--store", str(spoofed_store)])
    assert check.exit_code == 1, check.output
    assert SHOWN in check.stdout and RLO not in check.output
    staleness = CliRunner().invoke(main, ["staleness", "--store", str(spoofed_store)])
    assert staleness.exit_code == 0, staleness.output
    assert "alpine 3.19<U+202E>1" in staleness.stdout and RLO not in staleness.output
    # JSON keeps the data as it is, written as a JSON escape.
    js = CliRunner().invoke(main, ["check", "--store", str(spoofed_store), "--format", "json"])
    assert "\\u202e" in js.stdout and json.loads(js.stdout)


def test_messages_on_standard_error_show_escapes(capsys: pytest.CaptureFixture[str]) -> None:
    from auditlib.cli.console import error

    error(f"{SPOOFED}: cannot read")
    assert capsys.readouterr().err == f"error: {SHOWN}: cannot read\n"


def test_junit_shows_bidi_controls_as_escapes() -> None:
    from auditlib.policy import evaluate, load_policy
    from tests.policy.builders import AS_OF, image_id, make_data

    data = make_data(images=[{"image_id": image_id(1), "host": "h", "user": "app\u202e0"}])
    from auditlib.policy.output import to_junit

    xml = to_junit(evaluate(data, load_policy(None), as_of=AS_OF))
    assert "\u202e" not in xml
    assert "app<U+202E>0" in xml.replace("&lt;", "<").replace("&gt;", ">")
