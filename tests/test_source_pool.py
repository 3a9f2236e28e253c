"""The pool that reads sources at once: results in the order given, a deadline per source, a
failure that stays with its source, and never more than `workers` running."""

from __future__ import annotations

import threading
import time

import pytest

from auditlib.ingest.source_pool import Failed, Job, Overdue, run_jobs


class Recorder:
    """A `SourceProgress` that keeps what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str | None]] = []
        self.lock = threading.Lock()

    def started(self, source: str) -> None:
        with self.lock:
            self.events.append(("started", source, None))

    def advanced(self, source: str, item: str) -> None:
        with self.lock:
            self.events.append(("advanced", source, item))

    def finished(self, source: str, error: str | None) -> None:
        with self.lock:
            self.events.append(("finished", source, error))


def test_results_come_in_the_order_given_whatever_order_they_finish_in() -> None:
    def after(seconds: float, value: str) -> Job[str]:
        return Job(value, lambda: time.sleep(seconds) or value, deadline=10)

    jobs = [after(0.3, "slow"), after(0.0, "fast"), after(0.1, "middle")]
    assert run_jobs(jobs, workers=3) == ["slow", "fast", "middle"]


def test_a_job_past_its_deadline_is_overdue_and_the_others_finish() -> None:
    never = threading.Event()
    rec = Recorder()
    jobs = [
        Job("hangs", lambda: never.wait(60) and "late", deadline=0.3),
        Job("quick", lambda: "ok", deadline=5),
    ]
    t0 = time.monotonic()
    out = run_jobs(jobs, workers=2, progress=rec)
    took = time.monotonic() - t0
    never.set()
    assert out[0] == Overdue(0.3)
    assert out[1] == "ok"
    assert took < 5, "the pool waited for the job past its deadline"
    assert ("finished", "hangs", "no answer within 0.3 s") in rec.events
    assert ("finished", "quick", None) in rec.events


def test_an_overdue_job_frees_its_place() -> None:
    """With one worker, a job that hangs does not hold the ones after it past its deadline."""
    never = threading.Event()
    jobs = [Job("hangs", lambda: never.wait(60), deadline=0.2),
            Job("next", lambda: "ran", deadline=5)]
    t0 = time.monotonic()
    out = run_jobs(jobs, workers=1)
    never.set()
    assert out == [Overdue(0.2), "ran"]
    assert time.monotonic() - t0 < 5


def test_a_failure_stays_with_its_job() -> None:
    def boom() -> str:
        raise RuntimeError("engine on fire")

    rec = Recorder()
    out = run_jobs([Job("a", boom, None), Job("b", lambda: "fine", None)], progress=rec)
    assert isinstance(out[0], Failed) and str(out[0].error) == "engine on fire"
    assert out[1] == "fine"
    assert ("finished", "a", "engine on fire") in rec.events


def test_never_more_than_workers_at_once() -> None:
    lock = threading.Lock()
    running = peak = 0

    def job() -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return 1

    out = run_jobs([Job(str(i), job, 5) for i in range(12)], workers=3)
    assert out == [1] * 12
    assert peak == 3


def test_describe_names_a_result_that_is_a_failure() -> None:
    rec = Recorder()
    run_jobs([Job("src", lambda: "bad", None)], progress=rec,
             describe=lambda r: "it was bad" if r == "bad" else None)
    assert rec.events == [("started", "src", None), ("finished", "src", "it was bad")]


def test_workers_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="workers must be at least 1"):
        run_jobs([], workers=0)


def test_a_group_limit_holds_within_the_workers() -> None:
    lock = threading.Lock()
    running: dict[str, int] = {"local": 0, "": 0}
    peak: dict[str, int] = {"local": 0, "": 0}

    def job(group: str) -> Job[str]:
        def run() -> str:
            with lock:
                running[group] += 1
                peak[group] = max(peak[group], running[group])
            time.sleep(0.05)
            with lock:
                running[group] -= 1
            return group

        return Job(group or "net", run, 5, group)

    jobs = [job("local") for _ in range(4)] + [job("") for _ in range(4)]
    out = run_jobs(jobs, workers=4, group_limits={"local": 1})
    assert out == ["local"] * 4 + [""] * 4
    assert peak == {"local": 1, "": 3}
