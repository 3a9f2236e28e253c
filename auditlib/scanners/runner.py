"""`run_scans`: run the scanners on images and Dockerfiles, and keep what they write.

One (target, tool) pair is one job. Jobs run in parallel on a bounded pool of threads, each
starting one scanner process with a timeout. A job whose output is already in the store (same
target, same tool version, covering the same options) is skipped unless `force`. Nothing stops
the other jobs: a tool that is not installed is reported once, a failing run with its tool,
target, exit code and the end of its stderr, and a run that fails never leaves an output behind.

What a tool cannot do here is left out of its runs rather than failing them, and said: each
output's run record lists what the run covered and what it was meant to cover and could not, with
why (`auditlib.scanners.limits`), and the report gives one line per such limitation. Trivy without
its vulnerability database is the case: its runs leave out `vuln`, known before they start by
`trivy version`, or, when a run fails on the database all the same, made again without it
(`auditlib.scanners._trivy_db`).

The targets (`auditlib.scanners.targets`) are image archives, images on a Docker Engine (exported
into the store's scratch folder, scanned, and deleted) and Dockerfiles; what became of each job is
said by the report (`auditlib.scanners.report`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditlib.normalize.capabilities import record_covered
from auditlib.scanners._scanner_process import ScannerFailedError, run_scanner
from auditlib.scanners.limits import Limitation, limitation_from_record, record_fields
from auditlib.scanners.raw_store import RawStore
from auditlib.scanners.report import JobResult, JobStatus, ScanReport
from auditlib.scanners.targets import (
    EngineImage,
    Target,
    export_engine_image,
    target_key,
    target_kinds,
)
from auditlib.scanners.tools import (
    TOOLS,
    Options,
    ScanSettings,
    TargetError,
    TargetKind,
    Tool,
    ToolError,
    ToolInfo,
    get_tools,
)

ProgressCallback = Callable[[int, int, JobResult | None], None]
"""Called with (jobs done, jobs in all, the job just done): once when the jobs are planned (with
None), then after each job."""


# --- running -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Resolved:
    """A target whose key is known; for an engine image, also its export, made once."""

    target: Target
    kind: TargetKind
    key: str
    source: Path | None
    """What the scanners read; for an engine image, the export once made."""
    users: int = 0
    """Jobs still to run on it: the last one deletes an export."""
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, raw: RawStore) -> Path:
        """Return the file the scanners read, exporting an engine image on first use.

        Raises:
            TargetError: if the engine image cannot be exported (then for every job of it).
        """
        with self.lock:
            if self.error is not None:
                raise TargetError(self.error)
            if self.source is None:
                assert isinstance(self.target, EngineImage)
                try:
                    self.source = export_engine_image(self.target, raw.temp_folder())
                except (TargetError, OSError) as e:
                    self.error = str(e)
                    raise TargetError(self.error) from e
            return self.source

    def release(self) -> None:
        """Say one job is done; delete an engine export after the last."""
        with self.lock:
            self.users -= 1
            if self.users <= 0 and isinstance(self.target, EngineImage) and self.source:
                self.source.unlink(missing_ok=True)
                self.source = None


@dataclass(frozen=True, slots=True)
class _Ready:
    """A tool found and usable: its version, the options its runs take under the settings, and
    what the settings ask that it cannot do here."""

    info: ToolInfo
    options: Options
    shortfall: Limitation | None


@dataclass(slots=True)
class _Job:
    """One (target, tool) job to run; `index` is its place among the report's jobs."""

    index: int
    target: _Resolved
    tool: Tool
    ready: _Ready
    output: Path


def _resolve(target: Target) -> _Resolved:
    """Return the target with its key. Raises TargetError if it cannot be read at all."""
    return _Resolved(target, *target_key(target))


def _scan(job: _Job, source: Path, out: Path, settings: ScanSettings
          ) -> tuple[list[str], int, Options, Limitation | None]:
    """Run the job's scanner once, or, when the tool says a failure is one a smaller run avoids
    (`Tool.retry`), once more with fewer options.

    Returns:
        The command line run, its exit code, the options it ran with, and what it left out.

    Raises:
        ScannerFailedError: if the run failed (the smaller one, when there was one).
    """
    ready, label = job.ready, job.target.target.label
    try:
        argv, code = run_scanner(job.tool, ready.info, job.target.kind, source, ready.options,
                                 out, timeout=settings.timeout, label=label)
        return argv, code, ready.options, ready.shortfall
    except ScannerFailedError as e:
        smaller = job.tool.retry(ready.options, e.stderr)
        if smaller is None:
            raise
    options, limitation = smaller
    argv, code = run_scanner(job.tool, ready.info, job.target.kind, source, options, out,
                             timeout=settings.timeout, label=label)
    return argv, code, options, limitation


