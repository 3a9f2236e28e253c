"""Findings: what a vulnerability finding is, when its fix became available (the SLA clock),
and where it stands against its severity's SLA. The `fixable-vulns-sla` rule, the staleness
analysis, the compliance report and the history read these definitions.

A *finding* is a vulnerability of a package version in an image (`FINDING_KEY`), however many
documents (scanners) or paths report it; its severity is the highest any gives, and it is fixable
when any says `fixed` without contradicting itself (`auditlib.engine.aggregates.FIXABLE_ROW`).

The *clock* of a fixable finding starts when its fix became available, as well as auditlib knows
it (anchors.md section 10, "Fixable since"), in this order:

1. `fix`: the scanner's fix date (Grype `fix.available[].date`);
2. `seen`: the snapshot in which the store's history saw the fix appear (an earlier snapshot saw
   the same vulnerability of the same package version not fixable);
3. `published`: the vulnerability's publication date (a fix is rarely older);
4. `first-seen`: the first snapshot that saw it fixable, when it was fixable from the start: the
   fix is at least that old, maybe much older, so the days counted are a lower bound;
5. none of them: the clock is unknown and the finding is `undated`, never within its SLA.

The store's first snapshot is never taken as the day every fix appeared: that would make every
new store's findings look a day old.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from auditlib.data import AuditData
from auditlib.engine import Engine, engine_or_frames
from auditlib.engine.aggregates import (
    BASE_LAYERS_VIEW,
    BASE_SPLIT,
    CLOCKS_TABLE,
    CROSSED_FINDINGS,
    DRIFTED_VIEW,
    EARLIER_ROWS,
    EARLIER_VIEW,
    FINDING_TIMES,
    FINDINGS_TABLE,
    FIX_FIRST_IMAGES,
    FIX_FIRST_UPGRADES,
    FIXABLE_FINDINGS,
    IMAGE_FINDING_COUNTS,
    IMAGE_FINDINGS,
    IMAGES_VIEW,
    NEW_FINDINGS,
    ORDER_OF_FINDINGS,
    SEEN_RANKS_VIEW,
    SEEN_VIEW,
    SETTLED_VIEW,
    SLA_COUNTS,
    SLA_LONGEST,
    SLA_SHOWN,
    SLA_WORST,
    TIMES_VIEW,
    ensure_image_keys,
    finding_clocks,
    finding_points,
    seen_from_clock,
    severity_of_rank,
    sla_rows,
    text_times,
)
from auditlib.engine.history import EngineClock
from auditlib.normalize.severity import SEVERITIES

FINDING_KEY = ["image_id", "vuln_id", "pkg_name", "pkg_version"]
"""A finding: the same vulnerability of the same package version in one image."""

SLA_DAYS = {"critical": 7, "high": 30, "medium": 90, "low": 120}
"""DefectDojo's default SLA days per severity (anchors.md section 5)."""

WARN_RATIO = 0.75
"""Share of its SLA a finding may use before it is `near` it."""

CLOCKS = {
    "fix": "its fix date",
    "seen": "the snapshot that saw the fix appear",
    "published": "its publication",
    "first-seen": "the first snapshot that saw it fixable (the fix may be older)",
}
"""What each clock is called in evidence."""

SLA_STATES = ("over", "near", "within", "undated", "no SLA")
"""Where a fixable finding stands: over its SLA, near it (the warning share used), within it, no
date to start the clock, or a severity without an SLA."""

SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
"""Severity -> rank on the auditlib scale (unknown 0 ... critical 5)."""


