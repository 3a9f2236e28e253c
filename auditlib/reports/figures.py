"""plotly figures for the reports: one look, escaped text, and output that renders offline.

Every text that reaches a figure (image names, package names, evidence) goes through `esc`:
plotly draws its own small HTML subset (`<b>`, `<br>`, `<a>`) in labels and hover text, so
untrusted text is escaped and shows as it is, `<script>` included; bidirectional overrides and
other invisible characters show as `<U+202E>` (`auditlib.normalize.visible`). Figures are shown as a
`text/html` div that calls `Plotly.newPlot` with plotly.js left out (the page embeds plotly.js
once; `auditlib.reports.export`), next to the plotly mimetype for JupyterLab.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from auditlib.normalize.visible import visible

STATUS_COLORS = {
    "fail": "#d62728", "warn": "#ff9f1c", "no-data": "#9e9e9e", "waived": "#4e79a7",
    "pass": "#2ca02c",
}
"""Policy statuses, worst first, and their colours."""
SEVERITY_COLORS = {
    "critical": "#7b0d1e", "high": "#d62728", "medium": "#ff9f1c", "low": "#f2cf5b",
    "negligible": "#9ecae1", "unknown": "#bdbdbd",
}
GRADE_COLORS = {"A": "#1a9850", "B": "#91cf60", "C": "#d9ef8b", "D": "#fee08b", "E": "#fc8d59",
                "F": "#d73027"}
PLOTLY_MIME = "application/vnd.plotly.v1+json"

_TEMPLATE = go.layout.Template(layout={
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12,
             "color": "#222"},
    "paper_bgcolor": "white", "plot_bgcolor": "white",
    "xaxis": {"gridcolor": "#eee", "zerolinecolor": "#ccc", "automargin": True},
    "yaxis": {"gridcolor": "#eee", "zerolinecolor": "#ccc", "automargin": True},
    "hoverlabel": {"align": "left"},
    "legend": {"orientation": "h", "y": -0.18},
    "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
})
"""A small template: plotly's default one adds about 8 kB to every figure."""


def esc(value: Any, limit: int | None = None) -> str:
    """Return `value` as text safe for plotly labels and hover text (`<` `>` `&` escaped,
    invisible and bidirectional characters as `<U+XXXX>`), cut to `limit` characters (with an
    ellipsis) when given."""
    text = "" if value is None else visible(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=False)


def escape_all(values: Iterable[Any], limit: int | None = None) -> list[str]:
    """Return `esc` of every value."""
    return [esc(v, limit) for v in values]


def styled(fig: go.Figure, title: str, *, height: int = 380, x: str | None = None,
           y: str | None = None) -> go.Figure:
    """Return `fig` with the report look, an escaped title and axis titles, and a fixed height."""
    fig.update_layout(template=_TEMPLATE, title={"text": esc(title), "x": 0.01},
                      height=height)
    if x is not None:
        fig.update_xaxes(title_text=esc(x))
    if y is not None:
        fig.update_yaxes(title_text=esc(y))
    return fig


def _whole_counts(fig: go.Figure, axis: str, top: float) -> None:
    """Tick a count axis at whole numbers when its values are small (no `2.5 images`)."""
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(rangemode="tozero", **({"dtick": 1} if top <= 10 else {}))


def to_div(fig: go.Figure) -> str:
    """Return the figure as an HTML div and the script that draws it, without plotly.js."""
    height = fig.layout.height or 380
    return str(fig.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False,
                           default_height=f"{height}px", default_width="100%",
                           config={"displaylogo": False, "responsive": True}))


def bundle(fig: go.Figure) -> dict[str, Any]:
    """Return the display bundle of a figure: `text/html` (the div; exported pages and the
    classic notebook) and the plotly mimetype (JupyterLab renders that one)."""
    return {"text/html": to_div(fig), PLOTLY_MIME: json.loads(str(fig.to_json()))}


