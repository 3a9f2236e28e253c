"""Atomic file writes, and the folders caches go to.

Atomic file writes: a reader sees the old file or the new one, never a part of either.

The new content goes to a hidden temporary file in the target's own folder
(`.<name>.<random>.tmp`, so that nothing that lists the folder reads it), is flushed to disk and
renamed over the target. The new file keeps the old one's mode, or gets the umask's (0o666 less
the umask) when there was none. A run that dies mid-write leaves at most a hidden temporary file
(`remove_stale_temps` clears those).

Caches (the end-of-life table `auditlib eol update` writes, the Jupyter kernel auditlib
registers, IPython's folder for report kernels) go under `user_cache_dir()`
(`$XDG_CACHE_HOME/auditlib`, else `~/.cache/auditlib`); a user who cannot write there (a
read-only home, another user's) gets this user's own folder in the temporary folder
(`writable_cache_dir`), so read-only use of auditlib works.

Small JSON side files (a scanner output's run record) are read by `read_json_object`: only a
regular file, never waiting on a FIFO, up to a size.

This is a bottom layer: it imports nothing from auditlib.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TEMP_SUFFIX = ".tmp"
"""The suffix of every temporary file written here."""


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, mode: int | None = None, sync: bool = True
) -> Iterator[Path]:
    """Replace `path` atomically with what the block writes to the temporary file it is given.

    For writers that need a path rather than bytes (a scanner's `--output`, `to_parquet`, a stream
    of pieces). The folder is created when missing. The temporary file exists (empty) when the
    block starts; the writer may truncate or overwrite it. When the block ends normally, the file
    is flushed to disk (unless `sync` is false), given its mode and renamed to `path`; when the
    block raises, the temporary file is removed and `path` is left as it was.

    Args:
        path: the file to write.
        mode: the permission bits of the new file; None keeps those of the file it replaces, or,
            when there is none, gives 0o666 less the umask.
        sync: whether to fsync the file and its folder; false for throwaway output (the rename is
            still atomic, only durability after a crash is given up).

    Yields:
        The temporary file's path, in the folder of `path`.

    Raises:
        OSError: if the folder, the temporary file or the rename fails (and whatever the block
            raises); `path` is then left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = _mode_of(target)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
    # os.open rather than mkstemp: a new file gets the umask's mode, not mkstemp's 0600 (which
    # would hide a shared folder's files from its other readers).
    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield temp
        if sync:
            _fsync_file(temp)
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if sync:
        _fsync_dir(target.parent)


def write_atomic(
    path: str | os.PathLike[str], data: bytes | str, *, mode: int | None = None,
    sync: bool = True,
) -> None:
    """Write `data` (text is written as UTF-8) to `path` atomically; see `atomic_path`.

    Raises:
        OSError: if it cannot be written; `path` is then left as it was.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path, mode=mode, sync=sync) as temp, temp.open("wb") as f:
        f.write(payload)


def remove_stale_temps(path: str | os.PathLike[str], *, older_than: float) -> None:
    """Remove the temporary files of `path` that a dead writer left, when older than `older_than`
    seconds (younger ones may belong to a writer still at work). Never raises: what cannot be
    removed stays.
    """
    target = Path(path)
    now = time.time()
    pattern = f".{glob.escape(target.name)}.*{TEMP_SUFFIX}"
    for stale in target.parent.glob(pattern):
        try:
            if now - stale.stat().st_mtime > older_than:
                stale.unlink()
        except OSError:
            pass


def _mode_of(path: Path) -> int | None:
    """Return the permission bits of `path`, or None when there is no such file."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return None


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform lets a folder be opened (Windows).
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def user_cache_dir() -> Path | None:
    """Return auditlib's folder in the user's cache: `$XDG_CACHE_HOME/auditlib` (an absolute
    path), else `~/.cache/auditlib`; None when there is no home folder. It may not exist, nor be
    writable."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec ignores a relative path
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME and no password entry
            return None
    return Path(base) / "auditlib"


def private_temp_dir(name: str, *, make: bool = True) -> Path | None:
    """Return `<temporary folder>/auditlib-<uid>/<name>`, made if missing (unless not `make`): a
    folder of this user only (mode 0700, owned by it, not a link, checked); None when it cannot
    be made (or, not `make`, is missing) or is not this user's own (another user made it
    first)."""
    root = Path(tempfile.gettempdir()) / f"auditlib-{os.getuid()}"
    folder = root / name
    try:
        if make:
            with contextlib.suppress(FileExistsError):
                root.mkdir(mode=0o700)
        st = os.lstat(root)
        if (not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid()
                or st.st_mode & 0o077):
            return None
        if make:
            folder.mkdir(mode=0o700, exist_ok=True)
        elif not folder.is_dir():
            return None
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK | os.X_OK) else None


def writable_cache_dir(name: str) -> Path | None:
    """Return a folder for the cache `name` that this user can write, made if missing:
    `user_cache_dir()/name`, else `private_temp_dir(name)`; None when neither can be made (the
    caller then goes without the cache)."""
    usual = user_cache_dir()
    if usual is not None:
        folder = usual / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK | os.X_OK):
                return folder
        except OSError:
            pass
    return private_temp_dir(name)


def read_json_object(path: Path, *, max_bytes: int = 64 * 1024) -> dict[str, Any] | None:
    """Return the JSON object in the small file `path`, or None when there is none: missing, not
    a regular file (a FIFO is never waited on), unreadable, over `max_bytes`, not JSON, or not
    an object."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            data = f.read(max_bytes + 1)
        doc = json.loads(data) if len(data) <= max_bytes else None
    except (OSError, ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None
