"""What a scanner run covers, in one vocabulary: `CAPABILITIES` (a package list, and Trivy's
`--scanners` names), the words of `scans.scanners_run` and `scans.scanners_skipped` and of the run
record `auditlib scan` keeps beside each output; and the one line that says what a run could not
do (`limitation_line`).

A run record is untrusted input like any file in the store: `record_covered` and
`record_skipped` read it and keep only what they know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

CAPABILITIES: tuple[str, ...] = ("packages", "vuln", "license", "secret", "misconfig")
"""What a scanner run can cover, in the order they are listed: a package list, then Trivy's
`--scanners` names (vulnerabilities, licences, secrets, misconfigurations)."""

_PLURAL = {"packages": "packages", "vuln": "vulnerabilities", "license": "licences",
           "secret": "secrets", "misconfig": "misconfigurations"}
_SINGULAR = {"packages": "package", "vuln": "vulnerability", "license": "licence",
             "secret": "secret", "misconfig": "misconfiguration"}


def ordered(names: Iterable[str]) -> tuple[str, ...]:
    """Return the known capabilities among `names`, in `CAPABILITIES` order."""
    given = set(names)
    return tuple(c for c in CAPABILITIES if c in given)


def capability_list(names: Iterable[str]) -> str | None:
    """Return capabilities as a `scans` column holds them: known names only, comma-separated in
    `CAPABILITIES` order (`license,misconfig,secret`); None when there are none."""
    return ",".join(ordered(names)) or None


def capabilities_of(value: Any) -> tuple[str, ...]:
    """Return the capabilities of a `scans.scanners_run` or `scanners_skipped` value (missing:
    none), in `CAPABILITIES` order."""
    if value is None or pd.isna(value):
        return ()
    return ordered(v.strip() for v in str(value).split(","))


def _words(names: Iterable[str], words: dict[str, str]) -> str:
    said = [words[c] for c in ordered(names)]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]


def limitation_line(tool: str, reason: str, done: Iterable[str], skipped: Iterable[str]) -> str:
    """Return the one line that says what a scanner run could not do and why: `trivy: no
    vulnerability database (offline): images scanned for packages, licences, secrets and
    misconfigurations only; no vulnerability scan`."""
    done_ = ordered(done)
    scanned = f"images scanned for {_words(done_, _PLURAL)} only" if done_ else "nothing scanned"
    missing = "; ".join(f"no {_SINGULAR[c]} scan" for c in ordered(skipped))
    return f"{tool}: {reason}: {scanned}" + (f"; {missing}" if missing else "")


def _names(value: Any) -> tuple[str, ...] | None:
    """Return a record's list of capabilities (known ones, in order), or None when `value` is
    not a list of strings."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return ordered(value)


def record_covered(record: Mapping[str, Any]) -> tuple[str, ...] | None:
    """Return what the run of a run record covered, or None when the record does not say.

    A record written before `scanners_run` was kept says it only for Trivy, by its `options`
    (the `--scanners` it ran; its JSON report lists the packages in any case).
    """
    run = _names(record.get("scanners_run"))
    if run is not None:
        return run
    options = _names(record.get("options"))
    if record.get("tool") == "trivy" and options is not None:
        return ordered({"packages", *options})
    return None


def record_skipped(record: Mapping[str, Any]) -> tuple[tuple[str, ...], str | None]:
    """Return what the run of a run record was meant to cover and could not (empty when
    nothing, or the record does not say), and why (None when it does not say)."""
    skipped = _names(record.get("scanners_skipped")) or ()
    reason = record.get("skipped_reason")
    return skipped, reason if isinstance(reason, str) and reason else None
