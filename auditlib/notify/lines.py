"""The digest in words: one title and plain-text lines per kind of change. Each channel escapes
them for its own format (Slack mrkdwn, HTML mail); the lines are never markup."""

from __future__ import annotations

from typing import Any

from auditlib.notify.digest import KINDS, Digest, summary_line


def _fmt(v: Any) -> str:
    return "?" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def item_line(kind: str, it: dict[str, Any]) -> str:
    """Return one item of a digest as a line of plain text."""
    if kind == "new_fixable":
        fixed = f", fixed in {it['fixed_version']}" if it.get("fixed_version") else ""
        return (f"{it['image']}: {it['vuln_id']} ({it['severity']}) in {it['package']} "
                f"{_fmt(it.get('version'))}{fixed}")
    if kind == "sla_crossed":
        return (f"{it['image']}: {it['vuln_id']} ({it['severity']}) in {it['package']} "
                f"{_fmt(it.get('version'))}, fixable for {_fmt(it.get('days'))} days, SLA "
                f"{_fmt(it.get('sla_days'))}")
    if kind == "base_moved":
        used = ", ".join(it["images"]) or "no image"
        return f"{it['base']} moved from {it['was']} to {it['now']} (used by {used})"
    if kind == "eol_soon":
        return (f"{it['image']}: {it['os'] or 'its OS'} reaches its end of life on "
                f"{it['eol_date'] or '?'} ({_fmt(it.get('days'))} days)")
    if kind == "rules_failing":
        was = f", was {it['was']}" if it.get("was") else ", a new image"
        return f"{it['image']}: {it['rule']} fails{was}: {it['evidence']}"
    return f"{it['image']}: {it['rule']} passes again: {it['evidence']}"


def sections(d: Digest, most: int | None = None) -> list[tuple[str, list[str]]]:
    """Return (title with its count, item lines) per kind that has items, in `KINDS` order;
    at most `most` lines each, then `... and N more`."""
    out = []
    for kind, title in KINDS.items():
        n = d.counts.get(kind, 0)
        if not n:
            continue
        items = d.items.get(kind, [])
        shown = items if most is None else items[:most]
        lines = [item_line(kind, it) for it in shown]
        if n > len(shown):
            lines.append(f"... and {n - len(shown)} more")
        out.append((f"{title[0].upper()}{title[1:]} ({n})", lines))
    return out


def subject(d: Digest) -> str:
    """Return the one-line title of a digest (a mail subject)."""
    return f"auditlib: {summary_line(d)} ({d.store})"
