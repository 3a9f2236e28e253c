"""The table declarations: the generated data dictionary is current, and frames get declared
dtypes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from auditlib.tables import (
    DTYPES,
    TABLES,
    VULNERABILITIES,
    data_dictionary,
    empty,
    frame,
    has_dtype,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "tables.md"


def test_docs_tables_md_is_generated_from_the_declarations() -> None:
    assert DOCS.read_text() == data_dictionary(), (
        "docs/tables.md is stale: run `python -m auditlib.tables > docs/tables.md`"
    )


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_declarations_are_tidy(table) -> None:  # type: ignore[no-untyped-def]
    names = table.column_names
    assert len(names) == len(set(names)), "duplicate column"
    assert set(table.key) <= set(names)
    for col in table.columns:
        assert col.dtype in DTYPES
        assert col.name == col.name.lower() and " " not in col.name
        assert col.meaning.strip()
        if col.name.endswith("_at"):
            assert col.dtype == "datetime", col.name
        if col.name.endswith(("_count", "_bytes")):
            assert col.dtype == "Int64", col.name
        if col.name.startswith(("is_", "has_")):
            assert col.dtype == "boolean", col.name
    if table.name != "load_errors":
        assert {"scan_id", "source", "source_format", "collected_at"} <= set(names)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_empty_has_declared_dtypes(table) -> None:  # type: ignore[no-untyped-def]
    df = empty(table)
    assert list(df.columns) == table.column_names
    for col in table.columns:
        assert has_dtype(df[col.name], col.dtype), col.name


def test_frame_converts_times_to_utc_and_orders_severity() -> None:
    df = frame(
        VULNERABILITIES,
        {
            "vuln_id": ["CVE-1", "CVE-2", "CVE-3"],
            "severity": ["low", "critical", None],
            "published_at": ["2024-01-02T03:04:05+02:00", None, "not a time"],
            "cvss_score": [9.8, None, "7.5"],
        },
        3,
    )
    assert df["published_at"].iloc[0] == pd.Timestamp("2024-01-02T01:04:05Z")
    assert df["published_at"].isna().tolist() == [False, True, True]
    assert df["severity"].tolist() == ["low", "critical", "unknown"]
    assert df["severity"].max() == "critical"
    assert df["cvss_score"].tolist()[0] == 9.8 and pd.isna(df["cvss_score"].iloc[1])
    assert str(df["vuln_id"].dtype) == "category"
    assert str(df["pkg_path"].dtype) == "string"


def test_frame_rejects_undeclared_columns_and_bad_lengths() -> None:
    with pytest.raises(ValueError, match="undeclared"):
        frame(VULNERABILITIES, {"nope": [1]}, 1)
    with pytest.raises(ValueError, match="2 values for 1 rows"):
        frame(VULNERABILITIES, {"vuln_id": ["a", "b"]}, 1)
