"""DuckDB, embedded: the default engine. It reads the store's Parquet files where they are, out
of core (no server, no copy into memory), and pandas frames in place."""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from auditlib.engine.errors import EngineError
from auditlib.engine.key_hash import duckdb_functions
from auditlib.engine.tables import (
    SNAPSHOT_COLUMN,
    FrameTables,
    Tables,
    check_big,
    frame_views_sql,
    make_views,
    sql_text,
)
from auditlib.store.current import TableFile

MEMORY_ENV = "AUDITLIB_DUCKDB_MEMORY"
"""The environment variable that sets DuckDB's memory limit (`1GB`) for every engine auditlib
opens (an assessment's, a report's): above it DuckDB spills to disk rather than holding more.
Unset, `default_memory_limit()` applies."""

DEFAULT_MEMORY_GB = 1.0
"""The memory limit of an engine when `MEMORY_ENV` is unset, at most: a face of 20,000 images
gave the same results under 1 GB and 2 GB as under DuckDB's own limit (80% of the machine), in
no more time, peaking at 4.99 and 5.64 GB rather than 7.38 GB (`benchmarks/history_clock.py`;
README, "What pandas still holds"); the 100,000-image run took 278.4 s under 1 GB and 276.6 s
under 2 GB, its process tree peaking at 5.84 GB rather than 6.90 GB (`benchmarks/fleet100k.py`;
README, "The run's assessment in a process of its own")."""
MACHINE_SHARE = 0.25
"""... and at most this share of the machine's memory (a small machine or container)."""

SET_ASIDE_LIMIT = "256MB"
"""DuckDB's memory limit while an engine is set aside (`DuckDBEngine.set_aside`)."""


def default_memory_limit() -> str:
    """Return DuckDB's memory limit when `MEMORY_ENV` is unset: `DEFAULT_MEMORY_GB`, or a
    quarter of the machine's memory when that is less (in MB, as DuckDB takes it)."""
    mb = DEFAULT_MEMORY_GB * 1000
    try:
        machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e6
    except (ValueError, OSError, AttributeError):  # not told: the fixed cap
        machine = 0.0
    if machine > 0:
        mb = min(mb, machine * MACHINE_SHARE)
    return f"{max(int(mb), 64)}MB"


def configured_memory_limit() -> str:
    """Return the memory limit an engine opens with: `MEMORY_ENV` when set (any size DuckDB
    takes: `2GB`, `512MB`), else `default_memory_limit()`."""
    return os.environ.get(MEMORY_ENV, "").strip() or default_memory_limit()


