"""The assessment's figures in one line each, as `run` and `demo` print them: counts say over
which images they were counted, and what the data does not say is said (never a zero)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from auditlib.normalize.visible import visible

UNKNOWN_WORDS = {
    "vulnerabilities": "without a vulnerability scan",
    "packages": "without an SBOM",
    "build_time": "with no build time",
    "os_end_of_life": "with an unknown end of life",
    "base": "with an unknown base",
}
"""How each entry of `summary()["unknown"]` is said, per image."""


def fixable_line(s: dict[str, Any]) -> str:
    """Return the fixable findings against their SLA, over the scanned images only; "unknown"
    when no image was scanned.

    Args:
        s: `Assessment.summary()`.
    """
    fix, first = s["fixable"], s["fix_first"]
    top = first["top"][0]["image"] if first["top"] else "-"
    if not fix["scanned_images"]:
        return (f"fixable: unknown (no image has a vulnerability scan); fix first: {top}")
    missing = fix["not_scanned_images"]
    return (f"fixable: {fix['findings']} findings in the {fix['scanned_images']} images with a "
            f"vulnerability scan" + (f" ({missing} not scanned: unknown)" if missing else "")
            + f", {fix['over']} over their SLA in {fix['images_over_sla']} images; "
            f"fix first: {top}")


def unknown_line(s: dict[str, Any]) -> str | None:
    """Return what the data does not say, per question ("not known: 3 of 7 images without a
    vulnerability scan, ..."), or None when nothing is unknown.

    Args:
        s: `Assessment.summary()`.
    """
    n = s["images"]
    parts = [f"{k} {UNKNOWN_WORDS[q]}" for q, k in s["unknown"].items()
             if q in UNKNOWN_WORDS and k]
    ungraded = s["policy"]["grades"].get("N/A", 0)
    if ungraded:
        parts.append(f"{ungraded} with too little data to grade")
    return f"not known, of {n} images: " + ", ".join(parts) if parts else None


FIX_FIRST_LINES = 10
"""Images of the fix-first list `auditlib staleness` (and `auditlib run`) print."""


def fix_first_lines(staleness: pd.DataFrame, s: dict[str, Any]) -> list[str]:
    """Return the fix-first list as `auditlib staleness` prints it under its table: the first
    images of the ranking with a known reason to rebuild, what to do and what is not known
    (terminal controls made visible), or why there is none.

    Args:
        staleness: `Assessment.staleness` (rank 1 on top), or its first rows.
        s: `Assessment.summary()`.
    """
    lines = ["fix first:"]
    for r in staleness.head(FIX_FIRST_LINES).to_dict("records"):
        if r.get("priority_reasons"):
            lines.append(visible(f"{r['priority_rank']}. {r['image_name']}: "
                                 f"{r['priority_reasons']}"))
            if r.get("priority_actions"):
                lines.append(visible(f"   do: {r['priority_actions']}"))
            if r.get("priority_unknown"):
                lines.append(visible(f"   not known: {r['priority_unknown']}"))
    first = s["fix_first"]
    if len(lines) == 1:
        lines.append("   nothing known to fix" if not first["unknown_only"] else
                     "   no known risk, but some images have too little data to say")
    if first["unknown_only"]:
        lines.append(f"{first['unknown_only']} images have no known risk but too little "
                     "data to say (see priority_unknown)")
    return lines
