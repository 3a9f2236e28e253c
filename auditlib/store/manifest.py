"""Snapshot manifests: what a snapshot read, carried over and removed (`SnapshotInfo`), decoded
and checked by type (`decode_manifest`), and the snapshots of a store, oldest first, each sound or
damaged (`scan_store`, `snapshot_infos`; see `auditlib.store.damage`)."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from auditlib.errors import StoreError
from auditlib.store.damage import Damage, DamagedStoreError, Lost, allow_damaged
from auditlib.store.layout import (
    MANIFEST,
    SNAPSHOTS_DIR,
    StorePath,
    is_snapshot_id,
    snapshots_dir,
    table_file,
    table_file_name,
)
from auditlib.store.location import Location, StoreLike, local_path, locate
from auditlib.tables import TABLES, TABLES_BY_NAME


def schema_fingerprint() -> str:
    """Return a short hash of every table's columns and dtypes (rows of another schema are not
    carried over)."""
    text = ";".join(
        f"{t.name}:" + ",".join(f"{c.name}={c.dtype}" for c in t.columns) for t in TABLES
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Carried:
    """A source a snapshot did not read because it was unchanged: its rows are in another one."""

    path: str
    """The source (file path), as the rows name it."""
    scan_id: str
    """`sha256:` of its bytes, the same as when it was read."""
    snapshot_id: str
    """The snapshot that read it and holds its rows."""
    file_bytes: int | None = None
    """Its size in bytes."""

    def to_json(self) -> dict[str, Any]:
        """Return the manifest entry."""
        return {"path": self.path, "scan_id": self.scan_id, "snapshot_id": self.snapshot_id,
                "file_bytes": self.file_bytes}


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """What a snapshot's manifest says."""

    path: Path
    """The snapshot folder."""
    snapshot_id: str
    created_at: pd.Timestamp
    """When it was written (UTC), as the manifest says."""
    auditlib_version: str | None
    schema: str | None
    """`schema_fingerprint()` of the auditlib that wrote it (missing in older snapshots)."""
    sources: tuple[str, ...]
    """The paths or endpoints the run was given."""
    files: dict[str, dict[str, Any]] | None
    """The sources it read, with their manifest entries; None when the manifest has no list."""
    carried: dict[str, Carried] = field(default_factory=dict)
    """The sources it carried over unchanged, by path."""
    removed: frozenset[str] = frozenset()
    """The sources it removed (gone from a folder it walked)."""
    rows: dict[str, int] | None = None
    """Rows of its own, by table, when the manifest says."""
    fs: pafs.FileSystem | None = None
    """The filesystem `path` is in, when the store is not a local folder."""

    def read_parquet(self, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Return the snapshot's own Parquet file of `table` (`columns` of it, default all).

        Raises:
            OSError, ValueError, pyarrow.ArrowException: if it cannot be read.
        """
        f = table_file(self.path, table)
        if self.fs is None:
            return pd.read_parquet(f, columns=columns)
        return pd.read_parquet(f.as_posix(), columns=columns, filesystem=self.fs)

    @property
    def listed(self) -> set[str] | None:
        """Return every source the manifest names (read, carried or removed), or None."""
        if self.files is None:
            return None
        return set(self.files) | set(self.carried) | set(self.removed)

    @property
    def has_rows(self) -> bool:
        """Return whether the snapshot's own tables may hold rows."""
        return self.rows is None or any(self.rows.values())


class _File(msgspec.Struct):
    """A manifest's `files` entry: a source the snapshot read."""

    path: str
    format: str | None = None
    format_version: str | None = None
    rows: dict[str, Any] | None = None
    error: str | None = None
    skipped: str | None = None
    scan_id: str | None = None
    file_bytes: Annotated[int, msgspec.Meta(ge=0)] | None = None


class _Carried(msgspec.Struct):
    """A manifest's `carried` entry."""

    path: str
    scan_id: str
    snapshot_id: str
    file_bytes: Annotated[int, msgspec.Meta(ge=0)] | None = None


class _Manifest(msgspec.Struct):
    """A manifest, as `write_snapshot` writes it (the fields of older ones are optional)."""

    snapshot_id: str
    created_at: str
    auditlib_version: str | None = None
    schema: str | None = None
    sources: list[str] | None = None
    rows: dict[str, Any] | None = None
    files: list[_File] | None = None
    carried: list[_Carried] | None = None
    removed: list[str] | None = None


class ManifestError(StoreError):
    """A manifest that is not valid JSON or has a field of the wrong type; the message names the
    field (`$.rows.scans`)."""


def _counts(value: dict[str, Any] | None, where: str) -> dict[str, int] | None:
    """Return a `rows` object of whole numbers, or raise ManifestError naming the entry."""
    if value is None:
        return None
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ManifestError(f"{MANIFEST}: `{where}.{k}` is {v!r}, not a number of rows")
    return dict(value)


def decode_manifest(folder: Path, text: bytes) -> SnapshotInfo:
    """Return what the manifest `text` of the snapshot folder `folder` says, every field checked
    by type.

    Raises:
        ManifestError: if it is not JSON (a manifest cut short), a field has the wrong type, it
            names another snapshot than its folder's, or it names a snapshot by anything but a
            snapshot id (a path).
    """
    try:
        raw = msgspec.json.decode(text)
    except msgspec.DecodeError as e:
        reason = "cut short" if "truncated" in str(e) else str(e)
        raise ManifestError(f"{MANIFEST} is not valid JSON ({reason})") from None
    try:
        m = msgspec.convert(raw, _Manifest)
    except msgspec.ValidationError as e:
        raise ManifestError(f"{MANIFEST}: {e}") from None
    if m.snapshot_id != folder.name:
        raise ManifestError(f"{MANIFEST} is snapshot {m.snapshot_id!r}'s, not its folder's")
    try:
        created = pd.Timestamp(m.created_at)
        if pd.isna(created):
            raise ValueError(m.created_at)
        created = created.tz_localize(UTC) if created.tzinfo is None else created.tz_convert(UTC)
    except (TypeError, ValueError):
        raise ManifestError(f"{MANIFEST}: `$.created_at` is {m.created_at!r}, not a time") from None
    rows = _counts(m.rows, "$.rows")
    files: dict[str, dict[str, Any]] | None = None
    if m.files is not None:
        files = {}
        for i, (f, entry) in enumerate(zip(m.files, raw["files"], strict=True)):
            _counts(f.rows, f"$.files[{i}].rows")
            files[f.path] = entry
    carried: dict[str, Carried] = {}
    for i, c in enumerate(m.carried or ()):
        if not is_snapshot_id(c.snapshot_id):
            raise ManifestError(
                f"{MANIFEST}: `$.carried[{i}].snapshot_id` is {c.snapshot_id!r}, not a snapshot id "
                "(a manifest names a snapshot of its store, never a path)")
        carried[c.path] = Carried(c.path, c.scan_id, c.snapshot_id, c.file_bytes)
    return SnapshotInfo(
        path=folder,
        snapshot_id=folder.name,
        created_at=created,
        auditlib_version=m.auditlib_version,
        schema=m.schema,
        sources=tuple(m.sources or ()),
        files=files,
        carried=carried,
        removed=frozenset(m.removed or ()),
        rows=rows,
    )


@lru_cache(maxsize=512)
def _cached_info(path: str, _mtime_ns: int, _size: int, _ino: int) -> SnapshotInfo | str:
    """Return `decode_manifest` of the manifest in the folder `path`, or why it is damaged;
    cached by the manifest's mtime, size and inode.

    Raises:
        OSError: if it cannot be read (not cached: permissions may change).
    """
    p = Path(path)
    text = (p / MANIFEST).read_bytes()
    try:
        return decode_manifest(p, text)
    except ManifestError as e:
        return str(e)


@lru_cache(maxsize=8192)
def _parquet_rows(path: str, _mtime_ns: int, _size: int, _ino: int) -> int | str:
    """Return the rows a Parquet file's footer gives, or why it cannot be read; cached by the
    file's mtime, size and inode."""
    try:
        return int(pq.read_metadata(path).num_rows)
    except (OSError, ValueError, pa.ArrowException) as e:
        return f"{Path(path).name} is not a readable Parquet file ({e})"


def _check_tables(info: SnapshotInfo, deep: bool) -> str | None:
    """Return what is wrong with the table files of a snapshot, or None.

    Each table the manifest says has rows must be a regular file of the folder (no link) that can
    be opened; `deep` also reads its Parquet footer and compares its rows with the manifest's.
    """
    if info.rows is None:
        return None  # a manifest from before rows were recorded: nothing to check against
    for name, n in info.rows.items():
        if not n or name not in TABLES_BY_NAME:
            continue
        f = table_file(info.path, name)
        try:
            fd = os.open(f, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return f"{f.name} is missing, but its manifest says it has {n:,} rows"
        except OSError as e:
            if e.errno == errno.ELOOP:
                return f"{f.name} is a symbolic link, not a file of the store"
            return f"cannot read {f.name} ({e.strerror})"
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        if not stat.S_ISREG(st.st_mode):
            return f"{f.name} is not a file"
        if deep:
            got = _parquet_rows(str(f), st.st_mtime_ns, st.st_size, st.st_ino)
            if isinstance(got, str):
                return got
            if got != n:
                return f"{f.name} has {got:,} rows, but its manifest says {n:,}"
    return None


def inspect_snapshot(folder: Path, *, deep: bool = False) -> SnapshotInfo | Damage:
    """Return what the snapshot folder's manifest says, or what is wrong with the snapshot: its
    folder or manifest cannot be read, is a link, the manifest is damaged (`decode_manifest`),
    or a table file it counts rows in is missing or unreadable (`deep`: or is not Parquet of
    that many rows)."""
    name = folder.name
    try:
        st = os.lstat(folder)
    except OSError as e:
        return Damage(name, f"cannot read its folder ({e.strerror})")
    if stat.S_ISLNK(st.st_mode):
        return Damage(name, "is a symbolic link, not a folder of the store")
    if not stat.S_ISDIR(st.st_mode):
        return Damage(name, "is not a folder")
    if not is_snapshot_id(name):
        return Damage(name, "is not a snapshot: its name is not a snapshot id "
                            "(YYYYmmddTHHMMSSffffffZ-xxxxxx)")
    try:
        mst = os.lstat(folder / MANIFEST)
    except FileNotFoundError:
        return Damage(name, f"has no {MANIFEST}")
    except OSError as e:
        return Damage(name, f"cannot read its folder ({e.strerror})")
    if stat.S_ISLNK(mst.st_mode):
        return Damage(name, f"{MANIFEST} is a symbolic link, not a file of the store")
    try:
        got = _cached_info(str(folder), mst.st_mtime_ns, mst.st_size, mst.st_ino)
    except OSError as e:
        return Damage(name, f"cannot read {MANIFEST} ({e.strerror})")
    if isinstance(got, str):
        return Damage(name, got)
    problem = _check_tables(got, deep)
    return got if problem is None else Damage(name, problem)


def snapshot_info(snapshot: StorePath) -> SnapshotInfo | None:
    """Return what a snapshot folder's manifest says, or None when there is no such folder.

    Raises:
        DamagedStoreError: if the snapshot is damaged (`inspect_snapshot`).
    """
    p = Path(snapshot)
    if not os.path.lexists(p):
        return None
    got = inspect_snapshot(p)
    if isinstance(got, Damage):
        raise DamagedStoreError(p.parent.parent, [got])
    return got


@dataclass
class StoreScan:
    """What a look at every snapshot of a store found (`scan_store`)."""

    store: Path
    snapshots: list[SnapshotInfo] = field(default_factory=list)
    """The sound snapshots, oldest first."""
    damaged: list[Damage] = field(default_factory=list)
    """The damaged ones, by id (a snapshot that others carry rows from but that is missing is
    one too)."""
    lost: list[Lost] = field(default_factory=list)
    """Rows sound snapshots carried over from damaged ones."""

    @property
    def damaged_ids(self) -> set[str]:
        """Return the ids of the damaged snapshots."""
        return {d.snapshot_id for d in self.damaged}

    def warnings(self) -> list[str]:
        """Return one line per damaged snapshot left out (and per snapshot whose carried rows
        went with one): what every output of a reader that allowed damage says."""
        out = [f"damaged snapshot {d.snapshot_id} left out: {d.reason}" for d in self.damaged]
        out += [f"snapshot {x.snapshot_id}: the rows of {x.sources} source"
                f"{'s' if x.sources != 1 else ''} it carried over from damaged snapshot "
                f"{x.holder} left out" for x in self.lost]
        return out

    def check(self) -> StoreScan:
        """Return this scan when nothing is damaged, or when damage is allowed
        (`AUDITLIB_ALLOW_DAMAGED`).

        Raises:
            DamagedStoreError: naming the damaged snapshots, otherwise.
        """
        if self.damaged and not allow_damaged():
            raise DamagedStoreError(self.store, self.damaged)
        return self


def scan_store(store: StoreLike, *, deep: bool = False) -> StoreScan:
    """Look at every snapshot of `store` (`inspect_snapshot`) and at what each carries over.

    Temporary folders (`.tmp-*`: a write in progress or one that failed) and files that are not
    named as snapshots are not looked at. A snapshot carrying rows over from one that is newer is
    damaged; from one that is missing, the missing one is (so `damaged` names it).

    Raises:
        StoreError: if the store's `snapshots` folder cannot be read (a store that does not
            exist has no snapshot).
    """
    if isinstance(store, Location) or "://" in os.fspath(store):
        loc = locate(store)
        if loc.local is None:
            return _finish(StoreScan(Path(loc.root)), _inspect_fs(loc, deep))
    store = local_path(store)
    root = snapshots_dir(store)
    scan = StoreScan(Path(store))
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError:
        return scan
    except OSError as e:
        raise StoreError(f"{root}: cannot read the store's snapshots ({e.strerror})") from None
    found: dict[str, SnapshotInfo | Damage] = {}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            folder_like = entry.is_symlink() or entry.is_dir(follow_symlinks=False)
        except OSError:
            folder_like = True  # inspect says why it cannot be read
        if folder_like or is_snapshot_id(entry.name):
            found[entry.name] = inspect_snapshot(Path(entry.path), deep=deep)
    return _finish(scan, found)


def _finish(scan: StoreScan, found: dict[str, SnapshotInfo | Damage]) -> StoreScan:
    """Return `scan` with the snapshots `found` (by id), sound or damaged, and what sound ones
    carry over from damaged or missing ones."""
    for name, got in list(found.items()):
        if isinstance(got, SnapshotInfo):
            newer = sorted({c.snapshot_id for c in got.carried.values()
                            if c.snapshot_id >= name})
            if newer:
                found[name] = Damage(name, f"carries rows over from snapshot {newer[0]}, "
                                           "which is not older")
    missing: dict[str, set[str]] = {}
    for name, got in found.items():
        if isinstance(got, SnapshotInfo):
            for c in got.carried.values():
                if c.snapshot_id not in found:
                    missing.setdefault(c.snapshot_id, set()).add(name)
    for holder, by in missing.items():
        found[holder] = Damage(holder, f"is missing, but snapshot {min(by)} carries rows over "
                                       "from it")
    for name in sorted(found):
        got = found[name]
        if isinstance(got, Damage):
            scan.damaged.append(got)
            continue
        scan.snapshots.append(got)
        lost: dict[str, int] = {}
        for c in got.carried.values():
            if isinstance(found[c.snapshot_id], Damage) and c.path not in (got.files or {}):
                lost[c.snapshot_id] = lost.get(c.snapshot_id, 0) + 1
        scan.lost += [Lost(name, h, n) for h, n in sorted(lost.items())]
    return scan


def _inspect_fs(loc: Location, deep: bool) -> dict[str, SnapshotInfo | Damage]:
    """Return what each committed snapshot of a store on a pyarrow filesystem (not a local
    folder) says, or what is wrong with it (`inspect_snapshot`, for filesystems without links).

    Raises:
        StoreError: if the store's `snapshots` folder cannot be listed.
    """
    fs = loc.fs
    try:
        entries = fs.get_file_info(pafs.FileSelector(loc.join(SNAPSHOTS_DIR),
                                                     allow_not_found=True))
    except (OSError, pa.ArrowException) as err:
        raise StoreError(f"{loc}: cannot read the store's snapshots ({err})") from None
    found: dict[str, SnapshotInfo | Damage] = {}
    for ent in sorted(entries, key=lambda x: x.base_name):
        name = ent.base_name
        if name.startswith("."):
            continue
        if ent.type != pafs.FileType.Directory:
            if is_snapshot_id(name):
                found[name] = Damage(name, "is not a folder")
            continue
        if not is_snapshot_id(name):
            found[name] = Damage(name, "is not a snapshot: its name is not a snapshot id "
                                       "(YYYYmmddTHHMMSSffffffZ-xxxxxx)")
            continue
        try:
            with fs.open_input_stream(f"{ent.path}/{MANIFEST}") as f:
                text = f.read()
        except FileNotFoundError:
            found[name] = Damage(name, f"has no {MANIFEST}")
            continue
        except (OSError, pa.ArrowException) as err:
            found[name] = Damage(name, f"cannot read {MANIFEST} ({err})")
            continue
        try:
            info = dataclasses.replace(decode_manifest(Path(ent.path), text), fs=fs)
        except ManifestError as err:
            found[name] = Damage(name, str(err))
            continue
        found[name] = _check_tables_fs(info, deep) or info
    return found


def _check_tables_fs(info: SnapshotInfo, deep: bool) -> Damage | None:
    """Return what is wrong with the table files of a snapshot on a pyarrow filesystem, or None
    (`_check_tables`)."""
    assert info.fs is not None
    for name, n in (info.rows or {}).items():
        if not n or name not in TABLES_BY_NAME:
            continue
        f = f"{info.path.as_posix()}/{table_file_name(name)}"
        try:
            t = info.fs.get_file_info(f).type
        except (OSError, pa.ArrowException) as e:
            return Damage(info.snapshot_id, f"cannot read {table_file_name(name)} ({e})")
        if t != pafs.FileType.File:
            return Damage(info.snapshot_id, f"{table_file_name(name)} is missing, but its "
                                            f"manifest says it has {n:,} rows")
        if deep:
            try:
                got = int(pq.read_metadata(f, filesystem=info.fs).num_rows)
            except (OSError, ValueError, pa.ArrowException) as e:
                return Damage(info.snapshot_id,
                              f"{table_file_name(name)} is not a readable Parquet file ({e})")
            if got != n:
                return Damage(info.snapshot_id, f"{table_file_name(name)} has {got:,} rows, "
                                                f"but its manifest says {n:,}")
    return None


def usable_snapshots(store: StoreLike) -> StoreScan:
    """Return the scan of `store` whose snapshots readers use: every snapshot when none is
    damaged; without the damaged ones when damage is allowed (`AUDITLIB_ALLOW_DAMAGED`; their
    table files are then checked against their manifests too, as `auditlib store verify` does).

    Raises:
        StoreError: if the store cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
    """
    return scan_store(store, deep=allow_damaged()).check()


def snapshot_infos(store: StoreLike) -> list[SnapshotInfo]:
    """Return the snapshots of `store`, oldest first (`usable_snapshots`).

    Temporary folders (`.tmp-*`, a write in progress or one that failed) are left out; a damaged
    snapshot is an error unless damage is allowed.

    Raises:
        StoreError: if the store cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
    """
    return usable_snapshots(store).snapshots


def list_snapshots(store: StoreLike) -> list[Path]:
    """Return the folders of the snapshots of `store`, oldest first (`snapshot_infos`).

    Raises:
        StoreError: if the store cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
    """
    return [s.path for s in snapshot_infos(store)]
