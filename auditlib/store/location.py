"""Where a store is: a folder on any filesystem pyarrow reaches (`pyarrow.fs`).

A store is named by a local path (`./auditlib-store`), a URI pyarrow understands
(`file:///srv/store`, `s3://bucket/store`, ...), or a `Location` holding a `pyarrow.fs.FileSystem`
and a path in it (a `SubTreeFileSystem`, an fsspec filesystem wrapped in `PyFileSystem`, ...).
Writers (`auditlib.store.write`) and retention (`auditlib.store.retention`) work on any of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from auditlib.errors import StoreError


@dataclass(frozen=True)
class Location:
    """A store on a pyarrow filesystem: the filesystem and the store folder's path in it."""

    fs: pafs.FileSystem
    root: str
    """The store folder, as `fs` names it (no trailing slash)."""

    @property
    def local(self) -> Path | None:
        """Return the store folder as a local path when `fs` is the local filesystem, else None."""
        return Path(self.root) if isinstance(self.fs, pafs.LocalFileSystem) else None

    def join(self, *parts: str) -> str:
        """Return the path of `parts` under the store folder, as `fs` names it."""
        return "/".join([self.root.rstrip("/"), *parts]) if self.root else "/".join(parts)

    def __str__(self) -> str:
        return str(self.local) if self.local is not None else f"{self.fs.type_name}:{self.root}"


StoreLike = str | os.PathLike[str] | Location
"""A store: a local path, a URI pyarrow understands, or a `Location`."""


def locate(store: StoreLike) -> Location:
    """Return where `store` is.

    Raises:
        StoreError: if `store` is a URI no pyarrow filesystem understands.
    """
    if isinstance(store, Location):
        return store
    text = os.fspath(store)
    if "://" in text:
        try:
            fs, path = pafs.FileSystem.from_uri(text)
        except (pa.ArrowException, ValueError, OSError) as e:
            raise StoreError(f"{text}: not a store location pyarrow can reach ({e})") from e
        return Location(fs, path.rstrip("/") or path)
    return Location(pafs.LocalFileSystem(), os.path.abspath(text))


def local_path(store: StoreLike) -> Path:
    """Return a local store as a path (a `file://` URI or a local `Location` too).

    Raises:
        StoreError: if the store is on another filesystem (the pandas readers read local stores;
            engines read any, see `auditlib.store.current_table_files`).
    """
    if not isinstance(store, Location) and "://" not in os.fspath(store):
        return Path(store)
    loc = locate(store)
    if loc.local is None:
        raise StoreError(f"{loc}: this reader needs a local store folder")
    return loc.local
