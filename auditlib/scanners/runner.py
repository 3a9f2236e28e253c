"""`run_scans`: run the scanners on images and Dockerfiles, and keep what they write.

One (target, tool) pair is one job. Jobs run in parallel on a bounded pool of threads, each
starting one scanner process with a timeout. A job whose output is already in the store (same
target, same tool version, covering the same options) is skipped unless `force`. Nothing stops
the other jobs: a tool that is not installed is reported once, a failing run with its tool,
target, exit code and the end of its stderr, and a run that fails never leaves an output behind.

Targets are image archives (`docker save` tarballs, or OCI layouts in a tarball), images on a
Docker Engine (exported with `docker save` into the store's scratch folder, scanned, and deleted),
and Dockerfiles. Images are keyed by their id (the config digest), Dockerfiles by their content.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from auditlib.scanners.raw_store import RawStore, dockerfile_key, image_key
from auditlib.scanners.tools import (
    IMAGE_KINDS,
    TOOLS,
    Options,
    ScanError,
    ScanSettings,
    TargetError,
    TargetKind,
    Tool,
    ToolError,
    ToolInfo,
    environment,
    get_tools,
    last_lines,
)

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
"""Where the docker SDK looks for the engine when DOCKER_HOST is not set."""

MAX_CONFIG_BYTES = 64 * 1024**2
"""Image configs and manifests larger than this are refused when an archive is read."""


class EngineUnreachableError(ScanError):
    """The Docker Engine cannot be reached (not running, no permission, bad address)."""


# --- targets -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageArchive:
    """A `docker save` tarball (or an OCI image layout in a tarball) holding one image."""

    path: Path

    @property
    def label(self) -> str:
        """Return how messages name the target."""
        return str(self.path)


@dataclass(frozen=True, slots=True)
class EngineImage:
    """An image on a Docker Engine."""

    ref: str
    """A reference (`nginx:1.27`) or an id, as `docker image inspect` takes it."""
    client: Any = field(compare=False, repr=False)
    """The `docker.DockerClient` of the engine."""
    engine: str = DEFAULT_DOCKER_HOST
    """The engine's address, for messages."""

    @property
    def label(self) -> str:
        """Return how messages name the target."""
        return self.ref


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """A Dockerfile."""

    path: Path

    @property
    def label(self) -> str:
        """Return how messages name the target."""
        return str(self.path)


Target = ImageArchive | EngineImage | Dockerfile


def read_archive_image_id(path: Path) -> tuple[TargetKind, str]:
    """Return the kind of an image archive and the id of the one image in it.

    A `docker save` tarball names its image config in `manifest.json`; the id is the sha256 of
    the config's bytes. An OCI layout (`index.json`, no `manifest.json`) names its manifest, whose
    `config.digest` is the id. Compressed tarballs are read too. Nothing is extracted to disk.

    Returns:
        `TargetKind.DOCKER_ARCHIVE` or `TargetKind.OCI_ARCHIVE`, and `sha256:` + 64 hex digits.

    Raises:
        TargetError: if the file cannot be read, is not an image archive, or holds other than one
            image.
    """
    try:
        with tarfile.open(path, "r:*") as tar:
            names = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}

            def member(name: str) -> bytes:
                info = names.get(name)
                if info is None:
                    raise TargetError(f"{path}: {name} is named but not in the archive")
                if info.size > MAX_CONFIG_BYTES:
                    raise TargetError(f"{path}: {name} is too large to be an image config")
                f = tar.extractfile(info)
                if f is None:  # pragma: no cover - a regular file always has content
                    raise TargetError(f"{path}: {name} cannot be read")
                return f.read()

            if "manifest.json" in names:
                return TargetKind.DOCKER_ARCHIVE, _docker_config_id(path, member)
            if "index.json" in names:
                return TargetKind.OCI_ARCHIVE, _oci_config_id(path, member)
    except (tarfile.TarError, OSError, EOFError) as e:
        # tarfile's "could not be opened" error lists every compression it tried, one per line.
        why = str(e).splitlines()[0].rstrip(":") if str(e) else type(e).__name__
        raise TargetError(f"{path}: not a readable image archive (a tar file): {why}") from e
    raise TargetError(f"{path}: not an image archive (no manifest.json or index.json in it)")


