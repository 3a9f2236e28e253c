"""`collect()`: read every source a user names (engine, registries, archives, Dockerfiles) into
one `AuditData`, each source on its own so that one that fails never stops the others;
`to_audit_data` turns the `Collection`s collectors return into the same typed tables, provenance
and `files` entries as documents the loader reads.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from auditlib.data import AuditData, FileResult
from auditlib.errors import SourceUnavailableError
from auditlib.identity import parse_reference
from auditlib.ingest.accumulate import Accumulator
from auditlib.ingest.reader import ingest_outputs
from auditlib.ingest.source_pool import (
    DEFAULT_WORKERS,
    Failed,
    Job,
    Overdue,
    SourceProgress,
    run_jobs,
)
from auditlib.normalize.redact import redact
from auditlib.resolve import resolve_image_ids
from auditlib.sources.archive import collect_archive
from auditlib.sources.cosign_keys import load_keys
from auditlib.sources.docker_contexts import (
    ContextError,
    contexts_dir,
    find_context,
    load_contexts,
)
from auditlib.sources.docker_credentials import Credentials
from auditlib.sources.dockerfile import collect_dockerfile
from auditlib.sources.engine import DEFAULT_URL, collect_engine, safe_url
from auditlib.sources.engine import FORMAT as ENGINE_FORMAT
from auditlib.sources.engine_endpoint import EngineEndpoint
from auditlib.sources.record import Collection, scan_id_of
from auditlib.sources.registry import FORMAT as REGISTRY_FORMAT
from auditlib.sources.registry import RegistryLimits, collect_registry
from auditlib.sources.registry_clients import RegistryClients, pool_size

Progress = Callable[[str], None]

DEFAULT_DEADLINE = 600.0
"""Seconds one source (an engine, a registry repository, an archive, a Dockerfile) may take."""


@dataclass(slots=True)
class CollectRequest:
    """What to collect."""

    engines: Sequence[str | None | EngineEndpoint] = field(default_factory=list)
    """Docker Engines: URLs, or endpoints with their TLS files (an inventory's, a context's);
    None means the one `DOCKER_HOST` (or the default socket) names."""
    contexts: list[str] = field(default_factory=list)
    """Docker contexts, by name, from the docker CLI's context store (`default`: DOCKER_HOST,
    else the local socket)."""
    all_contexts: bool = False
    """Every context of the docker CLI's context store, as well."""
    registries: list[str] = field(default_factory=list)
    """Repositories (`host/repo`, or `host/repo:tag` for one tag)."""
    archives: list[str] = field(default_factory=list)
    """`docker save` tarballs and OCI image layouts (folders or tars)."""
    dockerfiles: list[str] = field(default_factory=list)
    """Dockerfiles, optionally `PATH=IMAGE_REF` to say which image each builds."""
    platform: str = "linux/amd64"
    """The platform chosen from multi-platform indexes in registries."""
    insecure_registries: bool = False
    """Allow plain HTTP to registries that are not on a loopback address."""
    docker_config: str | None = None
    """The docker CLI's config folder's `config.json` to read registry credentials from, whose
    folder holds the contexts too (default: the docker CLI's, `$DOCKER_CONFIG`)."""
    registry_limits: RegistryLimits | None = None
    """How far registries are read (bytes, timeouts, deadlines, pages); the defaults when None."""
    cosign_keys: list[str] = field(default_factory=list)
    """Public key files (`cosign.pub`) that verify the cosign signatures and attestations found
    in registries; none: they are recorded unverified."""
    registry_credentials: dict[str, Credentials | None] | None = None
    """Credentials by registry (`ghcr.io`), used instead of the docker config's for those."""
    deadline: float | None = DEFAULT_DEADLINE
    """Seconds each source may take from its start (None: no deadline); past it, the source is
    an error and the others go on."""
    deadlines: dict[str, float] = field(default_factory=dict)
    """Deadlines of single sources, by the text that names them (engine URL, context name,
    repository, path), over `deadline`."""
    workers: int = DEFAULT_WORKERS
    """Sources read at once."""

    def names_engines(self) -> bool:
        """Return whether any engine is named (an engine, a context, or all contexts)."""
        return bool(self.engines or self.contexts or self.all_contexts)

    def names_any(self) -> bool:
        """Return whether any source is named."""
        return self.names_engines() or bool(self.registries or self.archives or self.dockerfiles)


def _dockerfile_arg(text: str) -> tuple[str, str | None]:
    path, sep, ref = text.partition("=")
    return (path, ref) if sep and ref else (text, None)


class _Items:
    """Item progress of one source, as the old one-argument callback or a `SourceProgress`."""

    def __init__(self, progress: Progress | SourceProgress | None, source: str) -> None:
        self.progress, self.source = progress, source

    def __call__(self, item: str) -> None:
        if isinstance(self.progress, SourceProgress):
            self.progress.advanced(self.source, item)
        elif self.progress is not None:
            self.progress(item)