@dataclass(frozen=True)
class SlaParams:
    """An SLA: days by severity (lower case; a severity not listed has none) and the share of
    it a finding may use before it is `near`."""

    days: tuple[tuple[str, float], ...]
    warn_ratio: float = WARN_RATIO

    @classmethod
    def of(cls, sla_days: Mapping[str, float], warn_ratio: float = WARN_RATIO) -> SlaParams:
        """Return the SLA of days by severity (any case) and a warning share."""
        return cls(tuple(sorted((str(k).lower(), float(v)) for k, v in dict(sla_days).items())),
                   float(warn_ratio))

    def sql(self) -> str:
        """Return the SQL of every fixable finding with its SLA (`aggregates.sla_rows`)."""
        return sla_rows({SEVERITY_RANK[k]: d for k, d in self.days if k in SEVERITY_RANK},
                        self.warn_ratio)


DEFAULT_SLA = SlaParams.of(SLA_DAYS)
"""The SLA with DefectDojo's default days (`SLA_DAYS`) and warning share (`WARN_RATIO`)."""


def _days_to(as_of: pd.Timestamp, at: pd.Series) -> pd.Series:
    """Return whole days from each time of `at` to `as_of`, at least 0 (missing where it is)."""
    days: pd.Series = np.floor((as_of - at).dt.total_seconds() / 86400).clip(lower=0)
    return days


def _utc_text(at: pd.Series) -> pd.Series:
    """Return UTC times as ISO 8601 text (`2026-01-31T12:00:00+00:00`)."""
    return at.map(lambda t: t.isoformat()).astype(object)


