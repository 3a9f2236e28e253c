"""The query engine (`auditlib.engine`): the aggregates over a store's Parquet files equal the same
aggregates over its current state in memory, and what pandas computed before them; the
assessment reads them; bad engine choices are clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow.fs as pafs
import pytest
from click.testing import CliRunner

from auditlib.assess import assess, assess_data
from auditlib.cli.main import main
from auditlib.data import AuditData
from auditlib.engine import EngineError, FrameTables, StoreTables, open_engine
from auditlib.engine.aggregates import AGGREGATES
from auditlib.engine.history import history_clock
from auditlib.history import first_seen_fixed
from auditlib.normalize.licenses import LICENSE_CLASSES
from auditlib.store import Location, read_current
from tests.engine_store import NOW, two_snapshot_store


def _package_licences(data: AuditData) -> pd.DataFrame:
    """The licence of every package (the unlicensed ones `unknown`), as pandas computes it
    from the tables: what `PACKAGE_LICENCES` must give."""
    key = ["image_id", "package_name", "package_version"]
    pl = data.package_licenses.dropna(subset=["image_id"]).astype(object)
    files = pl["package_name"].isna() & pl["file_path"].notna()
    pl.loc[files, "package_name"] = "file " + pl.loc[files, "file_path"].astype(str)
    pk = data.packages.dropna(subset=["image_id"])
    pk = pk[pk["license_class"].isna() | (pk["license_class"] == "unknown")]
    bare = pk[["image_id", "name", "version"]].set_axis(key, axis=1).astype(object)
    known = set(pl[key].astype(str).itertuples(index=False, name=None))
    bare = bare[[k not in known for k in bare.astype(str).itertuples(index=False, name=None)]]
    out = pd.concat([pl[[*key, "license_class"]], bare.assign(license_class=None)])
    out = out.assign(license_class=out["license_class"].fillna("unknown").astype(str))
    return out.astype(str).drop_duplicates()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_snapshot_store(tmp_path_factory.mktemp("engine"), images=8)


def test_store_files_give_the_current_state(store: Path) -> None:
    data = read_current(store)
    on_files = open_engine("duckdb", StoreTables.of(store, data.scans))
    in_memory = open_engine("duckdb", FrameTables(data))
    for name, aggregate in AGGREGATES.items():
        pd.testing.assert_frame_equal(aggregate(on_files), aggregate(in_memory), obj=name)
    # The removed document's image has no vulnerability rows any more; the others have theirs.
    counts = AGGREGATES["vulnerability_counts"](on_files)
    assert 0 < len(counts) < len(data.images["image_id"].dropna().unique())
    assert counts["vulnerability_rows"].sum() == len(data.vulnerabilities)
    assert AGGREGATES["package_counts"](on_files)["package_rows"].sum() == len(data.packages)


def test_a_store_on_another_pyarrow_filesystem_reads_the_same(store: Path) -> None:
    data = read_current(store)
    local = open_engine("duckdb", StoreTables.of(store, data.scans))
    mock = pafs._MockFileSystem()  # a filesystem DuckDB cannot read by path: only through pyarrow
    pafs.copy_files(str(store), "bucket/store", source_filesystem=pafs.LocalFileSystem(),
                    destination_filesystem=mock)
    subtree = Location(pafs.SubTreeFileSystem(str(store.parent), pafs.LocalFileSystem()),
                       "store")
    for loc in (Location(mock, "bucket/store"), subtree):
        tables = StoreTables.of(loc, read_current(loc).scans)
        assert tables.fs is loc.fs and all(tables.files.values())
        assert not Path(tables.files["packages"][0].path).exists()  # no local path to read
        remote = open_engine("duckdb", tables)
        for name, aggregate in AGGREGATES.items():
            pd.testing.assert_frame_equal(aggregate(remote), aggregate(local), obj=name)
        # The history clock reads every snapshot's files there too (two snapshots here).
        clock = first_seen_fixed(store)
        assert len(clock) > 0
        pd.testing.assert_frame_equal(first_seen_fixed(loc), clock)
        pd.testing.assert_frame_equal(history_clock(loc, remote).frame(), clock)
        with pytest.raises(EngineError, match="on another filesystem: use duckdb"):
            open_engine("spark", tables)


def test_aggregates_equal_what_pandas_computed(store: Path) -> None:
    data = read_current(store)
    engine = open_engine("duckdb", StoreTables.of(store, data.scans))
    v = data.vulnerabilities.dropna(subset=["image_id"])
    findings = v[["image_id", "vuln_id", "pkg_name", "pkg_version"]].drop_duplicates()
    got = AGGREGATES["vulnerability_counts"](engine)
    assert got["findings"].to_dict() == findings["image_id"].astype(str).value_counts().to_dict()
    assert got["vulnerability_rows"].to_dict() == v["image_id"].astype(str).value_counts(
        ).to_dict()
    p = data.packages.dropna(subset=["image_id"])
    distinct = p[["image_id", "name", "version", "package_type"]].drop_duplicates()
    assert AGGREGATES["package_counts"](engine)["packages"].to_dict() == distinct[
        "image_id"].astype(str).value_counts().to_dict()
    lic = _package_licences(data)
    g = lic.groupby(lic["license_class"].astype(str))
    want = [(c, int(g.size().get(c, 0)), int(g["image_id"].nunique().get(c, 0)))
            for c in reversed(LICENSE_CLASSES)]
    docs = AGGREGATES["document_rows"](engine)
    for table in ("vulnerabilities", "packages"):
        want_pairs = getattr(data, table)[["scan_id", "image_id"]].astype(str).drop_duplicates()
        got_pairs = docs[docs["rows_in"] == table][["scan_id", "image_id"]].astype(str)
        assert sorted(got_pairs.itertuples(index=False, name=None)) == sorted(
            want_pairs.itertuples(index=False, name=None))
    classes = AGGREGATES["licence_classes"](engine)
    assert list(classes.itertuples(index=False, name=None)) == want
    assert classes["packages"].sum() > 0


@pytest.mark.slow  # two whole assessments
def test_assessment_reads_the_store_through_the_engine(store: Path) -> None:
    a = assess(store, as_of=NOW)
    assert a.view.engine is not None and a.view.engine.name == "duckdb"
    b = assess_data(read_current(store), as_of=NOW,  # the same aggregates over frames
                    first_seen_fixed=first_seen_fixed(store))
    assert b.view.engine is None
    assert a.summary() == {**b.summary(), "warnings": a.summary()["warnings"]}
    pd.testing.assert_frame_equal(a.evaluation.results, b.evaluation.results)
    rel = a.relation("vulnerabilities")  # a lazy DuckDB relation for analysts
    assert rel.aggregate("count(*)").fetchall()[0][0] == len(b.data.vulnerabilities)
    with pytest.raises(KeyError, match="not a big table"):
        a.relation("images")


def test_bad_engine_choices_are_clear_errors(store: Path) -> None:
    data = read_current(store)
    with pytest.raises(EngineError, match="'presto' is not an engine; engines are duckdb, spark"):
        open_engine("presto", FrameTables(data))
    with pytest.raises(EngineError, match="spark: reads a store's Parquet files"):
        open_engine("spark", FrameTables(data))


def test_the_commands_choose_the_query_engine(tmp_path: Path) -> None:
    for command in ("check", "staleness"):
        r = CliRunner().invoke(main, [command, "--store", str(tmp_path),
                                      "--query-engine", "presto"])
        assert r.exit_code == 2 and "'presto' is not one of 'duckdb', 'spark'" in r.output, r.output
        shown = CliRunner().invoke(main, [command, "--help"]).output
        assert "--query-engine [duckdb|spark]" in shown and "--spark-master URL" in shown


def test_the_environment_limits_duckdbs_memory(store: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """AUDITLIB_DUCKDB_MEMORY caps every DuckDB engine auditlib opens; it spills into a folder of
    its own, removed on close; the aggregates are the same."""
    from auditlib.engine.duck import MEMORY_ENV, DuckDBEngine

    tables = StoreTables.of(store, read_current(store).scans)
    free = open_engine("duckdb", tables)
    monkeypatch.setenv(MEMORY_ENV, "64MB")
    capped = open_engine("duckdb", tables)
    assert isinstance(capped, DuckDBEngine) and capped.spill is not None
    try:
        limit = capped.sql("SELECT current_setting('memory_limit') AS m")["m"].iloc[0]
        assert limit.replace(" ", "").upper().startswith(("61.0MIB", "64.0MB", "64MB", "61MIB"))
        assert capped.sql("SELECT current_setting('temp_directory') AS t")["t"].iloc[0] == str(
            capped.spill)
        for name in ("vulnerability_counts", "package_counts"):
            pd.testing.assert_frame_equal(AGGREGATES[name](capped), AGGREGATES[name](free))
    finally:
        capped.close()
        free.close()
    assert not capped.spill.exists()


def _limit_bytes(engine: object) -> float:
    """Return an engine's DuckDB memory limit in bytes (DuckDB shows it as `1.8 GiB`)."""
    shown = engine.sql("SELECT current_setting('memory_limit') AS m")["m"].iloc[0]  # type: ignore[attr-defined]
    value, unit = str(shown).split()
    return float(value) * {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}[unit]


