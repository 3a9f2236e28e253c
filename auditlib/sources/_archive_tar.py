"""Tar archives, plain or compressed, read without extracting anything.

A plain tar is indexed by its headers (layer data is seeked over, never read) and its JSON
members are read on demand. A compressed tar cannot be seeked cheaply, so it is read once as a
stream and only the members that look like JSON (first non-blank byte `{` or `[`, size within the
limit) are kept in memory. The stream is decompressed here (gzip, bzip2, xz), counting the bytes
in and out, so that a member larger than `max_member_bytes` or a stream expanding more than
`max_compression_ratio` times (a decompression bomb) is refused early, not read to its end.

Only a regular file (or a folder, an OCI layout) is opened: a FIFO, socket or device, or a link to
one, is refused without waiting on it.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import tarfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BufferedIOBase
from pathlib import Path
from typing import IO, Any, cast

from auditlib.sources._archive_folder import FolderMembers
from auditlib.sources._archive_members import (
    ArchiveError,
    ArchiveLimitError,
    ArchiveLimits,
    MemberInfo,
    Members,
    mode_kind,
    not_regular,
)

_GZIP, _BZIP2, _XZ, _ZSTD = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd"
_PEEK = 512
_DECOMPRESSORS: dict[str, Callable[[Any], BufferedIOBase]] = {
    "gz": lambda f: gzip.GzipFile(fileobj=f, mode="rb"),
    "bz2": lambda f: bz2.BZ2File(f, "rb"),
    "xz": lambda f: lzma.LZMAFile(f, "rb"),
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
                if member.size > limits.max_member_bytes:
                    raise ArchiveLimitError(
                        f"{member.name}: {member.size} bytes once decompressed (limit "
                        f"max_member_bytes={limits.max_member_bytes}); refusing the archive"
                    )
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
                    raise ArchiveLimitError(
                        f"more than {limits.max_buffered_bytes} bytes of JSON members (limit "
                        f"max_buffered_bytes={limits.max_buffered_bytes}); refusing the archive"
                    )
                self._data[info.name] = data
        except _CORRUPT as exc:
            raise self._cut_short(exc) from None
        except _Bomb as exc:
            if not self._index:
                raise
            # The stream expanded too much while this member was read or skipped.
            raise _Bomb(f"{next(reversed(self._index))}: {exc}") from None

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


class _Bomb(ArchiveLimitError):
    """A compressed tar expanded more than `max_compression_ratio` times."""


class _Counted:
    """The compressed file, counting the bytes read from it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.count += len(data)
        return data


class _Inflated:
    """The decompressed stream `tarfile` reads, refused once it expands more than
    `max_compression_ratio` times what was read of the compressed file."""

    def __init__(self, method: str, handle: IO[bytes], limits: ArchiveLimits) -> None:
        self._counted = _Counted(handle)
        self._stream = _DECOMPRESSORS[method](self._counted)
        self._limits = limits
        self.out = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.out += len(data)
        limits = self._limits
        if (
            self.out > limits.ratio_grace_bytes
            and self.out > limits.max_compression_ratio * max(self._counted.count, 1)
        ):
            raise _Bomb(
                f"the archive expands more than {limits.max_compression_ratio} times when "
                f"decompressed ({self.out} bytes from the first {self._counted.count} "
                f"compressed; limit max_compression_ratio={limits.max_compression_ratio}), as a "
                "decompression bomb does; refusing the archive"
            )
        return data

    def close(self) -> None:
        self._stream.close()


def _open_regular(path: Path) -> IO[bytes]:
    """Open the archive file `path` for reading, refusing anything but a regular file (a FIFO
    is opened without waiting for a writer, then refused).

    Raises:
        ArchiveError: if it cannot be opened or is not a regular file.
    """
    try:
        kind = mode_kind(path.stat().st_mode)  # follows links: a link to /dev/zero is a device
        if kind != "file":
            link_to = os.path.realpath(path) if path.is_symlink() else None
            raise ArchiveError(
                f"{not_regular(kind, link_to)}; only regular files and folders are read"
            )
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        handle = os.fdopen(fd, "rb")
    except OSError as exc:
        raise ArchiveError(f"cannot be opened ({exc.strerror})") from None
    kind = mode_kind(os.fstat(handle.fileno()).st_mode)
    if kind != "file":  # replaced since it was looked at
        handle.close()
        raise ArchiveError(f"{not_regular(kind)}; only regular files and folders are read")
    return handle


@contextmanager
def open_members(path: Path, limits: ArchiveLimits) -> Iterator[Members]:
    """Yield the members of the archive at `path` (a tar, a compressed tar, or a folder).

    Raises:
        ArchiveError: if the path cannot be read, is not a regular file (or a folder), is not a
            tar, is compressed with an unsupported method, is truncated or corrupt, has an
            unsafe member name, or is over a limit (`ArchiveLimitError`: too many members, a
            member too large once decompressed, a stream expanding too much).
    """
    if path.is_dir():
        yield FolderMembers(path, limits)
        return
    with _open_regular(path) as handle:
        head = handle.read(_PEEK)
        if not head:
            raise ArchiveError("empty file: not a tar archive")
        handle.seek(0)
        method = _sniff(head)
        if method == "zst":
            raise ArchiveError("zstd-compressed; decompress it first (unsupported here)")
        if not method:
            try:
                tar = tarfile.open(fileobj=handle, mode="r:")
                members: Members = _SeekableTar(tar, limits)
            except tarfile.ReadError as exc:
                raise ArchiveError(f"not a tar archive ({exc})") from None
            except _CORRUPT as exc:
                raise ArchiveError(f"truncated or corrupt archive ({exc})") from None
            yield members
            return
        inflated = _Inflated(method, handle, limits)
        try:
            try:
                stream = tarfile.open(fileobj=cast(IO[bytes], inflated), mode="r|")
            except _CORRUPT as exc:
                raise ArchiveError(
                    f"not a valid {method}-compressed tar archive ({exc})"
                ) from None
            with stream:
                try:
                    members = _StreamedTar(stream, f"tar.{method}", limits)
                except _CORRUPT as exc:
                    raise ArchiveError(f"truncated or corrupt archive ({exc})") from None
        finally:
            inflated.close()
        yield members
