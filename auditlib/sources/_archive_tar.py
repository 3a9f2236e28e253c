"""Tar archives, plain or compressed, read without extracting anything.

A plain tar is indexed by its headers (layer data is seeked over, never read) and its JSON
members are read on demand. A compressed tar cannot be seeked cheaply, so it is read once as a
stream and only the members that look like JSON (first non-blank byte `{` or `[`, size within the
limit) are kept in memory.
"""

from __future__ import annotations

import lzma
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal

from auditlib.sources._archive_folder import FolderMembers
from auditlib.sources._archive_members import ArchiveError, ArchiveLimits, MemberInfo, Members

_GZIP, _BZIP2, _XZ, _ZSTD = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd"
_PEEK = 512
_STREAM_MODES: dict[str, Literal["r|gz", "r|bz2", "r|xz"]] = {
    "gz": "r|gz",
    "bz2": "r|bz2",
    "xz": "r|xz",
}


_CORRUPT = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError)
"""What reading a broken tar (or its compressed stream) raises."""


class _SeekableTar(Members):
    """A plain tar: headers indexed up front (layer data seeked over), JSON members read on
    demand.
    """

    def __init__(self, tar: tarfile.TarFile, limits: ArchiveLimits) -> None:
        super().__init__(limits)
        self._tar = tar
        self._members: dict[str, tarfile.TarInfo] = {}
        try:
            while (member := tar.next()) is not None:
                info = self._add(member)
                if info is not None:
                    self._members[info.name] = member
        except _CORRUPT as exc:
            raise self._cut_short(exc) from None

    def _read(self, info: MemberInfo) -> bytes:
        try:
            handle = self._tar.extractfile(self._members[info.name])
            if handle is None:
                raise ArchiveError(f"{info.name}: cannot be read")
            with handle:
                data = handle.read(info.size + 1)
        except (tarfile.TarError, OSError) as exc:
            raise ArchiveError(f"{info.name}: cannot be read ({exc})") from None
        if len(data) != info.size:
            raise ArchiveError(f"{info.name}: truncated ({len(data)} of {info.size} bytes)")
        return data


class _StreamedTar(Members):
    """A compressed tar: read once as a stream, keeping the members that look like JSON."""

    def __init__(self, tar: tarfile.TarFile, kind: str, limits: ArchiveLimits) -> None:
        super().__init__(limits)
        self.kind = kind
        self._data: dict[str, bytes] = {}
        buffered = 0
        try:
            while (member := tar.next()) is not None:
                info = self._add(member)
                if info is None or info.kind != "file" or info.size > limits.max_json_bytes:
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                with handle:
                    head = handle.read(_PEEK)
                    if head.lstrip()[:1] not in (b"{", b"["):
                        continue
                    data = head + handle.read(info.size - len(head))
                buffered += len(data)
                if buffered > limits.max_buffered_bytes:
                    raise ArchiveError(
                        f"more than {limits.max_buffered_bytes} bytes of JSON members; "
                        "refusing the archive"
                    )
                self._data[info.name] = data
        except _CORRUPT as exc:
            raise self._cut_short(exc) from None

    def _read(self, info: MemberInfo) -> bytes:
        data = self._data.get(info.name)
        if data is None:
            raise ArchiveError(f"{info.name}: not valid JSON (does not start with '{{' or '[')")
        if len(data) != info.size:
            raise ArchiveError(f"{info.name}: truncated ({len(data)} of {info.size} bytes)")
        return data


def _sniff(head: bytes) -> str:
    if head.startswith(_GZIP):
        return "gz"
    if head.startswith(_BZIP2):
        return "bz2"
    if head.startswith(_XZ):
        return "xz"
    if head.startswith(_ZSTD):
        return "zst"
    return ""


@contextmanager
def open_members(path: Path, limits: ArchiveLimits) -> Iterator[Members]:
    """Yield the members of the archive at `path` (a tar, a compressed tar, or a folder).

    Raises:
        ArchiveError: if the path cannot be read, is not a tar (or a folder), is compressed with
            an unsupported method, is truncated or corrupt, has an unsafe member name, or has
            more members than the limit.
    """
    if path.is_dir():
        yield FolderMembers(path, limits)
        return
    try:
        handle: IO[bytes] = open(path, "rb")
    except OSError as exc:
        raise ArchiveError(f"cannot be opened ({exc.strerror})") from None
    with handle:
        head = handle.read(_PEEK)
        if not head:
            raise ArchiveError("empty file: not a tar archive")
        handle.seek(0)
        method = _sniff(head)
        if method == "zst":
            raise ArchiveError("zstd-compressed; decompress it first (unsupported here)")
        try:
            if method:
                with tarfile.open(fileobj=handle, mode=_STREAM_MODES[method]) as tar:
                    members: Members = _StreamedTar(tar, f"tar.{method}", limits)
            else:
                tar = tarfile.open(fileobj=handle, mode="r:")
                members = _SeekableTar(tar, limits)
        except tarfile.ReadError as exc:
            what = f"not a valid {method}-compressed tar archive" if method else "not a tar archive"
            raise ArchiveError(f"{what} ({exc})") from None
        except _CORRUPT as exc:
            raise ArchiveError(f"truncated or corrupt archive ({exc})") from None
        yield members
