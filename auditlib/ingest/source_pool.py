"""Sources read at once: a bounded pool in which each job (one engine, one registry repository,
one archive, one Dockerfile) has its own deadline and its own failure.

A job that passes its deadline gives its place to the next job at once; its thread is left to
end on its own (each collector bounds its own sockets, so it does: the pool only stops waiting
for it). Threads are daemons, so a source that never answers never keeps the program alive.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")

DEFAULT_WORKERS = 32
"""Sources read at once. Engines and registry repositories spend nearly all their time waiting
on the network (a repository of a few tags is a dozen round trips and a few ms of CPU), so the
bound is set by how many waits are worth overlapping, not by the cores: with 8, a fleet of 24
sources of 0.3 s each queued for 3 rounds even with the CPU idle. 32 threads cost a little
memory each; archives and Dockerfiles, which do use the CPU and memory, stay one at a time (the
`LOCAL` group of `auditlib.ingest.collect`). Configurable per run (`CollectRequest.workers`,
an inventory's `workers:`)."""


@dataclass(frozen=True, slots=True)
class Job(Generic[T]):
    """One source to read."""

    name: str
    """The source as shown to the user (an engine URL without password, `host/repo`, a path)."""
    run: Callable[[], T]
    """Reads the source; what it raises is that source's failure only."""
    deadline: float | None
    """Seconds the source may take from its start; None: no deadline."""
    group: str = ""
    """Jobs of one group share `run_jobs`' `group_limits` (archives: their memory bound holds
    for one archive at a time)."""


@dataclass(frozen=True, slots=True)
class Overdue:
    """A job that had not finished at its deadline."""

    deadline: float


@dataclass(frozen=True, slots=True)
class Failed:
    """A job that raised."""

    error: BaseException


@runtime_checkable
class SourceProgress(Protocol):
    """What a progress display is told about each source (called from worker threads)."""

    def started(self, source: str) -> None:
        """`source` is being read."""

    def advanced(self, source: str, item: str) -> None:
        """One thing of `source` (an image, a container, a tag) has been read."""

    def finished(self, source: str, error: str | None) -> None:
        """`source` is done: `error` is why it failed or went past its deadline, else None."""


def run_jobs(
    jobs: Sequence[Job[T]],
    *,
    workers: int = DEFAULT_WORKERS,
    progress: SourceProgress | None = None,
    describe: Callable[[T], str | None] | None = None,
    group_limits: Mapping[str, int] | None = None,
) -> list[T | Overdue | Failed]:
    """Run `jobs`, at most `workers` at once, each until its deadline.

    Args:
        jobs: the sources to read.
        workers: how many run at once (a job past its deadline no longer counts).
        progress: told when each job starts and finishes.
        describe: returns the error of a finished job's result to show in `progress` (None
            when it succeeded).
        group_limits: how many jobs of a group may run at once (within `workers`).

    Returns:
        One entry per job, in the order of `jobs` (whatever order they finish in): its result,
        `Overdue` when it passed its deadline, or `Failed` with what it raised.

    Raises:
        ValueError: if `workers` is below 1.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    results: list[T | Overdue | Failed | None] = [None] * len(jobs)
    done: queue.SimpleQueue[tuple[int, T | Failed]] = queue.SimpleQueue()
    running: dict[int, float] = {}  # job index -> when its deadline falls (monotonic)
    waiting = list(range(len(jobs)))[::-1]

    def work(i: int) -> None:
        try:
            out: T | Failed = jobs[i].run()
        except BaseException as e:  # noqa: BLE001 - a source's failure is its own
            out = Failed(e)
        done.put((i, out))

    def start(i: int) -> None:
        job = jobs[i]
        running[i] = time.monotonic() + job.deadline if job.deadline is not None else float("inf")
        if progress is not None:
            progress.started(job.name)
        threading.Thread(target=work, args=(i,), name=f"source-{i}", daemon=True).start()

    def finish(i: int, out: T | Overdue | Failed) -> None:
        results[i] = out
        running.pop(i, None)
        if progress is None:
            return
        if isinstance(out, Overdue):
            progress.finished(jobs[i].name, f"no answer within {out.deadline:g} s")
        elif isinstance(out, Failed):
            progress.finished(jobs[i].name, str(out.error) or type(out.error).__name__)
        else:
            progress.finished(jobs[i].name, describe(out) if describe is not None else None)

    limits = group_limits or {}

    def may_start(i: int) -> bool:
        group = jobs[i].group
        if group not in limits:
            return True
        return sum(1 for j in running if jobs[j].group == group) < limits[group]

    while waiting or running:
        while len(running) < workers:
            ready = next((i for i in reversed(waiting) if may_start(i)), None)
            if ready is None:
                break
            waiting.remove(ready)
            start(ready)
        soonest = min(running.values())
        try:
            i, out = done.get(timeout=max(0.0, soonest - time.monotonic())
                              if soonest != float("inf") else None)
        except queue.Empty:
            now = time.monotonic()
            for late in [j for j, due in running.items() if due <= now]:
                finish(late, Overdue(float(jobs[late].deadline or 0)))
            continue
        if i in running:  # else: it answered after its deadline, and was counted overdue
            finish(i, out)
    return [r for r in results if r is not None]


__all__ = ["DEFAULT_WORKERS", "Failed", "Job", "Overdue", "SourceProgress", "run_jobs"]
