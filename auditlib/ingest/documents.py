"""Finding the files to read under the paths a user gives, and reading one file into a
`Document`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from auditlib.errors import NotJsonError
from auditlib.parsers.interface import Document

JSON_SUFFIXES = (".json", ".sarif", ".cdx", ".spdx", ".jsonld", ".bom", ".grype", ".syft", ".trivy")
"""File name endings always read as JSON, whatever their first bytes."""

MAX_DOCUMENT_BYTES = 4 * 1024**3
"""Files larger than this are refused rather than read into memory."""

_TOP = dict[str, msgspec.Raw] | list[msgspec.Raw] | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file found under the given paths."""

    path: Path
    """The file."""
    skip_reason: str | None
    """Why it is not read (plainly not JSON), or None when it is read."""


def _looks_like_json(path: Path) -> str | None:
    """Return None when `path` should be read as JSON, else why not."""
    if path.name.lower().endswith(JSON_SUFFIXES):
        return None
    try:
        with path.open("rb") as f:
            head = f.read(64)
    except OSError:
        return None  # unreadable: reading it reports the error
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or stripped[:1] in (b"{", b"["):
        return None
    shown = stripped[:12].decode("utf-8", "replace")
    return (
        f"not a JSON document (begins {shown!r})"
        if stripped
        else "not a JSON document (empty, no .json name)"
    )


def find_files(*paths: str | os.PathLike[str]) -> Iterator[Candidate]:
    """Yield every file under `paths`, in a stable order.

    Folders are walked recursively (hidden folders such as `.git` are left out); files are yielded
    as given. A path that does not exist is yielded too, so that reading it reports the error.
    """
    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    f = Path(root) / name
                    yield Candidate(f, _looks_like_json(f))
        else:
            yield Candidate(p, None)


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


def read_file(path: Path) -> RawFile:
    """Read one file and hash it.

    Safe to run on another thread (reading and hashing release the GIL).

    Raises:
        NotJsonError: if the file cannot be read or is larger than `MAX_DOCUMENT_BYTES`.
    """
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise NotJsonError(
                f"{source}: {size} bytes is larger than the {MAX_DOCUMENT_BYTES} bytes "
                "auditlib reads"
            )
        raw = path.read_bytes()
    except OSError as e:
        raise NotJsonError(f"{source}: cannot read: {e.strerror or e}") from e
    return RawFile(path, raw, "sha256:" + hashlib.sha256(raw).hexdigest())


def decode_document(raw: RawFile) -> Document:
    """Decode the top level of a file's bytes.

    Raises:
        NotJsonError: if the bytes are empty, truncated, not UTF-8 or UTF-16, or not a JSON object
            or array.
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
    if top is None:
        raise NotJsonError(f"{source}: the document is JSON null, with nothing in it")
    if isinstance(top, dict):
        return Document(source, data, top=top)
    return Document(source, data, items=top)
