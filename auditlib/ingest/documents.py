"""Finding the files to read under the paths a user gives, and reading one file into a
`Document`, within the limits below.

Only regular files are read: a FIFO, a socket or a device (or a link to one) is refused when it is
found, never opened for reading (opening a FIFO waits for a writer; a device never ends). A file
is read up to `MAX_DOCUMENT_BYTES`, counted as the bytes actually read (a device or a `/proc` file
reports size 0), and its JSON may nest up to `MAX_NESTING_DEPTH` levels. A file over a limit is
one error naming the file and the limit; the other files are read.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

import msgspec

from auditlib.errors import NotJsonError
from auditlib.parsers.interface import Document

JSON_SUFFIXES = (".json", ".sarif", ".cdx", ".spdx", ".jsonld", ".bom", ".grype", ".syft", ".trivy")
"""File name endings always read as JSON, whatever their first bytes."""

MAX_DOCUMENT_BYTES = 128 * 1024**2
"""The most bytes of one document read (128 MiB). A file whose size is larger is refused unread;
reading stops one byte past the limit whatever the file says its size is, so a file that grows
while read or reports no size (`/proc`) costs at most this much.

Memory follows from it, not from the input: read in one process, a document at the limit of the
worst shape (1.29 million Trivy vulnerabilities of four short fields each) peaks at 2.5 GB RSS
(10.6 s), one made of a single 127 MiB string at 0.66 GB; reading a small file peaks at 0.15 GB.
Real documents are far smaller: the benchmark fleet's Syft SBOMs are under 10 MB, the largest
corpus document 4 MB. Read at call time, so it can be lowered (tests) or raised in this process;
worker processes (`fanout`) use the default.
"""

MAX_NESTING_DEPTH = 500
"""Arrays and objects nested deeper than this in a document are refused ("nested deeper than 500
levels"); every document within it is read. The decoder follows nesting as deep as Python's
recursion limit allows (`sys.getrecursionlimit()`, 1,000 by default, less the calls under way),
which is past this depth, and a document deeper than that is refused with this message rather than
a `RecursionError`. Real documents nest fewer than 20 levels."""

_TOP = dict[str, msgspec.Raw] | list[msgspec.Raw] | None

_HEAD = 512
"""Bytes read from a file without a JSON name to tell whether it is JSON."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file found under the given paths."""

    path: Path
    """The file."""
    skip_reason: str | None
    """Why it is not read (plainly not JSON), or None when it is read."""
    error: str | None = None
    """Why it is refused, as an error (not a regular file: a FIFO, a socket, a device), or None."""


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x7fELF", "an executable (ELF)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF document"),
    (b"SQLite format 3\x00", "an SQLite database"),
)


def describe_content(head: bytes) -> str:
    """Return what kind of file the first bytes of a file look like (`empty`, `text`, `binary
    data`, `a gzip ...`), in words that never quote the bytes themselves."""
    if not head:
        return "an empty file"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "a tar archive"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "binary data"
    if b"\x00" in head:
        return "binary data"
    if not head.strip():
        return "blank text"
    return "text"


def _open_nonblocking(path: str, flags: int) -> int:
    # A FIFO opened without O_NONBLOCK waits for a writer; with it, opening returns at once and
    # fstat then refuses it. Regular files ignore the flag.
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def _looks_like_json(path: Path) -> str | None:
    """Return None when `path` should be read as JSON, else why not (never quoting its bytes)."""
    if path.name.lower().endswith(JSON_SUFFIXES):
        return None
    try:
        with open(path, "rb", opener=_open_nonblocking) as f:  # never waits on a FIFO
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None  # no longer a regular file: reading it refuses it
            head = f.read(_HEAD)
    except OSError:
        return None  # unreadable: reading it reports the error
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or stripped[:1] in (b"{", b"["):
        return None
    what = describe_content(head)
    if what == "text":
        what = "text that does not begin with '{' or '['"
    return f"not a JSON document ({what}, no .json name)"


_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


def _not_regular(path: Path, mode: int) -> str:
    what = next((w for test, w in _KINDS if test(mode)), "a special file")
    if path.is_symlink():
        what = f"a symbolic link to {what} ({os.path.realpath(path)})"
    return f"{path}: {what}, not a regular file; only regular files are read"


def _refusal(path: Path) -> str | None:
    """Return why `path` is refused (it is a FIFO, socket or device, or a link to one), or None
    when it is a regular file or cannot be looked at (reading it then reports why)."""
    try:
        mode = path.stat().st_mode  # follows links: a link to /dev/zero is a device
    except (OSError, ValueError):
        return None
    return None if stat.S_ISREG(mode) else _not_regular(path, mode)


