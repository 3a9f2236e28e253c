"""One function both engines define, `key_hash<N>`: a 64-bit hash of N texts, what the
aggregates group rows by where they only count them (`auditlib.engine.aggregates`).

Grouping 79 million package rows by image id, name, version and type (texts of up to 71
characters) took DuckDB 30.6 s at 100,000 images; grouping them by a hash of the image id and a
hash of the other three, the same groups, took 6.0 s (by hand, README, issue 15). A hash is
only grouped by where nothing but counts comes out of the groups: carrying the texts out of
each group (`any_value`) cost more than grouping by them.

Each engine has its own 64-bit hash (DuckDB `hash`, Spark `xxhash64`), so the values differ
between engines but the groups do not. A missing text is hashed as `NULL_TEXT` on both (Spark's
`xxhash64` skips a NULL, which would make `('a', NULL)` and `(NULL, 'a')` one key). Two keys
are counted as one only when their hashes collide: among the n keys of one image the odds are
about n^2 / 2^65 (1.7e-14 for the 800 package rows of an image).
"""

from __future__ import annotations

MOST_TEXTS = 3
"""The most texts one `key_hash<N>` takes (`key_hash1` ... `key_hash3`)."""

NULL_TEXT = "\u2400"
"""What a missing text is hashed as (U+2400 SYMBOL FOR NULL): a key's NULL is a value of its
own, as in `GROUP BY`."""


def key_hash(*columns: str) -> str:
    """Return the SQL (DuckDB and Spark) of the 64-bit hash of the texts of `columns` (each cast
    to text), through the function the engine defined (`duckdb_functions`, `spark_functions`).

    Raises:
        ValueError: if there are no columns, or more than `MOST_TEXTS`.
    """
    if not 1 <= len(columns) <= MOST_TEXTS:
        raise ValueError(f"key_hash takes 1 to {MOST_TEXTS} columns, not {len(columns)}")
    return f"key_hash{len(columns)}({', '.join(f'CAST({c} AS STRING)' for c in columns)})"


def _args(n: int) -> list[str]:
    return [f"t{i}" for i in range(1, n + 1)]


def _texts(n: int) -> str:
    return ", ".join(f"COALESCE({a}, '{NULL_TEXT}')" for a in _args(n))


def duckdb_functions() -> list[str]:
    """Return the statements that define `key_hash1` ... `key_hash<MOST_TEXTS>` on a DuckDB
    connection (temporary macros over DuckDB's `hash`)."""
    return [f"CREATE OR REPLACE TEMPORARY MACRO key_hash{n}({', '.join(_args(n))}) AS "
            f"hash({_texts(n)})" for n in range(1, MOST_TEXTS + 1)]


def spark_functions() -> list[str]:
    """Return the statements that define `key_hash1` ... `key_hash<MOST_TEXTS>` in a Spark
    session (temporary SQL functions over Spark's `xxhash64`)."""
    return [f"CREATE OR REPLACE TEMPORARY FUNCTION key_hash{n}("
            f"{', '.join(f'{a} STRING' for a in _args(n))}) RETURNS BIGINT "
            f"RETURN xxhash64({_texts(n)})" for n in range(1, MOST_TEXTS + 1)]