class DuckDBEngine:
    """The aggregates on an embedded DuckDB connection over `tables` (`auditlib.engine`)."""

    name = "duckdb"

    def __init__(self, tables: Tables, *, memory_limit: str | None = None) -> None:
        """Open an in-memory DuckDB connection with one view per big table.

        Args:
            tables: what it reads.
            memory_limit: DuckDB's `memory_limit` (`3GB`): above it, it spills to disk, into a
                temporary folder of its own removed on `close` (default:
                `configured_memory_limit()`: `MEMORY_ENV`, else `default_memory_limit()`).

        Raises:
            EngineError: if a table's files cannot be read.
        """
        self.con = duckdb.connect(":memory:")
        self.made: set[str] = set()
        self.spill: Path | None = None  # made once the limit is set
        limit = memory_limit or configured_memory_limit()
        self.memory_limit = limit
        """The memory limit it was opened with."""
        self.fs = None if isinstance(tables, FrameTables) else tables.fs
        try:  # no bar drawn into a command's or a report's output
            self.con.execute("SET enable_progress_bar = false")
        except duckdb.Error:  # in Jupyter without ipywidgets DuckDB refuses any change to it
            pass
        try:
            self.con.execute("SET memory_limit = ?", [limit])
            self.spill = Path(tempfile.mkdtemp(prefix="auditlib-duckdb-"))
            # removed on close, or when the engine is collected unclosed
            self._remove_spill = weakref.finalize(self, shutil.rmtree, self.spill,
                                                  ignore_errors=True)
            self.con.execute("SET temp_directory = ?", [str(self.spill)])
            for statement in duckdb_functions():
                self.con.execute(statement)
            if isinstance(tables, FrameTables):
                for t, df in tables.frames.items():
                    self.con.register(t, df)
                for statement in frame_views_sql():
                    self.con.execute(statement)
                return
            make_views(tables, self.con.register, self._load, self.con.execute)
        except duckdb.Error as e:
            where = "tables in memory" if isinstance(tables, FrameTables) else (
                f"the store {tables.store}")
            raise EngineError(f"duckdb: cannot read {where}: {e}") from e

    def _load(self, view: str, files: list[TableFile]) -> list[str]:
        if self.fs is None:  # local files: DuckDB reads them itself
            listed = ", ".join(sql_text(f.path) for f in files)
            source = (f"SELECT *, split_part(filename, '/', -2) AS {SNAPSHOT_COLUMN} FROM "
                      f"read_parquet([{listed}], filename = true, union_by_name = true)")
        else:  # another filesystem: through pyarrow, one lazy dataset per file
            parts = []
            for i, f in enumerate(files):
                self.con.register(f"{view}_{i}", ds.dataset(f.path, filesystem=self.fs,
                                                            format="parquet"))
                parts.append(f"SELECT *, {sql_text(f.snapshot_id)} AS {SNAPSHOT_COLUMN} "
                             f"FROM {view}_{i}")
            source = " UNION ALL BY NAME ".join(parts)
        self.con.execute(f"CREATE OR REPLACE TEMPORARY VIEW {view} AS {source}")
        return list(self.con.sql(f"SELECT * FROM {view} LIMIT 0").columns)

    def load_files(self, view: str, files: list[TableFile]) -> list[str]:
        """Make the rows of `files` the view `view` (`Engine.load_files`).

        Raises:
            EngineError: if the files cannot be read.
        """
        try:
            return self._load(view, files)
        except duckdb.Error as e:
            raise EngineError(f"duckdb: cannot read {len(files)} file(s) of {view}: {e}") from e

    def sql(self, query: str) -> pd.DataFrame:
        """Return the result of `query` as a DataFrame.

        Raises:
            EngineError: if the query fails.
        """
        try:
            out: pd.DataFrame = self.con.sql(query).df()
        except duckdb.Error as e:
            raise EngineError(f"duckdb: {e}") from e
        return out

    def arrow(self, query: str) -> pa.Table:
        """Return the result of `query` as an Arrow table.

        Raises:
            EngineError: if the query fails.
        """
        try:
            rel = self.con.sql(query)
            # DuckDB 2 names it to_arrow_table (fetch_arrow_table deprecated); 1.x has only that
            fetch = getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table
            out: pa.Table = fetch()
        except duckdb.Error as e:
            raise EngineError(f"duckdb: {e}") from e
        return out

    def define(self, view: str, query: str, *, keep: bool = False) -> None:
        """Make `query` the temporary view `view`, or with `keep` a temporary table
        (`Engine.define`).

        Raises:
            EngineError: if the query fails.
        """
        made = "TABLE" if keep else "VIEW"
        try:
            if keep:  # a table's rows in any order: written in parallel, in less memory
                self.con.execute("SET preserve_insertion_order = false")
            self.con.execute(f"CREATE OR REPLACE TEMPORARY {made} {view} AS {query}")
        except duckdb.Error as e:
            raise EngineError(f"duckdb: {e}") from e
        finally:
            if keep:
                self.con.execute("RESET preserve_insertion_order")
        self.made.add(view)

    def register(self, view: str, frame: pd.DataFrame) -> None:
        """Make `frame` the view `view` (`Engine.register`).

        Raises:
            EngineError: if DuckDB refuses it.
        """
        try:
            self.con.register(view, frame)
        except duckdb.Error as e:
            raise EngineError(f"duckdb: {view}: {e}") from e

    def relation(self, table: str) -> duckdb.DuckDBPyRelation:
        """Return a big table as a lazy DuckDB relation (nothing is read until it is asked for).

        Raises:
            KeyError: if `table` is not one of the big tables.
        """
        check_big(table)
        return self.con.table(table)

    @contextmanager
    def set_aside(self, limit: str = SET_ASIDE_LIMIT) -> Iterator[None]:
        """Within it, DuckDB's memory limit is `limit`: the tables `define` kept move to the
        spill folder (at 20,000 images 1.7 GB of the process's 3.0 GB, by hand), and are read
        back from it when next asked for; the limit it had is restored on leaving
        (`Engine.set_aside`). Without a spill folder (no limit could be set), or where DuckDB
        refuses `limit`, it does nothing.

        Raises:
            EngineError: if the limit cannot be restored (unless the body raised).
        """
        try:
            if self.spill is not None:
                self.con.execute("SET memory_limit = ?", [limit])
        except duckdb.Error:  # refused: nothing set aside, the engine keeps its memory
            yield
            return
        body_raised = True
        try:
            yield
            body_raised = False
        finally:
            if self.spill is not None:
                try:
                    self.con.execute("SET memory_limit = ?", [self.memory_limit])
                except duckdb.Error as e:
                    if not body_raised:  # never hides what the body raised
                        raise EngineError(f"duckdb: {e}") from e

    def close(self) -> None:
        """Close the connection (and remove what it spilled to disk)."""
        self.con.close()
        if self.spill is not None:
            self._remove_spill()
