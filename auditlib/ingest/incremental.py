"""Incremental ingest: files already in the store, byte for byte, are not read again.

`auditlib ingest PATH... --store DIR` runs `plan_ingest` -> `load_planned` -> `commit_ingest`:

1. **Plan.** Every file found under the paths is compared with the store's current state
   (`store.current_sources`): a file whose sha256 (its `scan_id`) equals the one the store last
   read for the same path, by an auditlib of the same version and table schema, is *unchanged*.
   Hashing a large fleet costs time too, so a stat cache (`STORE/cache/files.parquet`: absolute
   path, size, mtime_ns, inode -> sha256) answers for files whose stat has not changed: they are not
   even opened. A file whose stat changed is hashed and compared (a `touch` costs one read, not a
   parse); a file whose size differs from the stored one is plainly changed and is not hashed.
   As git does for its index, an entry is trusted only when the file's mtime was at least
   `RACY_SECONDS` older than the moment it was hashed (a file rewritten within the same
   timestamp tick would otherwise look unchanged).
2. **Load.** Every other file is read (`loader.load(..., exclude=unchanged)`); files that are
   plainly not JSON are listed as skipped, as always.
3. **Commit.** The new snapshot holds the rows of the files read, and its manifest lists the
   unchanged files as `carried` (path, scan_id, and the snapshot holding their rows), so that
   `read_current`, `read_snapshot` and `read_latest` give exactly what a full ingest would have
   given. Files that were in the current state under a folder given, and are no longer there,
   are listed as `removed`: they leave the current state (a folder that does not exist at all
   removes nothing: an unmounted disk must not empty the store). Then the stat cache is updated.

A carried file keeps the rows (and `collected_at`) of the run that read it. Image ids are
resolved across documents (`resolve.resolve_image_ids`) against the carried documents too, and a
carried document whose image the new files now resolve is read again. One difference from a
full ingest remains: a carried document that a *removed or changed* file used to resolve keeps
its resolved image id.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from auditlib._version import __version__
from auditlib.data import AuditData, merge
from auditlib.errors import StoreError
from auditlib.files import atomic_path, remove_stale_temps
from auditlib.ingest.documents import Candidate, find_files
from auditlib.ingest.loader import load
from auditlib.resolve import digest_map, resolve_image_ids
from auditlib.store.current import SourceState, current_sources
from auditlib.store.layout import StorePath, snapshot_dir, stat_cache_file
from auditlib.store.lock import store_lock
from auditlib.store.manifest import Carried, schema_fingerprint
from auditlib.store.read import read_snapshot
from auditlib.store.write import write_snapshot

RACY_SECONDS = 2.0
"""A cache entry is trusted only for a file last modified this long before it was hashed."""

HASHERS = 4
"""Threads hashing files while planning (hashlib releases the GIL)."""

_CACHE_COLUMNS = {"path": "string", "size": "int64", "mtime_ns": "int64", "ino": "int64",
                  "scan_id": "string", "hashed_at_ns": "int64"}


@dataclass(frozen=True, slots=True)
class FileStat:
    """What `os.stat` said of a file, before it was read."""

    size: int
    mtime_ns: int
    ino: int
    taken_ns: int
    """When (time.time_ns()) the stat was taken."""


@dataclass(frozen=True, slots=True)
class _Entry:
    size: int
    mtime_ns: int
    ino: int
    scan_id: str
    hashed_at_ns: int

    def matches(self, st: FileStat) -> bool:
        racy = self.mtime_ns >= self.hashed_at_ns - int(RACY_SECONDS * 1e9)
        return (not racy and (self.size, self.mtime_ns, self.ino) == (st.size, st.mtime_ns,
                                                                       st.ino))


@dataclass(slots=True)
class IngestPlan:
    """What `auditlib ingest` will read, and what it will carry over from the store."""

    store: Path
    paths: tuple[str, ...]
    """The files and folders given."""
    to_parse: list[str] = field(default_factory=list)
    """The files to read (as `find_files` names them), skipped ones (not JSON) included."""
    unchanged: dict[str, Carried] = field(default_factory=dict)
    """The files not to read, with the snapshot holding their rows."""
    removed: list[str] = field(default_factory=list)
    """Sources of the current state under a folder given that are no longer there."""
    stats: dict[str, FileStat] = field(default_factory=dict)
    """The stat of every file found, taken before it was read."""
    hashes: dict[str, str] = field(default_factory=dict)
    """scan_ids known while planning (from the cache or hashed), by file."""
    hashed: int = 0
    """Files hashed while planning (their stat had changed)."""
    cache_hits: int = 0
    """Files whose hash the stat cache gave (not opened)."""


def _abs(source: str) -> str:
    return os.path.abspath(source)


def read_stat_cache(store: StorePath) -> dict[str, _Entry]:
    """Return the stat cache of `store` (absolute path -> entry); empty when there is none or it
    cannot be read (it is only a cache)."""
    f = stat_cache_file(store)
    try:
        df = pd.read_parquet(f)
    except (OSError, ValueError):
        return {}
    if set(_CACHE_COLUMNS) - set(df.columns):
        return {}
    return {
        str(p): _Entry(int(s), int(m), int(i), str(h), int(t))
        for p, s, m, i, h, t in zip(df["path"], df["size"], df["mtime_ns"], df["ino"],
                                    df["scan_id"], df["hashed_at_ns"], strict=True)
    }


def _write_stat_cache(store: Path, entries: dict[str, _Entry]) -> None:
    """Write the stat cache atomically (a temporary file renamed over it; call under the store
    lock).

    Raises:
        OSError: if it cannot be written; the old cache is then left as it was.
    """
    f = stat_cache_file(store)
    keys = sorted(entries)
    df = pd.DataFrame({
        "path": pd.array(keys, dtype="string"),
        "size": [entries[k].size for k in keys],
        "mtime_ns": [entries[k].mtime_ns for k in keys],
        "ino": [entries[k].ino for k in keys],
        "scan_id": pd.array([entries[k].scan_id for k in keys], dtype="string"),
        "hashed_at_ns": [entries[k].hashed_at_ns for k in keys],
    }).astype(_CACHE_COLUMNS)
    remove_stale_temps(f, older_than=3600)  # left by a run that crashed
    with atomic_path(f) as tmp:
        df.to_parquet(tmp, index=False)


def hash_file(path: str) -> str:
    """Return `sha256:` of a file's bytes, as `documents.read_file` gives its scan_id.

    Raises:
        OSError: if the file cannot be read.
    """
    with open(path, "rb") as f:
        return "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()


def _stat(path: Path) -> FileStat | None:
    taken = time.time_ns()
    try:
        st = path.stat()
    except OSError:
        return None
    return FileStat(st.st_size, st.st_mtime_ns, st.st_ino, taken)


def _carriable(state: SourceState | None, version: str, schema: str) -> SourceState | None:
    """Return `state` when its rows may be carried over: one document read by this auditlib."""
    if state is None or state.scan_id is None:
        return None
    if state.auditlib_version != version or state.schema != schema:
        return None  # another auditlib read it: read it again, the rows may differ
    return state


def _under(path: str, folders: Iterable[str]) -> bool:
    a = _abs(path)
    return any(a.startswith(os.path.join(_abs(d), "")) for d in folders)


def _gone(state: SourceState, folders: list[str]) -> bool:
    """Return whether a source not found this time was a file found under a folder walked now.

    It must be under one of the folders given now, and have been found under a folder the run
    that read it was given (so engines, registries and files given one by one never are).
    """
    return _under(state.source, folders) and _under(state.source, state.given)


def plan_ingest(
    store: StorePath, paths: Iterable[str | os.PathLike[str]], *, full: bool = False
) -> IngestPlan:
    """Decide which files under `paths` to read, and which to carry over from `store`.

    Args:
        store: the store folder (it may not exist yet: everything is read then).
        paths: the files and folders given to `auditlib ingest`.
        full: read every file again (nothing is carried over; files gone are still removed).

    Returns:
        The plan: `to_parse` (files to read) and `unchanged` (files carried over, each with the
        snapshot holding its rows), `removed`, and the stats for the cache.

    Raises:
        StoreError: if the store's snapshots cannot be read.
    """
    given = tuple(str(p) for p in paths)
    plan = IngestPlan(Path(store), given)
    state = current_sources(store)
    schema = schema_fingerprint()
    cache = read_stat_cache(store) if state and not full else {}
    found: list[Candidate] = list(find_files(*given))
    to_hash: list[tuple[str, SourceState]] = []
    for cand in found:
        source = str(cand.path)
        if cand.skip_reason is not None:
            plan.to_parse.append(source)
            continue
        st = _stat(cand.path)
        if st is None:
            plan.to_parse.append(source)  # reading it reports why
            continue
        plan.stats[source] = st
        prev = None if full else _carriable(state.get(source), __version__, schema)
        if prev is None:
            plan.to_parse.append(source)
            continue
        entry = cache.get(_abs(source))
        if entry is not None and entry.matches(st):
            plan.cache_hits += 1
            plan.hashes[source] = entry.scan_id
            _decide(plan, source, entry.scan_id, prev)
        elif prev.file_bytes is not None and prev.file_bytes != st.size:
            plan.to_parse.append(source)  # plainly changed: reading it hashes it
        else:
            to_hash.append((source, prev))
    if to_hash:
        with ThreadPoolExecutor(HASHERS, thread_name_prefix="auditlib-hash") as pool:
            hashes = list(pool.map(lambda sp: _try_hash(sp[0]), to_hash))
        for (source, prev), h in zip(to_hash, hashes, strict=True):
            plan.hashed += 1
            if h is None:
                plan.to_parse.append(source)
                continue
            plan.hashes[source] = h
            _decide(plan, source, h, prev)
    order = {str(c.path): i for i, c in enumerate(found)}
    plan.to_parse.sort(key=order.__getitem__)
    folders = [p for p in given if Path(p).is_dir()]
    seen = set(order)
    plan.removed = sorted(s for s, st in state.items() if s not in seen and _gone(st, folders))
    return plan


def _try_hash(source: str) -> str | None:
    try:
        return hash_file(source)
    except OSError:
        return None


def _decide(plan: IngestPlan, source: str, scan_id: str, prev: SourceState) -> None:
    if scan_id == prev.scan_id:
        plan.unchanged[source] = Carried(source, scan_id, prev.snapshot_id, prev.file_bytes)
    else:
        plan.to_parse.append(source)


def load_planned(
    plan: IngestPlan,
    *,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
    collected_at: datetime | None = None,
) -> AuditData:
    """Read the files the plan reads (`loader.load` on the paths given, leaving out the unchanged
    ones), resolving image ids against the carried documents too.

    Args:
        plan: from `plan_ingest`.
        progress: called with each file path once it has been read.
        workers: as `loader.load`.
        collected_at: as `loader.load` (default now).

    Returns:
        The tables of the files read (a carried document whose image the new files resolve is
        read again and is among them).

    Raises:
        StoreError: if the store's snapshots holding carried rows cannot be read.
    """

    data = load(*plan.paths, progress=progress, workers=workers, exclude=set(plan.unchanged),
                collected_at=collected_at)
    if not plan.unchanged or data.scans.empty:
        return data
    ctx = carried_identity(plan)
    unresolved_new = data.scans["image_id"].isna() & data.scans["repo_digest"].notna()
    unresolved_old = ctx.scans["image_id"].isna() & ctx.scans["repo_digest"].notna()
    if not unresolved_new.any() and not unresolved_old.any():
        return data

    again = read_again(ctx, data)
    if again:
        keep = set(plan.unchanged) - again
        extra = load(*plan.paths, workers=workers, exclude=keep | {f.path for f in data.files},
                     collected_at=collected_at)
        extra.files = [f for f in extra.files if f.path in again]
        for f in extra.files:
            if progress is not None:
                progress(f.path)
        data = merge(data, _only_sources(extra, again))
    return _resolve_with(data, ctx)


_IDENTITY = ("scans", "images", "image_tags", "registry_tags")
"""The tables that pair manifest digests with image ids (`resolve.digest_map`)."""


def identity_only(data: AuditData) -> AuditData:
    """Return the identity tables of `data` (`scans`, `images`, `image_tags`, `registry_tags`),
    the others empty."""
    return AuditData(**{n: getattr(data, n) for n in _IDENTITY})  # type: ignore[arg-type]


def read_again(carried: AuditData, new: AuditData) -> set[str]:
    """Return the carried documents (`carried_identity`) to read again: those that name their
    image only by a manifest digest which the new documents' identity tables (`new`), with the
    carried ones, now map to an image id.

    Returns:
        Their sources.
    """
    unresolved = carried.scans["image_id"].isna() & carried.scans["repo_digest"].notna()
    if not unresolved.any():
        return set()
    known = digest_map(merge(identity_only(new), carried))
    return set(carried.scans.loc[
        unresolved & carried.scans["repo_digest"].astype("string").isin(known), "source"
    ].astype(str))


def _only_sources(data: AuditData, sources: set[str]) -> AuditData:
    for name, df in data.tables().items():
        if len(df):
            setattr(data, name, df[df["source"].astype(str).isin(sources).to_numpy()]
                    .reset_index(drop=True))
    return data


def carried_identity(plan: IngestPlan) -> AuditData:
    """Return the identity tables of the carried documents, from the snapshots holding them."""
    by_holder: dict[str, set[str]] = {}
    for c in plan.unchanged.values():
        by_holder.setdefault(c.snapshot_id, set()).add(c.path)
    parts = []
    for holder, sources in sorted(by_holder.items()):
        snap = snapshot_dir(plan.store, holder)
        parts.append(_only_sources(read_snapshot(snap, _IDENTITY, carried=False), sources))
    return merge(*parts)


def _resolve_with(data: AuditData, ctx: AuditData) -> AuditData:
    """Resolve the image ids of `data` with the digest pairs of `data` and `ctx` together."""

    sizes = {n: len(getattr(data, n)) for n in _IDENTITY}
    both = merge(data, ctx)
    resolve_image_ids(both)
    for name in both.tables():
        df = getattr(both, name)
        n = sizes.get(name)
        setattr(data, name, df if n is None else df.iloc[:n].reset_index(drop=True))
    return data


def commit_ingest(
    plan: IngestPlan, data: AuditData, *, created_at: datetime | None = None,
    sources: Iterable[str] = (),
) -> Path:
    """Write the snapshot of an incremental ingest and update the stat cache.

    Args:
        plan: from `plan_ingest`.
        data: from `load_planned` (and, in the same snapshot, sources a collector read).
        created_at: the time to record (default now; see `store.write_snapshot`).
        sources: the endpoints given besides the plan's paths (engines, registries), for the
            manifest.

    Returns:
        The folder of the new snapshot.

    Raises:
        StoreError: if the store cannot be locked or written (a failure to write the stat cache
            alone is not an error: the next run hashes again).
    """
    read = {f.path for f in data.files}
    carried = [c for s, c in plan.unchanged.items() if s not in read]
    snap = write_snapshot(plan.store, data, sources=[*plan.paths, *sources], carried=carried,
                          removed=plan.removed, created_at=created_at)
    try:
        update_stat_cache(plan, data)
    except (OSError, ValueError, StoreError):
        pass  # only a cache
    return snap


def update_stat_cache(plan: IngestPlan, data: AuditData) -> None:
    """Record the stat and sha256 of every file of the plan whose hash is known, under the store
    lock; drop the entries of files that are gone or could not be read.

    Raises:
        StoreError: if the store cannot be locked.
        OSError: if the cache cannot be written.
    """
    ids: dict[str, set[str]] = {}
    for src, sid in zip(data.scans["source"].astype(str), data.scans["scan_id"].astype(str),
                        strict=True):
        ids.setdefault(src, set()).add(sid)
    failed = {f.path for f in data.files if f.error}
    fresh: dict[str, _Entry] = {}
    drop: set[str] = {_abs(s) for s in plan.removed}
    for source, st in plan.stats.items():
        got = ids.get(source)
        scan_id = next(iter(got)) if got and len(got) == 1 else plan.hashes.get(source)
        key = _abs(source)
        if scan_id is None or source in failed:
            drop.add(key)
        else:
            fresh[key] = _Entry(st.size, st.mtime_ns, st.ino, scan_id, st.taken_ns)
    with store_lock(plan.store):
        entries = read_stat_cache(plan.store)  # again: another run may have added some
        for k in drop:
            entries.pop(k, None)
        entries.update(fresh)
        _write_stat_cache(plan.store, entries)
