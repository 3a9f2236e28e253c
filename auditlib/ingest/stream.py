"""Streaming ingest: the files to read go to the new snapshot's Parquet files in batches as they
are read (`auditlib.store.write.SnapshotWriter`), so peak memory is that of one batch whatever
the number of documents.

Each batch is read as `loader.load` reads (one process, or one per core for a large batch) and
its image ids are resolved within it. Only the small identity tables (`scans`, `images`,
`image_tags`, `registry_tags`: a row per document or image) and `load_errors` are kept across
batches. At the end, as `incremental.load_planned` does, carried documents whose image the new
files resolve are read again, and rows whose image id only a later batch gave are filled in by
rewriting the affected tables one row group at a time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from auditlib.data import AuditData, FileResult, merge
from auditlib.errors import StoreError
from auditlib.ingest import fanout
from auditlib.ingest.documents import Candidate, find_files
from auditlib.ingest.incremental import (
    IngestPlan,
    carried_identity,
    identity_only,
    plan_ingest,
    read_again,
    update_stat_cache,
)
from auditlib.ingest.reader import load_files
from auditlib.resolve import digest_map, fill_image_ids, image_ids_by_scan, resolve_image_ids
from auditlib.store.location import StoreLike
from auditlib.store.write import SnapshotWriter
from auditlib.tables import TABLES_BY_NAME, conform

BATCH_BYTES = 512 * 1024**2
"""Bytes of documents read per batch: enough for one reader per core (`fanout`), small enough that
a batch's tables fit well under the design's memory figure."""


@dataclass
class Streamed:
    """What `stream_ingest` did."""

    plan: IngestPlan
    """What was read, carried over and removed."""
    data: AuditData
    """The small tables of the files read (`scans`, `load_errors`, and `files`); the others went
    straight to the snapshot (`rows` counts them)."""
    snapshot: Path
    """The new snapshot."""
    rows: dict[str, int] = field(default_factory=dict)
    """Rows written, by table."""
    batches: int = 0
    """Batches read."""


def batches(candidates: list[Candidate], limit: int) -> Iterator[list[Candidate]]:
    """Yield the candidates in order, in batches of about `limit` bytes (at least one file)."""
    batch: list[Candidate] = []
    size = 0
    for c in candidates:
        n = fanout.readable_bytes([c])
        if batch and size + n > limit:
            yield batch
            batch, size = [], 0
        batch.append(c)
        size += n
    if batch:
        yield batch


def _read(batch: list[Candidate], collected_at: datetime, workers: int | None) -> AuditData:
    """Read one batch as `loader.load` reads its files, image ids resolved within it."""
    n = fanout.auto_workers(batch) if workers is None else max(1, workers)
    if n == 1 or len(batch) < 2:
        data = load_files(batch, collected_at=collected_at)
    else:
        data = fanout.load_parallel(batch, n, collected_at)
    return resolve_image_ids(data)


def stream_ingest(
    store: StoreLike,
    paths: Iterable[str | os.PathLike[str]],
    *,
    full: bool = False,
    planned: Callable[[int], None] | None = None,
    progress: Callable[[str], None] | None = None,
    at: datetime | None = None,
    workers: int | None = None,
    batch_bytes: int = BATCH_BYTES,
) -> Streamed:
    """Ingest files and folders into a new snapshot, reading only what changed, writing each
    batch of documents as it is read (see the module docstring).

    Args:
        store: the store (a local folder: the incremental plan reads its stat cache).
        paths: files and folders of scanner outputs and SBOMs.
        full: read every file again, even those unchanged since the store read them.
        planned: called once with the number of files to read.
        progress: called with each file path once it has been read.
        at: when the snapshot and its rows were taken (default now).
        workers: processes per batch, as `loader.load` (None: one per core for a large batch).
        batch_bytes: bytes of documents per batch.

    Raises:
        StoreError: if the store cannot be read or written.
    """
    plan = plan_ingest(store, paths, full=full)  # type: ignore[arg-type]
    if planned is not None:
        planned(len(plan.to_parse))
    return stream_planned(plan, progress=progress, at=at, workers=workers,
                          batch_bytes=batch_bytes)


def planned_bytes(plan: IngestPlan) -> int:
    """Return the bytes of the files the plan reads, as their stat gave them."""
    return sum(plan.stats[s].size for s in plan.to_parse if s in plan.stats)


def stream_planned(plan: IngestPlan, *, progress: Callable[[str], None] | None = None,
                   at: datetime | None = None, workers: int | None = None,
                   batch_bytes: int = BATCH_BYTES) -> Streamed:
    """Read the files of `plan` in batches into a new snapshot (`stream_ingest`).

    Raises:
        StoreError: if the store cannot be read or written.
    """
    store = plan.store
    collected_at = at or datetime.now(UTC)
    found = list(find_files(*plan.paths))  # walked once: documents read again come from it
    candidates = [c for c in found if str(c.path) not in plan.unchanged]
    carried: list[AuditData] = []

    def carried_ids() -> AuditData:  # the carried documents' identity, read once when needed
        if not carried:
            carried.append(carried_identity(plan) if plan.unchanged else AuditData())
        return carried[0]

    small = AuditData()
    files: list[FileResult] = []
    n_batches = 0
    with SnapshotWriter(store, at) as writer:
        for batch in batches(candidates, batch_bytes):
            data = _read(batch, collected_at, workers)
            writer.append(data)
            small = merge(small, _small(data))  # one set of small tables, not one per batch
            files += data.files
            n_batches += 1
            for f in data.files:
                if progress is not None:
                    progress(f.path)
            del data
        small.files = files
        again = _read_again(plan, found, small, carried_ids, collected_at, workers, progress)
        if again is not None:
            writer.append(again)
            small = merge(small, _small(again))
            small.files = files + again.files
        _late_resolution(small, carried_ids, writer)
        read = {f.path for f in small.files}
        snapshot = writer.commit(small, sources=list(plan.paths),
                                 carried=[c for s, c in plan.unchanged.items() if s not in read],
                                 removed=plan.removed)
        rows = dict(writer.rows)
    try:
        update_stat_cache(plan, small)
    except (OSError, ValueError, StoreError):
        pass  # only a cache
    return Streamed(plan, small, snapshot, rows, n_batches)


def _small(data: AuditData) -> AuditData:
    """Return the tables of `data` kept across batches: identity and load errors."""
    out = identity_only(data)
    out.load_errors = data.load_errors
    return out


def _read_again(plan: IngestPlan, found: list[Candidate], small: AuditData,
                carried: Callable[[], AuditData], collected_at: datetime, workers: int | None,
                progress: Callable[[str], None] | None) -> AuditData | None:
    """Return the carried documents whose image the new files resolve
    (`incremental.read_again`), read again from `found`, or None when there are none."""
    if not plan.unchanged or small.scans.empty:
        return None
    again = read_again(carried(), small)
    if not again:
        return None
    data = _read([c for c in found if str(c.path) in again], collected_at, workers)
    for f in data.files:
        if progress is not None:
            progress(f.path)
    return data


def _late_resolution(small: AuditData, carried: Callable[[], AuditData],
                     writer: SnapshotWriter) -> None:
    """Fill in the image ids of rows written in one batch that another batch (or a carried
    document) resolves, rewriting the affected tables one row group at a time."""
    scans = small.scans
    if not (scans["image_id"].isna() & scans["repo_digest"].notna()).any():
        return
    by_scan = image_ids_by_scan(scans, digest_map(merge(identity_only(small), carried())))
    if not by_scan:
        return
    for name, df in small.tables().items():
        setattr(small, name, fill_image_ids(df, by_scan))

    def rewrite(name: str) -> Callable[[pa.Table], pa.Table]:
        def run(t: pa.Table) -> pa.Table:
            df = fill_image_ids(conform(TABLES_BY_NAME[name], t.to_pandas()), by_scan)
            return pa.Table.from_pandas(df, preserve_index=False)
        return run

    for name, table in TABLES_BY_NAME.items():
        cols = table.column_names
        if "image_id" in cols and "scan_id" in cols:
            writer.replace(name, rewrite(name))
