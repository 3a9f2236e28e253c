"""The store lock: an exclusive `flock` on `STORE/.lock`, held while the ingest's stat cache (a
cache of this host's files) is updated. Snapshots are written without it
(`auditlib.store.write`)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from auditlib.errors import StoreError
from auditlib.store.layout import StorePath, lock_file


@contextmanager
def store_lock(store: StorePath) -> Iterator[None]:
    """Hold an exclusive `flock` on `STORE/.lock` (the store folder is created when missing).

    Updates of the stat cache hold it; it is not re-entrant (do not nest it).

    Raises:
        StoreError: if the lock file cannot be created or locked.
    """
    path = Path(store)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file(path), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise StoreError(f"{store}: cannot lock the store: {e}") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:
            raise StoreError(f"{store}: cannot lock the store: {e}") from e
        yield
    finally:
        os.close(fd)  # releases the lock
