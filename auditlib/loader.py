"""`load()`: read files and folders of scanner outputs and SBOMs into one `AuditData`.

Each file is read, identified and parsed on its own; whatever goes wrong with one file becomes a
`load_errors` row and never stops the others. Parsers give plain dict rows; every few tens of
thousands of rows they are turned into typed frame chunks (declared dtypes, provenance stamped per
document), and the chunks are joined once at the end. While one file is parsed, the next one is
read and hashed on a second thread (both release the GIL).
"""

from __future__ import annotations

import gc
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import islice
from typing import Any, cast

import numpy as np
import pandas as pd

from auditlib.data import AuditData, FileResult
from auditlib.documents import Candidate, RawFile, decode_document, find_files, read_file
from auditlib.errors import ParseError
from auditlib.identity import normalize_digest, normalize_reference, parse_reference
from auditlib.parsers import identify, parse_document
from auditlib.parsers.interface import Output, Row, ScanInfo
from auditlib.tables import DTYPES, TABLES_BY_NAME, concat, frame

Progress = Callable[[str], None]


CHUNK_ROWS = 50_000
"""Rows of a table kept as Python dicts before they are turned into a typed frame chunk."""


class _Table:
    """Rows of one table from many documents: typed frame chunks, plus columns not yet converted.

    Parser rows are transposed into column lists as they arrive; every `CHUNK_ROWS` rows (at a
    document boundary) the columns become a typed frame chunk, so that a large fleet is never held
    as millions of Python objects (design.md section 8: peak memory under 2 GB).
    """

    __slots__ = ("chunks", "cols", "n", "name", "names", "runs")

    def __init__(self, name: str) -> None:
        self.name = name
        self.names = frozenset(TABLES_BY_NAME[name].column_names)
        self.chunks: list[pd.DataFrame] = []
        self.n = 0
        self.cols: dict[str, list[Any]] = {}
        self.runs: list[tuple[int, int]] = []
        self._reset()

    def _reset(self) -> None:
        self.n = 0
        self.cols = {c: [] for c in TABLES_BY_NAME[self.name].column_names if c not in _STAMPED}
        self.runs = []

    def add(self, rows: list[Row], doc: int) -> None:
        """Append the rows of document `doc` to the pending columns (checked by the caller)."""
        n = len(rows)
        if not n:
            return
        first = tuple(rows[0])
        uniform = list(map(tuple, rows)).count(first) == n
        cols = self.cols
        if uniform:
            # Rows built by one code path share their key order: transpose them in C.
            for key, values in zip(first, zip(*map(dict.values, rows), strict=True), strict=True):
                cols[key].extend(values)
        else:
            for key in set().union(*rows):
                cols[key].extend([r.get(key) for r in rows])
        for col in cols.values():
            if len(col) == self.n:  # not in these rows
                col.extend([None] * n)
        self.runs.append((doc, n))
        self.n += n


# Columns the loader stamps per document (its provenance), not per row.
_STAMPED = ("scan_id", "source", "source_format", "collected_at")


