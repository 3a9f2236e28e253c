"""The assessment's figures in one line each, as `run` and `demo` print them: counts say over
which images they were counted, and what the data does not say is said (never a zero)."""

from __future__ import annotations

from typing import Any

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
