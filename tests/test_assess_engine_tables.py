"""`assess(store)` keeps the big tables in its engine (issue 15): it never reads the current
state's vulnerabilities, packages or package licences into pandas (nor, with several
snapshots, theirs: the history clock is SQL in the same engine, `auditlib.engine.history`), says
so, and gives them on request;
the fixable findings the engine computes in SQL are what plain pandas computes from the same
rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib.assess.assessment as assessment
from auditlib.assess import assess
from auditlib.data import AuditData, TableNotHeldError
from auditlib.engine import FrameTables, StoreTables, open_engine
from auditlib.engine.aggregates import FIXABLE_FINDINGS, severity_of_rank, text_times
from auditlib.engine.tables import BIG_TABLES
from auditlib.fleet.select import filter_images
from auditlib.store import read_current
from tests.engine_store import NOW, two_snapshot_store

KEY = ["image_id", "vuln_id", "pkg_name", "pkg_version"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_snapshot_store(tmp_path_factory.mktemp("engine-tables"), images=8)


def test_assess_reads_no_big_table_of_the_current_state_into_pandas(store: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[list[str] | None] = []
    real = assessment.read_current

    def spy(s: Any, *args: Any, tables: Any = None, **kw: Any) -> AuditData:
        asked.append(None if tables is None else list(tables))
        return real(s, *args, tables=tables, **kw)

    monkeypatch.setattr(assessment, "read_current", spy)
    a = assess(store, as_of=NOW)
    summary = a.summary()  # every face's figures, the findings and the policy among them
    assert asked and all(t is not None and not set(BIG_TABLES) & set(t) for t in asked)
    assert set(a.in_engine) == set(BIG_TABLES)
    for t in BIG_TABLES:  # never an empty frame that would read as "no rows"
        with pytest.raises(TableNotHeldError, match=rf"{t}: not held in memory.*table"):
            getattr(a.data, t)
    assert "vulnerabilities=in engine" in repr(a.data)
    assert not set(BIG_TABLES) & set(a.data.tables())
    whole = read_current(store)
    for t in BIG_TABLES:  # on request, every current row, through the engine
        assert len(a.table(t)) == len(getattr(whole, t)) > 0
    assert len(a.table("images")) == len(whole.images)
    n = a.sql("SELECT COUNT(*) AS n FROM vulnerabilities")["n"].iloc[0]
    assert n == len(whole.vulnerabilities)
    assert summary["fixable"]["findings"] == len(a.findings) > 0
    with pytest.raises(KeyError):
        a.table("no_such_table")


def _plain_pandas(v: pd.DataFrame) -> pd.DataFrame:
    """The fixable findings as plain pandas computes them from the rows: fixed and not
    contradicted, one per finding (a missing key part a value of its own), the highest severity,
    the earliest dates, the least text of the rest, any scanner's exploited flag."""
    v = v[(v["fix_state"].astype("string") == "fixed").fillna(False).to_numpy(bool)
          & ~v["fix_contradicted"].astype("boolean").fillna(False).to_numpy(bool)
          & v["image_id"].notna().to_numpy(bool)]
    v = v.assign(**{c: v[c].astype(object) for c in
                    (*KEY, "fixed_version", "layer_diff_id", "purl")})
    g = v.groupby(KEY, dropna=False, sort=True).agg(
        severity=("severity", "max"), fixed_version=("fixed_version", "min"),
        fix_at=("fix_available_at", "min"), layer_diff_id=("layer_diff_id", "min"),
        published_at=("published_at", "min"), known_exploited=("is_known_exploited", "max"),
        epss=("epss_score", "max"), purl=("purl", "min")).reset_index()
    return g


def _engine_rows(engine: Any) -> pd.DataFrame:
    """`FIXABLE_FINDINGS` as the engine gives it, in the columns of `_plain_pandas`."""
    out = engine.sql(FIXABLE_FINDINGS)
    return pd.DataFrame({
        **{c: out[c] for c in KEY}, "severity": severity_of_rank(out["severity_rank"]),
        "fixed_version": out["fixed_version"], "fix_at": text_times(out["fix_at"]),
        "layer_diff_id": out["layer_diff_id"], "published_at": text_times(out["published_at"]),
        "known_exploited": out["known_exploited"].astype("Float64").astype("boolean"),
        "epss": out["epss"].astype("Float64"), "purl": out["purl"]})


def _comparable(df: pd.DataFrame) -> pd.DataFrame:
    out = df.astype(object).where(df.notna(), None)
    for c in ("fix_at", "published_at"):
        out[c] = pd.to_datetime(df[c], utc=True)
    out["severity"] = df["severity"].astype(str)
    out["epss"] = df["epss"].astype(float)
    return out.sort_values(KEY).reset_index(drop=True)


def test_sql_fixable_findings_equal_plain_pandas(store: Path) -> None:
    data = read_current(store)
    expected = _comparable(_plain_pandas(data.vulnerabilities))
    assert 0 < len(expected) < len(data.vulnerabilities)
    on_files = open_engine("duckdb", StoreTables.of(store, data.scans))
    in_memory = open_engine("duckdb", FrameTables(data))
    for engine in (on_files, in_memory):
        got = _engine_rows(engine)
        assert list(got.columns) == list(expected.columns)
        pd.testing.assert_frame_equal(_comparable(got), expected, check_dtype=False)
    a = assess(store, as_of=NOW)  # the assessment's findings: these, less what VEX settles
    assert len(a.findings) == len(expected) - len(a.vex.settled())


def test_an_image_filter_keeps_its_images_rows_in_the_engine(store: Path) -> None:
    whole = read_current(store)
    ref = sorted(whole.image_tags["reference"].dropna().astype(str))[0]
    kept, left_out = filter_images(whole, ref)
    a = assess(store, as_of=NOW, image_filter=ref)
    assert a.filtered_out == left_out > 0 and a.image_filter == ref
    assert set(a.in_engine) == set(BIG_TABLES)
    for t in BIG_TABLES:  # the engine's views hold the kept images' rows, as pandas keeps them
        got, want = a.table(t), getattr(kept, t)
        assert len(got) == len(want)
        assert set(got["image_id"].dropna()) == set(want["image_id"].dropna().astype(str))
    assert set(a.findings["image_id"]) <= set(kept.images["image_id"].astype(str))


def test_a_table_the_store_keeps_as_files_only_is_said_to_be_so() -> None:
    import pytest

    from auditlib.data import AuditData, TableNotHeldError

    data = AuditData()
    with pytest.raises(AttributeError, match="files only") as got:
        _ = data.document_licences
    assert not isinstance(got.value, TableNotHeldError)  # not "in the engine": nowhere to ask
    with pytest.raises(KeyError, match="files only"):
        data.without("package_licence_classes")
    with pytest.raises(TableNotHeldError, match="Assessment.table"):
        _ = data.without("packages").packages
