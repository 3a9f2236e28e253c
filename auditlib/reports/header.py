"""The header of every report page: when it was made, from which snapshots, with which
parameters and how much of the fleet had data; a SYNTHETIC banner on demo data, and a banner
saying where a failed report stopped. Every value is escaped (and made visible:
`auditlib.normalize.visible`).
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from auditlib._version import __version__
from auditlib.identity import SYNTHETIC_PREFIX
from auditlib.normalize.visible import visible
from auditlib.reports.facts import FleetFacts


def _e(value: Any) -> str:
    return html.escape("" if value is None else visible(value))


def _pct(n: int, total: int) -> str:
    return f"{n:,} ({n / total:.0%})" if total else f"{n:,}"


def coverage_text(f: FleetFacts) -> str:
    """Return how much of the fleet had data, in words."""
    if not f.images:
        return "no image in the data"
    parts = [f"{f.images:,} images: vulnerability scan {_pct(f.vuln_scanned, f.images)}",
             f"SBOM {_pct(f.with_sbom, f.images)}",
             f"metadata collected from an engine, registry or archive "
             f"{_pct(f.collected, f.images)}"]
    extra = [f"{f.containers_running:,} running containers", f"{f.documents:,} documents read"]
    if f.load_errors:
        extra.append(f"{f.load_errors:,} could not be read")
    if f.filtered_out:
        extra.append(f"{f.filtered_out:,} images left out by the image filter")
    return "; ".join(parts) + " (" + ", ".join(extra) + ")"


def synthetic_banner(f: FleetFacts | None, forced: bool) -> str:
    """Return the SYNTHETIC banner (HTML), or an empty string for real data."""
    if f is not None and f.is_synthetic:
        share = ("the 1 image is" if f.images == 1 else f"all {f.images:,} images are")
        share = (share if f.synthetic_images >= f.images
                 else f"{f.synthetic_images:,} of {f.images:,} images are")
        return (f'<div class="auditlib-banner synthetic">SYNTHETIC DATA: {share} from '
                f"auditlib's made-up demo fleet (named under <code>{_e(SYNTHETIC_PREFIX)}"
                "</code>, label <code>org.auditlib.synthetic=true</code>). Nothing on this page "
                "describes a real image or a real vulnerability.</div>")
    if forced:
        return ('<div class="auditlib-banner synthetic">SYNTHETIC DATA: this report was made '
                "from data marked as synthetic; nothing on it describes a real system.</div>")
    return ""


def damaged_banner(f: FleetFacts | None) -> str:
    """Return the banner of a report made from a damaged store without its damaged snapshots
    (HTML), or an empty string."""
    if f is None or not f.warnings:
        return ""
    items = "".join(f"<li>{_e(w)}</li>" for w in f.warnings)
    return ('<div class="auditlib-banner damaged">DAMAGED STORE: this page was made without the '
            "store's damaged snapshots (damage allowed), so it leaves out what they held; "
            f"<code>auditlib store verify</code> names them.<ul>{items}</ul></div>")


def failure_banner(error: dict[str, Any] | None) -> str:
    """Return the banner of a report whose notebook stopped on an error (HTML)."""
    if error:
        where = f" at cell [{_e(error.get('cell'))}]" if error.get("cell") is not None else ""
        what = f"{_e(error.get('ename'))}: {_e(error.get('evalue'))}"
    else:
        where, what = "", "the notebook could not be run to its end"
    return (f'<div class="auditlib-banner failed">REPORT INCOMPLETE: the notebook stopped{where} '
            f"with {what}. What it showed before that is below, then the error.</div>")


def header_html(*, title: str, meta: dict[str, Any], error: dict[str, Any] | None = None,
                failed: bool = False) -> str:
    """Return the page header.

    Args:
        title: the page title.
        meta: what the notebook recorded when it opened the report (`facts`, `parameters`,
            `made_at`), or what the runner knows when it failed before that.
        error: the error the notebook stopped on, if any.
        failed: whether the report failed (a banner says so).
    """
    facts = FleetFacts.from_dict(meta["facts"]) if isinstance(meta.get("facts"), dict) else None
    params = meta.get("parameters") or {}
    forced = str(params.get("synthetic", "")).lower() == "true"
    exported = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    made = str(meta.get("made_at") or "")
    made_text = (made.replace("T", " ").replace("+00:00", " UTC") if made else exported)
    rows = [("made", f"{_e(made_text)} by auditlib {_e(__version__)}"
             + (f" (page exported {_e(exported)})" if made and made_text[:16] != exported[:16]
                else ""))]
    if facts is not None:
        snaps = facts.snapshots
        if snaps:
            listed = ", ".join(f"<code>{_e(s.snapshot_id)}</code>" for s in snaps[-6:])
            more = f" and {len(snaps) - 6} older" if len(snaps) > 6 else ""
            rows.append(("data", f"{len(snaps)} snapshot{'s' if len(snaps) != 1 else ''} of "
                                 f"the store <code>{_e(params.get('store', ''))}</code>: "
                                 f"{listed}{more}"))
        rows.append(("coverage", _e(coverage_text(facts))))
    else:
        rows.append(("data", "none read: the report stopped before it read the store"))
    if params:
        rows.append(("parameters", ", ".join(
            f"<code>{_e(k)}</code> = <code>{_e(v)}</code>" for k, v in params.items())))
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    banners = (synthetic_banner(facts, forced) + damaged_banner(facts)
               + (failure_banner(error) if failed else ""))
    return (f'<header class="auditlib-header">{banners}<h1>{_e(title)}</h1>'
            f"<dl>{body}</dl></header>")
