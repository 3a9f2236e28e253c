"""Reading many files on several processes: contiguous shards balanced by size, merged in order.

One process parses about 300 MB/s of scanner JSON; a fleet of thousands of documents is read
faster by as many processes as the machine has cores. Each worker reads a contiguous run of the
files with `loader.load_files` and sends its typed tables back (Arrow-backed columns pickle as
buffers); the parent joins them table by table, so rows keep the order of the files.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from typing import Any

from auditlib.data import AuditData, FileResult
from auditlib.documents import Candidate
from auditlib.tables import TABLES, concat

SHARDS_PER_WORKER = 4

MIN_PARALLEL_BYTES = 256 * 1024**2
"""Below this much data, starting worker processes costs more than it saves."""


def auto_workers(candidates: list[Candidate]) -> int:
    """Return how many processes to read `candidates` with: 1 for small inputs, else the cores (max 8)."""
    total = 0
    for c in candidates:
        if c.skip_reason is None:
            try:
                total += c.path.stat().st_size
            except OSError:
                pass
    if total < MIN_PARALLEL_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, 8, len(candidates)))


def shards(candidates: list[Candidate], n: int) -> list[list[Candidate]]:
    """Split `candidates` into at most `n` contiguous runs of about equal size in bytes."""
    sizes = []
    for c in candidates:
        try:
            sizes.append(c.path.stat().st_size if c.skip_reason is None else 0)
        except OSError:
            sizes.append(0)
    total = sum(sizes) or 1
    out: list[list[Candidate]] = [[]]
    done = 0
    for c, size in zip(candidates, sizes, strict=True):
        if out[-1] and done >= total * len(out) / n and len(out) < n:
            out.append([])
        out[-1].append(c)
        done += size
    return out


def _load_shard(candidates: list[Candidate], collected_at: datetime) -> AuditData:
    from auditlib.loader import load_files

    return load_files(candidates, collected_at=collected_at)


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        # Workers fork from a server that has imported auditlib (pandas, pyarrow) once.
        ctx.set_forkserver_preload(["auditlib.loader"])
        return ctx
    return multiprocessing.get_context("spawn")


def load_parallel(candidates: list[Candidate], workers: int, collected_at: datetime) -> AuditData:
    """Read `candidates` on `workers` processes and merge the tables in file order.

    A shard whose worker dies (killed, out of memory) is read again in this process, so a broken
    worker costs time, never rows.
    """
    # More shards than workers: formats cost different time per byte, so the pool balances the
    # load by handing the next shard to whichever worker is free.
    parts = shards(candidates, workers * SHARDS_PER_WORKER)
    results: list[AuditData] = []
    with ProcessPoolExecutor(max_workers=min(workers, len(parts)), mp_context=_context()) as pool:
        futures: list[Future[AuditData]] = [pool.submit(_load_shard, p, collected_at) for p in parts]
        for part, future in zip(parts, futures, strict=True):
            try:
                results.append(future.result())
            except Exception:  # noqa: BLE001 - a dead worker must not lose its shard
                results.append(_load_shard(part, collected_at))
    return merge(results)


def merge(results: list[AuditData]) -> AuditData:
    """Join the tables of several loads, in order, table by table (to bound peak memory)."""
    files: list[FileResult] = [f for r in results for f in r.files]
    tables: dict[str, Any] = {}
    for t in TABLES:
        tables[t.name] = concat(t, [getattr(r, t.name) for r in results])
        for r in results:
            setattr(r, t.name, None)  # let each shard's part go as soon as it is joined
    return AuditData(**tables, files=files)
