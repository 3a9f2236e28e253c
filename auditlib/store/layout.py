"""Where things are in a store folder: the one definition of its layout.

    STORE/.lock                                      taken (flock) by updates of the stat cache
    STORE/snapshots/<snapshot_id>/manifest.json      what the snapshot read, carried over, removed
    STORE/snapshots/<snapshot_id>/<table>.parquet    the rows of the sources it read
    STORE/snapshots/.tmp-<snapshot_id>/              a snapshot being written (renamed when done)
    STORE/snapshots/.pruned-<snapshot_id>/           a snapshot `auditlib store prune` is deleting
    STORE/raw/<image id>/<tool>-<version>.<format>.json   raw scanner outputs (`auditlib scan`)
    STORE/raw/<image id>/.<output name>.run.json     how each was made, what its run covered
    STORE/cache/files.parquet                        the ingest's stat cache

Nothing else in auditlib spells these names.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

StorePath = str | os.PathLike[str]
"""A store folder, as a path or a string."""

DEFAULT_STORE = Path("auditlib-store")
"""The store folder when neither `--store` nor `AUDITLIB_STORE` names one."""
STORE_ENV = "AUDITLIB_STORE"
"""The environment variable that names the default store."""


def default_store() -> Path:
    """Return the store every face uses when none is given: `AUDITLIB_STORE`, else
    `./auditlib-store` (the CLI's `--store`, the notebooks' `store=None`, `auditlib lab`)."""
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)

SNAPSHOTS_DIR = "snapshots"
MANIFEST = "manifest.json"
LAST_RUN = "last-run.json"
"""The record of the newest `auditlib run` of the store."""
LOCK = ".lock"
TMP_PREFIX = ".tmp-"
PRUNED_PREFIX = ".pruned-"
RAW_DIR = "raw"
STAT_CACHE = Path("cache") / "files.parquet"

SNAPSHOT_ID = re.compile(r"^[0-9]{8}T[0-9]{12}Z-[0-9a-f]{6}$")
"""A snapshot id (`YYYYmmddTHHMMSSffffffZ-xxxxxx`, UTC and 6 hex digits): the name of its folder.
An id is a name, never a path: a manifest naming another snapshot (`carried`) names one of these."""


def is_snapshot_id(name: str) -> bool:
    """Return whether `name` is a snapshot id (so a folder name under `snapshots/`, never a
    path)."""
    return bool(SNAPSHOT_ID.match(name))


def snapshots_dir(store: StorePath) -> Path:
    """Return the folder that holds the snapshots of `store`."""
    return Path(store) / SNAPSHOTS_DIR


def snapshot_dir(store: StorePath, snapshot_id: str) -> Path:
    """Return the folder of one snapshot of `store`."""
    return snapshots_dir(store) / snapshot_id


def table_file_name(table: str) -> str:
    """Return the name of the Parquet file of `table` in a snapshot folder."""
    return f"{table}.parquet"


def table_file(snapshot: StorePath, table: str) -> Path:
    """Return the Parquet file of `table` in a snapshot folder."""
    return Path(snapshot) / table_file_name(table)


def raw_dir(store: StorePath) -> Path:
    """Return the folder of raw scanner outputs of `store`."""
    return Path(store) / RAW_DIR


def run_record_file(output: Path) -> Path:
    """Return the hidden file beside a raw scanner output that says how it was made and what its
    run covered (`auditlib.scanners.raw_store` writes it, ingest reads it)."""
    return output.with_name(f".{output.name}.run.json")


def stat_cache_file(store: StorePath) -> Path:
    """Return the ingest's stat cache file of `store`."""
    return Path(store) / STAT_CACHE


def lock_file(store: StorePath) -> Path:
    """Return the lock file every writer of `store` holds."""
    return Path(store) / LOCK


def last_run_file(store: StorePath) -> Path:
    """Return the file where `auditlib run` records its newest snapshot and as-of time, so that
    the next run can say what changed since (`auditlib.notify.previous`)."""
    return Path(store) / LAST_RUN
