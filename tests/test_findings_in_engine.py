"""The fixable findings stay in the engine (issue 15): their clock, SLA state, per-image counts
and fix-first points are computed there (`fleet.findings.Fixable`, `engine.aggregates`), and
equal what plain pandas computes from the store's Parquet files written here; an analyst still
gets every row (`Assessment.findings`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auditlib.assess import assess, assess_data
from auditlib.assess.fix_first import (
    EPSS_FACTOR,
    KEV_FACTOR,
    SEVERITY_WEIGHTS,
    SLA_FACTORS,
    points_sql,
)
from auditlib.fleet.findings import FINDING_KEY, SLA_DAYS, WARN_RATIO
from auditlib.history import first_seen_fixed
from auditlib.staleness.table import base_layer_sets
from auditlib.store import read_current
from tests.engine_store import NOW, two_snapshot_store

pytestmark = pytest.mark.slow  # a two-snapshot store and three assessments: about 15 s

AS_OF = pd.Timestamp(NOW) + pd.Timedelta(days=40)  # some findings over their SLA, some not


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_snapshot_store(tmp_path_factory.mktemp("findings-in-engine"), images=8)


def _days(t: pd.Series) -> pd.Series:
    return np.floor((AS_OF - t).dt.total_seconds() / 86400).clip(lower=0)


def _plain(v: pd.DataFrame, seen: pd.DataFrame | None) -> pd.DataFrame:
    """Every fixable finding with its clock, SLA state and fix-first points, in plain pandas:
    the rows fixed and not contradicted, one per finding; the clock the fix date, else the
    snapshot that saw the fix appear, else the publication, else the first snapshot that saw
    it fixable; the state against DefectDojo's days; points weight x state x threat."""
    v = v[(v["fix_state"].astype("string") == "fixed").fillna(False).to_numpy(bool)
          & ~v["fix_contradicted"].astype("boolean").fillna(False).to_numpy(bool)
          & v["image_id"].notna().to_numpy(bool)]
    v = v.assign(**{c: v[c].astype(object) for c in FINDING_KEY})
    g = v.groupby(FINDING_KEY, dropna=False, sort=True).agg(
        severity=("severity", "max"), fix_at=("fix_available_at", "min"),
        published_at=("published_at", "min"), kev=("is_known_exploited", "max"),
        epss=("epss_score", "max")).reset_index()
    g = g.assign(**{c: g[c].map(lambda x: None if pd.isna(x) else str(x)) for c in FINDING_KEY})
    if seen is not None:
        s = seen.assign(**{c: seen[c].map(lambda x: None if pd.isna(x) else str(x))
                           for c in FINDING_KEY})
        g = g.merge(s[[*FINDING_KEY, "first_seen_fixed_at", "fix_seen_appearing"]],
                    on=FINDING_KEY, how="left")
    else:
        g = g.assign(first_seen_fixed_at=pd.NaT, fix_seen_appearing=False)
    fix, pub = pd.to_datetime(g["fix_at"], utc=True), pd.to_datetime(g["published_at"], utc=True)
    at = pd.to_datetime(g["first_seen_fixed_at"], utc=True)
    appearing = g["fix_seen_appearing"].fillna(False).astype(bool)
    clock = np.select([fix.notna(), appearing & at.notna(), pub.notna(), at.notna()],
                      ["fix", "seen", "published", "first-seen"], default=None)
    clock_at = fix.where(fix.notna(), at.where(appearing & at.notna(), pub.where(
        pub.notna(), at)))
    days = _days(clock_at)
    sev = g["severity"].astype(str)
    sla = sev.map({k: float(d) for k, d in SLA_DAYS.items()})
    state = np.select([sla.isna(), days.isna(), days > sla, days / sla >= WARN_RATIO],
                      ["no SLA", "undated", "over", "near"], default="within")
    kev = g["kev"].astype("boolean").fillna(False).to_numpy(bool)
    epss = pd.to_numeric(g["epss"]).fillna(0.0).clip(0, 1).to_numpy()
    pts = (sev.map(SEVERITY_WEIGHTS).fillna(0.0).to_numpy()
           * pd.Series(state).map(SLA_FACTORS).fillna(1.0).to_numpy()
           * np.where(kev, KEV_FACTOR, 1.0 + EPSS_FACTOR * epss))
    return g[FINDING_KEY].assign(severity=sev, clock=pd.Series(clock, dtype=object),
                                 clock_at=clock_at, days=days, state=state, pts=pts)


