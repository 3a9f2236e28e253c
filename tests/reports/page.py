"""Run a report notebook's code cells in this process (no kernel, no papermill) and keep what
the page would show: the text of its cards, notes and tables, and its figures as plotly JSON.

The cells are the notebook's own, parameters replaced as papermill would; only `display` is
caught. The slow tests in test_notebooks.py run the same notebooks in a kernel.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

from auditlib.reports import context
from auditlib.reports.figures import PLOTLY_MIME
from auditlib.reports.runner import notebook_path


@dataclass
class Page:
    """What a notebook showed, in order."""

    texts: list[str] = field(default_factory=list)
    """The visible text of every card, note and table (HTML tags dropped, entities decoded)."""
    figures: list[dict[str, Any]] = field(default_factory=list)
    """Every figure's plotly JSON (`data`, `layout`)."""
    summary: dict[str, Any] = field(default_factory=dict)
    """What `Report.finish()` returned."""
    scope: dict[str, Any] = field(default_factory=dict)
    """The notebook's variables after its last cell (`r`, the report; `st`, ...)."""

    @property
    def text(self) -> str:
        """Return all the text, one piece a line."""
        return "\n".join(self.texts)

    def figure(self, title_start: str) -> dict[str, Any]:
        """Return the figure whose title starts with `title_start`."""
        for f in self.figures:
            if html.unescape(f["layout"]["title"]["text"]).startswith(title_start):
                return f
        titles = [f["layout"]["title"]["text"] for f in self.figures]
        raise AssertionError(f"no figure titled {title_start!r}; figures: {titles}")


def _visible(markup: str) -> str:
    markup = re.sub(r"<style>.*?</style>", "", markup, flags=re.S)
    markup = re.sub(r"</(td|th|div|p)>", " </\\1>", markup)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def run_page(name: str, monkeypatch: pytest.MonkeyPatch, **parameters: Any) -> Page:
    """Run report `name`'s code cells with `parameters` and return what it showed."""
    page = Page()

    def display(data: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        if PLOTLY_MIME in data:
            page.figures.append(data[PLOTLY_MIME])
        elif data.get("text/html"):
            page.texts.append(_visible(str(data["text/html"])))

    monkeypatch.setattr(context, "_display", display)
    nb = nbformat.read(str(notebook_path(name)), as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    scope: dict[str, Any] = {}
    exec(cells[0].source, scope)  # noqa: S102 - the notebook's own parameters cell
    scope.update({k: str(v) if isinstance(v, Path) else v for k, v in parameters.items()})
    for cell in cells[1:]:
        exec(cell.source, scope)  # noqa: S102 - the notebook's own cells
    page.summary = scope.get("summary") or {}
    page.scope = scope
    return page
