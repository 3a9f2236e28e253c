"""The SLA clock's history as SQL run by the engine (`auditlib.engine.history`, issue 15): it
equals the definition of `auditlib.history.first_seen_fixed`, computed here in plain pandas from
the vulnerabilities of every snapshot's state, on a store of four snapshots where a fix appears,
a fix is there at first sight, a rebuild keeps the vulnerable version, an image leaves, two
documents of one image disagree, and unchanged documents are carried over."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from auditlib import history
from auditlib.assess import assess, assess_data
from auditlib.engine import FrameTables, open_engine
from auditlib.engine.history import EngineClock, history_clock, history_sources
from auditlib.fleet.findings import FINDING_KEY as KEYS
from auditlib.fleet.findings import fixable_findings
from auditlib.store import list_snapshots, read_current
from auditlib.store.manifest import snapshot_infos
from tests.test_history import image_id, ingest, trivy_doc, write_doc

T1, T2, T3, T4 = ("2026-01-01T00:00:00", "2026-01-11T00:00:00", "2026-02-10T00:00:00",
                  "2026-03-01T00:00:00")
APP, WEB, BASE = ("registry.example/team/app:1.0", "registry.example/team/web:2",
                  "docker.io/library/base:1")
AS_OF = pd.Timestamp("2026-03-05T00:00:00", tz="UTC")


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clock_store(tmp_path_factory.mktemp("history-sql"))


def clock_store(root: Path) -> Path:
    """Return a store of four snapshots of a fleet folder (incremental ingests: documents that
    did not change are carried over, a deleted one removed).

    1. app (image 1) and web (image 3): CVE-1 in openssl 3.0.1, not fixable. base (image 9):
       CVE-9 fixable at first sight; two documents of it disagree on CVE-6 (one says fixed).
       old (image 5): CVE-5 fixable.
    2. app rescanned: CVE-1 now fixable (the fix appears).
    3. app rebuilt (image 2), still openssl 3.0.1 with CVE-1 fixable; old.json deleted.
    4. web rescanned: CVE-1 fixable for it too; new (image 8): CVE-7 fixable at first sight.
    """
    fleet, s = root / "fleet", root / "store"
    cve1 = ("CVE-1", "openssl", "3.0.1", "high", None)
    cve1_fixed = ("CVE-1", "openssl", "3.0.1", "high", "3.0.2")
    write_doc(fleet / "app.json", trivy_doc(1, APP, "2025-12-20T00:00:00Z", [cve1]))
    write_doc(fleet / "web.json", trivy_doc(3, WEB, "2025-12-01T00:00:00Z", [cve1]))
    write_doc(fleet / "base.json", trivy_doc(9, BASE, "2025-11-01T00:00:00Z", [
        ("CVE-9", "zlib", "1.2", "critical", "1.3"), ("CVE-6", "bash", "5.1", "low", None)]))
    write_doc(fleet / "base-again.json", trivy_doc(9, BASE, "2025-11-01T00:00:00Z", [
        ("CVE-6", "bash", "5.1", "low", "5.2")]))
    write_doc(fleet / "old.json", trivy_doc(5, None, None, [("CVE-5", "tar", "1", "low", "2")]))
    ingest(s, fleet, T1)
    write_doc(fleet / "app.json", trivy_doc(1, APP, "2025-12-20T00:00:00Z", [cve1_fixed]))
    ingest(s, fleet, T2)
    write_doc(fleet / "app.json", trivy_doc(2, APP, "2026-02-05T00:00:00Z", [cve1_fixed]))
    (fleet / "old.json").unlink()
    ingest(s, fleet, T3)
    write_doc(fleet / "web.json", trivy_doc(3, WEB, "2025-12-01T00:00:00Z", [cve1_fixed]))
    write_doc(fleet / "new.json", trivy_doc(8, "docker.io/team/new:1", None, [
        ("CVE-7", "curl", "8.0", "medium", "8.1")]))
    ingest(s, fleet, T4)
    return s


def reference(store: Path) -> pd.DataFrame:
    """Return `first_seen_fixed`'s definition computed in plain pandas: the vulnerabilities of
    the state after every snapshot (`read_current(as_of=...)`, which reads its Parquet files),
    one row per finding and snapshot, fixable when any of its rows says `fixed` without
    contradicting itself; per (vulnerability, package, version) the first snapshot where any
    image had it fixable, and whether an earlier one had it not fixable."""
    states = []
    for info in snapshot_infos(store):
        v = read_current(store, as_of=info.snapshot_id, tables=["vulnerabilities"]
                         ).vulnerabilities
        v = v[v["image_id"].notna()]
        contradicted = v["fix_contradicted"].astype("boolean").fillna(False).astype(bool)
        states.append(pd.DataFrame({
            **{k: v[k].astype(str).to_numpy() for k in KEYS},
            "fixable": ((v["fix_state"].astype(str) == "fixed") & ~contradicted).to_numpy(),
            "at": info.created_at.tz_convert("UTC"),
        }))
    f = pd.concat(states).groupby([*KEYS, "at"], as_index=False)["fixable"].any()
    fix = ["vuln_id", "pkg_name", "pkg_version"]
    fixed_at = f[f["fixable"]].groupby(fix)["at"].min().rename("first_seen_fixed_at")
    unfixed_at = f[~f["fixable"]].groupby(fix)["at"].min().rename("unfixed_at")
    out = f[f["fixable"]].drop_duplicates(KEYS)[KEYS].join(fixed_at, on=fix).join(
        unfixed_at, on=fix)
    out["fix_seen_appearing"] = (out["unfixed_at"] < out["first_seen_fixed_at"]).astype(bool)
    return out.drop(columns="unfixed_at").sort_values(KEYS).reset_index(drop=True)


def _plain(df: pd.DataFrame) -> list[tuple[object, ...]]:
    """Return rows as comparable tuples (text keys, UTC times, bools)."""
    return sorted(zip(*(df[k].astype(str) for k in KEYS),
                      pd.to_datetime(df["first_seen_fixed_at"], utc=True),
                      df["fix_seen_appearing"].astype(bool), strict=True))


def test_the_fixture_carries_and_removes(store: Path) -> None:
    manifests = snapshot_infos(store)
    assert len(manifests) == 4
    assert all(m.carried for m in manifests[1:])  # unchanged documents carried over
    assert any(p.name == "old.json" for p in map(Path, manifests[2].removed))
    assert image_id(5) not in set(read_current(store).scans["image_id"].astype(str))


def test_the_sql_equals_the_definition_in_pandas(store: Path) -> None:
    want = reference(store)
    got = history.first_seen_fixed(store)
    assert list(got.columns) == [*KEYS, "first_seen_fixed_at", "fix_seen_appearing"]
    assert str(got["first_seen_fixed_at"].dtype) == "datetime64[ns, UTC]"
    assert _plain(got) == _plain(want)
    rows = {(i, v): (t, a) for i, v, _, _, t, a in _plain(got)}
    assert rows == {
        (image_id(1), "CVE-1"): (_ts(T2), True),   # the fix appeared between T1 and T2
        (image_id(2), "CVE-1"): (_ts(T2), True),   # a rebuild keeping 3.0.1: the clock stays
        (image_id(3), "CVE-1"): (_ts(T2), True),   # fleet-wide: another image saw it first
        (image_id(9), "CVE-9"): (_ts(T1), False),  # fixable at first sight: only a bound
        (image_id(9), "CVE-6"): (_ts(T1), False),  # one document of two says fixed
        (image_id(5), "CVE-5"): (_ts(T1), False),  # its image left at T3: still its history
        (image_id(8), "CVE-7"): (_ts(T4), False),
    }


def test_a_history_in_memory_gives_the_same_rows(store: Path) -> None:
    h = history.read_history(store, ["vulnerabilities"])
    assert _plain(history.first_seen_fixed(h)) == _plain(reference(store))


def test_each_file_is_read_once(store: Path) -> None:
    files, sources, times = history_sources(store)
    paths = [f.path for f in files]
    assert len(paths) == len(set(paths)) == 4  # every snapshot wrote vulnerabilities
    assert len(times.times) == 4
    # base.json is held by the first snapshot in every state: first seen in the oldest.
    base = sources[sources["source"].str.endswith("/base.json")]
    assert base["seen_rank"].tolist() == ["0"]
    app = sources[sources["source"].str.endswith("/app.json")]
    assert sorted(app["seen_rank"]) == ["0", "1", "2"]  # read again at T2 and T3


@pytest.mark.slow  # a whole assessment
def test_the_assessment_joins_the_clock_in_its_engine(store: Path) -> None:
    a = assess(store, as_of=AS_OF)
    assert isinstance(a.view.first_seen_fixed, EngineClock)
    assert a.view.first_seen_fixed.engine is a.view.aggregate_engine
    assert a.has_history
    got = a.view.fixable.rows().set_index(KEYS).sort_index()
    want = fixable_findings(read_current(store), AS_OF, reference(store)).rows().set_index(
        KEYS).sort_index()
    assert got.index.tolist() == want.index.tolist()
    pd.testing.assert_series_equal(got["clock_at"], want["clock_at"])
    assert got["clock"].tolist() == want["clock"].tolist()
    clocks = dict(zip(got.index.get_level_values("vuln_id"), got["clock"], strict=True))
    assert clocks == {"CVE-1": "seen", "CVE-9": "first-seen", "CVE-6": "first-seen",
                      "CVE-7": "first-seen"}
    assert a.summary()["history_clock"] is True


@pytest.mark.slow  # a whole assessment
def test_a_clock_of_another_engine_is_read_into_pandas(store: Path) -> None:
    engine = open_engine("duckdb", FrameTables(read_current(store)))
    other = open_engine("duckdb", FrameTables(read_current(store)))
    try:
        clock = history_clock(store, other)
        mine = fixable_findings(engine, AS_OF, clock).rows()
        via_frame = fixable_findings(engine, AS_OF, clock.frame()).rows()
        pd.testing.assert_frame_equal(mine, via_frame)
        b = assess_data(read_current(store), as_of=AS_OF, first_seen_fixed=clock)
        assert b.findings["clock"].value_counts().to_dict() == {"first-seen": 3, "seen": 2}
    finally:
        engine.close()
        other.close()


def test_one_snapshot_has_no_clock(tmp_path: Path) -> None:
    fleet, s = tmp_path / "f", tmp_path / "s"
    write_doc(fleet / "a.json", trivy_doc(1, APP, None, [("CVE-3", "zlib", "1.2", "high",
                                                          "1.3")]))
    ingest(s, fleet, T1)
    assert len(list_snapshots(s)) == 1
    assert assess(s, as_of=AS_OF).view.first_seen_fixed is None
    f = history.first_seen_fixed(s)  # asked for anyway: the one snapshot is the first sight
    assert _plain(f) == [(image_id(1), "CVE-3", "zlib", "1.2", _ts(T1), False)]


def test_a_history_without_vulnerabilities_has_no_rows(tmp_path: Path) -> None:
    fleet, s = tmp_path / "f", tmp_path / "s"
    write_doc(fleet / "a.json", trivy_doc(1, APP, None, []))
    ingest(s, fleet, T1)
    write_doc(fleet / "b.json", trivy_doc(2, WEB, None, []))
    ingest(s, fleet, T2)
    files, _, _ = history_sources(s)
    assert files == []  # no snapshot wrote a vulnerability
    f = history.first_seen_fixed(s)
    assert f.empty and list(f.columns) == [*KEYS, "first_seen_fixed_at", "fix_seen_appearing"]
    assert str(f["first_seen_fixed_at"].dtype) == "datetime64[ns, UTC]"
    assert f["fix_seen_appearing"].dtype == bool
