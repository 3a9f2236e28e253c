"""What every kind of image archive offers its readers: members by cleaned name, their sizes, and
the bytes of JSON members, bounded by `ArchiveLimits`.

`_archive_tar` (plain and compressed tars) and `_archive_folder` (OCI layout folders) implement
`Members`. Every refusal is an `ArchiveError` whose message names the member and the reason.
"""

from __future__ import annotations

import posixpath
import re
import stat
import tarfile
from dataclasses import dataclass
from typing import Any

import orjson

from auditlib.errors import AuditlibError


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Bounds that keep a hostile or broken archive from costing unbounded time or memory.

    A limit hit is a reason naming the archive, the member when there is one, and the limit
    (`limit max_entries=100000`); the defaults are far above what real archives need.
    """

    max_json_bytes: int = 64 * 1024 * 1024
    """Largest JSON member (manifest, index, config) read; a larger one is refused. Each member
    is read and decoded once, however many entries name it."""
    max_members: int = 100_000
    """Most members a tar may have."""
    max_buffered_bytes: int = 256 * 1024 * 1024
    """Compressed tars only: most bytes of JSON-looking members kept in memory in all."""
    max_index_depth: int = 8
    """Deepest nesting of image indexes followed in an OCI layout."""
    max_entries: int = 100_000
    """Most entries of `manifest.json`, and most descriptors read from the image indexes of an
    OCI layout in all (each index is read once, however many times it is named); an archive
    with more is refused (beside a `manifest.json`, its index is left unread)."""
    max_member_bytes: int = 16 * 1024**3
    """Compressed tars only: the largest member once decompressed (16 GiB). A compressed tar is
    read as a stream, so even a layer that is skipped is decompressed; an archive with a larger
    member is refused when its header is read."""
    max_compression_ratio: int = 100
    """Compressed tars only: most bytes decompressed per compressed byte read (a decompression
    bomb expands about 1,000 times, real image archives 2 to 10 times), checked once
    `ratio_grace_bytes` have been decompressed; an archive that expands more is refused."""
    ratio_grace_bytes: int = 64 * 1024 * 1024
    """Decompressed bytes read before `max_compression_ratio` is checked (a small tar of JSON
    and padding compresses very well)."""
    max_reasons: int = 20
    """Most reasons kept for one archive; the rest are counted in one more reason."""


class ArchiveError(AuditlibError):
    """A member, or the whole archive, could not be read; the message says which and why."""


class ArchiveLimitError(ArchiveError):
    """A limit of `ArchiveLimits` was hit for the whole archive: it is refused, not just the
    entry being read."""


_MODE_KINDS = (
    (stat.S_ISFIFO, "fifo"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "chardev"),
    (stat.S_ISBLK, "blockdev"),
    (stat.S_ISDIR, "dir"),
)

KIND_WORDS = {
    "fifo": "a FIFO (named pipe)",
    "socket": "a socket",
    "chardev": "a character device",
    "blockdev": "a block device",
    "sparse": "a sparse file",
    "dir": "a folder",
    "other": "a special file",
}
"""What each `MemberInfo.kind` that is not a file or a link is, in words."""


def mode_kind(mode: int) -> str:
    """Return the `MemberInfo.kind` of a file of stat mode `mode`."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symlink"
    return next((kind for test, kind in _MODE_KINDS if test(mode)), "other")


def not_regular(kind: str, link_to: str | None = None) -> str:
    """Return the end of a refusal of something that is not a regular file (`kind` as
    `mode_kind` gives it), reached through a symbolic link to `link_to` if given."""
    what = KIND_WORDS.get(kind, kind)
    if link_to is not None:
        what = f"a symbolic link to {what} ({link_to})"
    return f"{what}, not a regular file"


_LINK_HOPS = 8


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """What the archive says about one member, without reading it."""

    name: str
    """The cleaned name (`blobs/sha256/ab...`, no `./` prefix)."""
    kind: str
    """`file`, `dir`, `symlink`, `hardlink`, `fifo`, `socket`, `chardev`, `blockdev`, `sparse`,
    `other` or, in a folder, `outside` (its folder resolves outside the archive folder)."""
    size: int
    """Size in bytes (0 for anything but a file)."""
    linkname: str = ""
    """The link target, for a symlink or a hardlink."""


