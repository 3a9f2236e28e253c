"""What a scanner run could not do (`Limitation`): the tools' declarations say it
(`auditlib.scanners.tools`), the runner keeps it in each output's run record (`record_fields`) and
reports it, and ingest reads it back (`auditlib.ingest.run_record`). The words are
`auditlib.normalize.capabilities.CAPABILITIES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from auditlib.normalize.capabilities import (
    limitation_line,
    ordered,
    record_covered,
    record_skipped,
)


@dataclass(frozen=True, slots=True)
class Limitation:
    """What one scanner run was meant to cover and did not, and why."""

    tool: str
    done: tuple[str, ...]
    """What the run covered (`CAPABILITIES` words, in their order)."""
    skipped: tuple[str, ...]
    """What it was meant to cover and did not."""
    reason: str
    """Why, in one phrase: `no vulnerability database (offline)`."""

    @property
    def message(self) -> str:
        """Return the one line a user reads (`limitation_line`)."""
        return limitation_line(self.tool, self.reason, self.done, self.skipped)


def record_fields(done: Iterable[str], limitation: Limitation | None) -> dict[str, Any]:
    """Return the run record's keys that say what a run covered, what it skipped, and why."""
    out: dict[str, Any] = {"scanners_run": list(ordered(done))}
    if limitation is not None:
        out["scanners_skipped"] = list(limitation.skipped)
        out["skipped_reason"] = limitation.reason
    return out


def limitation_from_record(record: Mapping[str, Any] | None) -> Limitation | None:
    """Return what the run of a run record could not do; None when it did all it was meant to,
    or the record does not say."""
    if record is None:
        return None
    done = record_covered(record)
    skipped, reason = record_skipped(record)
    if not skipped or done is None:
        return None
    return Limitation(str(record.get("tool") or "scanner"), done, skipped, reason or "not run")
