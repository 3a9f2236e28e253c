"""Spark gives the same aggregates as DuckDB on the same store, row for row: a real standalone
Spark cluster (one master, two workers, on 127.0.0.1) started from the `spark-class` pyspark
ships, with Debian's Java 17."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pandas as pd
import pytest

from auditlib.assess.fix_first import EPSS_FACTOR, KEV_FACTOR, SEVERITY_WEIGHTS, SLA_FACTORS
from auditlib.engine import StoreTables, open_engine
from auditlib.engine.aggregates import AGGREGATES
from auditlib.engine.history import history_clock
from auditlib.engine.selections import agreement_rows, upgrade_fixable, vex_rows
from auditlib.engine.spark import java_available, stop_spark
from auditlib.fleet.findings import DEFAULT_SLA, fixable_findings
from auditlib.history.trends import FRAMES as TREND_FRAMES
from auditlib.history.trends import trends_of
from auditlib.policy.rules.upgrades import OS_PACKAGE_TYPES
from auditlib.store import list_snapshots, read_current
from tests.engine_store import two_snapshot_store
from tests.integration.spark_cluster import spark_cluster
from tests.skip_or_fail import skip_or_fail
from tests.test_history_sql import AS_OF, clock_store, reference
from tests.test_history_trends_sql import trend_store
from tests.test_licence_tables import (
    LICENCE_AGGREGATES,
    as_before,
    check_figures,
    check_query_figures,
    licence_queries,
    licence_store,
)

pytestmark = [
    pytest.mark.integration, pytest.mark.slow,
    # The 34 warnings this test gave all come from pyspark's own code, whatever auditlib passes
    # it: pyspark 4 says at each toPandas() that it does not fully support pandas 3 (this test
    # checks what auditlib uses, row for row, against DuckDB), and its Arrow-to-pandas
    # conversion calls `astype(..., copy=False)`, which pandas 3 deprecates. Third-party noise,
    # so filtered; only from pyspark's modules.
    pytest.mark.filterwarnings(
        "ignore:PySpark does not yet fully support pandas:FutureWarning:pyspark"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning:pyspark"),
]


@pytest.fixture(scope="module")
def spark_master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not java_available():
        skip_or_fail("no Java runtime for Spark (apt-get install openjdk-17-jre-headless; "
                 "scripts/system-deps.sh does)")
    if importlib.util.find_spec("pyspark") is None:
        skip_or_fail("pyspark is not installed (pip install 'auditlib[spark]'; make setup does)")
    with spark_cluster(tmp_path_factory.mktemp("spark")) as master:
        yield master
        stop_spark()


def test_spark_equals_duckdb_row_for_row(spark_master: str,
                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    store = two_snapshot_store(tmp_path_factory.mktemp("spark-store"), images=8)
    tables = StoreTables.of(store, read_current(store).scans)
    duck = open_engine("duckdb", tables)
    spark = open_engine("spark", tables, spark_master=spark_master)
    assert spark.name == "spark" and spark.relation("packages").count() == duck.relation(
        "packages").aggregate("count(*)").fetchall()[0][0]
    for name, aggregate in AGGREGATES.items():
        on_spark, on_duckdb = aggregate(spark), aggregate(duck)
        assert len(on_duckdb) > 0, name
        pd.testing.assert_frame_equal(on_spark, on_duckdb, obj=name)
    # The rows the engine selects for VEX matching, the scanner agreement and the upgrade rule,
    # from small frames each engine is given (`auditlib.engine.selections`).
    v = duck.sql("SELECT DISTINCT CAST(vuln_id AS STRING) AS v, CAST(image_id AS STRING) AS i, "
                 "CAST(scan_id AS STRING) AS s FROM vulnerabilities ORDER BY 1, 2, 3")
    ids = {str(x).upper() for x in v["v"].head(5)}
    keys = set(zip(v["s"].tail(3), v["v"].tail(3), strict=True))
    images = set(v["i"].dropna().head(3))
    for name, select in (
            ("vex_rows", lambda e: vex_rows(e, ids, keys)),
            ("agreement_rows", lambda e: agreement_rows(e, images)),
            ("upgrade_fixable", lambda e: upgrade_fixable(e, OS_PACKAGE_TYPES, 3))):
        on_spark, on_duckdb = select(spark), select(duck)
        assert len(on_duckdb) > 0, name
        pd.testing.assert_frame_equal(on_spark, on_duckdb, obj=name)


def test_spark_licence_tables_stored_and_derived(spark_master: str,
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    """A store whose older snapshot was written before the licence tables: Spark derives them
    for its sources, as DuckDB does, and both give the figures counted by hand."""
    store = licence_store(tmp_path_factory.mktemp("spark-licences"))
    as_before(list_snapshots(store)[0])
    tables = StoreTables.of(store, read_current(store).scans)
    assert tables.underived
    duck = open_engine("duckdb", tables)
    spark = open_engine("spark", tables, spark_master=spark_master)
    got = {n: AGGREGATES[n](spark) for n in LICENCE_AGGREGATES}
    check_figures(got)
    for name in LICENCE_AGGREGATES:
        pd.testing.assert_frame_equal(got[name], AGGREGATES[name](duck), obj=name)
    # The licence queries over `package_licences` (the page's risks, the rule's flagged
    # packages): the same rows; Spark's ROW_NUMBER is a 32-bit integer, DuckDB's 64-bit.
    got = licence_queries(spark)
    check_query_figures(got)
    for name, on_duckdb in licence_queries(duck).items():
        pd.testing.assert_frame_equal(got[name], on_duckdb, obj=name, check_dtype=False)


def test_spark_history_clock_equals_duckdb(spark_master: str,
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    """The SLA clock's history (`auditlib.engine.history`) over four snapshots: the same rows on
    Spark as on DuckDB, and the same clock on the fixable findings it is joined to there."""
    store = clock_store(tmp_path_factory.mktemp("spark-clock"))
    tables = StoreTables.of(store, read_current(store).scans)
    duck = open_engine("duckdb", tables)
    spark = open_engine("spark", tables, spark_master=spark_master)
    on_duckdb, on_spark = history_clock(store, duck), history_clock(store, spark)
    want = on_duckdb.frame()
    assert len(want) == len(reference(store)) == 7
    pd.testing.assert_frame_equal(on_spark.frame(), want)
    on_duck = fixable_findings(duck, AS_OF, on_duckdb)
    found = on_duck.rows()
    assert set(found["clock"]) == {"seen", "first-seen"}
    on_spark_fixable = fixable_findings(spark, AS_OF, on_spark)
    pd.testing.assert_frame_equal(on_spark_fixable.rows(), found)
    # The fix-first ranking's per-image figures and upgrades (`FIX_FIRST_IMAGES`, `_UPGRADES`).
    weighed = (DEFAULT_SLA, {}, set(), SEVERITY_WEIGHTS, SLA_FACTORS, KEV_FACTOR, EPSS_FACTOR)
    points = {e: f.points(*weighed) for e, f in (("duck", on_duck), ("spark", on_spark_fixable))}
    want_images = on_duck.fix_first(points["duck"])
    assert want_images["pts"].notna().any()
    pd.testing.assert_frame_equal(on_spark_fixable.fix_first(points["spark"]), want_images)
    for shown in (1, 3):
        want_upgrades = on_duck.upgrades(points["duck"], shown)
        assert len(want_upgrades) > 0
        pd.testing.assert_frame_equal(on_spark_fixable.upgrades(points["spark"], shown),
                                      want_upgrades)


def test_spark_history_trends_equal_duckdb(spark_master: str,
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    """The history's trends (`auditlib.engine.trends`: counts by severity, changes, time to fix,
    per-image counts of each state) over four snapshots with a gap: the same frames on Spark as
    on DuckDB."""
    store = trend_store(tmp_path_factory.mktemp("spark-trends"))
    want = trends_of(store)
    got = trends_of(store, engine="spark", spark_master=spark_master)
    assert want.snapshot_count == 4 and int(want.counts["vulnerabilities"].sum()) > 0
    for name in TREND_FRAMES:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name), obj=name)
