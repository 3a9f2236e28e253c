"""`open_report`: what a report notebook starts with, and how it shows things.

A notebook's second cell calls `open_report(name, **parameters)`; it parses the parameters
(`ReportParams`) and assesses the store (`auditlib.assess.assess`: the current state, filtered,
as of the `as_of` parameter, under the `policy` parameter), the same assessment `auditlib check`
and `auditlib staleness` print, and works out the facts every page header shows. The `Report`
it returns shows figures, tables and headline cards (escaped, offline-ready), counts the
figures, and keeps a summary; `finish()` ends the notebook and records the assessment's
summary (`Assessment.summary`) beside the page's own figures.

The facts and the summary travel inside the executed notebook, as the metadata of an output
that shows nothing (`auditlib.reports.export` reads them and drops those outputs), so any
executed copy of a report notebook, however it was run (`auditlib report`, papermill, Airflow),
can be exported with the right header.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from auditlib.assess import Assessment, assessed
from auditlib.data import AuditData
from auditlib.reports.facts import FleetFacts, fleet_facts
from auditlib.reports.figures import bundle
from auditlib.reports.markup import Card, cards_html, note_html, table_html
from auditlib.reports.params import ReportParams
from auditlib.tables import jsonable

META_KEY = "auditlib"
"""Key of the output metadata that carries a report's facts and summary."""

TITLES = {"compliance": "Compliance", "staleness": "Staleness", "explore": "Explore"}


def _display(data: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
    from IPython.display import display

    display(data, raw=True, metadata=metadata or {})


@dataclass
class Report:
    """A report being made: its parameters, its data, and what it has shown."""

    name: str
    params: ReportParams
    assessment: Assessment
    """The assessment every section of the page reads."""
    facts: FleetFacts
    figures: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @property
    def data(self) -> AuditData:
        """Return the tables (the store's current state, filtered)."""
        return self.assessment.data

    @property
    def as_of(self) -> pd.Timestamp:
        """Return the moment the assessment measures at (UTC)."""
        return self.assessment.as_of

    @property
    def title(self) -> str:
        """Return the page title (the `title` parameter, else the report's own)."""
        return self.params.title or TITLES.get(self.name, self.name.title())

    @property
    def store(self) -> Path:
        """Return the store folder."""
        return Path(self.params.store)

    def show(self, fig: go.Figure | None, empty: str = "no data to chart") -> None:
        """Show a figure (offline-ready; see `figures.bundle`), or `empty` when it is None."""
        if fig is None:
            self.note(empty)
            return
        self.figures += 1
        _display(bundle(fig))

    def table(self, df: pd.DataFrame | None, *, max_rows: int | None = 50,
              empty: str | None = "nothing to show") -> None:
        """Show a table (every value escaped), at most `max_rows` rows; when it has no row,
        `empty` (nothing at all when None: a chart above already said why)."""
        if df is None or (empty is None and df.empty):
            if empty is not None:
                self.note(empty)
            return
        _display({"text/html": table_html(df, max_rows=max_rows, empty=empty or ""),
                  "text/plain": f"<{len(df)} rows>"})

    def cards(self, cards: list[Card]) -> None:
        """Show headline figures."""
        _display({"text/html": cards_html(cards),
                  "text/plain": "; ".join(f"{c.label}: {c.value}" for c in cards)})

    def note(self, text: str) -> None:
        """Show a sentence (escaped)."""
        _display({"text/html": note_html(text), "text/plain": text})

    def record(self, **values: Any) -> None:
        """Add values to the summary (written next to the HTML as JSON)."""
        self.summary.update(jsonable(values))

    def finish(self) -> dict[str, Any]:
        """End the report: publish the summary (an output that shows nothing) and return it."""
        out = {"report": self.name, "title": self.title, "figures": self.figures,
               "seconds": round(time.perf_counter() - self.started, 2), **self.summary,
               "assessment": self.assessment.summary()}
        _display({"text/html": ""}, {META_KEY: {"summary": out}})
        return out


def _fleet_facts_output(facts: FleetFacts, params: ReportParams, name: str,
                        given: list[str]) -> None:
    _display({"text/html": ""}, {META_KEY: {
        "facts": facts.to_dict(), "report": name, "title": params.title or TITLES.get(name),
        "parameters": params.shown(given),
        "made_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }})


def open_report(name: str, **parameters: Any) -> Report:
    """Start report `name` with the notebook's parameters (raw: strings are parsed).

    Returns:
        The `Report`, with the store assessed (`auditlib.assess.assess`), or the run's saved
        assessment read back (the `assessment` parameter) when it is the one asked for; when it
        is not (the store got a new snapshot since, say), the store is assessed anew and the
        page says why.

    Raises:
        ParameterError: if a parameter is unknown or its value cannot be used.
        StoreError: if the store has no snapshot or cannot be read.
        PolicyError: if the policy file cannot be read or is not valid.
    """
    params = ReportParams.from_values(parameters)
    anew: list[str] = []
    a = assessed(None if params.assessment is None else Path(params.assessment), params.store,
                 as_of=params.as_of, policy=params.policy, image_filter=params.image_filter,
                 note=anew.append)
    facts = fleet_facts(a)
    _fleet_facts_output(facts, params, name, list(parameters))
    report = Report(name, params, a, facts)
    for line in anew:
        report.note(line)
    report.record(as_of=a.as_of, coverage=facts.coverage, images=facts.images,
                  synthetic=facts.is_synthetic or bool(params.synthetic))
    return report
