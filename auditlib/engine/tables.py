"""What an engine reads: the big tables of a store's current state as Parquet files, or tables
already in memory.

The current state of a table is, for each source, the rows of the snapshot that holds that
source (`auditlib.store.current_sources`): so a table is its snapshots' Parquet files joined to
a small `(source, snapshot_id)` frame on the row's source and the folder of the file it came
from (the store package's docstring). A document that names its image only by a manifest digest
gets the image id the store's `scans` give it (`auditlib.resolve.resolve_image_ids`): a small
`(scan_id, image_id)` frame every engine joins the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd
import pyarrow.fs as pafs

from auditlib.data import AuditData
from auditlib.store.current import TableFile, current_files_without
from auditlib.store.layout import StorePath
from auditlib.store.licence_tables import LICENCE_TABLES, columns, derive_sql
from auditlib.store.location import StoreLike, locate
from auditlib.tables import TABLES_BY_NAME

BIG_TABLES = ("vulnerabilities", "packages", "package_licenses", "vulnerability_cwes",
              "package_dependencies")
"""The tables an engine reads: the ones that grow with packages, not with images (at 20,000
images, 6.4 million vulnerability and CWE rows, 15.9 million packages, 28.5 million package
dependencies: 1.85 GB in pandas, read by no analysis)."""

STATE_VIEW = "auditlib_state"
"""The view of which snapshot holds each source's rows (columns source, snapshot_id)."""
SCAN_IMAGES_VIEW = "auditlib_scan_images"
"""The view of the image id each document's scan resolves to (columns scan_id, image_id)."""
KEPT_IMAGES_VIEW = "auditlib_kept_images"
"""The view of the images an image filter keeps (column image_id; `StoreTables.images`)."""
SNAPSHOT_COLUMN = "_snapshot"
"""The column a loader adds to a table's raw rows: the snapshot folder of their file."""


def scan_images(scans: pd.DataFrame) -> pd.DataFrame:
    """Return the image id of each document that names one (`scans` rows), one row per scan id:
    what fills the image id of rows that lack it.

    Returns:
        Columns scan_id, image_id (str).
    """
    s = scans.loc[scans["scan_id"].notna() & scans["image_id"].notna(), ["scan_id", "image_id"]]
    s = s.astype(str).drop_duplicates("scan_id")
    return s.reset_index(drop=True)


@dataclass(frozen=True)
class StoreTables:
    """The big tables of a store's current state, as Parquet files."""

    store: str
    """The store, as it is shown (its folder, or `filesystem:path`)."""
    files: dict[str, list[TableFile]]
    """Table -> the Parquet files that hold its current rows (`store.current_table_files`)."""
    state: pd.DataFrame
    """Columns source, snapshot_id: the snapshot holding each current source's rows."""
    scan_images: pd.DataFrame
    """Columns scan_id, image_id (`scan_images`)."""
    fs: pafs.FileSystem | None = None
    """The filesystem the files are in; None when they are local paths."""
    underived: frozenset[str] = frozenset()
    """The snapshots (holding current sources) written without the licence tables
    (`auditlib.store.licence_tables`): an engine derives those of their sources from their
    files of the big tables."""
    images: pd.DataFrame | None = None
    """Column image_id: the only images whose rows the views hold (an image filter); None: all."""

    @classmethod
    def of(cls, store: StoreLike, scans: pd.DataFrame,
           images: Iterable[str] | None = None, as_of: StorePath | None = None) -> StoreTables:
        """Return the tables of `store`'s current state, on any filesystem the writers write
        (`auditlib.store.location`).

        Args:
            store: the store (a folder, a URI, a `Location`).
            scans: the current state's `scans` (`read_current(store).scans`): where the image
                ids of documents known only by a manifest digest come from.
            images: only these images' rows (an image filter: `fleet.select.select_images`);
                None: every row.
            as_of: a snapshot id: the state right after it was written (default: now).

        Raises:
            StoreError: if the store cannot be read.
            DamagedStoreError: if a snapshot is damaged and damage is not allowed.
        """
        loc = locate(store)
        # Both licence tables are written together: a snapshot without one has neither.
        files, without = current_files_without(loc, (*BIG_TABLES, *LICENCE_TABLES),
                                               LICENCE_TABLES[:1], as_of)
        # A snapshot's files name the same current sources whatever their table: each once.
        per_snapshot = {f.snapshot_id: f.sources for fs in files.values() for f in fs}
        held = {(s, sid) for sid, sources in per_snapshot.items() for s in sources}
        state = pd.DataFrame(sorted(held), columns=["source", "snapshot_id"], dtype="string")
        underived = frozenset(without[LICENCE_TABLES[0]])
        kept = None if images is None else pd.DataFrame(
            {"image_id": pd.array(sorted(set(images)), dtype="string")})
        return cls(str(loc), files, state, scan_images(scans),
                   None if loc.local is not None else loc.fs, underived=underived, images=kept)


