"""Read documents in this process: each file read, identified and parsed on its own, its rows
added to typed tables (`accumulate.Accumulator`) with provenance; whatever goes wrong with one
file becomes a `load_errors` row and never stops the others. While one file is parsed, the next
ones are read and hashed on other threads (both release the GIL). `loader.load` calls this
directly, or in worker processes (`fanout`, `worker`) for large inputs.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from auditlib.data import AuditData, FileResult
from auditlib.errors import ParseError
from auditlib.identity import normalize_digest, parse_reference
from auditlib.ingest import accumulate, documents
from auditlib.ingest.accumulate import Accumulator, row_keys
from auditlib.ingest.documents import (
    Candidate,
    RawFile,
    decode_document,
    read_file,
    too_deep,
)
from auditlib.ingest.run_record import apply_run_record, read_run_record
from auditlib.parsers import identify, parse_document
from auditlib.rows import Columns, Output, Row, ScanInfo
from auditlib.tables import DATA_TABLES


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
    given = parse_reference(img.reference) if img.reference else None
    ref = str(given) if given else None
    tags: list[Row] = []
    seen: set[str] = set()
    repo_digest: str | None = None
    for text in [*img.tags, *img.repo_digests]:
        bare = normalize_digest(text)
        # (The reference is usually the first tag: parsed once.)
        parsed = None if bare else given if text == img.reference else parse_reference(text)
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
            "host": img.host,
            "exposed_ports": img.exposed_ports,
            "volumes": img.volumes,
            "has_healthcheck": img.has_healthcheck,
            "entrypoint": img.entrypoint,
        }
    labels = [{"image_id": image_id, "label": k, "value": v} for k, v in img.labels.items()]
    return image_id, repo_digest, ref, image_row, tags, labels


def _document(
    out: Output, fmt: str, version: str, scan_id: str, size: int
) -> tuple[dict[str, str | None], list[tuple[str, list[Row]]]]:
    """Return a document's provenance stamp and its batches of rows by table, in the order they
    are added: `scans`, `images`, `image_tags`, `image_labels`, then the parser's tables."""
    scan = out.scan
    image_id, repo_digest, ref, image_row, tags, labels = _image_rows(scan)
    stamp = {
        "scan_id": scan_id,
        "source": out.source,
        "source_format": f"{fmt}@{version}",
        "image_id": image_id,
    }
    img = scan.image
    scan_row = {
        "format": fmt,
        "format_version": version,
        "format_inferred": scan.format_inferred,
        "tool": scan.tool,
        "tool_version": scan.tool_version,
        "generated_at": scan.generated_at,
        "target": scan.target,
        "target_type": scan.target_type,
        "vulnerability_scan": scan.vulnerability_scan,
        "scanners_run": scan.scanners_run,
        "scanners_skipped": scan.scanners_skipped,
        "scanners_skipped_reason": scan.scanners_skipped_reason,
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
    return stamp, batches


_WRITABLE = frozenset(t.name for t in DATA_TABLES) - {"load_errors"}
"""The tables a document's rows may go to (the store's licence tables are derived)."""


def _known(source: str, name: str) -> None:
    """Raise ValueError if `name` is not a table a document may write to (a parser bug)."""
    if name not in _WRITABLE:
        raise ValueError(f"{source}: parser wrote to unknown table {name!r}")


def _check_keys(source: str, name: str, rows: list[Row], declared: frozenset[str]) -> bool:
    """Return whether `rows` all have the keys of the first in its order (`row_keys`).

    Raises:
        ValueError: if they name undeclared columns (a parser bug).
    """
    keys, same = row_keys(rows)
    stray = keys - declared
    if stray:
        raise ValueError(f"{source}: parser wrote undeclared {name} columns {sorted(stray)}")
    return same


def _column_batches(acc: Accumulator, out: Output) -> list[tuple[str, Columns, int]]:
    """Return the document's batches given as columns, each with its table and row count.

    Raises:
        ValueError: if one names an unknown table, undeclared columns, or its lists differ in
            length (a parser bug).
    """
    for name in out.columns:
        _known(out.source, name)
    return [(name, cols, _column_rows(out.source, name, cols, acc.tables[name].names))
            for name, batch in out.columns.items() for cols in batch]


def ingest_output(
    acc: Accumulator, out: Output, fmt: str, version: str, scan_id: str, size: int
) -> dict[str, int]:
    """Add one parsed or collected document to `acc`: its `scans` row, image rows and table rows.

    Returns:
        Rows added, by table.

    Raises:
        ValueError: if the output names an unknown table or undeclared columns (a parser bug);
            nothing of the document is added then.
    """
    stamp, batches = _document(out, fmt, version, scan_id, size)
    # Check every batch before adding any, so that a parser bug leaves no half-read document.
    uniform: list[bool] = []
    for name, rows in batches:
        _known(out.source, name)
        uniform.append(_check_keys(out.source, name, rows, acc.tables[name].names))
    column_batches = _column_batches(acc, out)
    doc = acc.new_document(stamp)
    counts: dict[str, int] = {}
    for (name, rows), same in zip(batches, uniform, strict=True):
        if rows:
            acc.add(name, rows, doc, same)
            counts[name] = counts.get(name, 0) + len(rows)
    # A table's rows given as columns come after its rows given one by one.
    for name, cols, n in column_batches:
        acc.add_columns(name, cols, n, doc)
        counts[name] = counts.get(name, 0) + n
    _warnings(acc, out, stamp, scan_id)
    return counts


def _warnings(acc: Accumulator, out: Output, stamp: dict[str, str | None], scan_id: str) -> None:
    for locator, reason in out.warnings:
        acc.error(out.source, stamp["source_format"], "warning", reason, locator=locator,
                  scan_id=scan_id)


Document = tuple[Output, str, str, str, int]
"""A document to add: its output, format, format version, scan id and size in bytes."""


def ingest_outputs(acc: Accumulator, docs: Iterable[Document]) -> dict[str, int]:
    """Add many documents (the records of one collected source) to `acc`, as `ingest_output`
    does one by one, with the same tables as a result: each table's rows of consecutive
    documents are checked and transposed into columns together, once, rather than per document
    (for a small engine, that per-document work was most of the cost of its tables).

    Returns:
        Rows added, by table, over all documents.

    Raises:
        ValueError: if an output names an unknown table or undeclared columns (a parser bug).
            `acc` is then part-filled and not to be used: rows given one by one wait, per table,
            until the table is checked and added (`flush`), while rows given as columns and
            warnings are added at once; so some tables of the documents read before the error
            are in it and others are not. Undeclared columns of rows given one by one are found
            at that check, possibly after later documents were read.
    """
    counts: dict[str, int] = {}
    pending: dict[str, tuple[str, list[Row], list[tuple[int, int]]]] = {}

    def flush(name: str) -> None:
        got = pending.pop(name, None)
        if got is not None:
            source, rows, runs = got
            same = _check_keys(source, name, rows, acc.tables[name].names)
            acc.add_runs(name, rows, runs, same)

    for out, fmt, version, scan_id, size in docs:
        stamp, batches = _document(out, fmt, version, scan_id, size)
        for name, _ in batches:
            _known(out.source, name)
        column_batches = _column_batches(acc, out)
        doc = acc.new_document(stamp)
        for name, rows in batches:
            if not rows:
                continue
            got = pending.get(name)
            if got is None or got[0] != out.source:
                flush(name)
                got = pending[name] = (out.source, [], [])
            got[1].extend(rows)
            got[2].append((doc, len(rows)))
            counts[name] = counts.get(name, 0) + len(rows)
            # A chunk ends where it would have, had the documents been added one by one.
            if acc.tables[name].n + len(got[1]) >= accumulate.CHUNK_ROWS:
                flush(name)
        for name, cols, n in column_batches:
            flush(name)  # a table's rows given as columns come after its rows given one by one
            acc.add_columns(name, cols, n, doc)
            counts[name] = counts.get(name, 0) + n
        _warnings(acc, out, stamp, scan_id)
    for name in list(pending):
        flush(name)
    return counts


def _column_rows(source: str, name: str, cols: Columns, declared: frozenset[str]) -> int:
    """Return the rows of a batch of columns (`Output.add_columns`).

    Raises:
        ValueError: if it names undeclared columns or its lists differ in length (a parser bug).
    """
    stray = cols.keys() - declared
    if stray:
        raise ValueError(f"{source}: parser wrote undeclared {name} columns {sorted(stray)}")
    lengths = {len(v) for v in cols.values()}
    if len(lengths) != 1:
        raise ValueError(f"{source}: parser wrote {name} columns of different lengths "
                         f"{sorted(lengths)}")
    return lengths.pop()


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
    acc = Accumulator(collected_at)
    files: list[FileResult] = []
    with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="auditlib-read") as pool:
        # Read and hash the next files while this one is parsed: both release the GIL.
        ahead = _ReadAhead(pool, [c for c in candidates if c.skip_reason is None and not c.error])
        for cand in candidates:
            source = str(cand.path)
            if cand.error is not None:
                acc.error(source, None, "error", cand.error)
                files.append(FileResult(source, error=cand.error))
                continue
            if cand.skip_reason is not None:
                acc.error(source, None, "skipped", cand.skip_reason)
                files.append(FileResult(source, skipped=cand.skip_reason))
                continue
            files.append(_read_one(acc, source, ahead.next()))
    return AuditData(**acc.build(), files=files)