@dataclass(frozen=True, slots=True)
class _Source:
    """One job of the pool, and the collection that stands for it when it fails."""

    job: Job[list[Collection]]
    source: str
    format: str
    deadline: float | None = None
    """The deadline the user gave, when the pool's is later (a registry keeps its own)."""


def _engines(req: CollectRequest) -> list[tuple[str | None | EngineEndpoint, str] | Collection]:
    """Return the engines to read, each with the text that names it (for `deadlines`); a
    context that cannot be found is a collection holding its error."""
    out: list[tuple[str | None | EngineEndpoint, str] | Collection] = [
        (e, e.url if isinstance(e, EngineEndpoint) else e or "default") for e in req.engines
    ]
    config_dir = str(Path(req.docker_config).parent) if req.docker_config else None
    named = list(req.contexts)
    listed: dict[str, EngineEndpoint] = {}  # read once: `find_context` would read them again
    if req.all_contexts:
        found, errors = load_contexts(config_dir)
        listed = {e.name: e for e in found if e.name}
        named += [n for n in listed if n not in named]
        if errors:  # one line per context that cannot be read; the others are collected
            out.append(Collection(str(contexts_dir(config_dir)), ENGINE_FORMAT,
                                  errors=[str(e) for e in errors]))
    for name in dict.fromkeys(named):
        try:
            out.append((listed[name] if name in listed else find_context(name, config_dir), name))
        except ContextError as e:
            out.append(Collection(f"context {name}", ENGINE_FORMAT, errors=[str(e)]))
    return out


def _engine_source(req: CollectRequest, engine: str | None | EngineEndpoint, key: str,
                   progress: Progress | SourceProgress | None) -> _Source:
    deadline = req.deadlines.get(key, req.deadline)
    # Silence on a connection ends the engine's thread a little after its deadline (the pool
    # has named it by then), or at 60 s when the deadline is longer.
    timeout = min(60.0, deadline + 5) if deadline is not None else 60.0
    if isinstance(engine, EngineEndpoint):
        shown, source = engine.shown, safe_url(engine.url)
    else:
        shown = safe_url(engine or os.environ.get("DOCKER_HOST") or DEFAULT_URL)
        source = safe_url(engine or "DOCKER_HOST")

    def run() -> list[Collection]:
        try:
            if isinstance(engine, EngineEndpoint):
                return [collect_engine(engine.url, client=engine.client(timeout),
                                       progress=_Items(progress, shown))]
            return [collect_engine(engine, progress=_Items(progress, shown), timeout=timeout)]
        except SourceUnavailableError as e:
            return [Collection(source, ENGINE_FORMAT, errors=[str(e)])]

    return _Source(Job(shown, run, deadline), source, ENGINE_FORMAT)


def _registry_sources(req: CollectRequest, progress: Progress | SourceProgress | None,
                      clients: RegistryClients) -> list[_Source]:
    """Return one job per repository (the strings naming the same repository read together),
    all reading through `clients` (one client per registry, pinged once)."""
    keys = load_keys(req.cosign_keys)  # a bad key file stops the command before collecting
    groups: dict[str, list[str]] = {}
    for text in req.registries:
        ref = parse_reference(text.strip())
        groups.setdefault(ref.name if ref is not None else text, []).append(text)
    out: list[_Source] = []
    for name, given in groups.items():
        deadline = min((req.deadlines[t] for t in given if t in req.deadlines),
                       default=req.deadlines.get(name, req.deadline))
        limits = req.registry_limits or RegistryLimits()
        if deadline is not None and deadline < limits.source_deadline:
            limits = dataclasses.replace(limits, source_deadline=deadline)

        def run(given: list[str] = given, limits: RegistryLimits = limits,
                name: str = name) -> list[Collection]:
            return collect_registry(
                given, platform=req.platform, limits=limits, progress=_Items(progress, name),
                cosign_keys=keys, clients=clients,
            )

        # The registry keeps its own deadline (its error says how many tags were left); the
        # pool's, a little later, stops waiting for a registry that never answers at all.
        hard = deadline * 1.1 + 2 if deadline is not None else None
        out.append(_Source(Job(name, run, hard), given[0], REGISTRY_FORMAT, deadline))
    return out


LOCAL = "local files"
"""The group of archives and Dockerfiles: read one at a time (beside the engines and registries),
so that the memory bounds of `ArchiveLimits` hold for the whole run, not once per worker."""