def test_duckdb_has_a_memory_limit_of_its_own_unless_the_environment_sets_one(
        store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With AUDITLIB_DUCKDB_MEMORY unset an engine is capped at the default (1 GB, or a quarter
    of the machine's memory when less), not DuckDB's 80% of the machine; the variable overrides
    it; the engine's spill folder goes with it."""
    from auditlib.engine.duck import (
        DEFAULT_MEMORY_GB,
        MEMORY_ENV,
        DuckDBEngine,
        default_memory_limit,
    )

    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    expected = min(DEFAULT_MEMORY_GB * 1e9, machine / 4)
    assert default_memory_limit() == f"{int(expected / 1e6)}MB"
    tables = StoreTables.of(store, read_current(store).scans)
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    default = open_engine("duckdb", tables)
    monkeypatch.setenv(MEMORY_ENV, "300MB")
    overridden = open_engine("duckdb", tables)
    try:
        assert isinstance(default, DuckDBEngine) and isinstance(overridden, DuckDBEngine)
        # DuckDB shows the limit in binary units to one decimal (1.8 GiB for 2GB): within 6%
        assert _limit_bytes(default) == pytest.approx(expected, rel=0.06)
        assert _limit_bytes(overridden) == pytest.approx(300e6, rel=0.06)
        assert _limit_bytes(default) < 0.5 * machine  # DuckDB's own would be 80%
        assert default.spill is not None and default.spill.is_dir()
    finally:
        default.close()
        overridden.close()
    assert default.spill is not None and not default.spill.exists()


def test_per_image_counts_group_by_each_images_number(store: Path) -> None:
    """The per-image counts group rows by the image's number in `KEYS_TABLE` (made once, kept,
    read by both): one number per image either table names, in id order; the counts by
    number are those grouped by id (the text before)."""
    from auditlib.engine.aggregates import KEYS_TABLE

    data = read_current(store)
    engine = open_engine("duckdb", StoreTables.of(store, data.scans))
    counts = AGGREGATES["vulnerability_counts"](engine)
    assert KEYS_TABLE in engine.made
    keys = engine.sql(f"SELECT * FROM {KEYS_TABLE} ORDER BY image_key")
    named = set(data.vulnerabilities["image_id"].dropna().astype(str)) | set(
        data.packages["image_id"].dropna().astype(str))
    assert keys["image_id"].tolist() == sorted(named)  # each once, numbered in id order
    assert keys["image_key"].tolist() == list(range(1, len(named) + 1))
    for table, key, name in (("vulnerabilities", "vuln_id, pkg_name, pkg_version",
                              "vulnerability_counts"),
                             ("packages", "name, version, package_type", "package_counts")):
        rows = engine.sql(f"SELECT CAST(image_id AS STRING) AS image_id, COUNT(*) AS n FROM "
                          f"{table} WHERE image_id IS NOT NULL GROUP BY image_id")
        by_id = engine.sql(f"SELECT image_id, COUNT(*) AS n FROM (SELECT DISTINCT image_id, {key} "
                           f"FROM {table} WHERE image_id IS NOT NULL) d GROUP BY image_id")
        got = counts if name == "vulnerability_counts" else AGGREGATES[name](engine)
        assert got.iloc[:, 0].to_dict() == dict(zip(rows["image_id"], rows["n"], strict=True))
        assert got.iloc[:, 1].to_dict() == dict(zip(by_id["image_id"], by_id["n"], strict=True))
    engine.close()


def test_an_engine_set_aside_moves_what_it_keeps_to_disk_and_reads_it_back() -> None:
    """Within `set_aside` DuckDB's limit is the small one given, a kept table moves to the spill
    folder (the memory is the report kernels'), and reads back the same; leaving restores the
    limit the engine was opened with."""
    from auditlib.engine.duck import DuckDBEngine

    frame = pd.DataFrame({"image_id": [f"sha256:{i:064x}" for i in range(200_000)],
                          "n": range(200_000)})
    engine = DuckDBEngine(FrameTables(AuditData()), memory_limit="300MB")
    try:
        engine.register("src", frame)
        engine.define("kept", "SELECT image_id, n * 2 AS n2 FROM src", keep=True)
        engine.con.unregister("src")
        total = "SELECT COUNT(*) AS rows, SUM(n2) AS s FROM kept"
        before = engine.sql(total)
        held = ("SELECT SUM(memory_usage_bytes) AS mem, SUM(temporary_storage_bytes) AS tmp "
                "FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'")
        kept = engine.sql(held)["mem"].iloc[0]
        assert kept > 8e6
        with engine.set_aside("1MB"):
            assert _limit_bytes(engine) < 2**21
            inside = engine.sql(held)
            assert inside["mem"].iloc[0] < kept / 4 and inside["tmp"].iloc[0] > 1e6
            assert any(engine.spill.iterdir())  # type: ignore[union-attr]
        assert _limit_bytes(engine) == pytest.approx(300e6, rel=0.06)
        pd.testing.assert_frame_equal(engine.sql(total), before)
        with pytest.raises(RuntimeError, match="kernel"), engine.set_aside("1MB"):
            raise RuntimeError("a kernel failed")  # what the body raises goes through
        assert _limit_bytes(engine) == pytest.approx(300e6, rel=0.06)
        with engine.set_aside("not a size"):  # refused: nothing set aside, no error
            assert _limit_bytes(engine) == pytest.approx(300e6, rel=0.06)
    finally:
        engine.close()