@dataclass(frozen=True)
class FrameTables:
    """Tables already in memory (`auditlib.load`, a filtered store, a notebook's frames)."""

    data: AuditData
    frames: dict[str, pd.DataFrame] = field(init=False)

    def __post_init__(self) -> None:
        """Take the big tables' frames, each with every declared column (a table built by hand
        may leave some out: they are missing values, as in a store's view).

        Raises:
            TableNotHeldError: if `data` does not hold a big table (it lives in an engine).
        """
        frames = {}
        for t in BIG_TABLES:
            df = getattr(self.data, t)
            absent = [c for c in declared_columns(t) if c not in df.columns]
            frames[t] = df.assign(**dict.fromkeys(absent, None)) if absent else df
        object.__setattr__(self, "frames", frames)


Tables = StoreTables | FrameTables
"""What an engine can read."""


def declared_columns(table: str) -> list[str]:
    """Return the declared columns of a big table (`auditlib.tables`).

    Raises:
        KeyError: if `table` is not declared.
    """
    return [c.name for c in TABLES_BY_NAME[table].columns]


def current_view_sql(table: str, raw: str, columns: list[str], view: str | None = None,
                     *, kept: bool = False) -> str:
    """Return the SQL (DuckDB and Spark) that makes the view `table` of the current state from
    the raw rows `raw` of its files (with `SNAPSHOT_COLUMN`): each source's rows from the snapshot
    that holds it, the image id filled from the document's scan where a row has none.

    Args:
        table: the view to make.
        raw: the view of the files' rows.
        columns: the columns the files have (others declared are NULL).
        view: the view's name, when it is not `table`.
        kept: only the rows of the images of `KEPT_IMAGES_VIEW` (an image filter).
    """
    have = set(columns)
    cols = []
    for c in declared_columns(table):
        if c == "image_id":
            cols.append("COALESCE(CAST(r.image_id AS STRING), m.image_id) AS image_id")
        elif c in have:
            cols.append(f"r.{c}")
        else:
            cols.append(f"CAST(NULL AS STRING) AS {c}")
    return (
        # The hint (a comment to DuckDB) has Spark send the two small frames to every task.
        f"CREATE OR REPLACE TEMPORARY VIEW {view or table} AS "
        "SELECT /*+ BROADCAST(s), BROADCAST(m) */ "
        f"{', '.join(cols)} "
        f"FROM {raw} r JOIN {STATE_VIEW} s "
        f"ON r.source = s.source AND r.{SNAPSHOT_COLUMN} = s.snapshot_id "
        f"LEFT JOIN {SCAN_IMAGES_VIEW} m ON r.scan_id = m.scan_id"
        + (f" WHERE COALESCE(CAST(r.image_id AS STRING), m.image_id) IN "
           f"(SELECT image_id FROM {KEPT_IMAGES_VIEW})" if kept else "")
    )


def empty_view_sql(table: str, view: str | None = None) -> str:
    """Return the SQL (DuckDB and Spark) of the view `table` (or `view`) with no rows (a store
    without any file of it): its declared columns, as text."""
    cols = ", ".join(f"CAST(NULL AS STRING) AS {c}" for c in declared_columns(table))
    return f"CREATE OR REPLACE TEMPORARY VIEW {view or table} AS SELECT {cols} WHERE 1 = 0"


