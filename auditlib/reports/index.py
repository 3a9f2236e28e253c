"""`reports/index.html`: every report run under a folder, newest first, rebuilt after each run
from the summaries (`run-*/NAME.json`). A static page: no script, nothing from the network,
every value escaped (jinja2 autoescape).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditlib.files import write_atomic
from auditlib.normalize.visible import visible

INDEX_NAME = "index.html"

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>auditlib reports</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:1.6em;margin:0 0 4px} p.sub{color:#555;margin:0 0 16px}
table{border-collapse:collapse;width:100%;font-size:.9em}
th{background:#f3f3f3;text-align:left;padding:6px;border-bottom:1px solid #ccc}
td{padding:5px 6px;border-bottom:1px solid #eee;vertical-align:top}
.failed{color:#b00020;font-weight:600} .ok{color:#1a7f37;font-weight:600}
.synthetic{background:#fff3cd;border:1px solid #e0a800;border-radius:3px;padding:0 5px;
  font-size:.8em;font-weight:700;color:#5c4400}
code{font-size:.9em} .err{color:#b00020;font-size:.85em}
</style></head><body>
<h1>auditlib reports</h1>
<p class="sub">{{ runs|length }} report{{ '' if runs|length == 1 else 's' }} in
{{ folder }}, newest first; regenerated after every run.</p>
{% if runs %}
<table><thead><tr><th>made (UTC)</th><th>report</th><th>status</th><th>images</th>
<th>headline</th><th>data</th><th>files</th></tr></thead><tbody>
{% for r in runs %}
<tr>
<td>{{ r.made }}</td>
<td><a href="{{ r.href }}">{{ r.title }}</a>
{% if r.synthetic %} <span class="synthetic">SYNTHETIC</span>{% endif %}</td>
<td class="{{ r.status }}">{{ r.status }}{% if r.error %}<div class="err">{{ r.error }}</div>
{% endif %}</td>
<td>{{ r.images }}</td>
<td>{{ r.headline }}</td>
<td>{% for s in r.snapshots %}<code>{{ s }}</code>{% if not loop.last %}, {% endif %}
{% endfor %}</td>
<td><a href="{{ r.href }}">page</a> · <a href="{{ r.notebook }}">notebook</a> ·
<a href="{{ r.summary }}">summary</a>{% if r.size %} ({{ r.size }}){% endif %}</td>
</tr>
{% endfor %}
</tbody></table>
{% else %}<p>No report yet: run <code>auditlib report all --store DIR</code>.</p>{% endif %}
</body></html>
"""


def _headline(doc: dict[str, Any]) -> str:
    res = doc.get("results") or {}
    head = res.get("headline") or {}
    if doc.get("report") == "compliance" and head:
        grades = head.get("grades") or {}
        rate = head.get("pass_rate")
        parts = [f"mean score {head['mean_score']:.0f}" if head.get("mean_score") is not None
                 else "", f"pass rate {rate:.0%}" if rate is not None else "",
                 "grades " + " ".join(f"{k}:{v}" for k, v in grades.items() if v)]
        return "; ".join(p for p in parts if p)
    if doc.get("report") == "staleness" and head:
        parts = [f"median age {head['median_age_days']:.0f} days"
                 if head.get("median_age_days") is not None else "",
                 f"{head.get('os_eol', 0)} on an OS past end of life",
                 f"{head.get('base_drifted', 0)} with a base that moved on",
                 f"{head.get('fixable_critical', 0)} fixable critical",
                 f"rebuild first: {head['rebuild_first']}" if head.get("rebuild_first") else ""]
        return "; ".join(p for p in parts if p)
    if head:
        return "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in head.items()
                         if isinstance(v, int | float | str) and not isinstance(v, bool))
    return ""


def _size(n: Any) -> str:
    return f"{n / 1e6:.1f} MB" if isinstance(n, int) and n else ""


SUMMARY_MAX_BYTES = 4_000_000
"""A JSON file in a run folder larger than this is not a report's summary (tens of kilobytes)
and is not read: a run's `policy.json` holds every result (0.95 GB at 100,000 images, which the
index read whole after each run, by hand)."""


def collect_runs(folder: Path) -> list[dict[str, Any]]:
    """Return one entry per report summary under `folder` (`*/NAME.json`), newest first;
    unreadable summaries, and files too large to be one (`SUMMARY_MAX_BYTES`), are left out."""
    rows = []
    for path in folder.glob("*/*.json"):
        try:
            if path.stat().st_size > SUMMARY_MAX_BYTES:
                continue
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or "report" not in doc or "files" not in doc:
            continue
        facts = doc.get("facts") or {}
        files = doc.get("files") or {}
        run = path.parent.name
        rows.append({
            "sort": (str(doc.get("made_at") or ""), run, str(doc.get("report"))),
            "made": str(doc.get("made_at") or run).replace("T", " ")[:16],
            "title": (doc.get("results") or {}).get("title") or str(doc["report"]).title(),
            "status": "ok" if doc.get("status") == "ok" else "failed",
            "error": doc.get("error"),
            "images": facts.get("images", ""),
            "synthetic": bool(facts.get("is_synthetic")),
            "headline": _headline(doc),
            "snapshots": [s.get("snapshot_id") for s in facts.get("snapshots", [])][-3:],
            "href": f"{run}/{files.get('html', '')}",
            "notebook": f"{run}/{files.get('notebook', '')}",
            "summary": f"{run}/{files.get('summary', path.name)}",
            "size": _size(doc.get("html_bytes")),
        })
    rows.sort(key=lambda r: r["sort"], reverse=True)
    return rows


def _shown(value: Any) -> Any:
    """Return a value the index shows: text made visible (`<U+202E>`), then escaped by jinja."""
    return visible(value) if isinstance(value, str) else value


def write_index(folder: str | Path) -> Path:
    """Write `folder/index.html` listing every report run under `folder`, newest first.

    Returns:
        The index page's path.

    Raises:
        OSError: if it cannot be written.
    """
    from jinja2 import Environment

    base = Path(folder)
    base.mkdir(parents=True, exist_ok=True)
    env = Environment(autoescape=True, finalize=_shown)
    page = env.from_string(_PAGE).render(runs=collect_runs(base), folder=str(base))
    out = base / INDEX_NAME
    write_atomic(out, page)
    return out
