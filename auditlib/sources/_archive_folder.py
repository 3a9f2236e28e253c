"""OCI layouts (or unpacked `docker save` archives) as folders: files are looked up by name,
nothing outside the folder is ever opened, and no symlink is followed for a JSON member.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from auditlib.sources._archive_members import (
    ArchiveError,
    ArchiveLimits,
    MemberInfo,
    Members,
    clean_name,
    mode_kind,
    not_regular,
)


class FolderMembers(Members):
    """A folder (an OCI layout, an unpacked `docker save`): files are looked up by name, and
    nothing outside the folder is ever opened.
    """

    kind = "folder"

    def __init__(self, root: Path, limits: ArchiveLimits) -> None:
        super().__init__(limits)
        self._root = root.resolve()

    def _path(self, name: str) -> Path | None:
        """Return the path of `name` if its folder resolves inside the archive folder."""
        path = self._root / name
        try:
            parent = path.parent.resolve()
        except (OSError, RuntimeError):
            return None
        if parent != self._root and self._root not in parent.parents:
            return None
        return path

    def info(self, name: str) -> MemberInfo | None:
        """Return what is known of file `name` in the folder (kind `outside` when its folder
        resolves outside the archive folder, through a symlink), or None if it is missing.
        """
        clean = clean_name(name)
        if not clean:
            return None
        path = self._path(clean)
        if path is None:
            return MemberInfo(clean, "outside", 0) if os.path.lexists(self._root / clean) else None
        try:
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                return MemberInfo(clean, "symlink", 0, os.readlink(path))
        except OSError:
            return None
        kind = mode_kind(st.st_mode)
        return MemberInfo(clean, kind, st.st_size if kind == "file" else 0)

    def size_of(self, name: str) -> int | None:
        """Return the size of file `name`, following symlinks that stay inside the folder."""
        try:
            path = self._path(clean_name(name))
            if path is None:
                return None
            real = path.resolve()
            if self._root not in real.parents:
                return None
            st = real.stat()
        except (ArchiveError, OSError, RuntimeError):
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None

    def _read(self, info: MemberInfo) -> bytes:
        # O_NONBLOCK: a FIFO put in place of the file since `info` is opened without waiting,
        # then refused.
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        limit = self.limits.max_json_bytes
        try:
            fd = os.open(self._root / info.name, flags)
            with os.fdopen(fd, "rb") as handle:
                st = os.fstat(handle.fileno())
                if not stat.S_ISREG(st.st_mode):
                    kind = not_regular(mode_kind(st.st_mode))
                    raise ArchiveError(f"{info.name}: {kind}; refusing it as a JSON member")
                # The bytes read are bounded, not the size the file reports.
                data = handle.read(min(st.st_size, limit) + 1)
                if len(data) > st.st_size and len(data) <= limit:
                    data += handle.read(limit + 1 - len(data))
        except OSError as exc:
            raise ArchiveError(f"{info.name}: cannot be read ({exc.strerror})") from None
        if len(data) > limit:
            raise ArchiveError(
                f"{info.name}: absurd size for a JSON member: more than {limit} bytes read "
                f"(limit max_json_bytes={limit})"
            )
        return data