def frame_views_sql() -> list[str]:
    """Return the SQL (DuckDB) that makes the view of each licence table over tables in memory:
    derived from their `packages` and `package_licenses` (`licence_tables.derive_sql`), per
    image (their image ids are resolved), with the columns the aggregates read."""
    return [f"CREATE OR REPLACE TEMPORARY VIEW {t} AS {derive_sql(t, per_document=False)}"
            for t in LICENCE_TABLES]


def make_views(tables: StoreTables, register: Callable[[str, pd.DataFrame], object],
               load: Callable[[str, list[TableFile]], list[str]],
               execute: Callable[[str], object]) -> None:
    """Make, with an engine's own three steps, the view of each big table's current state.

    Args:
        tables: the store's tables.
        register: makes a view of a small frame (`STATE_VIEW`, `SCAN_IMAGES_VIEW`).
        load: (view, files) -> makes the view of the files' rows with `SNAPSHOT_COLUMN` (the
            snapshot of each row's file) and returns its columns.
        execute: runs a statement.
    """
    register(STATE_VIEW, tables.state)
    register(SCAN_IMAGES_VIEW, tables.scan_images)
    if tables.images is not None:
        register(KEPT_IMAGES_VIEW, tables.images)
    for t in BIG_TABLES:
        files = tables.files[t]
        if not files:
            execute(empty_view_sql(t))
            continue
        raw = f"{t}__files"
        execute(current_view_sql(t, raw, load(raw, files), kept=tables.images is not None))
    _licence_views(tables, load, execute)


def _licence_views(tables: StoreTables, load: Callable[[str, list[TableFile]], list[str]],
                   execute: Callable[[str], object]) -> None:
    """Make the view of each licence table's current state, with the columns the aggregates
    read (`columns(table, per_document=False)`): the rows its files hold, and for the sources
    of snapshots written without them (`StoreTables.underived`) the rows derived from those
    snapshots' files of `packages` and `package_licenses` (`derive_sql`)."""
    if tables.underived:
        for t in ("packages", "package_licenses"):
            old = [f for f in tables.files[t] if f.snapshot_id in tables.underived]
            view = f"{t}__underived"
            if old:
                raw = f"{view}__files"
                execute(current_view_sql(t, raw, load(raw, old), view=view,
                                         kept=tables.images is not None))
            else:
                execute(empty_view_sql(t, view=view))
    for t in LICENCE_TABLES:
        cols = ", ".join(columns(t, per_document=False))  # what the aggregates read
        parts = []
        if tables.files[t]:
            raw, stored = f"{t}__files", f"{t}__stored"
            execute(current_view_sql(t, raw, load(raw, tables.files[t]), view=stored,
                                     kept=tables.images is not None))
            parts.append(f"SELECT {cols} FROM {stored}")
        if tables.underived:  # rows already current, of known images: per image, not document
            parts.append(f"SELECT {cols} FROM ("
                         + derive_sql(t, "package_licenses__underived", "packages__underived",
                                      per_document=False) + f") {t}_derived")
        if not parts:  # no rows, typed: the aggregates test its flags
            typed = {c.name: "BOOLEAN" if c.dtype == "boolean" else "STRING"
                     for c in TABLES_BY_NAME[t].columns}
            parts.append("SELECT " + ", ".join(f"CAST(NULL AS {typed[c]}) AS {c}"
                                               for c in columns(t, per_document=False))
                         + " WHERE 1 = 0")
        execute(f"CREATE OR REPLACE TEMPORARY VIEW {t} AS " + "\nUNION ALL\n".join(parts))


def check_big(table: str) -> None:
    """Raise KeyError naming the big tables when `table` is not one of them."""
    if table not in BIG_TABLES:
        raise KeyError(f"{table}: not a big table; they are {', '.join(BIG_TABLES)}")


def sql_text(text: str) -> str:
    """Return `text` as an SQL string literal: in single quotes, each quote in it doubled (what
    the engines' SQL is given a path, a snapshot id or a licence class as)."""
    return "'" + text.replace("'", "''") + "'"
