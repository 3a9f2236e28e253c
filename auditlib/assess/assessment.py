"""`Assessment`: one evaluation of a store as of a time under a policy, that every face reads.

`auditlib check`, `auditlib staleness`, `auditlib run`, the report notebooks, `explore.ipynb`
and a Python user all start from `assess(store, as_of=..., policy=...)` (or `assess_data` for
tables without a store). The assessment holds the store's current state (filtered when asked)
but its big tables (`vulnerabilities`, `packages`, `package_licenses`, `vulnerability_cwes`,
`package_dependencies`: `engine.tables.BIG_TABLES`), which stay in the engine that reads
the store's Parquet files (`auditlib.engine`: DuckDB, or Spark) and runs every aggregate over
them (`Assessment.in_engine` names them; `Assessment.table` and `Assessment.relation` give
them; an image filter keeps the rows of its images only, in memory and in the engine's
views). It also holds
the history clock of every fixable finding, the end-of-life table, and one `FleetView` that the
policy and the staleness analysis both read; each part is computed once, on first use. The
same store, time and policy therefore give the same numbers everywhere, by construction:
`summary()` is the figures every face shows.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from auditlib.assess.fix_first import EOL_SOON_DAYS, rank_fix_first
from auditlib.assess.snapshots import SnapshotUse, current_snapshots
from auditlib.data import AuditData
from auditlib.deferred import deferred_property
from auditlib.engine import Engine, StoreTables, open_engine
from auditlib.engine.history import EngineClock, history_clock
from auditlib.engine.tables import BIG_TABLES
from auditlib.eol.table import EolTable
from auditlib.fleet.agreement_summary import Agreement, agreement_of
from auditlib.fleet.coverage import Coverage, image_ids
from auditlib.fleet.findings import SLA_DAYS, SLA_STATES, WARN_RATIO, SlaParams
from auditlib.fleet.select import filter_images
from auditlib.fleet.vex import VexMatch, vex_summary
from auditlib.fleet.view import FleetView
from auditlib.history import NEEDED, read_history
from auditlib.history.trends import Trends, trends_of
from auditlib.policy.config import Policy, load_policy
from auditlib.policy.evaluate import GRADE_NAMES, UNGRADED, Evaluation, eol_kind, evaluate_view
from auditlib.policy.rules.vulns import sla_params
from auditlib.staleness.table import base_layer_sets, staleness_of
from auditlib.staleness.tag_tracks import ABANDONMENT_THRESHOLD_DAYS
from auditlib.store.current import read_current
from auditlib.store.layout import StorePath
from auditlib.store.manifest import usable_snapshots
from auditlib.tables import DATA_TABLES, data_table, jsonable

STATUSES = ("pass", "fail", "warn", "waived", "no-data")
FIX_FIRST_SHOWN = 10
"""Images of the fix-first ranking in `summary()`."""


def _text(v: Any) -> str | None:
    return None if v is None or pd.isna(v) else str(v)


@dataclass
class Assessment:
    """One evaluation of a fleet's data as of a time under a policy (module docstring)."""

    view: FleetView
    """The tables and the per-image views every analysis reads."""
    policy: Policy
    """The policy the results are under."""
    store: Path | None = None
    """The store it was read from (None for tables given directly)."""
    snapshots: list[SnapshotUse] = field(default_factory=list)
    """The snapshots the store's current state is made of, oldest first."""
    image_filter: str | None = None
    """The image filter applied, if any."""
    filtered_out: int = 0
    """Images the filter left out."""
    warnings: list[str] = field(default_factory=list)
    """What every face must say about the data: the damaged snapshots left out of a damaged
    store read with damage allowed (`AUDITLIB_ALLOW_DAMAGED`), one line each."""
    abandonment_days: int = ABANDONMENT_THRESHOLD_DAYS
    """An upstream repository whose newest image is older than this looks abandoned."""
    read_snapshots: tuple[str, ...] = ()
    """Every snapshot id the store held when it was read, oldest first (what a saved
    assessment is checked against: `auditlib.assess.saved`)."""
    worst_kept: dict[tuple[int, int], pd.DataFrame | Callable[[], pd.DataFrame]] = field(
        default_factory=dict, repr=False)
    """`sla_worst`'s answers by (least rank, most) once asked for, or a loader of each that a
    saved assessment holds (`auditlib.assess.saved`)."""
    summary_kept: dict[str, Any] | None = field(default=None, repr=False)
    """`summary()` once computed, or as a saved assessment holds it (`auditlib.assess.saved`):
    a run computes it once and every page's kernel reads it back, not again."""

    @property
    def data(self) -> AuditData:
        """Return the tables (the store's current state, filtered): for a store, all but the big
        tables the engine holds (`in_engine`; reading one raises `TableNotHeldError`)."""
        return self.view.data

    @property
    def as_of(self) -> pd.Timestamp:
        """Return the moment ages, SLAs, end of life and waivers are measured at (UTC)."""
        return self.view.as_of

    @property
    def has_history(self) -> bool:
        """Return whether the SLA clock used the store's history (more than one snapshot)."""
        return self.view.first_seen_fixed is not None

    @deferred_property
    def evaluation(self) -> Evaluation:
        """Return the policy's results and scores."""
        return evaluate_view(self.view, self.policy)

    @deferred_property
    def staleness(self) -> pd.DataFrame:
        """Return the `staleness` table: one row per image with its ranking of what to fix
        first (`auditlib.assess.fix_first`), rank 1 on top."""
        return rank_fix_first(staleness_of(self.view, self.abandonment_days, self.sla_params),
                              self.view.fixable,
                              self.sla_params, self.evaluation, self.view.vuln_scanned,
                              base_layer_sets(self.view))

    @property
    def eol(self) -> pd.DataFrame:
        """Return the `os_end_of_life` table: one end-of-life verdict per image."""
        return self.view.eol

    @property
    def coverage(self) -> Coverage:
        """Return which images a vulnerability scan, an SBOM and a collector covered."""
        return self.view.coverage

    @cached_property
    def sla(self) -> tuple[dict[str, float], float]:
        """Return the SLA days by severity and the warning share: the policy's
        `fixable-vulns-sla` parameters (its defaults when the policy turns the rule off)."""
        for c in self.policy.rules:
            if c.rule.slug == "fixable-vulns-sla":
                return sla_params(c.params)
        return {k: float(v) for k, v in SLA_DAYS.items()}, WARN_RATIO

    @property
    def sla_params(self) -> SlaParams:
        """Return the SLA the findings stand against (`sla`), as the findings take it."""
        days, ratio = self.sla
        return SlaParams.of(days, ratio)

    @deferred_property
    def sla_counts(self) -> pd.DataFrame:
        """Return per image, severity and SLA state the fixable findings, counted in the engine
        (`fleet.findings.Fixable.counts`): columns image_id, severity, state, findings,
        most_days. What the summary, the verdicts and the pages count."""
        return self.view.fixable.counts(self.sla_params)

    def sla_worst(self, least_rank: int, most: int) -> pd.DataFrame:
        """Return the `most` fixable findings furthest over their SLA of severity rank
        `least_rank` or above (`fleet.findings.Fixable.worst`), kept for the next ask; a saved
        assessment brings back those its run asked for (the compliance page's), so a page's
        kernel need not make the fixable findings again in its engine.

        Raises:
            EngineError: if the engine fails.
        """
        key = (int(least_rank), int(most))
        got = self.worst_kept.get(key)
        if got is None:
            got = self.view.fixable.worst(self.sla_params, *key)
        elif callable(got):
            got = got()
        self.worst_kept[key] = got
        return got

    @deferred_property
    def findings(self) -> pd.DataFrame:
        """Return every fixable finding with its clock and where it stands against its SLA
        (`fleet.findings.Fixable.rows`), brought from the engine on request: at fleet scale
        millions of rows (`sla_counts` has them per image; `sql` over `relation`s asks for
        less)."""
        return self.view.fixable.rows(self.sla_params)

    @property
    def vex(self) -> VexMatch:
        """Return what the VEX statements say about the findings (`auditlib.fleet.vex`): the
        settled ones are already out of `findings`, the score and the fix-first ranking."""
        return self.view.vex

    @cached_property
    def vex_summary(self) -> dict[str, object]:
        """Return what the VEX statements did, as every face shows it (`fleet.vex.vex_summary`;
        `summary()["vex"]`)."""
        return vex_summary(self.vex, self.view.names)

    @cached_property
    def agreement(self) -> Agreement:
        """Return where the scanners agree: the `scanner_agreement` table of the images two or
        more tools scanned for vulnerabilities, and the tools of every image
        (`auditlib.fleet.agreement`)."""
        return agreement_of(self.data, self.view.names, self.view.documents,
                            self.view.aggregate_engine)

    @cached_property
    def history(self) -> dict[str, pd.DataFrame] | None:
        """Return the store's history (`auditlib.history.read_history` of the tables its
        analyses need: every snapshot's vulnerabilities in pandas, for an analyst; no face reads
        it, they read `trends`), or None for tables given without a store.

        Raises:
            StoreError: if the store cannot be read.
        """
        return None if self.store is None else read_history(self.store, NEEDED)

    @deferred_property
    def trends(self) -> Trends | None:
        """Return the store's trends (`auditlib.history.trends`: small frames, its
        vulnerabilities counted in the engine over the snapshots' files), or None for tables
        given without a store. What the staleness page draws.

        Raises:
            StoreError: if the store cannot be read.
            EngineError: if the engine cannot read its files.
        """
        if self.store is None:
            return None
        eng = self.view.aggregate_engine  # the trends on the assessment's own kind of engine
        return trends_of(self.store, engine=eng.name, spark_master=getattr(eng, "master", None))

    def summary(self) -> dict[str, Any]:
        """Return the figures every face shows, as plain data: images, coverage, policy results
        and grades, end-of-life verdicts, fixable findings against their SLA, staleness.
        Computed once (`summary_kept`); each call returns a copy of its own."""
        if self.summary_kept is None:
            self.summary_kept = self._summary()
        return copy.deepcopy(self.summary_kept)

    def _summary(self) -> dict[str, Any]:
        ev = self.evaluation
        results = ev.results["status"].astype(str).value_counts()
        grades = ev.scores["grade"].astype(str).value_counts()
        graded = ev.scores.loc[ev.scores["grade"].astype(str) != UNGRADED, "score"].dropna()
        eol = self.eol
        past = eol["os_is_eol"].fillna(False).astype(bool)
        known = eol["os_is_eol"].notna()
        days = eol["os_days_to_eol"]
        soon = (known & ~past & (days <= EOL_SOON_DAYS).fillna(False)).astype(bool)
        c = self.sla_counts
        states = c.groupby("state")["findings"].sum()
        by_sev = c.groupby(c["severity"].astype(str))["findings"].sum()
        over = c[c["state"] == "over"]
        st = self.staleness
        ages = st["age_days"].dropna()
        prio = st["rebuild_priority"].fillna(0.0).astype(float)
        unknown = st["priority_unknown"]
        first = st[prio > 0].head(1)
        cov, n = self.coverage, len(self.view.image_ids)
        out: dict[str, Any] = jsonable({
            "as_of": self.as_of.isoformat(),
            "warnings": list(self.warnings),
            "images": len(self.view.image_ids),
            "filtered_out": self.filtered_out,
            "history_clock": self.has_history,
            "coverage": {**self.coverage.to_dict(), "share": self.coverage.share},
            "policy": {
                "source": self.policy.source,
                "rules": [c.rule.slug for c in self.policy.enabled()],
                "results": {s: int(results.get(s, 0)) for s in STATUSES},
                "grades": {g: int(grades.get(g, 0)) for g in GRADE_NAMES},
                "mean_score": float(graded.mean()) if len(graded) else None,  # graded only
            },
            "eol": {
                "past": int(past.sum()), "within_90_days": int(soon.sum()),
                "supported": int((known & ~past).sum()), "unknown": int((~known).sum()),
                "decided_by_table": int((eol["os_eol_by"].astype("string") == "table").sum()),
                "decided_by_scanner": int(
                    (eol["os_eol_by"].astype("string") == "scanner").sum()),
            },
            "fixable": {  # counted over the images a vulnerability scan covered only
                **{s: int(states.get(s, 0)) for s in SLA_STATES},
                "findings": int(c["findings"].sum()),
                "images_over_sla": int(over["image_id"].nunique()),
                "critical": int(by_sev.get("critical", 0)), "high": int(by_sev.get("high", 0)),
                "scanned_images": cov.vuln_scanned, "not_scanned_images": n - cov.vuln_scanned,
            },
            "staleness": {
                "median_age_days": float(ages.median()) if len(ages) else None,
                "age_known": len(ages),
                "base_drifted": int(st["base_drifted"].fillna(False).astype(bool).sum()),
                "base_drift_known": int(st["base_drifted"].notna().sum()),
                "newer_tags": int((st["newer_tag_count"].fillna(0) > 0).sum()),
                "newer_tags_known": int(st["newer_tag_count"].notna().sum()),
                "deployment_lag": int(st["deployment_lag_days"].notna().sum()),
                "rebuild_first": str(first["image_name"].iloc[0]) if len(first) else None,
            },
            "fix_first": {
                "images_at_risk": int((prio > 0).sum()),
                "known_clean": int(((prio == 0) & unknown.isna()).sum()),
                "unknown_only": int(((prio == 0) & unknown.notna()).sum()),
                "top": [{"rank": int(r.priority_rank), "image": str(r.image_name),  # type: ignore[arg-type]
                         "risk": float(r.rebuild_priority),  # type: ignore[arg-type]
                         "reasons": _text(r.priority_reasons),
                         "actions": _text(r.priority_actions),
                         "unknown": _text(r.priority_unknown)}
                        for r in st[prio > 0].head(FIX_FIRST_SHOWN).itertuples(index=False)],
            },
            "vex": self.vex_summary,
            "unknown": {  # images of which the data does not say, per question
                "vulnerabilities": n - cov.vuln_scanned, "packages": n - cov.with_sbom,
                "build_time": int(self.view.images["created_at"].isna().sum()),
                "os_end_of_life": int((~known).sum()), "base": n - len(self.view.bases),
                "fix_dates": int(states.get("undated", 0)),
            },
        })
        return out

    @property
    def in_engine(self) -> tuple[str, ...]:
        """Return the tables `data` does not hold because they live in the engine (an
        assessment of a store: `engine.tables.BIG_TABLES`, read where they are by the engine;
        `table` or `relation` gives them)."""
        return self.data.not_held

    def table(self, table: str) -> pd.DataFrame:
        """Return a table as a DataFrame: from `data`, or, for a big table the engine holds
        (`in_engine`), all its current rows read through the engine (at fleet scale tens of
        millions of rows: `relation` queries it without pandas).

        Raises:
            KeyError: if `table` is not a table.
            EngineError: if the engine fails.
        """
        data_table(table)
        if table not in self.in_engine:
            out: pd.DataFrame = getattr(self.data, table)
            return out
        return self.sql(f"SELECT * FROM {table}")

    def sql(self, query: str) -> pd.DataFrame:
        """Return the result of a query over the big tables (`engine.tables.BIG_TABLES`: the
        current state's rows, as SQL that DuckDB and Spark SQL both
        understand), run by the assessment's engine where the rows are: aggregate or filter
        there, so only the result reaches pandas.

        Raises:
            EngineError: if the query fails.
        """
        return self.view.aggregate_engine.sql(query)

    def relation(self, table: str) -> Any:
        """Return a big table (`engine.tables.BIG_TABLES`: `vulnerabilities`, `packages`...) as
        the engine's lazy relation instead of a DataFrame: a `duckdb.DuckDBPyRelation` (a Spark
        DataFrame with `engine="spark"`), over the store's Parquet files when the assessment
        read a store.

        Raises:
            KeyError: if `table` is not one of the big tables.
        """
        return self.view.aggregate_engine.relation(table)

    def image_verdicts(self) -> pd.DataFrame:
        """Return one row per image with the verdicts every face must agree on: score, grade,
        status counts, the end-of-life verdict, fixable findings over their SLA, rebuild rank."""
        ev = self.evaluation
        s = ev.scores.set_index(ev.scores["image_id"].astype(str))
        eol = self.eol
        c = self.sla_counts
        n_over = c[c["state"] == "over"].groupby("image_id")["findings"].sum()
        st = self.staleness.set_index(self.staleness["image_id"].astype(str))
        ids = self.view.image_ids
        return pd.DataFrame({
            "image_id": ids,
            "image_name": [self.view.name(i) for i in ids],
            "score": s["score"].reindex(ids).to_numpy(),
            "grade": s["grade"].astype(str).reindex(ids).to_numpy(),
            "fail_count": s["fail_count"].reindex(ids).to_numpy(),
            "os_is_eol": eol["os_is_eol"].reindex(ids).to_numpy(),
            "os_eol_by": eol["os_eol_by"].astype("string").reindex(ids).to_numpy(),
            "fixable_over_sla": [int(n_over.get(i, 0)) for i in ids],
            "priority_rank": st["priority_rank"].reindex(ids).to_numpy(),
        })


