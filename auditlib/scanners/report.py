"""What `run_scans` reports: what became of each (target, tool) job, what the outputs could not
cover, and the outputs to ingest."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from auditlib.scanners.limits import Limitation


class JobStatus(StrEnum):
    """What became of one (target, tool) job."""

    RAN = "ran"
    SKIPPED = "skipped"
    """Its output was already in the store."""
    FAILED = "failed"
    MISSING = "missing"
    """The tool is not installed."""


@dataclass(frozen=True, slots=True)
class JobResult:
    """One (target, tool) job."""

    target: str
    """The target, as messages name it."""
    tool: str
    status: JobStatus
    tool_version: str | None = None
    raw_file: Path | None = None
    """The output in the store (ran or skipped), to ingest."""
    reason: str | None = None
    """Why it failed, or that the tool is missing: one message naming tool and target."""
    seconds: float = 0.0
    limitation: Limitation | None = None
    """What its output (ran, or already made) was meant to cover and does not, and why."""


@dataclass(slots=True)
class ScanReport:
    """What `run_scans` did, job by job, in the order of the targets and tools."""

    jobs: list[JobResult] = field(default_factory=list)
    target_errors: list[str] = field(default_factory=list)
    """Targets that could not be read at all (each also fails its jobs)."""
    notes: list[str] = field(default_factory=list)
    """Things worth saying that are not failures (a target given twice)."""

    def count(self, status: JobStatus) -> int:
        """Return how many jobs ended with `status`."""
        return sum(1 for j in self.jobs if j.status is status)

    @property
    def raw_files(self) -> list[Path]:
        """Return the outputs of the jobs that ran or were skipped: what to ingest."""
        files = (j.raw_file for j in self.jobs if j.status in (JobStatus.RAN, JobStatus.SKIPPED))
        return list(dict.fromkeys(f for f in files if f is not None))

    @property
    def messages(self) -> list[str]:
        """Return one message per missing tool and per failure, without repeats."""
        reasons = (j.reason for j in self.jobs if j.status in (JobStatus.FAILED, JobStatus.MISSING))
        return list(dict.fromkeys(r for r in reasons if r))

    @property
    def limitations(self) -> list[str]:
        """Return one line per distinct limitation of the outputs (ran or already made): what a
        tool could not do and why (`Limitation.message`)."""
        lines = (j.limitation.message for j in self.jobs
                 if j.limitation is not None and j.status in (JobStatus.RAN, JobStatus.SKIPPED))
        return list(dict.fromkeys(lines))

    @property
    def nothing_done(self) -> bool:
        """Return whether there were jobs but none ran or was skipped (all failed or missing)."""
        return bool(self.jobs) and not self.raw_files

    def summary(self) -> str:
        """Return `N ran, N skipped (already done), N failed, N tool missing`."""
        return (
            f"{self.count(JobStatus.RAN)} ran, {self.count(JobStatus.SKIPPED)} skipped "
            f"(already done), {self.count(JobStatus.FAILED)} failed, "
            f"{self.count(JobStatus.MISSING)} tool missing"
        )
