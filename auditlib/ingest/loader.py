"""`load()`: read files and folders of scanner outputs and SBOMs into one `AuditData`.

Files are found (`documents.find_files`), then read in this process (`reader`) or, for large
inputs, by one process per two cores (`fanout`); image ids are joined across documents at the
end (`auditlib.resolve`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from datetime import UTC, datetime

from auditlib.data import AuditData
from auditlib.ingest import fanout
from auditlib.ingest.documents import find_files
from auditlib.ingest.reader import load_files
from auditlib.resolve import resolve_image_ids

Progress = Callable[[str], None]


def load(
    *paths: str | os.PathLike[str],
    progress: Progress | None = None,
    workers: int | None = None,
    exclude: Collection[str] = (),
    collected_at: datetime | None = None,
) -> AuditData:
    """Read scanner outputs and SBOMs from files and folders into tables.

    Folders are walked; files that are plainly not JSON (a README, a TSV, a Dockerfile) are listed
    as skipped. Every other file is identified from its content and parsed; a file that cannot be
    read gives one `load_errors` row of level `error`, a record skipped inside a good file one of
    level `warning`. Nothing raises for bad input.

    Args:
        paths: files and folders.
        progress: called with each file path once it has been read.
        workers: processes to read with; None picks one for small inputs or a machine of fewer
            than four cores, else one per two cores (up to 8; `auditlib.ingest.fanout.
            auto_workers`). Rows come out in the same order either way.
        exclude: files to leave out, named as they are found (`str(path)`): an incremental
            ingest's unchanged files (`auditlib.ingest.incremental`).
        collected_at: the rows' `collected_at` (default now; a backfill gives a past time).

    Returns:
        The tables, with `files` saying what each file gave.
    """
    candidates = [c for c in find_files(*paths) if str(c.path) not in exclude]
    collected_at = collected_at or datetime.now(UTC)
    n = fanout.auto_workers(candidates) if workers is None else max(1, workers)
    if n == 1 or len(candidates) < 2:
        data = load_files(candidates, collected_at=collected_at)
    else:
        data = fanout.load_parallel(candidates, n, collected_at)
    if progress is not None:
        for f in data.files:
            progress(f.path)
    return resolve_image_ids(data)


