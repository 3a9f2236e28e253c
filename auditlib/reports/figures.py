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
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
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
UNKNOWN_COLOR = "#9e9e9e"
"""The colour of unknown (no data to judge by): its own category in every chart, never a zero,
a pass or a gap left unsaid."""
PLOTLY_MIME = "application/vnd.plotly.v1+json"

TIME_UNITS: tuple[tuple[str, float, float], ...] = (
    ("seconds", 1 / 86400, 2 / 1440),
    ("minutes", 1 / 1440, 2 / 24),
    ("hours", 1 / 24, 3.0),
    ("days", 1.0, 120.0),
    ("weeks", 7.0, 730.0),
    ("months", 365.25 / 12, 6 * 365.25),
    ("years", 365.25, math.inf),
)
"""Units of durations: (name, its length in days, the longest duration, in days, shown in it)."""

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
           y: str | None = None, subtitle: str | None = None) -> go.Figure:
    """Return `fig` with the report look, an escaped title and axis titles, and a fixed height;
    `subtitle` (escaped) is a smaller line under the title: what the chart could not show."""
    head: dict[str, Any] = {"text": esc(title), "x": 0.01}
    if subtitle:
        head["subtitle"] = {"text": esc(subtitle), "font": {"color": "#555", "size": 12}}
    fig.update_layout(template=_TEMPLATE, title=head, height=height)
    if subtitle:
        fig.update_layout(margin={"t": 76})
    if x is not None:
        fig.update_xaxes(title_text=esc(x))
    if y is not None:
        fig.update_yaxes(title_text=esc(y))
    return fig


def nice_step(span: float, target: int = 6) -> float:
    """Return a round step (1, 2 or 5 times a power of ten) that cuts `span` into at most
    about `target` parts; 1 for an empty span."""
    raw = span / max(target, 1)
    if not raw > 0 or not math.isfinite(raw):
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))


def count_axis(fig: go.Figure, axis: str, top: float) -> None:
    """Make `axis` (`x` or `y`) of `fig` a count axis: from zero, whole-number ticks only (no
    `2.5 images` at 1 image, `100,000` at 100,000), a round step for the largest value `top`."""
    step = max(1, int(nice_step(max(float(top), 1.0), 5)))
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(rangemode="tozero", tickformat=",d", tick0=0, dtick=step)


def _whole(values: Iterable[Any]) -> bool:
    """Return whether every value present is a whole number (so the axis counts things)."""
    return all(float(v).is_integer() for v in values if v is not None and not _missing(v))


def _missing(v: Any) -> bool:
    """Return whether a value is missing: None, NaN, NaT or NA."""
    if v is None:
        return True
    try:
        return bool(v != v)  # only NaN and NaT differ from themselves
    except TypeError:  # NA: its comparison is NA, which has no truth value
        return True


def time_unit(days: float) -> tuple[str, float]:
    """Return the unit to show durations of up to `days` days in (`TIME_UNITS`: seconds for a
    minute, days for a month, years for a decade) and the unit's length in days."""
    d = abs(float(days)) if days is not None and math.isfinite(float(days)) else 0.0
    name, per, _ = next(u for u in TIME_UNITS if d <= u[2])
    return name, per


def format_days(days: float | None) -> str:
    """Return a duration in days as words, in the unit that fits it (`3 hours`, `158 days`,
    `2.4 years`); `unknown` when missing."""
    if days is None or _missing(days):
        return "unknown"
    d = float(days)
    if abs(d) < 1:
        name, per = time_unit(d)
        return f"{d / per:,.0f} {name}"
    if abs(d) < 730:
        return f"{d:,.0f} days"
    return f"{d / 365.25:,.1f} years"


def _number(v: float, step: float) -> str:
    """Return a tick or bin edge as text with the decimals its step needs."""
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{v:,.{decimals}f}"


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
        height: int = 380, text: bool = True, drop_empty: bool = False,
        subtitle: str | None = None) -> go.Figure:
    """Return a bar chart of `values` by category (escaped), one colour per bar if given.

    Whole-number values make a count axis (`count_axis`). With `drop_empty`, categories whose
    value is 0 are left out (an empty category is not data)."""
    categories, values = list(categories), list(values)
    if drop_empty:
        keep = [i for i, v in enumerate(values) if v]
        categories = [categories[i] for i in keep]
        values = [values[i] for i in keep]
        if isinstance(colors, list | tuple):
            colors = [colors[i] for i in keep]
        if hover is not None:
            hover = [hover[i] for i in keep]
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
    if _whole(vals):
        count_axis(fig, "x" if horizontal else "y", max(vals, default=0))
    else:
        (fig.update_xaxes if horizontal else fig.update_yaxes)(rangemode="tozero")
    return styled(fig, title, height=height, x=x, y=y, subtitle=subtitle)


def stacked(index: Sequence[Any], series: Mapping[str, Sequence[float]], title: str, *,
            colors: dict[str, str] | None = None, x: str | None = None, y: str | None = None,
            horizontal: bool = False, height: int = 420, drop_empty: bool = False,
            subtitle: str | None = None) -> go.Figure:
    """Return a stacked bar chart: one bar per index value, one segment per series.

    Whole-number values make a count axis (`count_axis`). With `drop_empty`, bars and series
    that are 0 throughout are left out (an empty category is not data)."""
    index = list(index)
    series = {k: list(v) for k, v in series.items()}  # a pandas Series is read by position
    if drop_empty:
        keep = [i for i in range(len(index)) if any(v[i] for v in series.values())]
        index = [index[i] for i in keep]
        series = {k: [v[i] for i in keep] for k, v in series.items() if any(v[i] for i in keep)}
    cats = escape_all(index, 80)
    totals = [sum(float(v[i]) for v in series.values()) for i in range(len(index))]
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
    if _whole(v for vals in series.values() for v in vals):
        count_axis(fig, "x" if horizontal else "y", max(totals, default=0))
    return styled(fig, title, height=height, x=x, y=y, subtitle=subtitle)


