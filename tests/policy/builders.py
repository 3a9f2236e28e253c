"""Small `AuditData` for rule tests: rows by table, provenance filled in."""

from __future__ import annotations

from typing import Any

import pandas as pd

from auditlib.data import AuditData
from auditlib.tables import TABLES_BY_NAME, frame

AS_OF = pd.Timestamp("2026-11-29T12:00:00Z")
"""The as-of time rule tests evaluate at."""


def image_id(n: int) -> str:
    """Return a fake, well-formed image id number `n`."""
    return f"sha256:{n:064x}"


def days_ago(days: float) -> str:
    """Return the ISO time `days` before AS_OF."""
    return (AS_OF - pd.Timedelta(days=days)).isoformat()


def make_data(**tables: list[dict[str, Any]]) -> AuditData:
    """Return `AuditData` holding the given rows (other tables empty).

    Each row may leave out any column; `scan_id`, `source`, `source_format` default to a value
    made from the table name and row number, `collected_at` to AS_OF. A `scans` row of a Grype or
    Harbor report is a vulnerability scan unless it says otherwise, as their parsers set it.
    """
    built: dict[str, pd.DataFrame] = {}
    for name, rows in tables.items():
        table = TABLES_BY_NAME[name]
        if name == "scans":
            rows = [{"vulnerability_scan": r.get("format") in ("grype-json", "harbor-json"), **r}
                    for r in rows]
        rows = [
            {
                "scan_id": f"sha256:{name}-{i}", "source": f"test/{name}/{i}",
                "source_format": "test@1", "collected_at": AS_OF.isoformat(), **r,
            }
            for i, r in enumerate(rows)
        ]
        cols = {c: [r.get(c) for r in rows] for c in table.column_names if c in
                set().union(*rows)} if rows else {}
        built[name] = frame(table, cols, len(rows))
    return AuditData(**built)  # type: ignore[arg-type]
