"""The store: a folder of snapshots, each one Parquet file per table plus a manifest.

Layout (plain Parquet, readable by DuckDB, Spark or Trino as it is)::

    STORE/snapshots/<snapshot_id>/manifest.json
    STORE/snapshots/<snapshot_id>/<table>.parquet

A snapshot is written into a hidden temporary folder and renamed into place when complete, so a
snapshot that failed half-way is never seen by a reader.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pandas as pd

from auditlib.data import AuditData
from auditlib.errors import StoreError
from auditlib.tables import TABLES, conform

DEFAULT_STORE = Path("auditlib-store")
"""Where `--store` points when it is not given."""

MANIFEST = "manifest.json"


def _snapshots(store: Path) -> Path:
    return store / "snapshots"


def write_snapshot(store: str | os.PathLike[str], data: AuditData, *, sources: list[str]) -> Path:
    """Write `data` as a new snapshot of `store`.

    Args:
        store: the store folder (created when missing).
        data: the tables to write.
        sources: the paths or endpoints the data came from, for the manifest.

    Returns:
        The folder of the new snapshot.

    Raises:
        StoreError: if the store cannot be written.
    """
    from auditlib import __version__

    now = datetime.now(UTC)
    snapshot_id = now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)
    root = _snapshots(Path(store))
    tmp = root / f".tmp-{snapshot_id}"
    final = root / snapshot_id
    try:
        tmp.mkdir(parents=True)
        counts: dict[str, int] = {}
        for name, df in data.tables().items():
            df.to_parquet(tmp / f"{name}.parquet", index=False)
            counts[name] = len(df)
        manifest: dict[str, Any] = {
            "snapshot_id": snapshot_id,
            "created_at": now.isoformat(),
            "auditlib_version": __version__,
            "sources": sources,
            "rows": counts,
            "files": [
                {**f.summary(), "skipped": f.skipped}
                for f in data.files
            ],
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        os.rename(tmp, final)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StoreError(f"{store}: cannot write snapshot: {e}") from e
    return final


def list_snapshots(store: str | os.PathLike[str]) -> list[Path]:
    """Return the complete snapshots of `store`, oldest first (temporary folders are left out)."""
    root = _snapshots(Path(store))
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).exists()
    )


def read_snapshot(snapshot: str | os.PathLike[str]) -> AuditData:
    """Read one snapshot folder back into `AuditData`.

    Raises:
        StoreError: if a table file cannot be read.
    """
    path = Path(snapshot)
    tables: dict[str, pd.DataFrame] = {}
    for t in TABLES:
        f = path / f"{t.name}.parquet"
        try:
            tables[t.name] = conform(t, pd.read_parquet(f))
        except (OSError, ValueError) as e:
            raise StoreError(f"{f}: cannot read table: {e}") from e
    return AuditData(**cast("dict[str, Any]", tables))


def read_latest(store: str | os.PathLike[str]) -> AuditData:
    """Read the newest snapshot of `store`.

    Raises:
        StoreError: if the store has no snapshot.
    """
    snaps = list_snapshots(store)
    if not snaps:
        raise StoreError(
            f"{store}: no snapshot in this store; run `auditlib ingest PATH --store {store}` first"
        )
    return read_snapshot(snaps[-1])


def _manifest_sources(snapshot: Path) -> set[str] | None:
    try:
        manifest = json.loads((snapshot / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    files = manifest.get("files")
    if not isinstance(files, list):
        return None
    return {str(f.get("path")) for f in files if isinstance(f, dict)}


def read_current(store: str | os.PathLike[str]) -> AuditData:
    """Read the current state of `store`: for every source (a file, an engine, a repository),
    the rows of the newest snapshot that read it.

    So `collect`, `scan` and `ingest` runs, each writing its own snapshot, add up to one view;
    a source read again replaces what older snapshots said of it.

    Raises:
        StoreError: if the store has no snapshot or a table cannot be read.
    """
    from auditlib.data import merge

    snaps = list_snapshots(store)
    if not snaps:
        raise StoreError(
            f"{store}: no snapshot in this store; run `auditlib ingest PATH --store {store}` or "
            f"`auditlib collect --store {store}` first"
        )
    claimed: set[str] = set()
    parts: list[AuditData] = []
    for snap in reversed(snaps):
        listed = _manifest_sources(snap)
        if listed and listed <= claimed:
            continue  # everything it read was read again later
        data = read_snapshot(snap)
        sources = set(data.scans["source"].astype(str)) | set(
            data.load_errors["source"].astype(str)
        )
        if listed is not None:
            sources |= listed
        if claimed:
            for name, df in data.tables().items():
                keep = ~df["source"].astype(str).isin(claimed)
                if not keep.all():
                    setattr(data, name, df[keep].reset_index(drop=True))
            data.files = [f for f in data.files if f.path not in claimed]
        parts.append(data)
        claimed |= sources
    parts.reverse()
    return merge(*parts)