def _file_source(req: CollectRequest, path: str, fmt: str, read: Callable[[], Collection],
                 progress: Progress | SourceProgress | None, key: str) -> _Source:
    def run() -> list[Collection]:
        col = read()
        _Items(progress, path)(path)
        return [col]

    return _Source(Job(path, run, req.deadlines.get(key, req.deadline), LOCAL), path, fmt)


def _error_of(cols: list[Collection]) -> str | None:
    failed = [c for c in cols if c.errors and not c.records]
    return "; ".join(e for c in failed for e in c.errors) if failed else None


def collections(req: CollectRequest, progress: Progress | SourceProgress | None = None
                ) -> list[Collection]:
    """Collect every source of `req`, `req.workers` at once, each within its deadline.

    The collections come in the order sources are named (engines, then contexts, registries,
    archives, Dockerfiles), whichever finished first, so that the result is the same as reading
    them one after the other.

    Args:
        req: what to collect.
        progress: a `SourceProgress`, told when each source starts, reads a thing and ends; or
            a callable called with each thing read (an image, a tag, a path).

    Returns:
        One collection per source (per repository for registries); a source that could not be
        reached, failed or passed its deadline is a collection holding only its error, one line
        naming it and why.
    """
    sources: list[_Source | Collection] = [
        e if isinstance(e, Collection) else _engine_source(req, e[0], e[1], progress)
        for e in _engines(req)
    ]
    clients = RegistryClients(
        insecure=req.insecure_registries,
        docker_config=Path(req.docker_config) if req.docker_config is not None else None,
        credentials=req.registry_credentials, limits=req.registry_limits,
        pool_size=pool_size(req.workers))
    sources += _registry_sources(req, progress, clients)
    for path in req.archives:
        fmt = "oci-layout" if Path(path).is_dir() else "docker-archive"
        sources.append(_file_source(req, path, fmt, partial(collect_archive, path), progress,
                                    path))
    for arg in req.dockerfiles:
        path, ref = _dockerfile_arg(arg)
        sources.append(_file_source(req, path, "dockerfile",
                                    partial(collect_dockerfile, path, image_ref=ref), progress,
                                    arg))
    jobs = [s for s in sources if isinstance(s, _Source)]
    with clients:
        answers: list[list[Collection] | Overdue | Failed] = run_jobs(
            [s.job for s in jobs], workers=req.workers,
            progress=progress if isinstance(progress, SourceProgress) else None,
            describe=_error_of, group_limits={LOCAL: 1})
    done = iter(answers)
    out: list[Collection] = []
    for s in sources:
        if isinstance(s, Collection):
            out.append(s)
            continue
        got = next(done)
        if isinstance(got, Overdue):
            out.append(Collection(s.source, s.format, errors=[
                f"{s.job.name}: no answer within {s.deadline or got.deadline:g} s (its "
                "deadline); not collected, the other sources were"]))
        elif isinstance(got, Failed):
            out.append(Collection(s.source, s.format, errors=[
                f"{s.job.name}: failed: {_one_line(got.error)}"]))
        else:
            out.extend(got)
    return out


def _one_line(e: BaseException) -> str:
    """Return the first line of what a source raised, with any credential in it masked."""
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {redact(lines[0][:300])}" if lines else type(e).__name__


def to_audit_data(
    collections: Iterable[Collection], *, collected_at: datetime | None = None
) -> AuditData:
    """Build the tables of collected sources.

    Each source becomes one `files` entry (path = the source); a source that gave no record and
    had errors is an `error`, an error beside records is a `warning` row in `load_errors`.

    Returns:
        The tables.
    """
    acc = Accumulator(collected_at or datetime.now(UTC))
    files: list[FileResult] = []
    for col in collections:
        version = None
        warnings = 0
        for rec in col.records:
            version = version or rec.version
            warnings += len(rec.output.warnings)
        counts = ingest_outputs(acc, [
            (rec.output, rec.format, rec.version, scan_id_of(rec.payload), len(rec.payload))
            for rec in col.records
        ])
        level = "error" if not col.records else "warning"
        for reason in col.errors:
            acc.error(col.source, col.format, level, reason)
        error = "; ".join(col.errors) if col.errors and not col.records else None
        files.append(
            FileResult(
                col.source, col.format, version, counts, error=error,
                warnings=warnings + (len(col.errors) if col.records else 0),
            )
        )
    return resolve_image_ids(AuditData(**acc.build(), files=files))


def collect(req: CollectRequest, progress: Progress | SourceProgress | None = None
            ) -> AuditData:
    """Collect every source of `req` into tables.

    Returns:
        The tables; `files` has one entry per source, with its error when it could not be read.
    """
    return to_audit_data(collections(req, progress), collected_at=datetime.now(UTC))


__all__: Sequence[str] = (
    "DEFAULT_DEADLINE", "CollectRequest", "collect", "collections", "to_audit_data",
)
