"""Rows on their way to tables: parser rows gathered per table, turned into typed frame chunks.

`Accumulator` is what `loader` feeds document by document: it keeps each table's pending rows as
column lists (rows of one parser transposed in C), stamps provenance per document run rather than
per row, and every `CHUNK_ROWS` rows builds a typed frame chunk, so a large fleet is never held as
millions of Python objects. `build()` joins the chunks into the final tables.
"""

from __future__ import annotations

from datetime import datetime
from itertools import repeat
from typing import Any, cast

import numpy as np
import pandas as pd

from auditlib.ingest.merge import merge_duplicates
from auditlib.rows import Row
from auditlib.tables import (
    DATA_TABLES,
    DTYPES,
    MERGES,
    TABLES_BY_NAME,
    category_dtype,
    concat,
    frame,
)
from auditlib.versions.contradictions import contradicted_fixes

CHUNK_ROWS = 50_000
"""Rows of a table kept as Python dicts before they are turned into a typed frame chunk."""


class _Table:
    """Rows of one table from many documents: typed frame chunks, plus columns not yet converted.

    Parser rows are transposed into column lists as they arrive; every `CHUNK_ROWS` rows (at a
    document boundary) the columns become a typed frame chunk, so that a large fleet is never held
    as millions of Python objects (design.md section 8: peak memory under 2 GB).
    """

    __slots__ = ("chunks", "cols", "n", "name", "names", "runs")

    def __init__(self, name: str) -> None:
        self.name = name
        self.names = frozenset(TABLES_BY_NAME[name].column_names)
        self.chunks: list[pd.DataFrame] = []
        self.n = 0
        self.cols: dict[str, list[Any]] = {}
        self.runs: list[tuple[int, int]] = []
        self._reset()

    def _reset(self) -> None:
        self.n = 0
        self.cols = {c: [] for c in TABLES_BY_NAME[self.name].column_names if c not in _STAMPED}
        self.runs = []

    def add(self, rows: list[Row], runs: list[tuple[int, int]], uniform: bool | None = None
            ) -> None:
        """Append rows to the pending columns (checked by the caller): `runs` says which
        documents they come from, in order, and how many rows each (`(doc, rows)`).

        `uniform` says whether every row has the keys of the first in the same order (as
        `row_keys` found), None when not known yet.
        """
        n = len(rows)
        if not n:
            return
        first = tuple(rows[0])
        if uniform is None:
            uniform = row_keys(rows)[1]
        cols = self.cols
        if uniform:
            # Rows built by one code path share their key order: transpose them in C.
            for key, values in zip(first, zip(*map(dict.values, rows), strict=True), strict=True):
                cols[key].extend(values)
        else:
            for key in set().union(*rows):
                cols[key].extend([r.get(key) for r in rows])
        self._end_rows(n, runs)

    def add_columns(self, columns: dict[str, list[Any]], n: int, doc: int) -> None:
        """Append `n` rows of document `doc` given as columns (checked by the caller: declared
        names, every list `n` long); a column not given is empty in these rows."""
        if not n:
            return
        cols = self.cols
        for key, values in columns.items():
            cols[key].extend(values)
        self._end_rows(n, [(doc, n)])

    def _end_rows(self, n: int, runs: list[tuple[int, int]]) -> None:
        """Close `n` rows just appended (of the documents in `runs`): a column they did not fill
        is empty in them."""
        for col in self.cols.values():
            if len(col) == self.n:  # not in these rows
                col.extend([None] * n)
        self.runs.extend(runs)
        self.n += n


# Columns the loader stamps per document (its provenance), not per row.
_STAMPED = ("scan_id", "source", "source_format", "collected_at")


def row_keys(rows: list[Row]) -> tuple[set[str], bool]:
    """Return the keys of `rows`, and whether every row has the keys of the first in its order
    (rows built by one dict display: their columns can be transposed in one pass)."""
    if not rows:
        return set(), True
    first = tuple(rows[0])
    if list(map(tuple, rows)).count(first) == len(rows):
        return set(first), True
    return set().union(*rows), False