def _same(a: object, want: pd.DataFrame) -> None:
    """Assert an assessment's findings, counts and summary are `want`'s."""
    from auditlib.assess import Assessment

    assert isinstance(a, Assessment) and a.has_history
    got = a.findings
    assert len(got) == len(want) and not len(a.vex.settled())
    got = got.assign(**{c: got[c].astype(object).where(got[c].notna(), None)
                        for c in [*FINDING_KEY, "clock"]})
    want = want.assign(clock=want["clock"].astype(object).where(want["clock"].notna(), None))
    cols = [*FINDING_KEY, "clock", "clock_at", "days", "state"]
    pd.testing.assert_frame_equal(got[cols].reset_index(drop=True),
                                  want[cols].reset_index(drop=True), check_dtype=False)
    assert got["severity"].astype(str).tolist() == want["severity"].tolist()
    # Per image, severity and state: what the rule, the summary and the pages count.
    counts = want.groupby(["image_id", "severity", "state"]).agg(
        findings=("days", "size"), most_days=("days", "max")).reset_index()
    c = a.sla_counts.assign(severity=a.sla_counts["severity"].astype(str))
    pd.testing.assert_frame_equal(
        c.sort_values(["image_id", "severity", "state"]).reset_index(drop=True),
        counts.sort_values(["image_id", "severity", "state"]).reset_index(drop=True),
        check_dtype=False)
    s = a.summary()["fixable"]
    assert s["findings"] == len(want) and s["over"] == int((want["state"] == "over").sum())


def test_findings_clock_and_state_equal_plain_pandas(store: Path) -> None:
    whole = read_current(store)
    seen = first_seen_fixed(store)
    want = _plain(whole.vulnerabilities, seen)
    assert {"over", "within"} <= set(want["state"])
    _same(assess(store, as_of=AS_OF), want)  # in the engine, over the store's files


def test_every_clock_equals_plain_pandas(store: Path) -> None:
    """Over frames in memory, with fix dates, missing publications and a history clock that
    saw some fixes appear and others fixable from the start."""
    whole = read_current(store)
    v = whole.vulnerabilities.reset_index(drop=True)
    n = np.arange(len(v))
    v = v.assign(fix_available_at=pd.Series(pd.NaT, index=v.index, dtype="datetime64[ns, UTC]")
                 .where(n % 5 != 0, pd.Timestamp(NOW) - pd.Timedelta(days=3)),
                 published_at=v["published_at"].where(n % 3 != 0))
    fixable = _plain(v, None)
    keys = fixable[FINDING_KEY].iloc[::2].reset_index(drop=True)
    seen = keys.assign(first_seen_fixed_at=pd.Timestamp(NOW) - pd.Timedelta(days=60),
                       fix_seen_appearing=(np.arange(len(keys)) % 2 == 0))
    want = _plain(v, seen)
    assert {"fix", "seen", "published", "first-seen"} <= set(want["clock"].dropna())
    assert {"over", "within", "undated"} <= set(want["state"])
    _same(assess_data(whole.replace(vulnerabilities=v), as_of=AS_OF, first_seen_fixed=seen),
          want)


def test_fix_first_points_equal_plain_pandas(store: Path) -> None:
    want = _plain(read_current(store).vulnerabilities, first_seen_fixed(store))
    a = assess(store, as_of=AS_OF)
    st = a.staleness.set_index("image_id")
    by_image = want.groupby("image_id")
    pts = want[want["pts"] > 0].groupby("image_id")["pts"].sum()
    sql = points_sql(a.view.fixable, a.sla_params, a.staleness, base_layer_sets(a.view))
    got = a.view.fixable.fix_first(sql)["pts"].dropna()
    assert np.allclose(got.reindex(pts.index).to_numpy(float), pts.to_numpy(), rtol=0,
                       atol=1e-9) and len(got) == len(pts) > 0
    # The ranking adds them to the image's other risks (end of life, drift, secrets, root).
    assert (st.loc[pts.index, "rebuild_priority"].astype(float) >= pts - 1e-9).all()
    assert (st.loc[pts.index, "fixable_count"] == by_image.size().loc[pts.index]).all()
    assert (st.loc[pts.index, "oldest_fix_days"].astype(float)
            == by_image["days"].max().loc[pts.index]).all()
    for i in pts.index:  # each image's reason counts its findings with points, by severity
        n = want[(want["image_id"] == i) & (want["pts"] > 0)]["severity"].value_counts()
        words = ", ".join(f"{n[s]} {s}" for s in SEVERITY_WEIGHTS if n.get(s))
        assert f"fixable: {words}" in st.loc[i, "priority_reasons"]