def find_files(*paths: str | os.PathLike[str]) -> Iterator[Candidate]:
    """Yield every file under `paths`, in a stable order.

    Folders are walked recursively (hidden folders such as `.git` are left out); files are yielded
    as given. A path that does not exist is yielded too, so that reading it reports the error.
    A FIFO, socket or device (or a link to one) is yielded with its `error`, never opened.
    """
    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    f = Path(root) / name
                    refused = _refusal(f)
                    if refused is not None:
                        yield Candidate(f, None, refused)
                    else:
                        yield Candidate(f, _looks_like_json(f))
        else:
            yield Candidate(p, None, _refusal(p))


def _to_utf8(data: bytes, source: str) -> bytes:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Windows PowerShell's `>` writes UTF-16; a scan saved that way is still a scan.
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as e:
            raise NotJsonError(f"{source}: invalid UTF-16 text: {e}") from e
    return data


@dataclass(frozen=True, slots=True)
class RawFile:
    """The bytes of one file, with its id."""

    path: Path
    data: bytes
    """The bytes as stored."""
    scan_id: str
    """`sha256:` of the bytes: the id of the document in every table."""

    @property
    def size(self) -> int:
        """Return the size in bytes."""
        return len(self.data)


def too_large(source: str, size: int, limit: int, *, read: bool = False) -> str:
    """Return the reason for a document over `MAX_DOCUMENT_BYTES`: by its `size`, or (`read`)
    by the bytes read when its size said less."""
    what = (
        f"more than {limit:,} bytes read though its size says {size:,}"
        if read
        else f"{size:,} bytes"
    )
    return (
        f"{source}: {what}, more than auditlib reads of one document (limit "
        f"MAX_DOCUMENT_BYTES={limit}); refused"
    )


def _read_capped(f: IO[bytes], size: int, limit: int) -> bytes:
    """Return the bytes of `f`, at most `limit` + 1 of them (one past the limit tells that the
    file is over it), whatever size the file reported."""
    data = f.read(min(size, limit) + 1)
    if len(data) <= size or len(data) > limit:
        return data  # the whole file as its size said (or one byte past the limit)
    chunks = [data]  # larger than it said: growing, or a /proc file (size 0)
    total = len(data)
    while total <= limit:
        chunk = f.read(min(1024 * 1024, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def read_file(path: Path) -> RawFile:
    """Read one file and hash it.

    Safe to run on another thread (reading and hashing release the GIL).

    Raises:
        NotJsonError: if the file cannot be read, is not a regular file (a FIFO, socket or
            device is refused without waiting on it), or is larger than `MAX_DOCUMENT_BYTES`
            (by its size, or by the bytes actually read).
    """
    source = str(path)
    limit = MAX_DOCUMENT_BYTES
    try:
        with open(path, "rb", opener=_open_nonblocking) as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise NotJsonError(_not_regular(path, st.st_mode))
            if st.st_size > limit:
                raise NotJsonError(too_large(source, st.st_size, limit))
            raw = _read_capped(f, st.st_size, limit)
    except OSError as e:
        raise NotJsonError(f"{source}: cannot read: {e.strerror or e}") from e
    if len(raw) > limit:
        raise NotJsonError(too_large(source, st.st_size, limit, read=True))
    return RawFile(path, raw, "sha256:" + hashlib.sha256(raw).hexdigest())


def too_deep(source: str) -> str:
    """Return the reason for a document nested deeper than the decoder follows: deeper than
    `MAX_NESTING_DEPTH`, or than Python's recursion limit allows here if that is less."""
    depth = 0
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    levels = min(MAX_NESTING_DEPTH, sys.getrecursionlimit() - depth)
    return (
        f"{source}: arrays and objects nested deeper than {levels} levels "
        f"(limit MAX_NESTING_DEPTH={MAX_NESTING_DEPTH}); refused"
    )


def decode_document(raw: RawFile) -> Document:
    """Decode the top level of a file's bytes.

    Raises:
        NotJsonError: if the bytes are empty, truncated, not UTF-8 or UTF-16, not a JSON object
            or array, or nested deeper than the decoder follows (`MAX_NESTING_DEPTH`).
    """
    source = str(raw.path)
    data = _to_utf8(raw.data, source)
    if len(data) < 4096 and not data.strip():  # a large file of only spaces fails below anyway
        raise NotJsonError(f"{source}: empty file")
    try:
        top = msgspec.json.decode(data, type=_TOP)
    except msgspec.ValidationError as e:
        raise NotJsonError(f"{source}: top level is not a JSON object or array ({e})") from e
    except msgspec.DecodeError as e:
        raise NotJsonError(f"{source}: not valid JSON: {e}") from e
    except RecursionError:
        raise NotJsonError(too_deep(source)) from None
    if top is None:
        raise NotJsonError(f"{source}: the document is JSON null, with nothing in it")
    if isinstance(top, dict):
        return Document(source, data, top=top)
    return Document(source, data, items=top)