PREFETCH = 6
"""Files read ahead of the one being parsed."""

PREFETCH_BYTES = 64 * 1024**2
"""Bytes (by the files' sizes) read ahead of the one being parsed, at most, beyond one file: with
`PREFETCH`, files read ahead hold at most 64 MiB plus one document (`MAX_DOCUMENT_BYTES`)."""

READERS = 2
"""Threads reading and hashing files ahead: hashing (about 1 GB/s) must keep up with parsing."""


class _ReadAhead:
    """The files to read, in order, each read on a thread a few files ahead of its turn."""

    def __init__(self, pool: ThreadPoolExecutor, to_read: list[Candidate]) -> None:
        self._pool = pool
        self._todo = iter(to_read)
        self._pending: deque[tuple[Future[RawFile], int]] = deque()
        self._bytes = 0
        self._fill()

    def _fill(self) -> None:
        while len(self._pending) < PREFETCH and (
            not self._pending or self._bytes < PREFETCH_BYTES
        ):
            cand = next(self._todo, None)
            if cand is None:
                return
            size = _size(cand)
            self._pending.append((self._pool.submit(read_file, cand.path), size))
            self._bytes += size

    def next(self) -> Future[RawFile]:
        """Return the read of the next file, and start reading the ones after it."""
        future, size = self._pending.popleft()
        self._bytes -= size
        self._fill()
        return future