def clean_name(raw: str) -> str:
    """Return a member name without `./` prefixes and repeated slashes.

    Raises:
        ArchiveError: if the name is absolute or has a `..` component (it would point outside the
            archive).
    """
    if raw.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", raw):
        raise ArchiveError(f"{raw!r}: absolute path (points outside the archive)")
    parts = [p for p in re.split(r"[/\\]", raw) if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{raw!r}: '..' path component (points outside the archive)")
    return "/".join(parts)


def decode_json(name: str, data: bytes) -> Any:
    """Return the decoded JSON of member `name`.

    Raises:
        ArchiveError: if `data` is not valid UTF-8 JSON.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ArchiveError(f"{name}: not valid JSON ({exc})") from None


class Members:
    """The members of an archive, by cleaned name; subclasses say how bytes are read."""

    kind = "tar"
    """`tar`, `tar.gz`, `tar.bz2`, `tar.xz` or `folder`."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self._index: dict[str, MemberInfo] = {}

    def __len__(self) -> int:
        return len(self._index)

    def info(self, name: str) -> MemberInfo | None:
        """Return what is known of member `name`, or None if the archive has no such member."""
        return self._index.get(name)

    def has(self, name: str) -> bool:
        """Return whether the archive has a member `name`."""
        return self.info(name) is not None

    def read(self, name: str) -> bytes:
        """Return the bytes of the JSON member `name`.

        Raises:
            ArchiveError: if the member is missing, is not a regular file (symlinks and hardlinks
                are refused), is larger than `max_json_bytes`, or cannot be read.
        """
        clean = clean_name(name)
        info = self.info(clean)
        if info is None:
            raise ArchiveError(f"{clean}: not in the archive")
        if info.kind in ("symlink", "hardlink"):
            raise ArchiveError(
                f"{clean}: is a {info.kind} (to {info.linkname!r}); refusing it as a JSON member"
            )
        if info.kind == "outside":
            raise ArchiveError(f"{clean}: its folder resolves outside the archive; refusing it")
        if info.kind != "file":
            raise ArchiveError(f"{clean}: {not_regular(info.kind)}; refusing it as a JSON member")
        if info.size > self.limits.max_json_bytes:
            raise ArchiveError(
                f"{clean}: absurd size for a JSON member: {info.size} bytes "
                f"(limit max_json_bytes={self.limits.max_json_bytes})"
            )
        return self._read(info)

    def read_json(self, name: str) -> tuple[bytes, Any]:
        """Return the bytes of member `name` and their decoded JSON.

        Raises:
            ArchiveError: as `read`, or if the bytes are not valid JSON.
        """
        data = self.read(name)
        return data, decode_json(clean_name(name), data)

    def size_of(self, name: str) -> int | None:
        """Return the size of member `name`, following links inside the archive; None if the
        member is missing, a link leads outside the archive or in a loop, or it is not a file.
        """
        try:
            current = clean_name(name)
        except ArchiveError:
            return None
        for _ in range(_LINK_HOPS):
            info = self.info(current)
            if info is None:
                return None
            if info.kind == "file":
                return info.size
            if info.kind not in ("symlink", "hardlink"):
                return None
            target = info.linkname
            if info.kind == "symlink" and not target.startswith("/"):
                target = posixpath.join(posixpath.dirname(current), target)
            target = posixpath.normpath(target)
            if target.startswith(("/", "..")):
                return None
            current = target
        return None

    def _read(self, info: MemberInfo) -> bytes:
        raise NotImplementedError

    def _cut_short(self, exc: Exception) -> Exception:
        """Return the error for a tar that broke off while being indexed: the first header is
        the tar's own problem (the caller says "not a tar"), a later one means it is truncated.
        """
        if not self._index:
            return exc
        last = next(reversed(self._index))
        return ArchiveError(f"truncated or corrupt after member {last!r} ({exc})")

    def _add(self, member: tarfile.TarInfo) -> MemberInfo | None:
        """Index one tar member; return its info (None for the archive's root entry)."""
        try:
            name = clean_name(member.name)
        except ArchiveError as exc:
            raise ArchiveError(f"member {exc}; refusing the archive") from None
        if len(self._index) >= self.limits.max_members:
            raise ArchiveLimitError(
                f"more than {self.limits.max_members} members "
                f"(limit max_members={self.limits.max_members}); refusing the archive"
            )
        if not name:
            return None
        if member.issym():
            kind = "symlink"
        elif member.islnk():
            kind = "hardlink"
        elif member.isdir():
            kind = "dir"
        elif member.issparse():
            kind = "sparse"
        elif member.isfile():
            kind = "file"
        elif member.isfifo():
            kind = "fifo"
        elif member.ischr():
            kind = "chardev"
        elif member.isblk():
            kind = "blockdev"
        else:
            kind = "other"
        info = MemberInfo(name, kind, member.size if kind == "file" else 0, member.linkname)
        self._index[name] = info
        return info
