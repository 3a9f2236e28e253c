"""Apache Spark: the same aggregates on a cluster (`--engine spark --spark-master URL`), for
stores beyond one machine. Needs `pip install 'auditlib[spark]'` and Java 17; the store must be
where every worker reads it at the same path (a shared filesystem, or a URL Spark reads)."""

from __future__ import annotations

import os
import shutil
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from auditlib.engine.errors import EngineError
from auditlib.engine.key_hash import spark_functions
from auditlib.engine.tables import SNAPSHOT_COLUMN, FrameTables, Tables, check_big, make_views
from auditlib.store.current import TableFile

CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # pandas writes nanosecond timestamps; Spark reads them as numbers (the fixable findings'
    # dates: `aggregates._times` reads them back).
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.shuffle.partitions": "4",
    # Only the small state frames are broadcast (hinted in the views): Spark's size estimates of
    # the aggregates' sides are not to be trusted with a copy of them in every task's memory.
    "spark.sql.autoBroadcastJoinThreshold": "-1",
    "spark.driver.memory": "2g",  # local[*] runs the tasks in the driver
}
"""The session settings auditlib sets."""


def java_available() -> bool:
    """Return whether a Java runtime is there for Spark (`JAVA_HOME`, else `java` on PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None


def same_schema(files: list[str]) -> list[list[str]]:
    """Return `files` grouped by their Parquet schema (read from the footers), in order: files
    written by different auditlib versions may have different columns.

    Raises:
        OSError: if a footer cannot be read.
    """
    groups: dict[str, list[str]] = {}
    for f in files:
        groups.setdefault(pq.read_schema(f).to_string(show_schema_metadata=False), []).append(f)
    return list(groups.values())


def _text_where_types_differ(a: Any, b: Any, col: Any) -> tuple[Any, Any]:
    """Return the Spark DataFrames `a` and `b` with each column they both have that is text in
    one and of another type in the other cast to text in both, as DuckDB's `union_by_name`
    reads such files (a text column with no value in one snapshot's rows is written as a
    double there, say); `col` is `pyspark.sql.functions.col`. Without it Spark casts the text
    to the other type, and fails on the first value that is not a number. Two types neither of
    which is text (whole numbers of two widths, a time in two units) are left to Spark's own
    union: widened, or refused, never compared as text."""
    for c in text_in_one(a.schema, b.schema):
        a, b = a.withColumn(c, col(c).cast("string")), b.withColumn(c, col(c).cast("string"))
    return a, b


def text_in_one(a: Any, b: Any) -> list[str]:
    """Return the names of the columns of the Spark schemas (`StructType`) `a` and `b` that are
    text in one and of another type in the other, in `a`'s order."""
    def text(schema: Any, c: str) -> bool:
        return bool(schema[c].dataType.typeName() == "string")

    names = set(b.fieldNames())
    return [c for c in a.fieldNames() if c in names and text(a, c) != text(b, c)]