class Accumulator:
    """Collects rows and errors while files are read; builds the tables at the end."""

    def __init__(self, collected_at: datetime) -> None:
        self.collected_at = collected_at
        self.tables: dict[str, _Table] = {t.name: _Table(t.name) for t in DATA_TABLES}
        self.errors: list[Row] = []
        self.docs: list[tuple[str | None, ...]] = []
        """Per document read: scan_id, source, source_format, image_id."""

    def new_document(self, stamp: dict[str, Any]) -> int:
        """Register a document's provenance; return its number for `add`."""
        keys = ("scan_id", "source", "source_format", "image_id")
        self.docs.append(tuple(stamp.get(k) for k in keys))
        return len(self.docs) - 1

    def error(
        self,
        source: str,
        fmt: str | None,
        level: str,
        reason: str,
        locator: str | None = None,
        scan_id: str | None = None,
    ) -> None:
        self.errors.append(
            {
                "source": source,
                "format": fmt,
                "level": level,
                "locator": locator,
                "reason": reason,
                "scan_id": scan_id,
            }
        )

    def add(self, table: str, rows: list[Row], doc: int, uniform: bool | None = None) -> None:
        """Add the rows of document `doc` to `table` (`uniform`: as `row_keys` found)."""
        self.add_runs(table, rows, [(doc, len(rows))], uniform)

    def add_runs(self, table: str, rows: list[Row], runs: list[tuple[int, int]],
                 uniform: bool | None = None) -> None:
        """Add the rows of consecutive documents to `table`: `runs` holds each one's number and
        rows, in order (the rows of a chunk always come from whole documents)."""
        acc = self.tables[table]
        acc.add(rows, runs, uniform)
        self._chunk_if_full(acc)

    def add_columns(self, table: str, columns: dict[str, list[Any]], n: int, doc: int) -> None:
        """Add `n` rows of document `doc` to `table`, given as columns (`Output.add_columns`)."""
        acc = self.tables[table]
        acc.add_columns(columns, n, doc)
        self._chunk_if_full(acc)

    def _chunk_if_full(self, acc: _Table) -> None:
        """Turn `acc`'s pending rows into a frame chunk once they reach `CHUNK_ROWS` (rows are
        added a whole document at a time, so a chunk always ends at a document's end)."""
        if acc.n >= CHUNK_ROWS:
            self._flush(acc)

    def _flush(self, acc: _Table) -> None:
        if acc.n:
            acc.chunks.append(self._build_chunk(acc))
            acc._reset()

    def build(self) -> dict[str, pd.DataFrame]:
        out: dict[str, pd.DataFrame] = {}
        for name, acc in self.tables.items():
            if name == "load_errors":
                continue
            self._flush(acc)
            if not acc.chunks:
                out[name] = empty_frame(name)
            else:
                out[name] = concat(TABLES_BY_NAME[name], acc.chunks)
            acc.chunks = []
        errs = self.errors
        cols = {
            c: [r.get(c) for r in errs]
            for c in ("source", "format", "level", "locator", "reason", "scan_id")
        }
        cols["collected_at"] = [self.collected_at] * len(errs)
        out["load_errors"] = frame(TABLES_BY_NAME["load_errors"], cols, len(errs))
        return out

    def _build_chunk(self, acc: _Table) -> pd.DataFrame:
        name, n = acc.name, acc.n
        table = TABLES_BY_NAME[name]
        # An all-None column is left out (frame() makes it typed <NA>). Most columns have a value
        # in their first row, which settles it without comparing all n values with None.
        cols: dict[str, Any] = {
            k: v for k, v in acc.cols.items() if v[0] is not None or v.count(None) != n
        }
        for pos, key in enumerate(("scan_id", "source", "source_format")):
            cols[key] = self._stamped(acc, pos)
        ts = pd.Series(pd.Timestamp(self.collected_at), index=pd.RangeIndex(n))
        cols["collected_at"] = ts.astype(DTYPES["datetime"])
        if "image_id" in acc.names:
            own = cols.get("image_id")
            if own is None:
                cols["image_id"] = self._stamped(acc, 3)
            elif None in own:
                # A row's own image id, else its document's.
                docs = self.docs
                of_doc = [v for d, m in acc.runs for v in repeat(docs[d][3], m)]
                cols["image_id"] = [o if o is not None else d for o, d in zip(own, of_doc,
                                                                              strict=True)]
        df = frame(table, cols, n)
        self._check_conversions(name, cols, df)
        if name in MERGES:
            # Entries of one key are merged within a document; a chunk always holds whole documents.
            df = merge_duplicates(df, table)
        if name == "vulnerabilities":
            df["fix_contradicted"] = contradicted_fixes(df)
        return df

    def _stamped(self, acc: _Table, pos: int) -> pd.Series:
        """Return a provenance column of a chunk as a categorical built from per-document runs
        (categories in order of first appearance, as `pd.factorize` gives them; a document
        without the value is missing)."""
        index: dict[str, int] = {}
        docs = self.docs
        codes = [
            -1 if (v := docs[d][pos]) is None else index.setdefault(v, len(index))
            for d, _ in acc.runs
        ]
        row_codes = np.repeat(np.asarray(codes, dtype=np.int64), [m for _, m in acc.runs])
        return pd.Series(pd.Categorical.from_codes(
            row_codes, dtype=category_dtype(list(index), object), validate=False))

    def _check_conversions(self, name: str, cols: dict[str, list[Any]], df: pd.DataFrame) -> None:
        """Warn about values a typed column could not hold (a bad time, a 2**70 line number)."""
        for col in TABLES_BY_NAME[name].columns:
            if (
                col.dtype in ("string", "severity", "category")
                or col.name not in cols
                or col.name == "collected_at"
            ):
                continue
            given = cols[col.name]
            converted = df[col.name].isna()
            if isinstance(given, list) and given.count(None) == converted.sum():
                continue  # every missing value was None: none was lost converting
            raw = pd.Series(given, dtype=object)
            bad = raw.notna() & converted & (raw != "")
            for i in bad[bad].index[:1000]:
                self.error(
                    cast(str, df.at[i, "source"]),
                    cast("str | None", df.at[i, "source_format"]),
                    "warning",
                    f"{name}.{col.name}: {str(raw[i])[:80]!r} is not a valid {col.dtype}; "
                    "left empty",
                    scan_id=cast("str | None", df.at[i, "scan_id"]),
                )


_EMPTY: dict[str, pd.DataFrame] = {}


def empty_frame(name: str) -> pd.DataFrame:
    """Return a zero-row frame of table `name` (built once; building one costs ~1 ms per table)."""
    if name not in _EMPTY:
        _EMPTY[name] = frame(TABLES_BY_NAME[name], {}, 0)
    return _EMPTY[name].copy(deep=False)