def _as_of(value: Any) -> pd.Timestamp:
    t = pd.Timestamp(value if value is not None else dt.datetime.now(dt.UTC))
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def assess_data(
    data: AuditData,
    *,
    as_of: Any = None,
    policy: Policy | str | Path | None = None,
    image_filter: str | None = None,
    first_seen_fixed: pd.DataFrame | EngineClock | None = None,
    eol_table: EolTable | None = None,
    engine: Engine | None = None,
) -> Assessment:
    """Return the assessment of tables given directly (`auditlib.load`, say): no store, so no
    history clock unless `first_seen_fixed` is given.

    Args:
        data: the tables.
        as_of: the moment to measure at (a date, a time, an ISO string; default now, UTC).
        policy: a `Policy`, a policy file, or None for the default policy.
        image_filter: keep only images a reference of which matches this Docker Scout glob.
        first_seen_fixed: when each finding was first seen fixable (`auditlib.history`), or
            that clock kept in `engine` (`auditlib.engine.history.history_clock`).
        eol_table: the end-of-life table (default: `auditlib.eol.load_table()`).
        engine: what runs the aggregates over the big tables (`auditlib.engine`; default
            DuckDB over `data`'s frames).

    Raises:
        PolicyError: if the policy file cannot be read or is not valid.
        EolDataError: if the end-of-life table to use is malformed.
    """
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    kept, left_out = filter_images(data, image_filter)
    view = FleetView(kept, _as_of(as_of), first_seen_fixed, eol_table, eol_kind(pol),
                     engine=engine)
    _ = view.table  # an unreadable end-of-life table is an error now, not in a notebook cell
    return Assessment(view, pol, image_filter=image_filter, filtered_out=left_out)


