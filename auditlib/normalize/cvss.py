"""Pick one CVSS score per vulnerability from the several a scanner may give."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CvssScore:
    """One CVSS score as a scanner reported it."""

    score: float | None
    """The base score, 0.0 to 10.0."""
    vector: str | None
    """The vector string (`CVSS:3.1/AV:N/...`, or a bare v2 vector)."""
    version: str | None
    """`2.0`, `3.0`, `3.1` or `4.0`; read from the vector when the scanner does not say."""
    source: str | None
    """Who scored it: `nvd`, `redhat`, `ghsa`, a distro, ..."""


def cvss_version(vector: str | None, declared: str | None = None) -> str | None:
    """Return the CVSS version of a vector.

    Args:
        vector: the vector string; `CVSS:3.1/...` and `CVSS:4.0/...` name their version, a bare
            `AV:N/AC:L/Au:N/...` vector is CVSS 2.0.
        declared: the version the scanner declared, used when the vector does not tell.

    Returns:
        The version as `"2.0"`, `"3.0"`, `"3.1"`, `"4.0"`, or None when unknown.
    """
    if vector and vector.startswith("CVSS:"):
        return vector[5:].split("/", 1)[0]
    if vector and "Au:" in vector:
        return "2.0"
    if declared:
        d = declared.strip().lower().removeprefix("cvss").removeprefix("v").strip(":")
        return {"2": "2.0", "3": "3.0", "4": "4.0"}.get(d, d) or None
    return None


def _version_rank(version: str | None) -> float:
    try:
        return float(version) if version else 0.0
    except ValueError:
        return 0.0


def best_cvss(scores: list[CvssScore], prefer_source: str | None = None) -> CvssScore | None:
    """Return the score auditlib reports as the vulnerability's CVSS.

    The newest CVSS version wins; among scores of that version, the source the scanner took its
    severity from (`prefer_source`), then NVD, then the highest score.

    Args:
        scores: every score the scanner gave (scores with neither score nor vector are ignored).
        prefer_source: the scanner's severity source (Trivy `SeveritySource`), if any.

    Returns:
        The chosen score, or None when there is none.
    """
    usable = [s for s in scores if s.score is not None or s.vector]
    if not usable:
        return None

    def rank(s: CvssScore) -> tuple[float, int, int, float]:
        return (
            _version_rank(s.version),
            int(prefer_source is not None and s.source == prefer_source),
            int(s.source == "nvd"),
            s.score if s.score is not None else -1.0,
        )

    return max(usable, key=rank)
