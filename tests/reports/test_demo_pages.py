"""`auditlib demo` shows every feature: the demo store has data for every section of both report
pages and of explore.ipynb, and no headline card or section says "unknown" for want of data.

The demo is run once (its own reports executed by papermill); the notebooks are then run again in
this process (tests/reports/page.py) with `Report.show`, `Report.table` and `Report.cards` watched,
so that every empty message a notebook passes (`empty=...`) is caught where it is used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest

from auditlib.job import DemoResult, demo_job
from auditlib.reports import context
from auditlib.reports.markup import Card
from auditlib.store.manifest import snapshot_infos
from tests.reports.page import Page, run_page

pytestmark = pytest.mark.slow

GOOD_NEWS = {
    "every image has enough data to rank and grade",
    "nothing the ranking needs is unknown",
    "every rule had data for every image",
}
"""Empty messages that say nothing is missing (a section with nothing wrong to list)."""
NOT_IN_DEMO = {
    "no VEX statement in the store: ingest OpenVEX, CycloneDX VEX or CSAF VEX documents "
    "(`auditlib ingest`, `auditlib run --vex`)",
    "no image was scanned for vulnerabilities by two or more tools",
}
"""What the demo does not make (VEX documents, a second vulnerability scanner): the sections say
so; tests/vex and tests/test_agreement.py fill them."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    """`auditlib demo --images 24`, run once."""
    out = tmp_path_factory.mktemp("demo")
    done = demo_job(out, images=24, store=out / "demo-store")
    assert not done.errors and not done.batch.failed, done.batch.failed
    return done


@pytest.fixture(scope="module")
def details(demo: DemoResult) -> dict[str, dict[str, Any]]:
    """What each report recorded (ReportRun.details: the notebook's summary)."""
    return {run.name: run.details for run in demo.batch.runs}


def test_snapshots_are_weeks_apart_and_before_the_assessment(demo: DemoResult) -> None:
    infos = snapshot_infos(demo.store)
    times = [i.created_at for i in infos]
    assert len(times) >= 3 and times == sorted(times)
    assert (times[-1] - times[0]).days >= 28
    assert times[-1] < demo.assessment.as_of


def test_staleness_summary_has_every_section(details: dict[str, dict[str, Any]]) -> None:
    s = details["staleness"]
    head = s["headline"]
    assert head["base_drifted"] and head["base_drift_unknown"] < head["images"]
    assert head["deployment_lag"] and head["newer_tags"]
    assert all(v is not None for v in head.values()), head  # None: an unknown figure
    assert s["history_snapshots"] >= 3
    assert all(c["vuln_scanned"] for c in s["history_coverage"])


def test_compliance_summary_has_every_section(details: dict[str, dict[str, Any]]) -> None:
    c = details["compliance"]
    rules = c["rule_results"]
    assert rules["rollback-ready"]["pass"] and rules["rollback-ready"]["fail"]
    assert rules["no-config-drift"]["fail"]
    assert rules["pinned-base-image"]["fail"] and rules["pinned-base-image"]["pass"]
    assert rules["base-image-current"]["fail"] and rules["derived-image"]["fail"]
    assert c["results"]["waived"]  # the demo policy's waiver
    assert c["dockerfile_findings"] and c["dockerfiles"]
    assert c["headline"]["vuln_scanned"] == c["headline"]["images"]


def test_what_the_demo_printed_is_what_the_pages_say(demo: DemoResult,
                                                     details: dict[str, dict[str, Any]]
                                                     ) -> None:
    s = demo.assessment.summary()
    for run in demo.batch.runs:
        assert run.details["assessment"] == s
        assert json.loads(run.summary.read_text())["facts"]["images"] == s["images"]
    # images are images: the store's images, each once, not its documents
    assert s["images"] == s["coverage"]["images"] < s["coverage"]["documents"]


Watched = tuple[list[str], list[Card]]


def _watch(monkeypatch: pytest.MonkeyPatch) -> Watched:
    """Record every empty message a notebook's `show` and `table` fall back on, and its cards."""
    empties: list[str] = []
    cards: list[Card] = []
    show: Callable[..., None] = context.Report.show
    table: Callable[..., None] = context.Report.table
    shown_cards: Callable[..., None] = context.Report.cards

    def watched_show(self: context.Report, fig: go.Figure | None,
                     empty: str = "no data to chart") -> None:
        if fig is None:
            empties.append(empty)
        show(self, fig, empty)

    def watched_table(self: context.Report, df: pd.DataFrame | None, *,
                      max_rows: int | None = 50, empty: str | None = "nothing to show") -> None:
        if (df is None or df.empty) and empty is not None:
            empties.append(empty)
        table(self, df, max_rows=max_rows, empty=empty)

    def watched_cards(self: context.Report, c: list[Card]) -> None:
        cards.extend(c)
        shown_cards(self, c)

    monkeypatch.setattr(context.Report, "show", watched_show)
    monkeypatch.setattr(context.Report, "table", watched_table)
    monkeypatch.setattr(context.Report, "cards", watched_cards)
    return empties, cards


@pytest.mark.parametrize("name", ["compliance", "staleness", "explore"])
def test_no_section_is_empty_and_no_card_unknown(demo: DemoResult, name: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    empties, cards = _watch(monkeypatch)
    page: Page = run_page(name, monkeypatch, store=demo.store,
                          policy=str(demo.fleet.policy_file),
                          as_of=demo.assessment.as_of.isoformat())
    assert [e for e in empties if e not in GOOD_NEWS | NOT_IN_DEMO] == []
    assert [c.label for c in cards if c.value == "unknown"] == []
    assert page.summary["assessment"] == demo.assessment.summary()


def test_the_pages_show_no_unknown_card_and_no_empty_section(demo: DemoResult) -> None:
    """The pages papermill made: every headline card has a value, and every chart is drawn."""
    for run in demo.batch.runs:
        nb = json.loads(run.notebook.read_text())
        outputs = [o for c in nb["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", [])]
        plain = ["".join(o.get("data", {}).get("text/plain", "")) for o in outputs]
        headline = plain[[i for i, t in enumerate(plain) if t.startswith("images:")][0]]
        assert not re.search(r": unknown\b", headline), headline
        shows = sum(c["source"].count("r.show(") if isinstance(c["source"], str)
                    else "".join(c["source"]).count("r.show(")
                    for c in nb["cells"] if c["cell_type"] == "code")
        assert run.figures == shows, (run.name, run.figures, shows)
        html = run.html.read_text()
        assert "SYNTHETIC DATA" in html