def _run_job(job: _Job, raw: RawStore, settings: ScanSettings) -> JobResult:
    """Run one job; never raises for a failing tool or target."""
    label, tool, info = job.target.target.label, job.tool.name, job.ready.info
    started = datetime.now(UTC)
    clock = time.monotonic()
    limitation: Limitation | None = None

    def result(status: JobStatus, reason: str | None = None) -> JobResult:
        return JobResult(
            label, tool, status, info.version,
            job.output if status is JobStatus.RAN else None,
            reason, time.monotonic() - clock, limitation,
        )

    try:
        source = job.target.acquire(raw)
        with raw.writing(job.output) as pending:
            argv, code, options, limitation = _scan(job, source, pending.temp, settings)
            pending.record.update(
                tool=tool,
                tool_version=info.version,
                format=job.tool.kind,
                target=label,
                target_kind=str(job.target.kind),
                key=job.target.key,
                options=sorted(options),
                **record_fields(job.tool.covers(options), limitation),
                argv=[a.replace(str(pending.temp), str(job.output)) for a in argv],
                exit_code=code,
                started_at=started.isoformat(),
                seconds=round(time.monotonic() - clock, 3),
            )
    except (ScannerFailedError, TargetError) as e:
        return result(JobStatus.FAILED, str(e))
    except OSError as e:
        return result(JobStatus.FAILED, f"{tool} on {label}: cannot write its output: {e}")
    except Exception as e:  # noqa: BLE001 - one job's bug must never stop the others
        return result(JobStatus.FAILED, f"{tool} on {label}: unexpected {type(e).__name__}: {e}")
    finally:
        job.target.release()
    return result(JobStatus.RAN)


def _probe(tools: Iterable[Tool], settings: ScanSettings) -> dict[str, _Ready | JobResult]:
    """Find each tool, read its version and settle its options; a missing or unusable one maps
    to the result its jobs get (with an empty target, filled per job)."""
    found: dict[str, _Ready | JobResult] = {}
    for tool in tools:
        path = tool.find()
        if path is None:
            found[tool.name] = JobResult("", tool.name, JobStatus.MISSING,
                                         reason=tool.missing_message())
            continue
        try:
            info = tool.probe(path)
            # Raises when the tool can do none of what the settings ask.
            options = tool.options(info, settings)
        except ToolError as e:
            found[tool.name] = JobResult("", tool.name, JobStatus.FAILED, reason=str(e))
            continue
        found[tool.name] = _Ready(info, options, tool.shortfall(info, settings))
    return found


