"""One ordered severity scale for every tool (anchors.md section 10)."""

from __future__ import annotations

import pandas as pd

SEVERITIES: tuple[str, ...] = ("unknown", "negligible", "low", "medium", "high", "critical")
"""The auditlib severity scale, lowest first."""

SEVERITY_DTYPE = pd.CategoricalDtype(list(SEVERITIES), ordered=True)
"""The pandas dtype of every `severity` column."""

_ALIASES: dict[str, str] = {
    **{s: s for s in SEVERITIES},
    "unspecified": "unknown",  # Docker Scout
    "none": "unknown",
    "info": "negligible",  # DefectDojo, Dockle INFO, SARIF note
    "informational": "negligible",
    "note": "low",  # SARIF level
    "warning": "medium",  # SARIF level / hadolint
    "warn": "medium",  # Dockle WARN
    "error": "high",  # SARIF level / hadolint
    "fatal": "critical",  # Dockle FATAL
    "moderate": "medium",  # GitHub advisories
    "important": "high",  # Red Hat
    "style": "negligible",  # hadolint
    "ignore": "negligible",
    "pass": "negligible",  # Dockle PASS
    "skip": "negligible",
}


def normalize_severity(value: object) -> str:
    """Map any tool's severity word to the auditlib scale.

    Args:
        value: the severity as the tool wrote it (`"HIGH"`, `"High"`, `"critical"`, `"Negligible"`,
            ...).

    Returns:
        One of `SEVERITIES`; `"unknown"` for a missing or unrecognised value.
    """
    if not isinstance(value, str):
        return "unknown"
    return _ALIASES.get(value.strip().lower(), "unknown")


def severity_from_score(score: float | None) -> str:
    """Return the CVSS v3 qualitative rating of a base score (`"unknown"` when there is none).

    Args:
        score: a CVSS base score from 0.0 to 10.0.
    """
    if score is None:
        return "unknown"
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0.0:
        return "low"
    return "negligible"