@dataclass
class Fixable:
    """The fixable findings of an assessment with their clock, in its engine
    (`aggregates.CLOCKS_TABLE`: one row per finding, `FINDING_KEY`, never all brought to
    pandas): what is needed of them is asked for, per image or the first few per image
    (`counts`, `shown`, `base_split`, `fix_first`, `upgrades`), or, for an analyst, all of
    them (`rows`)."""

    engine: Engine

    def rows(self, sla: SlaParams = DEFAULT_SLA) -> pd.DataFrame:
        """Return every fixable finding with its clock and where it stands against `sla`.

        Returns:
            Columns `FINDING_KEY`, severity (the highest any scanner gave), fixed_version,
            layer_diff_id (the layer that added the package, when a scanner says),
            known_exploited (in CISA KEV, when a scanner says; missing when none does), epss
            (the highest EPSS probability a scanner gives, or missing), purl, clock_at (UTC),
            clock (`fix`, `seen`, `published`, `first-seen`, or None when no date is known),
            days (whole days from clock_at to the as-of time, at least 0; missing with the
            clock), sla_days (missing for a severity without one), used (the share of it
            used), over (days over it) and state (one of `SLA_STATES`); in `FINDING_KEY`
            order.

        Raises:
            EngineError: if the engine fails.
        """
        q = f"SELECT * FROM ({sla.sql()}) s ORDER BY {ORDER_OF_FINDINGS}"
        return _findings_frame(self.engine.arrow(q).to_pandas(strings_to_categorical=True))

    counted: dict[SlaParams, pd.DataFrame] = field(default_factory=dict, init=False,
                                                   repr=False)
    """The counts asked for so far, by SLA (`counts`): the policy rule, the assessment and the
    staleness table ask under the same SLA, and the engine counts once."""

    def counts(self, sla: SlaParams) -> pd.DataFrame:
        """Return per image, severity and SLA state its fixable findings (`aggregates.
        SLA_COUNTS`): columns image_id (str), severity (`SEVERITY_DTYPE`), state, findings
        (int), most_days (the most days one has been fixable; NaN when none is dated). Counted
        once per SLA; each call returns its own copy.

        Raises:
            EngineError: if the engine fails.
        """
        if sla not in self.counted:
            out = self.engine.sql(SLA_COUNTS.format(rows=sla.sql()))
            self.counted[sla] = pd.DataFrame({
                "image_id": out["image_id"].astype(str),
                "severity": severity_of_rank(out["severity_rank"]),
                "state": out["state"].astype(str), "findings": out["findings"].astype("int64"),
                "most_days": pd.to_numeric(out["most_days"]).astype(float)})
        return self.counted[sla].copy()

    def longest(self, sla: SlaParams, least_rank: int, most: int) -> tuple[pd.DataFrame, int]:
        """Return the `most` findings of severity rank `least_rank` or above fixable the longest
        (`aggregates.SLA_LONGEST`), as `rows` gives them, and how many there are in all.

        Raises:
            EngineError: if the engine fails.
        """
        out = self.engine.sql(SLA_LONGEST.format(rows=sla.sql(), least=int(least_rank),
                                                 most=int(most)))
        return _findings_frame(out), _total(out)

    def earlier(self, sla: SlaParams) -> pd.DataFrame:
        """Return every fixable finding's key and whether it is over `sla`
        (`aggregates.EARLIER_ROWS`): what a later assessment compares with (`new`, `crossed`).
        Text columns are categoricals (millions of findings hold each image id, vulnerability
        and package once), was_over int8.

        Raises:
            EngineError: if the engine fails.
        """
        out = self.engine.arrow(EARLIER_ROWS.format(rows=sla.sql())).to_pandas(
            strings_to_categorical=True)
        if not len(out):  # an engine cannot type a categorical without categories
            out = out.astype(dict.fromkeys(FINDING_KEY, object))
        kept: pd.DataFrame = out.assign(was_over=out["was_over"].astype("int8"))
        return kept

    def new(self, sla: SlaParams, earlier: pd.DataFrame, ranks: Sequence[int],
            most: int) -> tuple[pd.DataFrame, int]:
        """Return the first `most` findings of the severity ranks `ranks` that `earlier` (another
        assessment's `earlier`) does not hold, the most severe first
        (`aggregates.NEW_FINDINGS`), as `rows` gives them, and how many there are in all.

        Raises:
            EngineError: if the engine fails.
        """
        self.engine.register(EARLIER_VIEW, earlier)
        out = self.engine.sql(NEW_FINDINGS.format(
            rows=sla.sql(), ranks=", ".join(str(int(r)) for r in ranks), most=int(most)))
        return _findings_frame(out), _total(out)

    def crossed(self, sla: SlaParams, earlier: pd.DataFrame,
                most: int) -> tuple[pd.DataFrame, int]:
        """Return the first `most` findings over `sla` that `earlier` (another assessment's
        `earlier`) holds not over its SLA, the most severe first
        (`aggregates.CROSSED_FINDINGS`), as `rows` gives them, and how many there are in all.

        Raises:
            EngineError: if the engine fails.
        """
        self.engine.register(EARLIER_VIEW, earlier)
        out = self.engine.sql(CROSSED_FINDINGS.format(rows=sla.sql(), most=int(most)))
        return _findings_frame(out), _total(out)

    def of_images(self, image_ids: Sequence[str], per_batch: int = 2_000
                  ) -> Iterator[tuple[dict[str, int], pd.DataFrame]]:
        """Yield, `per_batch` images at a time, the fixable findings of `image_ids`: how many
        each image has (images without any left out), and each distinct image_id, vuln_id and
        purl (text; purl None when no scanner gives one) of them (`aggregates.IMAGE_FINDINGS`),
        so that no more than a batch's findings are in memory at once.

        Raises:
            EngineError: if the engine fails.
        """
        ids = list(dict.fromkeys(str(i) for i in image_ids))
        for start in range(0, len(ids), per_batch):
            self.engine.register(IMAGES_VIEW, pd.DataFrame(
                {"image_id": pd.Series(ids[start:start + per_batch], dtype=object)}))
            n = self.engine.sql(IMAGE_FINDING_COUNTS)
            rows = self.engine.sql(IMAGE_FINDINGS)
            counts = dict(zip(n["image_id"].astype(str), n["findings"].astype(int),
                              strict=True))
            yield counts, pd.DataFrame({c: rows[c].astype(object).where(rows[c].notna(), None)
                                        .map(lambda v: None if v is None else str(v))
                                        for c in ("image_id", "vuln_id", "purl")})

    def shown(self, sla: SlaParams, most: int) -> pd.DataFrame:
        """Return the findings the SLA rule names (`aggregates.SLA_SHOWN`): listing (`over`,
        `near`, `undated`, `closest`), n, and the columns of `rows` but layer_diff_id,
        known_exploited, epss and purl, the first `most` of each listing per image (one
        `closest`).

        Raises:
            EngineError: if the engine fails.
        """
        out = self.engine.sql(SLA_SHOWN.format(rows=sla.sql(), shown=int(most)))
        return _findings_frame(out)

    def worst(self, sla: SlaParams, least_rank: int, most: int) -> pd.DataFrame:
        """Return the `most` findings furthest over `sla` of severity rank `least_rank` or
        above (`aggregates.SLA_WORST`), as `rows` gives them, the furthest first.

        Raises:
            EngineError: if the engine fails.
        """
        out = self.engine.sql(SLA_WORST.format(rows=sla.sql(), least=int(least_rank),
                                               most=int(most)))
        return _findings_frame(out)

    def base_split(self, base_layers: Mapping[str, set[str]]) -> pd.DataFrame:
        """Return per image whose base's layers are known (`base_layers`) its fixable findings
        whose layer a scanner names (layered) and those of them the base brought (in_base):
        index image_id (`aggregates.BASE_SPLIT`).

        Raises:
            EngineError: if the engine fails.
        """
        if not self._base(base_layers):
            return pd.DataFrame({"layered": pd.Series(dtype="int64"),
                                 "in_base": pd.Series(dtype="int64")},
                                index=pd.Index([], name="image_id", dtype=object))
        out = self.engine.sql(BASE_SPLIT)
        return out.astype({"image_id": str, "layered": "int64", "in_base": "int64"}).set_index(
            "image_id")

    def _base(self, base_layers: Mapping[str, set[str]]) -> bool:
        """Register `BASE_LAYERS_VIEW`; return whether any image's base layers are known."""
        pairs = [(str(i), str(d)) for i, layers in base_layers.items() for d in layers]
        if pairs:
            self.engine.register(BASE_LAYERS_VIEW,
                                 pd.DataFrame(pairs, columns=["image_id", "layer_diff_id"]))
        return bool(pairs)

    def points(self, sla: SlaParams, base_layers: Mapping[str, set[str]], drifted: set[str],
               weights: Mapping[str, float], factors: Mapping[str, float],
               kev_factor: float, epss_factor: float) -> str:
        """Return the SQL of every finding with its fix-first points (`aggregates.
        finding_points`), the views it reads registered.

        Raises:
            EngineError: if the engine refuses a view.
        """
        base = self._base(base_layers)
        if drifted:
            self.engine.register(DRIFTED_VIEW, pd.DataFrame({"image_id": sorted(drifted)}))
        return finding_points(
            sla.sql(), {SEVERITY_RANK[k]: float(v) for k, v in weights.items()}, dict(factors),
            kev_factor, epss_factor, base=base, drifted=bool(drifted))

    def fix_first(self, points: str) -> pd.DataFrame:
        """Return per image with fixable findings what the fix-first ranking weighs
        (`aggregates.FIX_FIRST_IMAGES` of `points`): index image_id; columns pts (float,
        NaN when no finding has points), pts_over, pts_kev, pts_likely, pts_base, one per
        severity with points (`critical`, `high`, `medium`, `low`: findings with points),
        over_sla, kev, worst (int).

        Raises:
            EngineError: if the engine fails.
        """
        by = ", ".join(f"SUM(CASE WHEN pts > 0 AND severity_rank = {SEVERITY_RANK[s]} "
                       f"THEN 1 ELSE 0 END) AS n_{SEVERITY_RANK[s]}" for s in SEVERITIES)
        out = self.engine.sql(FIX_FIRST_IMAGES.format(points=points, by_severity=by))
        ints = ["pts_over", "pts_kev", "pts_likely", "pts_base", "over_sla", "kev", "worst"]
        out = out.astype({"image_id": str, **dict.fromkeys(ints, "int64")}).rename(
            columns={f"n_{SEVERITY_RANK[s]}": s for s in SEVERITIES})
        out["pts"] = pd.to_numeric(out["pts"].astype(float))
        return out.astype(dict.fromkeys(SEVERITIES, "int64")).set_index("image_id")

    def upgrades(self, points: str, shown: int) -> pd.DataFrame:
        """Return per image the first `shown` package upgrades by the points they remove
        (`aggregates.FIX_FIRST_UPGRADES` of `points`): columns image_id, n, upgrades (packages
        in all), pkg_name, fixed (None when no finding names one).

        Raises:
            EngineError: if the engine fails.
        """
        ensure_image_keys(self.engine)
        out = self.engine.sql(FIX_FIRST_UPGRADES.format(points=points, shown=int(shown)))
        out = out.astype({"image_id": str, "n": "int64", "upgrades": "int64"})
        return out.astype({"pkg_name": object, "fixed": object}).where(out.notna(), None)


