"""Export an executed report notebook to one HTML page that needs no network.

nbconvert's `lab` template, without the code cells (`exclude_input`, as `--no-input`), with
what it would fetch from CDNs taken out: require.js, MathJax, mermaid and the widget manager
(anchors.md section 8.2; none of them is needed by the reports). plotly.js is embedded once, in
the page head, and every figure is a div that calls `Plotly.newPlot` (`figures.to_div`). The
URLs plotly.js keeps as defaults for map tiles and topojson (never used: the reports draw no
maps) are blanked, so that nothing in the page can reach a CDN even by accident.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from auditlib.errors import AuditlibError
from auditlib.files import write_atomic
from auditlib.reports.context import META_KEY
from auditlib.reports.header import header_html
from auditlib.reports.markup import CSS

TEMPLATE_NAME = "auditlib-report.html.j2"
_PLOTLY_MARK = "/*auditlib:plotly.js*/"

_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}
{%- if resources.auditlib_plotly -%}
<script type="text/javascript">""" + _PLOTLY_MARK + """</script>
{%- endif -%}
{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block extra_css %}<style type="text/css">{{ resources.auditlib_css }}</style>{% endblock %}
{%- block body_header -%}
{{ super() }}
{{ resources.auditlib_header }}
{%- endblock body_header -%}
"""

_CDN_URL = re.compile(r"https?://cdn[^\"'`\s)]*")
_NETWORK_REF = re.compile(
    r"""(?:<script[^>]+src\s*=\s*["']?(?:https?:)?//|<link[^>]+href\s*=\s*["']?(?:https?:)?//"""
    r"""|@import\s+(?:url\()?["']?(?:https?:)?//|import\s*\(?\s*["'](?:https?:)?//"""
    r"""|<iframe[^>]+src\s*=\s*["']?(?:https?:)?//)""",
    re.IGNORECASE,
)


class ExportError(AuditlibError):
    """The page would need the network (a bug in the template or in a figure)."""


@lru_cache(maxsize=1)
def offline_plotlyjs() -> str:
    """Return plotly.js as plotly's Python package ships it, with its CDN defaults blanked and
    made safe to embed in a `<script>` element."""
    from plotly.offline import get_plotlyjs

    js = _CDN_URL.sub("", get_plotlyjs())
    return js.replace("</script", "<\\/script")


def network_refs(page: str) -> list[str]:
    """Return the places in `page` that would load something from the network (script or
    stylesheet sources, CSS and module imports, iframes); empty when there are none.
    Links a reader may click (`<a href>`) are not loads and are not listed."""
    return [m.group(0) for m in _NETWORK_REF.finditer(page)]


@dataclass(frozen=True, slots=True)
class PageInfo:
    """What a report notebook carried for its page: facts, parameters, summary, error."""

    meta: dict[str, Any] = field(default_factory=dict)
    """The facts output of `open_report` (facts, parameters, made_at), when it ran."""
    summary: dict[str, Any] | None = None
    """The summary of `Report.finish`, when the notebook got there."""
    error: dict[str, Any] | None = None
    """The first error output: ename, evalue, and the execution count of its cell."""


def read_page_info(nb: NotebookNode) -> PageInfo:
    """Return the facts, summary and first error an executed report notebook holds."""
    meta: dict[str, Any] = {}
    summary: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            m = out.get("metadata", {}).get(META_KEY)
            if isinstance(m, dict):
                if "summary" in m:
                    summary = dict(m["summary"])
                else:
                    meta = dict(m)
            if out.get("output_type") == "error" and error is None:
                error = {"ename": out.get("ename", ""), "evalue": out.get("evalue", ""),
                         "cell": cell.get("execution_count")}
    return PageInfo(meta, summary, error)


NOTEBOOK_ONLY_TAG = "notebook-only"
"""Cells tagged so (how to run the notebook by hand) are left out of pages."""


def _strip_meta_outputs(nb: NotebookNode) -> NotebookNode:
    """Return a copy of `nb` without the outputs that only carry report metadata, and without
    the cells tagged `notebook-only`."""
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells
                if NOTEBOOK_ONLY_TAG not in c.get("metadata", {}).get("tags", [])]
    for cell in nb.cells:
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs
                            if META_KEY not in o.get("metadata", {})]
    return nb


def render_page(nb: NotebookNode, *, title: str, header: str) -> str:
    """Return the HTML page of an executed notebook, without code cells, with `header` (HTML)
    on top and plotly.js embedded once when the page has figures.

    Raises:
        ExportError: if the page would load anything from the network.
    """
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        extra_loaders=[DictLoader({TEMPLATE_NAME: _TEMPLATE})],
    )
    exporter.template_file = TEMPLATE_NAME
    clean = _strip_meta_outputs(nb)
    has_figures = any(
        "plotly-graph-div" in str(o.get("data", {}).get("text/html", ""))
        for c in clean.cells for o in c.get("outputs", [])
    )
    resources = {
        "metadata": {"name": title},
        "auditlib_css": CSS,
        "auditlib_header": header,
        "auditlib_plotly": has_figures,
    }
    page, _ = exporter.from_notebook_node(clean, resources=resources)
    if has_figures:
        if page.count(_PLOTLY_MARK) != 1:
            raise ExportError("the page template lost its plotly.js placeholder")
        page = page.replace(_PLOTLY_MARK, offline_plotlyjs())
    found = network_refs(page)
    if found:
        raise ExportError(f"the page would load from the network: {found[:3]}")
    return str(page)


def export_html(notebook: str | Path | NotebookNode, out: str | Path, *,
                status: str | None = None, fallback: dict[str, Any] | None = None) -> Path:
    """Write the HTML page of an executed report notebook (however it was run: `auditlib
    report`, papermill, Airflow) to `out`.

    Args:
        notebook: the executed notebook (a path or a node).
        out: the HTML file to write.
        status: `ok` or `failed`; default: failed when the notebook holds an error output.
        fallback: header facts to use when the notebook failed before `open_report` recorded
            its own (keys as that output's metadata: facts, parameters, report, made_at).

    Returns:
        `out`.

    Raises:
        ExportError: if the page would load anything from the network.
        OSError: if the notebook cannot be read or the page cannot be written.
    """
    nb = notebook if isinstance(notebook, NotebookNode) else nbformat.read(
        str(notebook), as_version=4)
    info = read_page_info(nb)
    meta = info.meta or dict(fallback or {})
    failed = (status == "failed") if status else info.error is not None
    title = str((info.summary or {}).get("title") or meta.get("title")
                or str(meta.get("report", "report")).title())
    page = render_page(nb, title=title, header=header_html(
        title=title, meta=meta, error=info.error if failed else None, failed=failed))
    path = Path(out)
    write_atomic(path, page)
    return path
