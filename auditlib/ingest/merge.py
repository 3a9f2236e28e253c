"""Merging the entries of one document that share a table's key into one row.

A scanner may report the same vulnerability of the same package at the same place more than once:
Grype writes one match per matcher that found it (a distro matcher and a CPE matcher; DefectDojo's
`check_all_fields` report has a GHSA of Django twice), and the entries may differ in severity,
fixes and scores. `auditlib.tables.MERGES` declares, column by column, how such entries become one
row (`auditlib.tables.MERGE_RULES` says what each rule does); this module applies the rules. It
runs on the typed frames the accumulator builds, which always hold whole documents, so entries of
different documents are never merged. A frame without two rows of one key costs one `duplicated`
pass; the rules work on whole columns (a sort per rule), never row by row, but for the unions of
text.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from auditlib.tables import Table, concat, frame, merge_rule

COUNT = "occurrence_count"
"""The column that counts the entries a row merges, in a table that has one."""

_EPOCH = pd.Timestamp(0, tz="UTC")


def merge_duplicates(
    df: pd.DataFrame, table: Table, rules: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Merge the rows of `df` that share `table.key` into one row each.

    Args:
        df: typed rows of `table` (`auditlib.tables.frame`), of whole documents.
        table: the declaration.
        rules: each column's merge rule; by default `auditlib.tables.merge_rule`'s.

    Returns:
        `df` itself, its `occurrence_count` filled (1 where a row had none), when no two rows share
        the key; else a new frame in which each merged row stands where the first of its entries
        stood.

    Raises:
        ValueError: if a column's rule is unknown, or `with` names a column not merged by itself.
    """
    if COUNT in df.columns:
        df[COUNT] = df[COUNT].fillna(1)
    key = list(table.key)
    dup = df.duplicated(subset=key, keep=False).to_numpy()
    if not dup.any():
        return df
    at = np.flatnonzero(dup)
    part = df.iloc[at].reset_index(drop=True)
    # Groups numbered in the order of their first entry.
    gid = part.groupby(key, dropna=False, sort=False, observed=True).ngroup().to_numpy()
    n = int(gid.max()) + 1
    if rules is None:
        rules = {c: merge_rule(table, c) for c in df.columns}
    merged = _merge(part, gid, n, rules, table)
    first = _pick(gid, n, np.zeros(len(gid)), np.ones(len(gid), dtype=bool))
    kept = np.flatnonzero(~dup)
    out = concat(table, [df.iloc[kept], merged])
    order = np.argsort(np.concatenate([kept, at[first]]), kind="stable")
    return out.iloc[order].reset_index(drop=True)


def _merge(
    part: pd.DataFrame, gid: np.ndarray, n: int, rules: Mapping[str, str], table: Table
) -> pd.DataFrame:
    """Return one row per group of `part` (groups `gid`, numbered 0..n-1), by `rules`."""
    everywhere = np.ones(len(gid), dtype=bool)
    severity = part["severity"] if "severity" in part.columns else None
    primary = (
        _pick(gid, n, _comparable(severity), everywhere, largest=True)
        if severity is not None
        else _pick(gid, n, np.zeros(len(gid)), everywhere)
    )
    chosen: dict[str, np.ndarray] = {}
    made: dict[str, list[object]] = {}
    for col, rule in rules.items():
        if rule.startswith("with "):
            continue
        s = part[col]
        present = s.notna().to_numpy()
        if rule == "key":
            chosen[col] = _pick(gid, n, np.zeros(len(gid)), everywhere)
        elif rule == "primary":
            first_present = _pick(gid, n, np.zeros(len(gid)), present)
            chosen[col] = np.where(present[primary], primary, first_present)
        elif rule in ("highest", "latest", "earliest"):
            chosen[col] = _pick(gid, n, _comparable(s), present, largest=rule != "earliest")
        elif rule.startswith("first of "):
            words = [w.strip() for w in rule.removeprefix("first of ").split(",")]
            rank = s.astype(object).map({w: i for i, w in enumerate(words)}).fillna(len(words))
            chosen[col] = _pick(gid, n, rank.to_numpy(dtype=float), present)
        elif rule in ("union", "sorted union"):
            made[col] = _union(s, gid, n, sort=rule == "sorted union")
        elif rule == "any true":
            made[col] = _any_true(s, gid, n)
        elif rule == "sum":
            weights = s.fillna(1).to_numpy(dtype=float)
            made[col] = [int(v) for v in np.bincount(gid, weights=weights, minlength=n)]
        else:
            raise ValueError(f"{table.name}.{col}: unknown merge rule {rule!r}")
    for col, rule in rules.items():
        if rule.startswith("with "):
            other = rule.removeprefix("with ")
            if other not in chosen:
                raise ValueError(
                    f"{table.name}.{col}: merge rule `{rule}` names no column taken from an entry"
                )
            chosen[col] = chosen[other]
    out = frame(table, made, n)
    for col, rows in chosen.items():
        out[col] = part[col].take(rows).reset_index(drop=True)
    return out


def _pick(
    gid: np.ndarray, n: int, values: np.ndarray, present: np.ndarray, *, largest: bool = False
) -> np.ndarray:
    """Return, for each of the `n` groups, the position of the entry with the smallest (or
    `largest`) of `values` among those `present`, the first among equals; the group's first entry
    when none is present."""
    positions = np.arange(len(gid))
    by = -values if largest else values
    order = np.lexsort((positions, np.where(present, by, 0), ~present, gid))
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = gid[order][1:] != gid[order][:-1]
    out = np.empty(n, dtype=np.int64)
    out[gid[order][starts]] = order[starts]
    return out


def _comparable(s: pd.Series) -> np.ndarray:
    """Return `s` as numbers that sort as its values do (a severity by its place on the scale);
    missing values become 0 (the callers mask them)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        if s.dtype.ordered:
            return s.cat.codes.to_numpy(dtype=float)
        return pd.factorize(s.astype(object), sort=True)[0].astype(float)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return (s - _EPOCH).dt.total_seconds().fillna(0).to_numpy(dtype=float)
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=float, na_value=0.0)
    return pd.factorize(s.astype(object), sort=True)[0].astype(float)


def _union(s: pd.Series, gid: np.ndarray, n: int, *, sort: bool) -> list[object]:
    """Return per group the values of its entries, split at commas, without repeats, joined with
    `, ` (sorted, or in the order first seen); None for a group without values."""
    codes, uniques = pd.factorize(s.astype(object))  # each distinct text split once
    split = [[w.strip() for w in str(u).split(",") if w.strip()] for u in uniques]
    pairs = pd.DataFrame({"g": gid, "c": codes})
    pairs = pairs[pairs["c"] >= 0].drop_duplicates()
    words: list[dict[str, None]] = [{} for _ in range(n)]
    for g, c in zip(pairs["g"].tolist(), pairs["c"].tolist(), strict=True):
        words[g].update(dict.fromkeys(split[c]))
    return [", ".join(sorted(w) if sort else w) or None for w in words]


def _any_true(s: pd.Series, gid: np.ndarray, n: int) -> list[object]:
    """Return per group True if an entry is true, else False if one is false, else None."""
    is_true = (s == True).fillna(False).to_numpy(dtype=bool)  # noqa: E712 - a nullable column
    is_false = (s == False).fillna(False).to_numpy(dtype=bool)  # noqa: E712
    any_true = np.bincount(gid, weights=is_true, minlength=n) > 0
    any_false = np.bincount(gid, weights=is_false, minlength=n) > 0
    return [True if t else False if f else None for t, f in zip(any_true, any_false, strict=True)]