def _strings(df: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [tuple(None if pd.isna(v) else str(v) for v in row)
            for row in df.itertuples(index=False)]


class SparkEngine:
    """The aggregates on a Spark session over `tables` (`auditlib.engine`)."""

    name = "spark"

    def __init__(self, tables: Tables, *, master: str = "local[*]") -> None:
        """Start (or join) a Spark session on `master` with one view per big table.

        Raises:
            EngineError: if pyspark or Java is missing, the master cannot be reached, or the
                tables are frames in memory (Spark reads a store's files).
        """
        if isinstance(tables, FrameTables):
            raise EngineError("spark: reads a store's Parquet files; tables in memory use duckdb")
        if tables.fs is not None:
            raise EngineError(f"spark: reads a store at a path every worker reads; {tables.store} "
                              "is on another filesystem: use duckdb")
        if not java_available():
            raise EngineError("spark: no Java runtime (set JAVA_HOME or install "
                              "openjdk-17-jre-headless)")
        try:
            from pyspark.sql import SparkSession  # noqa: PLC0415 (an optional extra)
            from pyspark.sql import functions as F  # noqa: N812, PLC0415
        except ImportError as e:
            raise EngineError("spark: pyspark is not installed: pip install 'auditlib[spark]'"
                              ) from e
        self.master = master
        self.made: set[str] = set()
        self.kept: set[str] = set()
        try:
            builder = SparkSession.builder.master(master).appName("auditlib")
            for k, v in CONF.items():
                builder = builder.config(k, v)
            self.spark = builder.getOrCreate()
            for statement in spark_functions():
                self.spark.sql(statement)

            def load(view: str, files: list[TableFile]) -> list[str]:
                df = None
                # One read per schema: no schema-merging job.
                for group in same_schema([f.path for f in files]):
                    part = self.spark.read.parquet(*group)
                    part = part.withColumn(SNAPSHOT_COLUMN, F.element_at(
                        F.split(F.col("_metadata.file_path"), "/"), -2))
                    if df is not None:
                        df, part = _text_where_types_differ(df, part, F.col)
                    df = part if df is None else df.unionByName(part, allowMissingColumns=True)
                assert df is not None
                df.createOrReplaceTempView(view)
                return list(df.columns)

            self._load = load
            make_views(tables, self.register, load, self.spark.sql)
        except EngineError:
            raise
        except Exception as e:  # py4j and Spark raise many kinds; each is said with its cause
            raise EngineError(f"spark ({master}): cannot read the store {tables.store}: "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from e

    def _collect(self, query: str, how: str) -> Any:
        """Return `query`'s result collected by the DataFrame method `how` (toPandas, toArrow).

        Raises:
            EngineError: if the query fails.
        """
        try:
            return getattr(self.spark.sql(query), how)()
        except Exception as e:  # as in __init__
            raise EngineError(f"spark ({self.master}): {str(e).splitlines()[0]}") from e

    def sql(self, query: str) -> pd.DataFrame:
        """Return the result of `query` as a DataFrame.

        Raises:
            EngineError: if the query fails.
        """
        out: pd.DataFrame = self._collect(query, "toPandas")
        return out

    def arrow(self, query: str) -> pa.Table:
        """Return the result of `query` as an Arrow table.

        Raises:
            EngineError: if the query fails.
        """
        out: pa.Table = self._collect(query, "toArrow")
        return out

    def load_files(self, view: str, files: list[TableFile]) -> list[str]:
        """Make the rows of `files` the view `view` (`Engine.load_files`).

        Raises:
            EngineError: if the files cannot be read.
        """
        try:
            return self._load(view, files)
        except Exception as e:  # as in __init__
            raise EngineError(f"spark ({self.master}): cannot read {len(files)} file(s) of "
                              f"{view}: {str(e).splitlines()[0]}") from e

    def define(self, view: str, query: str, *, keep: bool = False) -> None:
        """Make `query` the temporary view `view`, with `keep` cached now (`Engine.define`).

        Raises:
            EngineError: if the query fails.
        """
        try:
            self.spark.sql(query).createOrReplaceTempView(view)
            if keep:
                self.spark.sql(f"CACHE TABLE {view}")
                self.kept.add(view)
        except Exception as e:  # as in __init__
            raise EngineError(f"spark ({self.master}): {str(e).splitlines()[0]}") from e
        self.made.add(view)

    def register(self, view: str, frame: pd.DataFrame) -> None:
        """Make `frame` the view `view`, every column as text (`Engine.register`).

        Raises:
            EngineError: if Spark refuses it.
        """
        schema = ", ".join(f"{c} string" for c in frame.columns)
        try:
            self.spark.createDataFrame(_strings(frame), schema).createOrReplaceTempView(view)
        except Exception as e:  # as in __init__
            raise EngineError(f"spark ({self.master}): {view}: {str(e).splitlines()[0]}") from e

    def relation(self, table: str) -> Any:
        """Return a big table as a (lazy) Spark DataFrame.

        Raises:
            KeyError: if `table` is not one of the big tables.
        """
        check_big(table)
        return self.spark.table(table)

    def set_aside(self) -> AbstractContextManager[None]:
        """Return a context that does nothing (`Engine.set_aside`): what Spark keeps is in its
        executors' memory, not this process's."""
        return nullcontext()

    def close(self) -> None:
        """Drop the tables `define` kept from the cache, and leave the session up: it is shared
        by the process (`SparkSession.getOrCreate`); the caller who started the cluster stops
        it (`stop_spark`)."""
        for view in self.kept:
            try:
                self.spark.catalog.uncacheTable(view)
            except Exception:  # noqa: BLE001 (a view another engine replaced: nothing cached)
                pass
        self.kept.clear()


def stop_spark() -> None:
    """Stop the process's Spark session, if any."""
    try:
        from pyspark.sql import SparkSession  # noqa: PLC0415 (an optional extra)
    except ImportError:
        return
    s = SparkSession.getActiveSession()
    if s is not None:
        s.stop()