def run_scans(
    targets: Sequence[Target],
    store: str | os.PathLike[str],
    *,
    tools: Sequence[str] | None = None,
    workers: int = 2,
    progress: ProgressCallback | None = None,
    force: bool = False,
    settings: ScanSettings | None = None,
) -> ScanReport:
    """Run the scanners on the targets and keep their raw outputs in the store.

    Image targets are scanned by syft, trivy and grype, Dockerfiles by hadolint (those of them in
    `tools`). Each (target, tool) pair is one job; up to `workers` run at once.

    Args:
        targets: image archives, engine images and Dockerfiles.
        store: the store folder; outputs go to `STORE/raw/...` (see `raw_store`).
        tools: the tools to run, by name; None runs every known tool (a tool that is not
            installed is reported as missing, once).
        workers: jobs run at once.
        progress: called as the jobs are planned and done (see `ProgressCallback`).
        force: run jobs whose output is already in the store.
        settings: what the scans cover and their timeout; None takes the defaults.

    Returns:
        The report: per job, ran / skipped / failed (why) / tool missing, and what its output
        could not cover (`JobResult.limitation`, one line each in `ScanReport.limitations`), and
        the outputs to ingest (`ScanReport.raw_files`). A failing tool or unreadable target
        never raises, nor does a tool that cannot do all it is asked (Trivy without its
        vulnerability database runs its other scanners).

    Raises:
        ValueError: if a tool name is unknown or `workers` is less than 1.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    chosen = get_tools(list(tools) if tools is not None else None)
    settings = settings or ScanSettings()
    raw = RawStore(store)
    needed: set[TargetKind] = set()
    for t in targets:
        needed |= target_kinds(t)
    probed = _probe([t for t in chosen if t.targets & needed], settings)
    report = ScanReport()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="auditlib-scan") as pool:
        plan = _plan(targets, probed, raw, pool, force, report)
        results: list[JobResult | None] = [p if isinstance(p, JobResult) else None for p in plan]
        total, done = len(plan), sum(1 for r in results if r is not None)
        if progress is not None:
            progress(done, total, None)
        running = {
            pool.submit(_run_job, job, raw, settings): job
            for job in plan
            if isinstance(job, _Job)
        }
        try:
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = running.pop(future)
                    results[job.index] = future.result()
                    done += 1
                    if progress is not None:
                        progress(done, total, results[job.index])
        except BaseException:
            # Interrupted: drop the jobs not started (the running ones end on their own).
            for future, job in running.items():
                if future.cancel():
                    job.target.release()
            raise
    report.jobs = [r for r in results if r is not None]
    return report


def _lacking(record: dict[str, Any] | None, shortfall: Limitation | None) -> Limitation | None:
    """Return what an output made earlier (its run record) does not cover: what its run could
    not do, or else what the tool cannot do now when that output lacks it too (a record written
    before runs said what they skipped)."""
    had = limitation_from_record(record)
    if had is not None or shortfall is None:
        return had
    done = record_covered(record) if record is not None else None
    return None if done is not None and set(shortfall.skipped) <= set(done) else shortfall


def _plan(
    targets: Sequence[Target],
    probed: dict[str, _Ready | JobResult],
    raw: RawStore,
    pool: ThreadPoolExecutor,
    force: bool,
    report: ScanReport,
) -> list[JobResult | _Job]:
    """Return, per target and tool, the result already known (tool missing or unusable, target
    unreadable, output already made) or the job to run. Adds unreadable targets and repeated ones
    to `report`."""

    def usable(target: Target) -> list[Tool]:
        return [TOOLS[name] for name in probed if TOOLS[name].targets & target_kinds(target)]

    # Reading archives' configs and inspecting engine images, in parallel too; only for targets
    # that some installed tool scans.
    resolving: dict[int, Future[_Resolved]] = {
        i: pool.submit(_resolve, t)
        for i, t in enumerate(targets)
        if any(isinstance(probed[u.name], _Ready) for u in usable(t))
    }
    plan: list[JobResult | _Job] = []
    first_of: dict[str, str] = {}
    for i, target in enumerate(targets):
        resolved: _Resolved | None = None
        error: str | None = None
        if i in resolving:
            try:
                resolved = resolving[i].result()
            except TargetError as e:
                error = str(e)
            except Exception as e:  # noqa: BLE001 - one target's trouble never stops the others
                error = f"{target.label}: unexpected {type(e).__name__} while reading it: {e}"
            if error is not None:
                report.target_errors.append(error)
        if resolved is not None:
            if resolved.key in first_of:
                report.notes.append(
                    f"{target.label}: same content as {first_of[resolved.key]}; scanned once"
                )
                continue
            first_of[resolved.key] = target.label
        for tool in usable(target):
            state = probed[tool.name]
            if isinstance(state, JobResult):  # missing or unusable: the same for every target
                plan.append(JobResult(target.label, tool.name, state.status, reason=state.reason))
            elif resolved is None:
                plan.append(
                    JobResult(target.label, tool.name, JobStatus.FAILED, state.info.version,
                              reason=error)
                )
            else:
                version = state.info.version
                output = raw.path(resolved.key, tool.output_name(version))
                if not force and raw.exists(output, state.options):
                    plan.append(
                        JobResult(target.label, tool.name, JobStatus.SKIPPED, version, output,
                                  limitation=_lacking(raw.read_record(output), state.shortfall))
                    )
                else:
                    resolved.users += 1
                    plan.append(_Job(len(plan), resolved, tool, state, output))
    return plan
