"""`Engine`: what runs the aggregates (`auditlib.engine.aggregates`), and `open_engine`, which
chooses one by name."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

import pandas as pd
import pyarrow as pa

from auditlib.engine.duck import DuckDBEngine
from auditlib.engine.errors import EngineError
from auditlib.engine.spark import SparkEngine
from auditlib.engine.tables import FrameTables, Tables
from auditlib.store.current import TableFile

if TYPE_CHECKING:
    from auditlib.data import AuditData

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = get_args(EngineName)
"""The engines, the default first."""


class Engine(Protocol):
    """Runs SQL that DuckDB and Spark SQL both understand over the big tables, one view each
    (`tables.BIG_TABLES`: the current state's rows)."""

    name: str
    made: set[str]
    """The views `define` made."""

    def sql(self, query: str) -> pd.DataFrame:
        """Return the result of a query as a pandas DataFrame.

        Raises:
            EngineError: if the query fails.
        """
        ...

    def arrow(self, query: str) -> pa.Table:
        """Return the result of a query as an Arrow table: for a large result, whose text
        pandas would hold as one Python string per cell.

        Raises:
            EngineError: if the query fails.
        """
        ...

    def define(self, view: str, query: str, *, keep: bool = False) -> None:
        """Make `query` the temporary view `view` (computed where it is read, as a table's view
        is: a view of tens of millions of rows is never held); with `keep`, computed once, now,
        and kept by the engine (a DuckDB temporary table, spilled to disk beyond its memory
        limit; a cached Spark table) for a result read several times.

        Raises:
            EngineError: if the query fails.
        """
        ...

    def load_files(self, view: str, files: list[TableFile]) -> list[str]:
        """Make the rows of a table's Parquet files (of any snapshot, current or not) the view
        `view`, with `engine.tables.SNAPSHOT_COLUMN` (the snapshot folder of each row's file):
        what a view of the store's history reads (`auditlib.engine.history`).

        Returns:
            The view's columns.

        Raises:
            EngineError: if the files cannot be read.
        """
        ...

    def register(self, view: str, frame: pd.DataFrame) -> None:
        """Make a small frame the view `view` (replacing any of that name).

        Raises:
            EngineError: if the engine refuses it.
        """
        ...

    def relation(self, table: str) -> Any:
        """Return a big table as the engine's own lazy relation (a `duckdb.DuckDBPyRelation`, a
        Spark DataFrame), for analysts who want to query it without pandas.

        Raises:
            KeyError: if `table` is not one of the big tables.
        """
        ...

    def close(self) -> None:
        """Release the engine (a Spark session stays up for its other users)."""
        ...

    def set_aside(self) -> AbstractContextManager[None]:
        """Return a context in which the engine holds as little memory of this process as it
        can (what it keeps moved to disk, read back when next asked for), for other processes
        to use meanwhile: the report kernels a run starts."""
        ...


def open_engine(name: str, tables: Tables, *, spark_master: str | None = None) -> Engine:
    """Return an engine over `tables`.

    Args:
        name: `duckdb` (embedded, the default) or `spark`.
        tables: what it reads (`StoreTables`, `FrameTables`).
        spark_master: for Spark, the master URL (`spark://host:7077`; default `local[*]`).

    Raises:
        EngineError: if the name is not an engine, or the engine cannot start (pyspark or
            Java missing, the master unreachable).
    """
    if name == "duckdb":
        return DuckDBEngine(tables)
    if name == "spark":
        return SparkEngine(tables, master=spark_master or "local[*]")
    raise EngineError(f"{name!r} is not an engine; engines are {', '.join(ENGINES)}")


def engine_or_frames(engine: Engine | None, data: AuditData) -> Engine:
    """Return `engine`, or, when it is None, DuckDB over the big tables of `data` held in memory
    (`FrameTables`): what an analysis given tables rather than an assessment's engine reads.

    Raises:
        TableNotHeldError: if `engine` is None and `data` does not hold a big table.
        EngineError: if DuckDB cannot start.
    """
    return engine if engine is not None else open_engine("duckdb", FrameTables(data))