def read_state(store: StorePath, *, snapshot: StorePath | None = None,
               image_filter: str | None = None, engine: str = "duckdb",
               spark_master: str | None = None) -> tuple[AuditData, int, Engine]:
    """Return a store's state as an assessment reads it: its tables but the big ones (which
    stay in the engine, over the store's files), the images an image filter left out, and the
    engine over the big tables (their rows of the kept images only, when filtered).

    Args:
        store: the store folder.
        snapshot: a snapshot id: the state right after it was written (default: now).
        image_filter: keep only images a reference of which matches this Docker Scout glob.
        engine: `duckdb` or `spark` (`auditlib.engine`).
        spark_master: Spark's master URL.

    Raises:
        StoreError: if the store has no snapshot or cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
        EngineError: if the engine cannot start or read the store.
    """
    data = read_current(store, as_of=snapshot,
                        tables=[t.name for t in DATA_TABLES if t.name not in BIG_TABLES])
    data, left_out = filter_images(data.without(*BIG_TABLES), image_filter)
    return data, left_out, store_engine(store, data, filtered=image_filter is not None,
                                        snapshot=snapshot, engine=engine,
                                        spark_master=spark_master)


def store_engine(store: StorePath, data: AuditData, *, filtered: bool,
                 snapshot: StorePath | None = None, engine: str = "duckdb",
                 spark_master: str | None = None) -> Engine:
    """Return an engine over the big tables of a store's state (`read_state`), whose other
    tables are `data` (its `scans` name the images of documents known only by a digest).

    Args:
        filtered: `data` is an image filter's (`filter_images`): the engine's views hold only
            the rows of the images `data` names.

    Raises:
        StoreError: if the store cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
        EngineError: if the engine cannot start or read the store.
    """
    kept = image_ids(data) if filtered else None
    tables = StoreTables.of(store, data.scans, kept, snapshot)
    return open_engine(engine, tables, spark_master=spark_master)


