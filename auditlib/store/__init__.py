"""The store: a folder of snapshots, each one Parquet file per table plus a manifest.

The layout (plain Parquet, readable by DuckDB, Spark or Trino as it is) is defined once, in
`auditlib.store.layout`.

The modules: `layout` (where things are), `lock` (the stat cache's lock), `manifest` (what each
snapshot says, checked by type; the list of snapshots, each sound or damaged), `damage` (what is
wrong with a damaged snapshot, `DamagedStoreError`, `AUDITLIB_ALLOW_DAMAGED`), `write`
(`write_snapshot`, `SnapshotWriter`), `read` (one snapshot, the newest), `current` (the current
state across snapshots, and the files that hold it), `location` (a store on any pyarrow
filesystem) and `retention` (prune, compact). This package re-exports their public names.

**A damaged store is never read silently.** A manifest that is not JSON or has a field of the
wrong type, a `carried` that is not a snapshot id of the store, a table the manifest counts rows
in that is missing or unreadable, a folder that cannot be read: every reader raises
`DamagedStoreError` naming each damaged snapshot and why (`auditlib store verify` lists them).
With `AUDITLIB_ALLOW_DAMAGED=1` (the commands' `--allow-damaged`) readers go on without the
damaged snapshots and the rows carried over from them, and `scan_store(store).warnings()` says
what was left out.

Writers take no lock (`auditlib.store.write`): a snapshot is written into a hidden temporary
folder of a unique name and committed by one atomic rename, so collectors and ingests on many
hosts can write into one store at once, and a snapshot that failed half-way is never seen by a
reader. Snapshot ids (`YYYYmmddTHHMMSSffffffZ-xxxxxx`, UTC) sort after every snapshot their
writer saw. The store may be a local folder, a `file://` URI, or any pyarrow filesystem
(`auditlib.store.location`). `auditlib.store.retention` folds old snapshots into one base and
deletes them (`auditlib store prune --keep 90d`, `auditlib store compact`).

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
default), `read_latest` and `read_current` add the carried rows. An engine (DuckDB, Spark) reads
the current state of a table from the files `current_table_files` lists, keeping in each file the
rows of the sources it names for that file.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what mypy sees (`X as X`: re-exported); at run time `__getattr__`
    from auditlib.store.current import SourceState as SourceState
    from auditlib.store.current import TableFile as TableFile
    from auditlib.store.current import current_files as current_files
    from auditlib.store.current import current_sources as current_sources
    from auditlib.store.current import current_table_files as current_table_files
    from auditlib.store.current import read_current as read_current
    from auditlib.store.damage import ALLOW_DAMAGED_ENV as ALLOW_DAMAGED_ENV
    from auditlib.store.damage import Damage as Damage
    from auditlib.store.damage import DamagedStoreError as DamagedStoreError
    from auditlib.store.layout import DEFAULT_STORE as DEFAULT_STORE
    from auditlib.store.layout import StorePath as StorePath
    from auditlib.store.location import Location as Location
    from auditlib.store.location import StoreLike as StoreLike
    from auditlib.store.location import locate as locate
    from auditlib.store.lock import store_lock as store_lock
    from auditlib.store.manifest import SnapshotInfo as SnapshotInfo
    from auditlib.store.manifest import StoreScan as StoreScan
    from auditlib.store.manifest import list_snapshots as list_snapshots
    from auditlib.store.manifest import scan_store as scan_store
    from auditlib.store.manifest import snapshot_infos as snapshot_infos
    from auditlib.store.read import read_latest as read_latest
    from auditlib.store.read import read_snapshot as read_snapshot
    from auditlib.store.retention import compact as compact
    from auditlib.store.retention import parse_duration as parse_duration
    from auditlib.store.retention import prune as prune
    from auditlib.store.write import write_snapshot as write_snapshot

_EXPORTS: dict[str, str] = {
    "SourceState": "auditlib.store.current",
    "TableFile": "auditlib.store.current",
    "current_files": "auditlib.store.current",
    "current_sources": "auditlib.store.current",
    "current_table_files": "auditlib.store.current",
    "read_current": "auditlib.store.current",
    "ALLOW_DAMAGED_ENV": "auditlib.store.damage",
    "Damage": "auditlib.store.damage",
    "DamagedStoreError": "auditlib.store.damage",
    "DEFAULT_STORE": "auditlib.store.layout",
    "StorePath": "auditlib.store.layout",
    "Location": "auditlib.store.location",
    "StoreLike": "auditlib.store.location",
    "locate": "auditlib.store.location",
    "store_lock": "auditlib.store.lock",
    "SnapshotInfo": "auditlib.store.manifest",
    "StoreScan": "auditlib.store.manifest",
    "list_snapshots": "auditlib.store.manifest",
    "scan_store": "auditlib.store.manifest",
    "snapshot_infos": "auditlib.store.manifest",
    "read_latest": "auditlib.store.read",
    "read_snapshot": "auditlib.store.read",
    "compact": "auditlib.store.retention",
    "parse_duration": "auditlib.store.retention",
    "prune": "auditlib.store.retention",
    "write_snapshot": "auditlib.store.write",
}
"""The public names this package re-exports, and the module that defines each."""


def __getattr__(name: str) -> Any:
    """Return a re-exported name, importing its module when it is first asked for.

    `import auditlib` (whose loader reads `auditlib.store.layout` only) does not pay for the
    store's readers, writers and pyarrow's filesystems, about 30 ms, before they are used.

    Raises:
        AttributeError: if `name` is not one of the package's names.
    """
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Return the package's names, the re-exported ones included before their first use."""
    return sorted({*globals(), *_EXPORTS})


__all__ = sorted(_EXPORTS)
