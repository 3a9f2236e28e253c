"""The steps that fill a store, each writing one snapshot: ingest files and folders, collect
sources, scan images. `auditlib ingest`, `collect`, `scan`, `run` and `demo` are faces of these
three functions; none writes a snapshot its own way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from auditlib.data import AuditData, merge
from auditlib.ingest.collect import CollectRequest, collect, to_audit_data
from auditlib.ingest.incremental import IngestPlan, commit_ingest, load_planned, plan_ingest
from auditlib.ingest.loader import load
from auditlib.ingest.source_pool import SourceProgress
from auditlib.ingest.stream import BATCH_BYTES, planned_bytes, stream_planned
from auditlib.scanners.report import ScanReport
from auditlib.scanners.runner import ProgressCallback, run_scans
from auditlib.scanners.targets import EngineImage, Target
from auditlib.scanners.tools import ScanSettings
from auditlib.sources.record import Collection
from auditlib.store.layout import StorePath
from auditlib.store.write import write_snapshot

FileProgress = Callable[[str], None]


@dataclass
class Ingested:
    """What `ingest_paths` did."""

    plan: IngestPlan
    """What was read, carried over and removed."""
    data: AuditData
    """The tables of the files read."""
    snapshot: Path
    """The new snapshot."""
    rows: dict[str, int] | None = None
    """Rows written, by table, when the ingest streamed (`auditlib.ingest.stream`): `data` then
    holds only the small tables (`scans`, `load_errors`, identity), the rest went straight to the
    snapshot. None when `data` holds every table."""

    @property
    def files_read(self) -> int:
        """Return how many files were read without an error."""
        return sum(1 for f in self.data.files if f.skipped is None and f.error is None)

    @property
    def carried(self) -> int:
        """Return how many files were carried over unchanged (not read again)."""
        return len(self.plan.unchanged) - sum(1 for f in self.data.files
                                              if f.path in self.plan.unchanged)

    @property
    def errors(self) -> list[str]:
        """Return the error of every file that could not be read."""
        return [f.error for f in self.data.files if f.error]


def ingest_paths(store: StorePath, paths: Iterable[str | os.PathLike[str]], *,
                 full: bool = False, planned: Callable[[int], None] | None = None,
                 progress: FileProgress | None = None,
                 collections: Sequence[Collection] = (), at: datetime | None = None,
                 stream: bool | None = None) -> Ingested:
    """Ingest files and folders into a new snapshot, reading only what changed.

    Files to read of more than `stream.BATCH_BYTES` in all are streamed: read in batches and
    written to the snapshot as they are read, so memory stays flat (`auditlib.ingest.stream`).

    Args:
        store: the store folder.
        paths: files and folders of scanner outputs and SBOMs.
        full: read every file again, even those unchanged since the store read them.
        planned: called once with the number of files to read (for a progress bar).
        progress: called with each file path once it has been read.
        collections: sources a collector read in the same run (`ingest.collect.collections`),
            written into the same snapshot.
        at: when the snapshot and its rows were taken (default now). A backfill gives past
            times, oldest first (`auditlib demo` writes its history so).
        stream: stream (True) or hold every table (False); None: stream large reads without
            `collections`.

    Raises:
        StoreError: if the store cannot be read or written.
    """
    plan = plan_ingest(store, paths, full=full)
    if planned is not None:
        planned(len(plan.to_parse))
    if stream is None:
        stream = not collections and planned_bytes(plan) > BATCH_BYTES
    if stream and not collections:
        done = stream_planned(plan, progress=progress, at=at)
        return Ingested(plan, done.data, done.snapshot, done.rows)
    data = load_planned(plan, progress=progress, collected_at=at)
    if collections:
        data = merge(data, to_audit_data(collections, collected_at=at))
    snapshot = commit_ingest(plan, data, created_at=at, sources=[c.source for c in collections])
    return Ingested(plan, data, snapshot)


@dataclass
class Collected:
    """What `collect_into` did."""

    data: AuditData
    """The tables of every source; `files` has one entry per source, with its error."""
    snapshot: Path | None
    """The new snapshot; None when no source could be read and nothing was written."""

    @property
    def failed(self) -> list[str]:
        """Return the error of every source that could not be read."""
        return [f.error for f in self.data.files if f.error]

    @property
    def read(self) -> int:
        """Return how many sources were read."""
        return sum(1 for f in self.data.files if not f.error)


def collect_into(store: StorePath, request: CollectRequest, *,
                 progress: FileProgress | SourceProgress | None = None,
                 write_empty: bool = True) -> Collected:
    """Collect every source of `request` into a new snapshot.

    Args:
        store: the store folder.
        request: the engines, registries, archives and Dockerfiles.
        progress: told of each source as it starts, reads a thing and ends (a `SourceProgress`),
            or called with each thing read.
        write_empty: write the snapshot even when no source could be read (its `load_errors`
            then say why); `auditlib run` does not.

    Raises:
        StoreError: if the store cannot be written.
    """
    data = collect(request, progress=progress)
    if not write_empty and not any(not f.error for f in data.files):
        return Collected(data, None)
    return Collected(data, write_snapshot(store, data, sources=[f.path for f in data.files]))


@dataclass
class Scanned:
    """What `scan_into` did."""

    report: ScanReport
    """Every scanner run, and the raw outputs kept."""
    data: AuditData = field(default_factory=AuditData)
    """The tables of the raw outputs."""
    snapshot: Path | None = None
    """The new snapshot; None when there was nothing to ingest."""


def target_source(target: Target) -> str:
    """Return the `source` a scanned target is recorded under (an engine image: the engine and
    the reference; a file: its path)."""
    if isinstance(target, EngineImage):
        return f"{target.engine} {target.ref}"
    return str(target.path)


def scan_into(store: StorePath, targets: list[Target], *, tools: tuple[str, ...] | None = None,
              workers: int = 2, force: bool = False, settings: ScanSettings | None = None,
              progress: ProgressCallback | None = None) -> Scanned:
    """Run the scanners on `targets`, keep their raw outputs in the store, and ingest them into
    a new snapshot (none when there is no output).

    Raises:
        StoreError: if the store cannot be written.
    """
    report = run_scans(targets, Path(store), tools=tools, workers=workers, force=force,
                       settings=settings, progress=progress)
    if not report.raw_files:
        return Scanned(report)
    data = load(*report.raw_files)
    snap = write_snapshot(store, data, sources=[target_source(t) for t in targets])
    return Scanned(report, data, snap)