def assess(
    store: StorePath,
    *,
    as_of: Any = None,
    policy: Policy | str | Path | None = None,
    image_filter: str | None = None,
    eol_table: EolTable | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
) -> Assessment:
    """Return the assessment of a store's current state.

    The SLA clock of findings whose scanner gives no fix date uses the store's history when it
    has more than one snapshot (`auditlib.history.first_seen_fixed`, kept in the engine:
    `auditlib.engine.history.history_clock`).

    Args:
        store: the store folder.
        as_of: the moment to measure at (a date, a time, an ISO string; default now, UTC).
        policy: a `Policy`, a policy file, or None for the default policy.
        image_filter: keep only images a reference of which matches this Docker Scout glob.
        eol_table: the end-of-life table (default: `auditlib.eol.load_table()`).
        engine: what runs the aggregates over the store's big tables, its Parquet files where
            they are (`auditlib.engine`): `duckdb` (embedded, the default) or `spark`.
        spark_master: Spark's master URL (`spark://host:7077`; default `local[*]`).

    A damaged store is an error (`DamagedStoreError`, naming each damaged snapshot), unless
    damage is allowed (`AUDITLIB_ALLOW_DAMAGED=1`, which the commands' `--allow-damaged` sets):
    then the damaged snapshots are left out and `warnings` (and `summary()`) say which.

    Raises:
        StoreError: if the store has no snapshot or cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
        PolicyError: if the policy file cannot be read or is not valid.
        EolDataError: if the end-of-life table to use is malformed.
        EngineError: if the engine cannot start or read the store.
    """
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    scan = usable_snapshots(store)
    data, left_out, eng = read_state(store, image_filter=image_filter, engine=engine,
                                     spark_master=spark_master)
    # The history clock stays in the engine, joined to the fixable findings there.
    seen = history_clock(store, eng) if len(scan.snapshots) > 1 else None
    a = assess_data(data, as_of=as_of, policy=pol, first_seen_fixed=seen, eol_table=eol_table,
                    engine=eng)
    a.image_filter, a.filtered_out = image_filter, left_out
    a.store = Path(store)
    a.snapshots = current_snapshots(store)
    a.read_snapshots = tuple(s.snapshot_id for s in scan.snapshots)
    a.warnings = scan.warnings()
    return a


def staleness(
    data: AuditData,
    *,
    as_of: Any = None,
    policy: Policy | str | Path | None = None,
    eol_table: EolTable | None = None,
    abandonment_days: int = ABANDONMENT_THRESHOLD_DAYS,
    first_seen_fixed: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return the `staleness` table of tables given directly: one row per image, ranked by what
    to fix first (`Assessment.staleness` of `assess_data`; `assess(store).staleness` for a
    store, with its history).

    Args:
        data: the tables (a store's current state, or a load).
        as_of: the moment ages are measured at (default now, UTC).
        policy: a `Policy`, a policy file, or None for the default policy.
        eol_table: the end-of-life table (default: `auditlib.eol.load_table()`).
        abandonment_days: an upstream repository whose newest image is older than this looks
            abandoned.
        first_seen_fixed: when each finding was first seen fixable (`auditlib.history`).

    Raises:
        PolicyError: if the policy file cannot be read or is not valid.
        EolDataError: if the end-of-life table to use is malformed.
    """
    a = assess_data(data, as_of=as_of, policy=policy, eol_table=eol_table,
                    first_seen_fixed=first_seen_fixed)
    a.abandonment_days = abandonment_days
    return a.staleness
