"""HTML pieces of the reports (tables, headline cards, notes), every value escaped.

pandas writes the tables (`DataFrame.to_html(escape=True)`); the rest is built with
`html.escape`. Nothing here trusts a value from the data: package names, labels, paths and
evidence come from images and scanners. Text is shown through `auditlib.normalize.visible`
first, so a bidirectional override or a zero-width character shows as `<U+202E>` instead of
reordering or hiding what is around it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from auditlib.normalize.visible import visible

CSS = """
.auditlib-header{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;
  border-bottom:2px solid #ddd;padding:12px 8px 10px;margin:0 0 18px}
.auditlib-header h1{font-size:1.7em;margin:4px 0 8px}
.auditlib-header dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:0;
  font-size:.92em}
.auditlib-header dt{color:#555;font-weight:600}
.auditlib-header dd{margin:0;word-break:break-word}
.auditlib-header code{font-size:.95em}
.auditlib-banner{padding:10px 14px;margin:6px 0;border-radius:4px;font-weight:600}
.auditlib-banner.synthetic{background:#fff3cd;border:2px solid #e0a800;color:#5c4400}
.auditlib-banner.failed{background:#fde2e1;border:2px solid #d62728;color:#7b0d1e}
.auditlib-banner.damaged{background:#fde2e1;border:2px solid #d62728;color:#7b0d1e}
.auditlib-banner ul{margin:4px 0 0;font-weight:400}
.auditlib-cards{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0 14px}
.auditlib-card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:140px;
  background:#fafafa}
.auditlib-card .value{font-size:1.6em;font-weight:700}
.auditlib-card .label{color:#555;font-size:.85em}
.auditlib-card .note{color:#777;font-size:.8em}
.jp-RenderedHTMLCommon table.auditlib-table,table.auditlib-table{border-collapse:collapse;
  font-size:.85em;margin:4px 0 10px;width:100%;table-layout:auto}
.jp-RenderedHTMLCommon table.auditlib-table th,table.auditlib-table th{background:#f3f3f3;
  text-align:left;padding:4px 6px;border-bottom:1px solid #ccc;white-space:nowrap}
.jp-RenderedHTMLCommon table.auditlib-table td,table.auditlib-table td{text-align:left;
  padding:3px 6px;border-bottom:1px solid #eee;vertical-align:top;overflow-wrap:break-word}
p.auditlib-note{color:#444;margin:4px 0 10px}
p.auditlib-more{color:#666;font-size:.85em;margin:0 0 12px}
"""
"""Styles of the pieces below and of the page header (the exported page includes them)."""


@dataclass(frozen=True, slots=True)
class Card:
    """One headline figure."""

    label: str
    value: str
    note: str = ""


def _text(value: object) -> str:
    """Return `value` as visible, escaped HTML text."""
    return html.escape(visible(value))


def _shown(value: object) -> object:
    """Return a cell or label as it is shown: text made visible, other values as they are."""
    return visible(value) if isinstance(value, str) else value


def cards_html(cards: Sequence[Card]) -> str:
    """Return headline cards as HTML (escaped)."""
    parts = []
    for c in cards:
        note = f'<div class="note">{_text(c.note)}</div>' if c.note else ""
        parts.append(f'<div class="auditlib-card"><div class="value">{_text(c.value)}'
                     f'</div><div class="label">{_text(c.label)}</div>{note}</div>')
    return f'<style>{CSS}</style><div class="auditlib-cards">{"".join(parts)}</div>'


def _cell_text(df: pd.DataFrame) -> pd.DataFrame:
    """Return `df` with every value as display text (times as dates, missing as empty, text
    made visible), its labels too."""
    out = {}
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.dt.strftime("%Y-%m-%d").astype("object").where(s.notna(), "")
        elif pd.api.types.is_bool_dtype(s):
            out[col] = s.astype("object").map({True: "yes", False: "no"}).where(s.notna(), "")
        elif pd.api.types.is_float_dtype(s):
            out[col] = s.map(lambda v: "" if pd.isna(v) else f"{v:,.1f}".removesuffix(".0"))
        else:
            out[col] = s.astype("object").where(s.notna(), "").map(_shown)
    shown = pd.DataFrame(out, index=df.index)
    shown.columns = pd.Index([_shown(c) for c in shown.columns])
    shown.index = df.index.map(_shown)
    return shown


def table_html(df: pd.DataFrame, *, max_rows: int | None = 50, empty: str = "nothing to show",
               index: bool = False) -> str:
    """Return `df` as an HTML table (every value escaped), at most `max_rows` rows with a line
    saying how many more there are; `empty` (escaped) when it has no rows."""
    if df.empty:
        return note_html(empty)
    shown = df if max_rows is None else df.head(max_rows)
    body = _cell_text(shown).to_html(escape=True, index=index, border=0,
                                     classes="auditlib-table", na_rep="")
    more = ""
    if max_rows is not None and len(df) > max_rows:
        more = (f'<p class="auditlib-more">the first {max_rows:,} of {len(df):,} rows; '
                f"{len(df) - max_rows:,} more not shown</p>")
    return f"{body}{more}"


def note_html(text: str) -> str:
    """Return a paragraph of text (escaped)."""
    return f'<p class="auditlib-note">{_text(text)}</p>'