def _findings_frame(out: pd.DataFrame) -> pd.DataFrame:
    """Return rows of `aggregates.sla_rows` (all its columns, or `SHOWN_COLUMNS`) as
    `Fixable.rows` gives them: text kept as it
    came (categorical or object), severity a `SEVERITY_DTYPE`, clock_at UTC, clock and state
    object (None missing), days, sla_days, used, over float."""
    first = [c for c in ("listing", "n") if c in out.columns]
    cols: dict[str, object] = {c: out[c] for c in first}
    for c in FINDING_KEY:
        cols[c] = out[c]
    cols["severity"] = severity_of_rank(out["severity_rank"])
    for c in ("fixed_version", "layer_diff_id"):
        if c in out.columns:
            cols[c] = out[c]
    if "known_exploited" in out.columns:
        cols["known_exploited"] = pd.to_numeric(out["known_exploited"]).astype(
            "Float64").astype("boolean")
        cols["epss"] = pd.to_numeric(out["epss"]).astype("Float64")
        cols["purl"] = out["purl"]
    cols["clock_at"] = text_times(out["clock_at"])
    clock = out["clock"].astype(object)
    cols["clock"] = clock.where(clock.notna(), None)
    for c, col in (("days", "days"), ("sla_days", "sla_days"), ("used", "used"),
                   ("over", "over_days")):
        cols[c] = pd.to_numeric(out[col]).astype(float)
    cols["state"] = out["state"].astype(str).astype(object)
    return pd.DataFrame(cols)