class _Accumulator:
    """Collects rows and errors while files are read; builds the tables at the end."""

    def __init__(self, collected_at: datetime) -> None:
        self.collected_at = collected_at
        self.tables: dict[str, _Table] = {name: _Table(name) for name in TABLES_BY_NAME}
        self.errors: list[Row] = []
        self.docs: list[tuple[str | None, ...]] = []
        """Per document read: scan_id, source, source_format, image_id."""

    def new_document(self, stamp: dict[str, Any]) -> int:
        """Register a document's provenance; return its number for `add`."""
        keys = ("scan_id", "source", "source_format", "image_id")
        self.docs.append(tuple(stamp.get(k) for k in keys))
        return len(self.docs) - 1

    def error(
        self,
        source: str,
        fmt: str | None,
        level: str,
        reason: str,
        locator: str | None = None,
        scan_id: str | None = None,
    ) -> None:
        self.errors.append(
            {
                "source": source,
                "format": fmt,
                "level": level,
                "locator": locator,
                "reason": reason,
                "scan_id": scan_id,
            }
        )

    def add(self, table: str, rows: list[Row], doc: int) -> None:
        acc = self.tables[table]
        acc.add(rows, doc)
        if acc.n >= CHUNK_ROWS:
            self._flush(acc)

    def _flush(self, acc: _Table) -> None:
        if acc.n:
            acc.chunks.append(self._build_chunk(acc))
            acc._reset()

    def build(self) -> dict[str, pd.DataFrame]:
        out: dict[str, pd.DataFrame] = {}
        for name, acc in self.tables.items():
            if name == "load_errors":
                continue
            self._flush(acc)
            if not acc.chunks:
                out[name] = frame(TABLES_BY_NAME[name], {}, 0)
            else:
                out[name] = concat(TABLES_BY_NAME[name], acc.chunks)
            acc.chunks = []
        errs = self.errors
        cols = {
            c: [r.get(c) for r in errs]
            for c in ("source", "format", "level", "locator", "reason", "scan_id")
        }
        cols["collected_at"] = [self.collected_at] * len(errs)
        out["load_errors"] = frame(TABLES_BY_NAME["load_errors"], cols, len(errs))
        return out

    def _build_chunk(self, acc: _Table) -> pd.DataFrame:
        name, n = acc.name, acc.n
        table = TABLES_BY_NAME[name]
        # An all-None column is left out (frame() makes it typed <NA>). Most columns have a value
        # in their first row, which settles it without comparing all n values with None.
        cols: dict[str, Any] = {
            k: v for k, v in acc.cols.items() if v[0] is not None or v.count(None) != n
        }
        for pos, key in enumerate(("scan_id", "source", "source_format")):
            cols[key] = self._stamped(acc, pos)
        ts = pd.Series(pd.Timestamp(self.collected_at), index=pd.RangeIndex(n))
        cols["collected_at"] = ts.astype(DTYPES["datetime"])
        if "image_id" in acc.names:
            stamped = self._stamped(acc, 3)
            own = cols.get("image_id")
            cols["image_id"] = (
                stamped
                if own is None
                else pd.Series(own, dtype=object).fillna(stamped.astype(object))
            )
        df = frame(table, cols, n)
        self._check_conversions(name, cols, df)
        if name == "vulnerabilities":
            # Duplicates are merged within a document, and a chunk always holds whole documents.
            df = _merge_duplicates(df, list(table.key))
        return df

    def _stamped(self, acc: _Table, pos: int) -> pd.Series:
        """Return a provenance column of a chunk as a categorical built from per-document runs."""
        docs = [d for d, _ in acc.runs]
        values = pd.Series([self.docs[d][pos] for d in docs], dtype=object)
        codes, uniques = pd.factorize(values)
        row_codes = np.repeat(codes, [m for _, m in acc.runs])
        return pd.Series(pd.Categorical.from_codes(row_codes, categories=pd.Index(uniques)))

    def _check_conversions(self, name: str, cols: dict[str, list[Any]], df: pd.DataFrame) -> None:
        """Warn about values a typed column could not hold (a bad time, a 2**70 line number)."""
        for col in TABLES_BY_NAME[name].columns:
            if (
                col.dtype in ("string", "severity", "category")
                or col.name not in cols
                or col.name == "collected_at"
            ):
                continue
            raw = pd.Series(cols[col.name], dtype=object)
            bad = raw.notna() & df[col.name].isna() & (raw != "")
            for i in bad[bad].index[:1000]:
                self.error(
                    cast(str, df.at[i, "source"]),
                    cast("str | None", df.at[i, "source_format"]),
                    "warning",
                    f"{name}.{col.name}: {str(raw[i])[:80]!r} is not a valid {col.dtype}; "
                    "left empty",
                    scan_id=cast("str | None", df.at[i, "scan_id"]),
                )


