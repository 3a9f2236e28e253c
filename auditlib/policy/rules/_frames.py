"""Shared pieces of the rules that read large tables: grouping keys and evidence lists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from auditlib.policy.model import Status

SHOWN = 5
"""Items listed in the evidence at most."""

LEVELS: tuple[Status, ...] = ("pass", "warn", "fail")
"""The status of each level (0, 1, 2)."""


def evidence_list(items: list[str], total: int | None = None, most: int = SHOWN) -> str:
    """Return the first `most` items, comma-separated, and how many more of `total` there are."""
    total = len(items) if total is None else total
    more = total - len(items[:most])
    return ", ".join(items[:most]) + (f" and {more} more" if more > 0 else "")


def rows(df: pd.DataFrame, cols: list[str]) -> Iterator[tuple[Any, ...]]:
    """Return the rows of `cols` as plain Python tuples."""
    return zip(*(df[c].tolist() for c in cols), strict=True)


def ids(s: pd.Series) -> set[str]:
    return {str(i) for i in pd.unique(s.dropna())}


def codes(df: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """Return one int64 per row, equal for rows equal in `cols` (missing values included)."""
    key, bound = np.zeros(len(df), dtype=np.int64), 1
    for c in cols:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            codes, n = df[c].cat.codes.to_numpy(), len(df[c].cat.categories) + 1
        else:
            codes, uniques = pd.factorize(df[c])
            n = len(uniques) + 1
        if bound * n >= 2**62:  # renumber the key so far densely before it overflows
            key, seen = pd.factorize(key)
            bound = len(seen)
        key = key * n + codes + 1  # missing (-1) is 0
        bound *= n
    return key


# -- no-baked-secrets ------------------------------------------------------------------------


def distinct_per_image(df: pd.DataFrame, cols: list[str]) -> dict[str, int]:
    """Return image id -> how many distinct `cols` values its rows have."""
    first = ~pd.Series(codes(df, ["image_id", *cols])).duplicated().to_numpy()
    ids = df["image_id"][first]
    return {str(i): int(n) for i, n in ids.value_counts().items() if n}