def _total(out: pd.DataFrame) -> int:
    """Return the total a query of the first few findings gives with each (0 without any)."""
    return int(out["total"].iloc[0]) if len(out) else 0


def _key_texts(keys: pd.DataFrame) -> dict[str, np.ndarray]:
    """Return the `FINDING_KEY` columns of `keys` as text (None where missing), as the engine
    compares them with the findings' (`aggregates.finding_clocks` casts both sides)."""
    return {k: keys[k].astype(object).where(keys[k].notna(), None).map(
        lambda v: None if v is None else str(v)).to_numpy(object) for k in FINDING_KEY}


def _seen_in_engine(engine: Engine, clock: EngineClock, as_of: pd.Timestamp) -> None:
    """Keep the history clock of `clock` (in `engine`) as `aggregates.SEEN_VIEW`: its few
    snapshot times turned into text and days in pandas, joined to its rows by rank in SQL, so
    its rows never reach pandas.

    Raises:
        EngineError: if the engine fails.
    """
    at = pd.Series(pd.DatetimeIndex(clock.times.times, tz="UTC"), dtype="datetime64[ns, UTC]")
    engine.register(SEEN_RANKS_VIEW, pd.DataFrame({
        "seen_rank": np.arange(len(at), dtype="int64"),
        "seen_utc": _utc_text(at).to_numpy(object),
        "seen_days": _days_to(as_of, at).to_numpy(float)}))
    engine.define(SEEN_VIEW, seen_from_clock(clock.view), keep=True)