def histogram(values: Sequence[float], title: str, *, bins: int = 30, x: str | None = None,
              y: str = "images", marks: dict[str, float] | None = None,
              color: str = "#4e79a7", height: int = 360, unknown: int = 0,
              unknown_label: str = "unknown", unit: str = "",
              subtitle: str | None = None) -> go.Figure:
    """Return a histogram of `values`, with a dashed vertical line per mark (name -> x).

    The bins are round (1, 2 or 5 times a power of ten wide, at most about `bins` of them) and
    counted here, so one value and 100,000 values both give a readable chart (and the page
    carries the counts, not every value). Values that are all 0 or more start the axis at 0.
    `unknown` things that have no value are a grey bar of their own, labelled `unknown_label`,
    beside the bins; `unit` names the values' unit in hover text."""
    vals = np.asarray([float(v) for v in values if not _missing(v)], dtype=float)
    lo = float(vals.min()) if len(vals) else 0.0
    hi = float(vals.max()) if len(vals) else 0.0
    start = 0.0 if lo >= 0 else lo
    step = nice_step(hi - start, bins) if hi > start else nice_step(max(abs(hi), 1.0), 1)
    start = math.floor(start / step) * step
    end = (math.floor(hi / step) + 1) * step
    edges = start + step * np.arange(round((end - start) / step) + 1)
    counts, _ = np.histogram(vals, bins=edges)
    what = esc(y)
    hover = [f"{_number(a, step)} to {_number(a + step, step)} {esc(unit)}: {int(n):,} {what}"
             for a, n in zip(edges[:-1], counts, strict=True)]
    fig = go.Figure(go.Bar(x=list(edges[:-1] + step / 2), y=[int(n) for n in counts],
                           width=step * 0.95, marker_color=color, hovertext=hover,
                           hoverinfo="text", showlegend=False))
    ticks = nice_step(end - start, 8)
    tickvals = [float(v) for v in np.arange(math.ceil(start / ticks) * ticks, end + ticks / 2,
                                            ticks)]
    ticktext = [_number(v, ticks) for v in tickvals]
    right = end
    if unknown:
        at = end + 1.5 * step
        right = end + 2.5 * step
        fig.add_trace(go.Bar(x=[at], y=[int(unknown)], width=step * 0.95,
                             marker_color=UNKNOWN_COLOR, showlegend=False, hoverinfo="text",
                             hovertext=[f"{esc(unknown_label)}: {int(unknown):,} {what}"]))
        tickvals.append(at)
        ticktext.append(esc(unknown_label))
    fig.update_xaxes(range=[start, right], tickvals=tickvals, ticktext=ticktext)
    count_axis(fig, "y", max(int(counts.max()) if len(counts) else 0, int(unknown)))
    for name, at in (marks or {}).items():
        if start <= at <= end:
            fig.add_vline(x=at, line_dash="dash", line_color="#555",
                          annotation_text=esc(name), annotation_position="top")
    fig.update_layout(bargap=0.05)
    return styled(fig, title, height=height, x=x, y=y, subtitle=subtitle)


def duration_histogram(days: Sequence[float], title: str, *, since: str = "",
                       marks: dict[str, float] | None = None, unknown: int = 0,
                       unknown_label: str = "unknown", y: str = "images",
                       color: str = "#4e79a7", height: int = 360, bins: int = 30,
                       subtitle: str | None = None) -> go.Figure:
    """Return a `histogram` of durations given in days, shown in the unit their range calls
    for (`time_unit`: hours for a fresh fleet, days, weeks, months, years for an old one);
    `marks` are in days too. The x axis says the unit, then `since` (`months since the
    build`)."""
    present = [float(d) for d in days if not _missing(d)]
    name, per = time_unit(max((abs(d) for d in present), default=0.0))
    return histogram([d / per for d in present], title, bins=bins,
                     x=f"{name} {since}".strip(), y=y, unit=name, color=color, height=height,
                     marks={k: v / per for k, v in (marks or {}).items()}, unknown=unknown,
                     unknown_label=unknown_label, subtitle=subtitle)


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
          y_title: str | None = None, height: int = 360, counts: bool = False,
          subtitle: str | None = None) -> go.Figure:
    """Return a line chart with markers: one line per series over `x`. A missing value (None,
    NaN) is a gap in its line, never a 0. With `counts`, the y axis is a count axis
    (`count_axis`) when the values are whole numbers."""
    fig = go.Figure()
    top = 0.0
    for name, vals in series.items():
        ys = [None if _missing(v) else float(v) for v in vals]
        top = max([top, *(v for v in ys if v is not None)])
        fig.add_trace(go.Scatter(x=list(x), y=ys, name=esc(name), mode="lines+markers",
                                 line={"color": (colors or {}).get(name)}))
    if counts and _whole(v for vals in series.values() for v in vals):
        count_axis(fig, "y", top)
    else:
        fig.update_yaxes(exponentformat="none", separatethousands=True)
    return styled(fig, title, height=height, x=x_title, y=y_title, subtitle=subtitle)
