"""Reading many files on several processes: contiguous shards balanced by size, merged in order.

One process parses about 300 MB/s of scanner JSON; a fleet of thousands of documents is read
faster by as many processes as the machine has cores. Each worker (a fresh
`python -m auditlib.ingest.worker`)
reads contiguous runs of the files with `reader.load_files` and sends its typed tables back over a
pipe (only those with rows: most of a shard's tables are empty); the parent joins them table by
table, so rows keep the order of the files.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from datetime import datetime
from typing import Any

import pandas as pd

from auditlib.data import AuditData, FileResult
from auditlib.ingest.accumulate import empty_frame
from auditlib.ingest.documents import Candidate
from auditlib.ingest.pipe import receive, send
from auditlib.ingest.reader import load_files
from auditlib.tables import DATA_TABLES, concat

SHARDS_PER_WORKER = 8

MIN_SHARD_BYTES = 64 * 1024**2
"""A shard holds at least this much (unless that leaves a worker idle): each shard costs its own
tables, a trip over the pipe and a part to join (about a tenth of a second), which a shard of
this size makes small beside its reading."""

Part = tuple[list[FileResult], dict[str, pd.DataFrame]]
"""What a worker sends back for a shard: its files, and its tables that have rows, by name."""

MIN_PARALLEL_BYTES = 256 * 1024**2
"""Below this much data, starting worker processes costs more than it saves."""


def readable_bytes(candidates: list[Candidate]) -> int:
    """Return the bytes of the candidates that will be read (a file gone since is 0)."""
    total = 0
    for c in candidates:
        if c.skip_reason is None:
            try:
                total += c.path.stat().st_size
            except OSError:
                pass
    return total


CORES_PER_WORKER = 2
"""Cores one reading process keeps busy: it parses on one, and its reading and hashing threads
(`reader.READERS`) and, for a worker, the pickling of its tables take most of another. Measured on
a 2-core machine (`benchmarks/ingest.py`), a second process made every format slower (Trivy 2.3x
orjson's time with one process, 4.8x with two; Syft 0.20x and 0.27x; SPDX 0.37x and 0.81x), so
processes are added only per two cores."""


def usable_cores() -> int:
    """Return the cores this process may run on (its CPU affinity where the OS tells it, else
    `os.cpu_count()`), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def auto_workers(candidates: list[Candidate]) -> int:
    """Return how many processes to read `candidates` with: 1 when they are few bytes (under
    `MIN_PARALLEL_BYTES`) or the machine has fewer than two cores per extra process
    (`CORES_PER_WORKER`), else one per `CORES_PER_WORKER` cores, at most 8 and one per file."""
    per_cores = usable_cores() // CORES_PER_WORKER
    if per_cores < 2 or readable_bytes(candidates) < MIN_PARALLEL_BYTES:
        return 1
    return max(1, min(per_cores, 8, len(candidates)))


def pack(data: AuditData) -> Part:
    """Return the files of `data` and only those of its tables that have rows."""
    return data.files, {name: df for name, df in data.tables().items() if len(df)}


def shard_count(candidates: list[Candidate], workers: int) -> int:
    """Return how many shards to read `candidates` in: `SHARDS_PER_WORKER` per worker, so that a
    worker free early takes the next, but none under `MIN_SHARD_BYTES`, and at least `workers`."""
    total = readable_bytes(candidates)
    return max(workers, min(workers * SHARDS_PER_WORKER, total // MIN_SHARD_BYTES))


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


class _Worker:
    """One worker process (`python -m auditlib.ingest.worker`) and the pipe to it."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "auditlib.ingest.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def load(self, part: list[Candidate], collected_at: datetime) -> Part:
        """Have the worker read `part`.

        Raises:
            EOFError, OSError: if the worker died.
        """
        assert self.proc.stdin is not None and self.proc.stdout is not None
        send(self.proc.stdin, (part, collected_at))
        result: Part = receive(self.proc.stdout)
        return result

    def close(self) -> None:
        """Let the worker exit (it ends when its stdin closes) and wait for it."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def load_parallel(candidates: list[Candidate], workers: int, collected_at: datetime) -> AuditData:
    """Read `candidates` on `workers` processes and merge the tables in file order.

    This process is one of them: it reads shards too, beside `workers - 1` worker processes, so
    one fewer interpreter has to start and import pandas (about a second of CPU each). Workers
    are fresh interpreters fed over pipes, so this is safe from scripts without a `__main__`
    guard, from notebooks and from threads. A shard whose worker dies (killed, out of memory) is
    read again in this process: a broken worker costs time, never rows.
    """
    # More shards than workers: formats cost different time per byte, so each worker takes the
    # next shard when it is free.
    parts = shards(candidates, shard_count(candidates, workers))
    results: list[Part | None] = [None] * len(parts)
    todo = queue.SimpleQueue[int]()
    for i in range(len(parts)):
        todo.put(i)

    def drive(spawn: bool) -> None:
        worker: _Worker | None = None
        if spawn:
            try:
                worker = _Worker()
            except OSError:
                worker = None
        try:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                if worker is not None:
                    try:
                        results[i] = worker.load(parts[i], collected_at)
                        continue
                    except (EOFError, OSError, pickle.UnpicklingError):
                        worker.close()
                        worker = None
                results[i] = pack(load_files(parts[i], collected_at=collected_at))
        finally:
            if worker is not None:
                worker.close()

    threads = [threading.Thread(target=drive, args=(n > 0,), name=f"auditlib-worker-{n}")
               for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return merge([r for r in results if r is not None])


def merge(results: list[Part]) -> AuditData:
    """Join the tables of several loads, in order, table by table (to bound peak memory)."""
    files: list[FileResult] = [f for r in results for f in r[0]]
    tables: dict[str, Any] = {}
    for t in DATA_TABLES:
        # Each shard's part is let go as soon as it is taken.
        frames = [r[1].pop(t.name) for r in results if t.name in r[1]]
        tables[t.name] = concat(t, frames) if frames else empty_frame(t.name)
    return AuditData(**tables, files=files)