def fixable_findings(tables: AuditData | Engine, as_of: pd.Timestamp,
                     first_seen_fixed: pd.DataFrame | EngineClock | None = None,
                     settled: pd.DataFrame | None = None) -> Fixable:
    """Return the fixable findings (`FINDING_KEY`), deduplicated across documents, with their
    clock, in the engine (`aggregates.CLOCKS_TABLE`).

    Which rows are fixable and how a finding's rows are combined is
    `auditlib.engine.aggregates.FIXABLE_FINDINGS`, run by the engine over the vulnerabilities
    (the store's Parquet files, or frames in memory); the clock is chosen there too
    (`aggregates.finding_clocks`, module docstring), from the distinct fix and publication
    times pandas parsed and counted days to (a few thousand), and the history's clock.

    Args:
        tables: the engine of the assessment (`FleetView.aggregate_engine`), or tables in memory
            (run on DuckDB over their frames).
        as_of: the moment days are counted to (UTC).
        first_seen_fixed: when history is known, the first snapshot that saw each finding
            fixable: columns `FINDING_KEY`, `first_seen_fixed_at` (UTC) and, optionally,
            `fix_seen_appearing` (missing: true); or the clock kept in the engine
            (`engine.history.EngineClock`: joined there when it is `tables`' engine, kept as
            `aggregates.SEEN_VIEW`). None without history.
        settled: the findings a VEX statement settles (columns `FINDING_KEY`): left out.

    Raises:
        EngineError: if the engine fails.
    """
    engine = engine_or_frames(None, tables) if isinstance(tables, AuditData) else tables
    engine.define(FINDINGS_TABLE, FIXABLE_FINDINGS, keep=True)
    texts = engine.sql(FINDING_TIMES)["moment"].astype(str)
    at = text_times(texts)
    known = at.notna().to_numpy()
    engine.register(TIMES_VIEW, pd.DataFrame({
        "moment": texts[known].to_numpy(object), "at_utc": _utc_text(at[known]).to_numpy(object),
        "days": _days_to(as_of, at[known]).to_numpy(float)}))
    if isinstance(first_seen_fixed, EngineClock) and first_seen_fixed.engine is not engine:
        first_seen_fixed = first_seen_fixed.frame()  # kept in another engine
    if isinstance(first_seen_fixed, EngineClock):
        _seen_in_engine(engine, first_seen_fixed, as_of)
        seen = True
    elif first_seen_fixed is not None and len(first_seen_fixed):
        s = first_seen_fixed.assign(
            fix_seen_appearing=first_seen_fixed["fix_seen_appearing"].fillna(False).astype(bool)
            if "fix_seen_appearing" in first_seen_fixed else True)
        s = s[[*FINDING_KEY, "first_seen_fixed_at", "fix_seen_appearing"]].drop_duplicates(
            FINDING_KEY)
        seen_at = pd.to_datetime(s["first_seen_fixed_at"], utc=True)
        s = s[seen_at.notna().to_numpy()]
        seen_at = seen_at[seen_at.notna()]
        engine.register(SEEN_VIEW, pd.DataFrame({
            **_key_texts(s), "seen_utc": _utc_text(seen_at).to_numpy(object),
            "seen_days": _days_to(as_of, seen_at).to_numpy(float),
            "appearing": s["fix_seen_appearing"].astype(int).to_numpy()}))
        seen = len(s) > 0
    else:
        seen = False
    done = settled is not None and len(settled) > 0
    if settled is not None and done:
        engine.register(SETTLED_VIEW, pd.DataFrame(_key_texts(settled)))
    # A view: each aggregate joins the kept findings with the few times again, rather than
    # the engine holding a second copy of millions of findings.
    engine.define(CLOCKS_TABLE, finding_clocks(seen, done))
    return Fixable(engine)
