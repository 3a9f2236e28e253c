"""The table declarations: the generated data dictionary is current, and frames get declared
dtypes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from auditlib.tables import (
    DERIVED_TABLES,
    DTYPES,
    IMAGE_HISTORY,
    IMAGE_LABELS,
    MISCONFIGURATIONS,
    TABLES,
    VULNERABILITIES,
    conform,
    data_dictionary,
    empty,
    frame,
    has_dtype,
    redact_series,
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


# --- the one redaction step -------------------------------------------------------------------

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"  # a GitHub-token-shaped value


def test_redacted_columns_are_declared_and_documented() -> None:
    declared = {t.name: t.redacted_columns for t in (*TABLES, *DERIVED_TABLES)}
    for table, column in [("image_labels", "value"), ("image_history", "created_by"),
                          ("images", "entrypoint"), ("misconfigurations", "message"),
                          ("dockerfile_stages", "base_ref"), ("dockerfiles", "final_base_ref"),
                          ("load_errors", "reason"), ("policy_results", "evidence")]:
        assert column in declared[table], (table, column)
    for table in (*TABLES, *DERIVED_TABLES):
        for col in table.columns:
            if col.redacted:
                assert col.dtype in ("string", "category"), (table.name, col.name)
                assert f"| `{col.name}` | {col.dtype} | {col.meaning} **redacted** |" in (
                    data_dictionary())


def test_frame_redacts_declared_columns_only() -> None:
    df = frame(
        IMAGE_LABELS,
        {"label": [f"x.{TOKEN}", "b", "c"], "value": [f"token {TOKEN}", "plain", None]},
        3,
    )
    assert df["value"].tolist()[:2] == ["token <redacted>", "plain"] and pd.isna(df["value"][2])
    assert df["label"].iloc[0] == f"x.{TOKEN}"  # keys are names, not declared redacted
    leaky = "DB_PASSWORD=hunter2"
    msg = frame(MISCONFIGURATIONS, {"message": [leaky, "ok", leaky]}, 3)
    assert msg["message"].tolist() == ["DB_PASSWORD=<redacted>", "ok", "DB_PASSWORD=<redacted>"]
    assert str(msg["message"].dtype) == "category"


def test_conform_redacts_tables_read_back() -> None:
    """A snapshot written before the redaction step reads as a new one would be written."""
    old = pd.DataFrame({
        "message": pd.Categorical(["--password a1", "--password b2", "fine", None]),
        "title": pd.Categorical(["t", "t", "t", "t"]),
    })
    df = conform(MISCONFIGURATIONS, old)
    assert df["message"].tolist()[:3] == ["--password <redacted>"] * 2 + ["fine"]
    assert pd.isna(df["message"].iloc[3])
    assert list(df["message"].cat.categories) == ["--password <redacted>", "fine"]  # merged
    assert has_dtype(df["message"], "category")
    hist = conform(IMAGE_HISTORY, pd.DataFrame({"created_by": pd.array(
        [f"RUN echo {TOKEN}", "RUN make", None], dtype="string")}))
    assert hist["created_by"].tolist()[:2] == ["RUN echo <redacted>", "RUN make"]
    assert has_dtype(hist["created_by"], "string")
    clean = pd.Series(["a", "b"], dtype="string")
    assert redact_series(clean) is clean  # nothing masked: nothing copied
