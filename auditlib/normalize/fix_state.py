"""Fix state on one scale: `fixed`, `not-fixed`, `wont-fix`, `unknown` (anchors.md section 10)."""

from __future__ import annotations

FIX_STATES: tuple[str, ...] = ("fixed", "not-fixed", "wont-fix", "unknown")
"""The values of every `fix_state` column."""

# Trivy's eight statuses (docs/guide/configuration/filtering.md). `end_of_life` and `fix_deferred`
# mean no fix will come for this release, like Grype's `not-fixed`; `will_not_fix` is an explicit
# no.
_TRIVY: dict[str, str] = {
    "fixed": "fixed",
    "affected": "not-fixed",
    "fix_deferred": "not-fixed",
    "end_of_life": "not-fixed",
    "will_not_fix": "wont-fix",
    "not_affected": "unknown",
    "under_investigation": "unknown",
    "unknown": "unknown",
}

_GRYPE: dict[str, str] = {
    "fixed": "fixed",
    "not-fixed": "not-fixed",
    "wont-fix": "wont-fix",
    "unknown": "unknown",
}


def fix_state_from_trivy(status: str | None, fixed_version: str | None) -> str:
    """Return the fix state of a Trivy vulnerability.

    Args:
        status: Trivy's `Status` (absent before Trivy 0.34).
        fixed_version: Trivy's `FixedVersion`; without a status, a non-empty one means fixed.

    Returns:
        One of `FIX_STATES`.
    """
    if status:
        return _TRIVY.get(status.strip().lower(), "unknown")
    return "fixed" if fixed_version else "not-fixed"


def fix_state_from_grype(state: str | None, versions: list[str] | None) -> str:
    """Return the fix state of a Grype match.

    Args:
        state: Grype's `fix.state` (`fixed`, `not-fixed`, `wont-fix`, `unknown`; older releases
            wrote "").
        versions: Grype's `fix.versions`; with no state, a non-empty list means fixed.

    Returns:
        One of `FIX_STATES`.
    """
    if state:
        return _GRYPE.get(state.strip().lower(), "unknown")
    return "fixed" if versions else "unknown"