def _json(path: Path, name: str, data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as e:
        raise TargetError(f"{path}: {name} is not JSON: {e}") from e


def _one(path: Path, items: Any, what: str) -> dict[str, Any]:
    if not isinstance(items, list) or not items:
        raise TargetError(f"{path}: {what} lists no image")
    if len(items) > 1:
        raise TargetError(
            f"{path}: the archive holds {len(items)} images; scan takes one image per archive "
            "(`docker save` each image to its own file)"
        )
    if not isinstance(items[0], dict):
        raise TargetError(f"{path}: {what} is not an image list")
    return items[0]


def _docker_config_id(path: Path, member: Callable[[str], bytes]) -> str:
    entry = _one(path, _json(path, "manifest.json", member("manifest.json")), "manifest.json")
    config = entry.get("Config")
    if not isinstance(config, str) or not config:
        raise TargetError(f"{path}: manifest.json names no image config")
    return "sha256:" + hashlib.sha256(member(config.removeprefix("./"))).hexdigest()


def _oci_config_id(path: Path, member: Callable[[str], bytes]) -> str:
    index = _json(path, "index.json", member("index.json"))
    desc = _one(path, index.get("manifests") if isinstance(index, dict) else None, "index.json")
    media = str(desc.get("mediaType", ""))
    if media.endswith(("image.index.v1+json", "manifest.list.v2+json")):
        raise TargetError(
            f"{path}: a multi-platform OCI archive; save one platform (`docker save --platform`)"
        )
    digest = str(desc.get("digest", ""))
    manifest = _json(path, digest, member("blobs/" + digest.replace(":", "/", 1)))
    config = manifest.get("config") if isinstance(manifest, dict) else None
    config_digest = config.get("digest") if isinstance(config, dict) else None
    if not isinstance(config_digest, str):
        raise TargetError(f"{path}: the image manifest names no config")
    try:
        image_key(config_digest)
    except ValueError as e:
        raise TargetError(f"{path}: {e}") from e
    return config_digest


# --- the Docker Engine ---------------------------------------------------------------------


def connect_engine(url: str | None = None, *, timeout: int = 120) -> tuple[Any, str]:
    """Connect to a Docker Engine and check that it answers.

    Args:
        url: the engine's address (`unix:///var/run/docker.sock`, `tcp://host:2376`,
            `ssh://user@host`); None reads DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)
            like the docker CLI.
        timeout: seconds one API call may take.

    Returns:
        The `docker.DockerClient` and the address it uses.

    Raises:
        EngineUnreachableError: with one line that says which engine and how to fix it.
    """
    import docker
    import requests

    address = url or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    try:
        client = (
            docker.DockerClient(base_url=url, timeout=timeout)
            if url
            else docker.from_env(timeout=timeout)
        )
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as e:
        raise EngineUnreachableError(engine_error_message(address, e)) from e
    return client, address


def engine_error_message(address: str, error: BaseException) -> str:
    """Return one line: why the engine at `address` cannot be reached, and what to do about it."""
    text = str(error)
    if "Permission denied" in text or "PermissionError" in text:
        why = "permission denied; add your user to the docker group or set DOCKER_HOST"
    elif "No such file" in text or "FileNotFoundError" in text:
        why = (
            "no engine socket there; start dockerd, or point DOCKER_HOST (or --engine) at a "
            "running engine"
        )
    elif "Connection refused" in text:
        why = "connection refused; start dockerd, or point DOCKER_HOST (or --engine) at it"
    else:
        why = f"{text}; check DOCKER_HOST (or --engine)"
    return f"cannot connect to the Docker Engine at {address}: {why}"


def tagged_images(client: Any, engine: str) -> list[EngineImage]:
    """Return every tagged image on the engine, one target per image (named by its first tag).

    Raises:
        EngineUnreachableError: if the engine stops answering.
    """
    import docker
    import requests

    try:
        rows = client.api.images()
    except (docker.errors.DockerException, requests.RequestException) as e:
        raise EngineUnreachableError(engine_error_message(engine, e)) from e
    found: list[EngineImage] = []
    for row in rows:
        tags = sorted(t for t in row.get("RepoTags") or [] if t and t != "<none>:<none>")
        if tags:
            found.append(EngineImage(tags[0], client, engine))
    return sorted(found, key=lambda t: t.ref)


def export_engine_image(target: EngineImage, folder: Path) -> Path:
    """Export an engine image with `docker save` into a new tarball under `folder`.

    Returns:
        The tarball (the caller deletes it).

    Raises:
        TargetError: if the image cannot be exported; no file is left then.
    """
    import docker
    import requests

    temp = folder / f"export-{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}.tar"
    try:
        image = target.client.images.get(target.ref)
        with temp.open("wb") as f:
            for chunk in image.save(named=True):
                f.write(chunk)
    except (docker.errors.DockerException, requests.RequestException, OSError) as e:
        temp.unlink(missing_ok=True)
        raise TargetError(
            f"{target.ref}: cannot export the image from the Docker Engine at {target.engine}: {e}"
        ) from e
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


# --- the report ----------------------------------------------------------------------------


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


ProgressCallback = Callable[[int, int, JobResult | None], None]
"""Called with (jobs done, jobs in all, the job just done): once when the jobs are planned (with
None), then after each job."""


# --- running -------------------------------------------------------------------------------


class _JobFailed(Exception):
    """A job failed; the message names tool, target and why."""


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


@dataclass(slots=True)
class _Job:
    index: int
    target: _Resolved
    tool: Tool
    info: ToolInfo
    options: Options
    output: Path


def _resolve(target: Target) -> _Resolved:
    """Return the target with its key. Raises TargetError if it cannot be read at all."""
    if isinstance(target, Dockerfile):
        try:
            content = target.path.read_bytes()
        except OSError as e:
            raise TargetError(f"{target.path}: cannot read: {e.strerror or e}") from e
        return _Resolved(target, TargetKind.DOCKERFILE, dockerfile_key(content), target.path)
    if isinstance(target, ImageArchive):
        kind, image_id = read_archive_image_id(target.path)
        return _Resolved(target, kind, image_key(image_id), target.path)
    import docker
    import requests

    try:
        image_id = target.client.images.get(target.ref).id
    except docker.errors.ImageNotFound as e:
        raise TargetError(
            f"{target.ref}: no such image on the Docker Engine at {target.engine}"
        ) from e
    except (docker.errors.DockerException, requests.RequestException) as e:
        raise TargetError(
            f"{target.ref}: cannot inspect the image on the Docker Engine at {target.engine}: {e}"
        ) from e
    try:
        key = image_key(str(image_id))
    except ValueError as e:
        raise TargetError(f"{target.ref}: {e}") from e
    return _Resolved(target, TargetKind.DOCKER_ARCHIVE, key, None)


def _kinds(target: Target) -> frozenset[TargetKind]:
    return frozenset({TargetKind.DOCKERFILE}) if isinstance(target, Dockerfile) else IMAGE_KINDS


def _check_json(path: Path) -> str | None:
    """Return what is wrong with a tool's output file, or None if it looks like a whole JSON
    document (first and last bytes; the parsers read it in full later)."""
    size = path.stat().st_size
    if size == 0:
        return "it wrote no output"
    with path.open("rb") as f:
        head = f.read(512).lstrip()
        f.seek(max(0, size - 512))
        tail = f.read().rstrip()
    if head[:1] not in (b"{", b"["):
        return "its output is not JSON"
    if tail[-1:] not in (b"}", b"]"):
        return "its output is not a complete JSON document"
    return None


def _execute(job: _Job, out: Path, timeout: float) -> tuple[list[str], int]:
    """Run the job's tool; return its command line and exit code. Raises _JobFailed."""
    tool, label = job.tool.name, job.target.target.label
    source = job.target.source
    assert source is not None
    inv = job.tool.build(job.info, job.target.kind, source, out, job.options, timeout)
    stdout = out.open("wb") if inv.stdout_is_output else None
    try:
        proc = subprocess.Popen(
            inv.argv,
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=environment(inv),
        )
    except OSError as e:
        raise _JobFailed(f"{tool} could not start on {label}: {e}") from e
    finally:
        if stdout is not None:
            stdout.close()  # the child holds its own copy
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise _JobFailed(
            f"{tool} on {label}: stopped after the {timeout:g} s timeout; stderr ends: "
            f"{last_lines(err.decode('utf-8', 'replace'))}"
        ) from None
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    stderr = err.decode("utf-8", "replace")
    if proc.returncode not in inv.ok_exit_codes:
        raise _JobFailed(
            f"{tool} failed on {label} with exit code {proc.returncode}: {last_lines(stderr)}"
        )
    problem = _check_json(out)
    if problem:
        raise _JobFailed(
            f"{tool} failed on {label}: {problem} (exit code {proc.returncode}): "
            f"{last_lines(stderr)}"
        )
    return inv.argv, proc.returncode


def _run_job(job: _Job, raw: RawStore, settings: ScanSettings) -> JobResult:
    """Run one job; never raises for a failing tool or target."""
    label, tool = job.target.target.label, job.tool.name
    started = datetime.now(UTC)
    clock = time.monotonic()

    def result(status: JobStatus, reason: str | None = None) -> JobResult:
        return JobResult(
            label, tool, status, job.info.version,
            job.output if status is JobStatus.RAN else None,
            reason, time.monotonic() - clock,
        )

    try:
        job.target.acquire(raw)
        with raw.writing(job.output) as pending:
            argv, code = _execute(job, pending.temp, settings.timeout)
            pending.record.update(
                tool=tool,
                tool_version=job.info.version,
                format=job.tool.kind,
                target=label,
                target_kind=str(job.target.kind),
                key=job.target.key,
                options=sorted(job.options),
                argv=[a.replace(str(pending.temp), str(job.output)) for a in argv],
                exit_code=code,
                started_at=started.isoformat(),
                seconds=round(time.monotonic() - clock, 3),
            )
    except _JobFailed as e:
        return result(JobStatus.FAILED, str(e))
    except TargetError as e:
        return result(JobStatus.FAILED, str(e))
    except OSError as e:
        return result(JobStatus.FAILED, f"{tool} on {label}: cannot write its output: {e}")
    except Exception as e:  # noqa: BLE001 - one job's bug must never stop the others
        return result(JobStatus.FAILED, f"{tool} on {label}: unexpected {type(e).__name__}: {e}")
    finally:
        job.target.release()
    return result(JobStatus.RAN)


def _probe(tools: Iterable[Tool], settings: ScanSettings) -> dict[str, ToolInfo | JobResult]:
    """Find each tool and read its version; a missing or unusable one maps to the result its jobs
    get (with an empty target, filled per job)."""
    found: dict[str, ToolInfo | JobResult] = {}
    for tool in tools:
        path = tool.find()
        if path is None:
            found[tool.name] = JobResult("", tool.name, JobStatus.MISSING,
                                         reason=tool.missing_message())
            continue
        try:
            info = tool.probe(path)
            tool.options(info, settings)  # raises when the settings ask what it cannot do
        except ToolError as e:
            found[tool.name] = JobResult("", tool.name, JobStatus.FAILED, reason=str(e))
            continue
        found[tool.name] = info
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
        The report: per job, ran / skipped / failed (why) / tool missing, and the outputs to
        ingest (`ScanReport.raw_files`). A failing tool or unreadable target never raises.

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
        needed |= _kinds(t)
    probed = _probe([t for t in chosen if t.targets & needed], settings)
    report = ScanReport()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="auditlib-scan") as pool:
        plan = _plan(targets, probed, raw, pool, force, settings, report)
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


