"""The store: a folder of snapshots, each one Parquet file per table plus a manifest.

The layout (plain Parquet, readable by DuckDB, Spark or Trino as it is) is defined once, in
`auditlib.store.layout`.

The modules: `layout` (where things are), `lock` (the store lock), `manifest` (what each snapshot
says, checked by type; the list of snapshots, each sound or damaged), `damage` (what is wrong with
a damaged snapshot, `DamagedStoreError`, `AUDITLIB_ALLOW_DAMAGED`), `write` (`write_snapshot`),
`read` (one snapshot, the newest) and `current` (the current state across snapshots). This
package re-exports their public names.

**A damaged store is never read silently.** A manifest that is not JSON or has a field of the
wrong type, a `carried` that is not a snapshot id of the store, a table the manifest counts rows
in that is missing or unreadable, a folder that cannot be read: every reader raises
`DamagedStoreError` naming each damaged snapshot and why (`auditlib store verify` lists them).
With `AUDITLIB_ALLOW_DAMAGED=1` (the commands' `--allow-damaged`) readers go on without the
damaged snapshots and the rows carried over from them, and `scan_store(store).warnings()` says
what was left out.

A snapshot is written into a hidden temporary folder and renamed into place when complete, under an
exclusive lock on `STORE/.lock`, so a snapshot that failed half-way is never seen by a reader and
two runs at once cannot corrupt the store. Snapshot ids (`YYYYmmddTHHMMSSffffffZ-xxxxxx`, UTC) sort
in the order the snapshots were written, even for writes in the same microsecond.

**Sources and the current state.** Every row names its `source` (a file path, an engine, a registry
repository). The current state holds, for each source, the rows of the newest snapshot that says
something of it. A snapshot says one of three things of a source:

* it *read* it: the rows are in the snapshot's own Parquet files (the manifest's `files`);
* it *carried* it: the source was unchanged (same path, same sha256), so its rows stay those of the
  older snapshot that read it, which the manifest names (`carried`: path, scan_id, snapshot_id);
  `auditlib ingest` does this for files already in the store (`auditlib.ingest.incremental`);
* it *removed* it: the source was under a folder the snapshot walked and is no longer there
  (`removed`): it has no rows any more.

So a snapshot's own Parquet files are complete only for the sources it read; `read_snapshot` (by
default), `read_latest` and `read_current` add the carried rows. With DuckDB, the current state
is the newest snapshot's `state.parquet` joined to the table files on `source` and the snapshot
folder name::

    SELECT v.* FROM read_parquet('STORE/snapshots/*/vulnerabilities.parquet',
                                 filename=true, union_by_name=true) v
    JOIN read_parquet('STORE/snapshots/<newest>/state.parquet') s
      ON v.source = s.source AND split_part(v.filename, '/', -2) = s.snapshot_id
"""

from auditlib.store.current import SourceState, current_sources, read_current
from auditlib.store.damage import ALLOW_DAMAGED_ENV, Damage, DamagedStoreError
from auditlib.store.layout import DEFAULT_STORE, StorePath
from auditlib.store.lock import store_lock
from auditlib.store.manifest import (
    SnapshotInfo,
    StoreScan,
    list_snapshots,
    scan_store,
    snapshot_infos,
)
from auditlib.store.read import read_latest, read_snapshot
from auditlib.store.write import write_snapshot

__all__ = [
    "ALLOW_DAMAGED_ENV",
    "DEFAULT_STORE",
    "Damage",
    "DamagedStoreError",
    "SnapshotInfo",
    "SourceState",
    "StorePath",
    "StoreScan",
    "current_sources",
    "list_snapshots",
    "read_current",
    "read_latest",
    "read_snapshot",
    "scan_store",
    "snapshot_infos",
    "store_lock",
    "write_snapshot",
]