def _size(cand: Candidate) -> int:
    """Return the bytes reading `cand` will hold: its size, or 0 when it is refused unread."""
    try:
        size = cand.path.stat().st_size
    except (OSError, ValueError):
        return 0
    return size if size <= documents.MAX_DOCUMENT_BYTES else 0


def _read_one(acc: Accumulator, source: str, future: Future[RawFile]) -> FileResult:
    fmt: str | None = None
    try:
        raw = future.result()
        doc = decode_document(raw)
        found = identify(doc)
        fmt = found.parser.format_id if found else None
        parser, version, out = parse_document(doc, found)  # identified once, above
        # What `auditlib scan` recorded about the run that made it decides over the document.
        apply_run_record(out.scan, read_run_record(Path(source)), parser.format_id)
        counts = ingest_output(acc, out, parser.format_id, version, raw.scan_id, raw.size)
        return FileResult(source, fmt, version, counts, warnings=len(out.warnings))
    except ParseError as e:
        acc.error(source, e.format or fmt, "error", str(e))
        return FileResult(source, e.format or fmt, error=str(e))
    except RecursionError:  # a parser decoding a section as deep as the decoder could follow
        reason = too_deep(source)
        acc.error(source, fmt, "error", reason)
        return FileResult(source, fmt, error=reason)
    except Exception as e:  # noqa: BLE001 - one bad file must never stop the others
        reason = f"{source}: unexpected {type(e).__name__} while reading: {e}"
        acc.error(source, fmt, "error", reason)
        return FileResult(source, fmt, error=reason)