def _merge_duplicates(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Merge exact duplicates of the key inside one document, counting them in
    `occurrence_count`.
    """
    dup = df.duplicated(subset=key, keep=False)
    df["occurrence_count"] = pd.array([1] * len(df), dtype="Int64")
    if not dup.any():
        return df
    counts = df[dup].groupby(key, dropna=False, sort=False, observed=True)[key[0]].transform("size")
    df.loc[dup, "occurrence_count"] = counts.astype("Int64")
    return df.drop_duplicates(subset=key, keep="first").reset_index(drop=True)


def _image_rows(
    scan: ScanInfo,
) -> tuple[str | None, str | None, str | None, Row | None, list[Row], list[Row]]:
    """Return image_id, repo_digest, image_ref, the images row, image_tags rows and image_labels
    rows.
    """
    img = scan.image
    if img is None:
        return None, None, None, None, [], []
    image_id = normalize_digest(img.image_id)
    ref = normalize_reference(img.reference) if img.reference else None
    tags: list[Row] = []
    seen: set[str] = set()
    repo_digest: str | None = None
    for text in [*img.tags, *img.repo_digests]:
        bare = normalize_digest(text)
        parsed = None if bare else parse_reference(text)
        if parsed is None:
            # A bare manifest digest (no repository) is a repo digest without a reference.
            repo_digest = repo_digest or bare
            continue
        if parsed.digest:
            repo_digest = repo_digest or parsed.digest
        canonical = str(parsed)
        if canonical in seen:
            continue
        seen.add(canonical)
        tags.append(
            {
                "image_id": image_id,
                "reference": canonical,
                "registry": parsed.registry,
                "repository": parsed.repository,
                "tag": parsed.tag if not parsed.digest else None,
                "repo_digest": parsed.digest,
            }
        )
    if ref is None and tags:
        ref = next((t["reference"] for t in tags if t["tag"]), tags[0]["reference"])
    image_row = None
    if image_id or ref or repo_digest:
        image_row = {
            "image_id": image_id,
            "repo_digest": repo_digest,
            "image_ref": ref,
            "created_at": img.created_at,
            "os": img.os,
            "architecture": img.architecture,
            "os_family": img.os_family,
            "os_version": img.os_version,
            "is_os_eol": img.is_os_eol,
            "size_bytes": img.size_bytes,
            "user": img.user,
            "layer_count": img.layer_count,
        }
    labels = [{"image_id": image_id, "label": k, "value": v} for k, v in img.labels.items()]
    return image_id, repo_digest, ref, image_row, tags, labels


def _ingest(
    acc: _Accumulator, out: Output, fmt: str, version: str, scan_id: str, size: int
) -> dict[str, int]:
    scan = out.scan
    source_format = f"{fmt}@{version}"
    image_id, repo_digest, ref, image_row, tags, labels = _image_rows(scan)
    stamp = {
        "scan_id": scan_id,
        "source": out.source,
        "source_format": source_format,
        "image_id": image_id,
    }
    img = scan.image
    scan_row = {
        "format": fmt,
        "format_version": version,
        "tool": scan.tool,
        "tool_version": scan.tool_version,
        "generated_at": scan.generated_at,
        "target": scan.target,
        "target_type": scan.target_type,
        "image_id": image_id,
        "repo_digest": repo_digest,
        "image_ref": ref,
        "os_family": img.os_family if img else None,
        "os_version": img.os_version if img else None,
        "is_os_eol": img.is_os_eol if img else None,
        "file_bytes": size,
    }
    batches = [
        ("scans", [scan_row]),
        ("images", [image_row] if image_row else []),
        ("image_tags", tags),
        ("image_labels", labels),
        *out.rows.items(),
    ]
    # Check every batch before adding any, so that a parser bug leaves no half-read document.
    for name, rows in batches:
        if name not in acc.tables or name == "load_errors":
            raise ValueError(f"{out.source}: parser wrote to unknown table {name!r}")
        stray = set().union(*rows) - acc.tables[name].names
        if stray:
            raise ValueError(
                f"{out.source}: parser wrote undeclared {name} columns {sorted(stray)}"
            )
    doc = acc.new_document(stamp)
    counts: dict[str, int] = {}
    for name, rows in batches:
        if rows:
            acc.add(name, rows, doc)
            counts[name] = counts.get(name, 0) + len(rows)
    for locator, reason in out.warnings:
        acc.error(out.source, source_format, "warning", reason, locator=locator, scan_id=scan_id)
    return counts


def load(
    *paths: str | os.PathLike[str], progress: Progress | None = None, workers: int | None = None
) -> AuditData:
    """Read scanner outputs and SBOMs from files and folders into tables.

    Folders are walked; files that are plainly not JSON (a README, a TSV, a Dockerfile) are listed
    as skipped. Every other file is identified from its content and parsed; a file that cannot be
    read gives one `load_errors` row of level `error`, a record skipped inside a good file one of
    level `warning`. Nothing raises for bad input.

    Args:
        paths: files and folders.
        progress: called with each file path once it has been read.
        workers: processes to read with; None picks one for small inputs and one per core (up to
            8) for large ones (`auditlib.fanout`). Rows come out in the same order either way.

    Returns:
        The tables, with `files` saying what each file gave.
    """
    from auditlib import fanout

    candidates = list(find_files(*paths))
    collected_at = datetime.now(UTC)
    n = fanout.auto_workers(candidates) if workers is None else max(1, workers)
    if n == 1 or len(candidates) < 2:
        data = load_files(candidates, collected_at=collected_at)
    else:
        data = fanout.load_parallel(candidates, n, collected_at)
    if progress is not None:
        for f in data.files:
            progress(f.path)
    return data


def load_files(candidates: list[Candidate], *, collected_at: datetime) -> AuditData:
    """Read the given files in this process, in order (the work of one `load` worker).

    Returns:
        The tables of these files.
    """
    # Rows hold no reference cycles; the cyclic collector would only rescan millions of pending
    # values again and again as a large fleet is read.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(candidates, collected_at)
    finally:
        if gc_was_enabled:
            gc.enable()


def _load(candidates: list[Candidate], collected_at: datetime) -> AuditData:
    acc = _Accumulator(collected_at)
    files: list[FileResult] = []
    with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="auditlib-read") as pool:
        # Read and hash the next files while this one is parsed: both release the GIL.
        pending: deque[Future[RawFile]] = deque()
        to_read = iter(c for c in candidates if c.skip_reason is None)
        for c in islice(to_read, PREFETCH):
            pending.append(pool.submit(read_file, c.path))
        for cand in candidates:
            source = str(cand.path)
            if cand.skip_reason is not None:
                acc.error(source, None, "skipped", cand.skip_reason)
                files.append(FileResult(source, skipped=cand.skip_reason))
                continue
            future = pending.popleft()
            for c in islice(to_read, 1):
                pending.append(pool.submit(read_file, c.path))
            files.append(_read_one(acc, source, future))
    return AuditData(**acc.build(), files=files)


PREFETCH = 6
"""Files read ahead of the one being parsed (at most a few tens of MB in memory)."""

READERS = 2
"""Threads reading and hashing files ahead: hashing (about 1 GB/s) must keep up with parsing."""


def _read_one(acc: _Accumulator, source: str, future: Future[RawFile]) -> FileResult:
    fmt: str | None = None
    try:
        raw = future.result()
        doc = decode_document(raw)
        found = identify(doc)
        fmt = found[0].format_id if found else None
        parser, version, out = parse_document(doc)
        counts = _ingest(acc, out, parser.format_id, version, raw.scan_id, raw.size)
        return FileResult(source, fmt, version, counts, warnings=len(out.warnings))
    except ParseError as e:
        acc.error(source, e.format or fmt, "error", str(e))
        return FileResult(source, e.format or fmt, error=str(e))
    except Exception as e:  # noqa: BLE001 - one bad file must never stop the others
        reason = f"{source}: unexpected {type(e).__name__} while reading: {e}"
        acc.error(source, fmt, "error", reason)
        return FileResult(source, fmt, error=reason)