def _plain_upgrades(v: pd.DataFrame, want: pd.DataFrame, shown: int) -> pd.DataFrame:
    """Per image, its first `shown` package upgrades by the points they remove, in plain pandas
    (no base layers are known here, so no finding is left to a rebuild): each package's
    findings with points summed, ties broken by its first vulnerability then its name; the
    fixed version the first of its findings (by vulnerability, version) that names one names."""
    fixed = v[(v["fix_state"].astype("string") == "fixed").fillna(False).to_numpy(bool)
              & ~v["fix_contradicted"].astype("boolean").fillna(False).to_numpy(bool)]
    def text(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
        return df.assign(**{c: df[c].astype(object).map(lambda x: None if pd.isna(x) else str(x))
                            for c in cols})

    fixed = text(fixed, [*FINDING_KEY, "fixed_version"])
    least = fixed.groupby(FINDING_KEY, dropna=False)["fixed_version"].min().reset_index()
    p = text(want[want["pts"] > 0], FINDING_KEY).merge(least, on=FINDING_KEY, how="left")
    rows = []
    for image, f in p.groupby("image_id"):
        k = f.groupby("pkg_name", dropna=False).agg(pts=("pts", "sum"),
                                                    first=("vuln_id", "min")).reset_index()
        k = k.assign(neg=-k["pts"]).sort_values(["neg", "first", "pkg_name"], kind="stable")
        for n, name in enumerate(k["pkg_name"].head(shown), start=1):
            named = f[(f["pkg_name"] == name) & f["fixed_version"].notna()].sort_values(
                ["vuln_id", "pkg_version"])
            rows.append((image, n, len(k), name,
                         named["fixed_version"].iloc[0] if len(named) else None))
    return pd.DataFrame(rows, columns=["image_id", "n", "upgrades", "pkg_name", "fixed"])


def test_fix_first_upgrades_equal_plain_pandas(store: Path) -> None:
    """`FIX_FIRST_UPGRADES` looks the fixed version up only among the findings of the packages
    it shows (not every package's): the same upgrades as plain pandas, for 1 and 3 shown."""
    whole = read_current(store)
    want = _plain(whole.vulnerabilities, first_seen_fixed(store))
    a = assess(store, as_of=AS_OF)
    sql = points_sql(a.view.fixable, a.sla_params, a.staleness, {})
    for shown in (1, 3):
        expected = _plain_upgrades(whole.vulnerabilities, want, shown)
        got = a.view.fixable.upgrades(sql, shown)
        assert (expected["upgrades"] > shown).any() and expected["fixed"].notna().any()
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)


_RANKED_WHOLE = """
WITH s AS (SELECT {columns} FROM ({{rows}}) r), listed AS (
  SELECT 'over' AS listing, s.*, ROW_NUMBER() OVER (
           PARTITION BY image_id ORDER BY over_days DESC NULLS LAST, {order}) AS n
  FROM s WHERE state = 'over'
  UNION ALL
  SELECT 'near' AS listing, s.*, ROW_NUMBER() OVER (
           PARTITION BY image_id ORDER BY used DESC NULLS LAST, {order}) AS n
  FROM s WHERE state = 'near'
  UNION ALL
  SELECT 'undated' AS listing, s.*, ROW_NUMBER() OVER (
           PARTITION BY image_id ORDER BY severity_rank DESC NULLS LAST, {order}) AS n
  FROM s WHERE state = 'undated'
  UNION ALL
  SELECT 'closest' AS listing, s.*, ROW_NUMBER() OVER (
           PARTITION BY image_id ORDER BY used DESC NULLS LAST, {order}) AS n
  FROM s WHERE state IN ('within', 'near')
)
SELECT * FROM listed
WHERE n <= CASE WHEN listing = 'closest' THEN 1 ELSE {{shown}} END
ORDER BY listing, image_id, n
"""
"""`SLA_SHOWN` as it was: every row ranked whole (the reference its keys-only ranking must
equal)."""


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_sla_shown_ranks_keys_as_the_rows_ranked_whole(seed: int) -> None:
    """`SLA_SHOWN` ranks the findings' keys and joins the rows' other columns to those it keeps;
    on random findings with ties in every measure, missing names and versions and every state,
    it gives the rows, in the order, that ranking the rows whole gives."""
    import random

    import duckdb

    from auditlib.engine.aggregates import ORDER_OF_FINDINGS, SHOWN_COLUMNS, SLA_SHOWN

    rng = random.Random(seed)
    con = duckdb.connect()
    con.execute("CREATE TABLE r (image_id VARCHAR, vuln_id VARCHAR, pkg_name VARCHAR, "
                "pkg_version VARCHAR, severity_rank INTEGER, fixed_version VARCHAR, "
                "clock VARCHAR, clock_at TIMESTAMP, days DOUBLE, sla_days DOUBLE, used DOUBLE, "
                "over_days DOUBLE, state VARCHAR)")
    keys = {(f"sha256:{rng.randint(1, 6)}", f"CVE-{rng.randint(1, 40)}",
             rng.choice(["a", "b", "c", None]), rng.choice(["1", "2", None]))
            for _ in range(900)}
    rows = []
    for image, vuln, name, version in sorted(keys, key=repr):
        days = rng.choice([None, *range(0, 60, 7)])
        sla = rng.choice([None, 15.0, 30.0])
        state = rng.choice(["over", "near", "within", "undated", "no SLA"])
        used = None if days is None or sla is None else days / sla
        rows.append((image, vuln, name, version, rng.choice([None, 2, 3, 4, 5]), "9", "fix",
                     None, days, sla, used, None if used is None else days - sla, state))
    con.executemany("INSERT INTO r VALUES (" + ", ".join("?" * 13) + ")", rows)
    for shown in (1, 3):
        got = con.execute(SLA_SHOWN.format(rows="SELECT * FROM r", shown=shown)).fetchall()
        want = con.execute(_RANKED_WHOLE.format(columns=SHOWN_COLUMNS, order=ORDER_OF_FINDINGS)
                           .format(rows="SELECT * FROM r", shown=shown)).fetchall()
        assert got == want
        assert {g[0] for g in got} == {"over", "near", "undated", "closest"}
        assert len(got) > 4 * shown  # several images, several listings