def _plan(
    targets: Sequence[Target],
    probed: dict[str, ToolInfo | JobResult],
    raw: RawStore,
    pool: ThreadPoolExecutor,
    force: bool,
    settings: ScanSettings,
    report: ScanReport,
) -> list[JobResult | _Job]:
    """Return, per target and tool, the result already known (tool missing or unusable, target
    unreadable, output already made) or the job to run. Adds unreadable targets and repeated ones
    to `report`."""

    def usable(target: Target) -> list[Tool]:
        return [TOOLS[name] for name in probed if TOOLS[name].targets & _kinds(target)]

    # Reading archives' configs and inspecting engine images, in parallel too; only for targets
    # that some installed tool scans.
    resolving: dict[int, Future[_Resolved]] = {
        i: pool.submit(_resolve, t)
        for i, t in enumerate(targets)
        if any(isinstance(probed[u.name], ToolInfo) for u in usable(t))
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
                    JobResult(target.label, tool.name, JobStatus.FAILED, state.version,
                              reason=error)
                )
            else:
                options = tool.options(state, settings)
                output = raw.path(resolved.key, tool.output_name(state.version))
                if not force and raw.exists(output, options):
                    plan.append(
                        JobResult(target.label, tool.name, JobStatus.SKIPPED, state.version,
                                  output)
                    )
                else:
                    resolved.users += 1
                    plan.append(_Job(len(plan), resolved, tool, state, options, output))
    return plan