def bar(categories: Sequence[Any], values: Sequence[float], title: str, *,
        colors: Sequence[str] | str | None = None, hover: Sequence[str] | None = None,
        x: str | None = None, y: str | None = None, horizontal: bool = False,
        height: int = 380, text: bool = True) -> go.Figure:
    """Return a bar chart of `values` by category (escaped), one colour per bar if given."""
    cats = escape_all(categories, 80)
    vals = list(values)
    trace = go.Bar(
        x=vals if horizontal else cats, y=cats if horizontal else vals,
        orientation="h" if horizontal else "v",
        marker_color=list(colors) if isinstance(colors, list | tuple) else colors,
        text=[f"{v:,.0f}" for v in vals] if text else None, textposition="outside",
        cliponaxis=False,
        hovertext=list(hover) if hover is not None else None,
        hoverinfo="text" if hover is not None else None,
    )
    fig = go.Figure(trace)
    if horizontal:
        fig.update_yaxes(autorange="reversed", type="category")
    else:
        fig.update_xaxes(type="category")
    _whole_counts(fig, "x" if horizontal else "y", max(vals, default=0))
    return styled(fig, title, height=height, x=x, y=y)


def stacked(index: Sequence[Any], series: Mapping[str, Sequence[float]], title: str, *,
            colors: dict[str, str] | None = None, x: str | None = None, y: str | None = None,
            horizontal: bool = False, height: int = 420) -> go.Figure:
    """Return a stacked bar chart: one bar per index value, one segment per series."""
    cats = escape_all(index, 80)
    fig = go.Figure()
    for name, vals in series.items():
        v = list(vals)
        fig.add_trace(go.Bar(
            name=esc(name), x=v if horizontal else cats, y=cats if horizontal else v,
            orientation="h" if horizontal else "v",
            marker_color=(colors or {}).get(name),
        ))
    fig.update_layout(barmode="stack")
    if horizontal:
        fig.update_yaxes(autorange="reversed", type="category")
    else:
        fig.update_xaxes(type="category")
    return styled(fig, title, height=height, x=x, y=y)


def histogram(values: Sequence[float], title: str, *, bins: int = 30, x: str | None = None,
              y: str = "images", marks: dict[str, float] | None = None,
              color: str = "#4e79a7", height: int = 360) -> go.Figure:
    """Return a histogram of `values`, with a dashed vertical line per mark (name -> x)."""
    fig = go.Figure(go.Histogram(x=list(values), nbinsx=bins, marker_color=color))
    _whole_counts(fig, "y", float(len(values)) / 2)
    for name, at in (marks or {}).items():
        fig.add_vline(x=at, line_dash="dash", line_color="#555",
                      annotation_text=esc(name), annotation_position="top")
    fig.update_layout(bargap=0.05)
    return styled(fig, title, height=height, x=x, y=y)


def status_heatmap(rows: Sequence[str], columns: Sequence[str], statuses: list[list[str]],
                   hover: list[list[str]], title: str) -> go.Figure:
    """Return the image x rule matrix: one cell per (row, column) coloured by policy status.

    `hover` must already be escaped (it may hold `<br>`).
    """
    order = list(STATUS_COLORS)
    z = [[order.index(s) if s in order else order.index("no-data") for s in r] for r in statuses]
    n = len(order)
    scale = []
    for i, s in enumerate(order):
        scale += [[i / n, STATUS_COLORS[s]], [(i + 1) / n, STATUS_COLORS[s]]]
    fig = go.Figure(go.Heatmap(
        z=z, x=escape_all(columns), y=escape_all(rows, 60), zmin=-0.5, zmax=n - 0.5,
        colorscale=scale, text=hover, hoverinfo="text", xgap=1, ygap=1,
        colorbar={"tickvals": list(range(n)), "ticktext": order, "title": {"text": "status"}},
    ))
    fig.update_xaxes(side="top", tickangle=-40, type="category")
    fig.update_yaxes(autorange="reversed", type="category")
    height = max(300, min(2400, 22 * len(rows) + 200))
    return styled(fig, title, height=height)


def lines(x: Sequence[Any], series: Mapping[str, Sequence[float]], title: str, *,
          colors: dict[str, str] | None = None, x_title: str | None = None,
          y_title: str | None = None, height: int = 360) -> go.Figure:
    """Return a line chart with markers: one line per series over `x`."""
    fig = go.Figure()
    for name, vals in series.items():
        fig.add_trace(go.Scatter(x=list(x), y=list(vals), name=esc(name), mode="lines+markers",
                                 line={"color": (colors or {}).get(name)}))
    return styled(fig, title, height=height, x=x_title, y=y_title)
