"""The engine that runs the assessment's heavy aggregates over the big tables (vulnerabilities,
packages, package licences), instead of pandas.

* `tables`: what an engine reads, either the store's current state as Parquet files
  (`StoreTables`: each table's files, and which snapshot holds each source's rows) or tables
  already in memory (`FrameTables`).
* `aggregates`: the aggregates, each defined once, in SQL that DuckDB and Spark SQL both run
  (the fixable findings among them).
* `selections`: the few vulnerability rows an analysis needs in pandas (those a VEX statement
  names, those of the images the scanner agreement compares, the upgrade rule's per image).
* `duck`: DuckDB, embedded and out of core: the default.
* `spark`: Apache Spark (`pip install 'auditlib[spark]'`, Java 17), local or on a cluster.

`open_engine(kind, tables, ...)` returns one of them; every engine gives pandas DataFrames of
the per-image and per-class results, and a relation of a big table for analysts.
"""

from auditlib.engine.base import ENGINES, Engine, EngineError, engine_or_frames, open_engine
from auditlib.engine.tables import FrameTables, StoreTables, Tables

__all__ = ["ENGINES", "Engine", "EngineError", "FrameTables", "StoreTables", "Tables",
           "engine_or_frames", "open_engine"]
