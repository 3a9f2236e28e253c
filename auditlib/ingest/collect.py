"""`collect()`: read every source a user names (engine, registries, archives, Dockerfiles) into
one `AuditData`, each source on its own so that one that fails never stops the others;
`to_audit_data` turns the `Collection`s collectors return into the same typed tables, provenance
and `files` entries as documents the loader reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from auditlib.data import AuditData, FileResult
from auditlib.errors import SourceUnavailableError
from auditlib.ingest.accumulate import Accumulator
from auditlib.ingest.reader import ingest_output
from auditlib.resolve import resolve_image_ids
from auditlib.sources.archive import collect_archive
from auditlib.sources.cosign_keys import load_keys
from auditlib.sources.dockerfile import collect_dockerfile
from auditlib.sources.engine import collect_engine, safe_url
from auditlib.sources.record import Collection, scan_id_of
from auditlib.sources.registry import RegistryLimits, collect_registry

Progress = Callable[[str], None]


@dataclass(slots=True)
class CollectRequest:
    """What to collect."""

    engines: list[str | None] = field(default_factory=list)
    """Docker Engines; None means the one `DOCKER_HOST` (or the default socket) names."""
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
    """The docker `config.json` to read registry credentials from (default: the docker CLI's)."""
    registry_limits: RegistryLimits | None = None
    """How far registries are read (bytes, timeouts, deadlines, pages); the defaults when None."""
    cosign_keys: list[str] = field(default_factory=list)
    """Public key files (`cosign.pub`) that verify the cosign signatures and attestations found
    in registries; none: they are recorded unverified."""


def _dockerfile_arg(text: str) -> tuple[str, str | None]:
    path, sep, ref = text.partition("=")
    return (path, ref) if sep and ref else (text, None)


def collections(req: CollectRequest, progress: Progress | None = None) -> list[Collection]:
    """Collect every source of `req`.

    Returns:
        One collection per source (per repository for registries); a source that could not be
        reached is a collection holding only its error.
    """
    out: list[Collection] = []
    for url in req.engines:
        try:
            out.append(collect_engine(url, progress=progress))
        except SourceUnavailableError as e:
            col = Collection(safe_url(url or "DOCKER_HOST"), "docker-engine")
            col.error(str(e))
            out.append(col)
    if req.registries:
        out.extend(
            collect_registry(
                req.registries,
                platform=req.platform,
                insecure=req.insecure_registries,
                docker_config=req.docker_config,
                limits=req.registry_limits,
                cosign_keys=load_keys(req.cosign_keys),
            )
        )
    for path in req.archives:
        out.append(collect_archive(path))
        if progress:
            progress(path)
    for arg in req.dockerfiles:
        path, ref = _dockerfile_arg(arg)
        out.append(collect_dockerfile(path, image_ref=ref))
        if progress:
            progress(path)
    return out


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
        counts: dict[str, int] = {}
        version = None
        warnings = 0
        for rec in col.records:
            version = version or rec.version
            got = ingest_output(
                acc, rec.output, rec.format, rec.version, scan_id_of(rec.payload), len(rec.payload)
            )
            for k, v in got.items():
                counts[k] = counts.get(k, 0) + v
            warnings += len(rec.output.warnings)
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


def collect(req: CollectRequest, progress: Progress | None = None) -> AuditData:
    """Collect every source of `req` into tables.

    Returns:
        The tables; `files` has one entry per source, with its error when it could not be read.
    """
    return to_audit_data(collections(req, progress), collected_at=datetime.now(UTC))


__all__: Sequence[str] = ("CollectRequest", "collect", "collections", "to_audit_data")
