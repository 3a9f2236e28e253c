"""Evaluate a policy: every enabled rule on every image, waivers applied, images scored.

The score follows Docker Scout's health score: each rule is worth its points; a pass (or a waived
failure) earns them all, a warning half, a failure nothing; the score is the percentage of the
points of the rules that could judge the image, and the grade is A (>90), B (>70), C (>50),
D (>30), E (>10) or F. A `no-data` result is unknown, neither a pass nor a failure: it is left
out of the score and counted in `judged_share`, and an image that less than half of the points
could judge gets the grade `N/A` (Docker Scout's word for an image it cannot grade) rather than
a letter that rests on nothing. An image nobody scanned still fails `scan-coverage`: "not
scanned" is a known fact, not an unknown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from auditlib.data import AuditData
from auditlib.eol.table import EolTable, Kind
from auditlib.fleet.glob import matches_any
from auditlib.fleet.view import FleetView
from auditlib.policy.config import Policy, PolicyError, Waiver, WaiverUse
from auditlib.policy.model import SEVERITIES, RuleConfig, Verdict
from auditlib.tables import POLICY_RESULTS, POLICY_SCORES, frame

EARNED = {"pass": 1.0, "waived": 1.0, "warn": 0.5, "fail": 0.0, "no-data": 0.0}
"""Share of a rule's points each status earns (`no-data` is left out of the score)."""

UNGRADED = "N/A"
"""The grade of an image too little of the policy could judge."""
MIN_JUDGED_SHARE = 0.5
"""Share of the points that must be judged for an image to get a letter grade."""
GRADE_NAMES = ("A", "B", "C", "D", "E", "F", UNGRADED)
"""Every grade, best first, `N/A` last."""

GRADES = ((90, "A"), (70, "B"), (50, "C"), (30, "D"), (10, "E"))
"""Lowest score (exclusive) of each grade; below the last is F."""


def grade(score: float) -> str:
    """Return the letter grade of a score (0-100), Docker Scout's thresholds."""
    for floor, letter in GRADES:
        if score > floor:
            return letter
    return "F"


@dataclass
class Evaluation:
    """The result of evaluating a policy."""

    results: pd.DataFrame
    """`policy_results`: one row per (image, rule)."""
    scores: pd.DataFrame
    """`policy_scores`: one row per image."""
    policy: Policy
    as_of: pd.Timestamp
    waivers: list[WaiverUse] = field(default_factory=list)
    """Every waiver of the policy, whether it applied, expired, or matched nothing."""
    errors: list[str] = field(default_factory=list)
    """Rules that raised (a bug): their images got `no-data` with the error as evidence."""

    def count(self, status: str) -> int:
        """Return how many results have `status`."""
        return int((self.results["status"] == status).sum())

    def broken(self, fail_on: str) -> bool:
        """Return whether the policy is broken at threshold `fail_on` (`fail` or `warn`)."""
        statuses = {"fail"} if fail_on == "fail" else {"fail", "warn"}
        return bool(self.results["status"].isin(statuses).any())


def _verdicts(rc: RuleConfig, ctx: FleetView, errors: list[str]) -> dict[str, Verdict]:
    try:
        found = rc.rule.evaluate(ctx, rc.params)
    except Exception as e:  # noqa: BLE001 - one broken rule must not stop the others
        errors.append(f"{rc.rule.slug}: {type(e).__name__}: {e}")
        reason = f"the rule could not be evaluated: {type(e).__name__}: {e}"
        return {i: Verdict(i, "no-data", reason) for i in ctx.image_ids}
    return {v.image_id: v for v in found}


def _waiver_for(
    waivers: Sequence[Waiver], rule: str, names: list[str]
) -> Waiver | None:
    for w in waivers:
        if (w.rule in ("*", rule)) and matches_any([w.image], names):
            return w
    return None


def eol_kind(policy: Policy) -> Kind:
    """Return which end of support counts under `policy`: the `support` parameter of its
    `supported-os` rule (`standard` when the rule is not configured).

    Raises:
        PolicyError: if the parameter is not `standard` or `extended`.
    """
    for c in policy.rules:
        if c.rule.slug == "supported-os":
            value = str(c.params.get("support", "standard"))
            if value == "standard":
                return "standard"
            if value == "extended":
                return "extended"
            raise PolicyError(f"{policy.source}: supported-os: support must be standard or "
                              f"extended, not {value!r}")
    return "standard"


def evaluate(
    data: AuditData,
    policy: Policy,
    *,
    as_of: dt.datetime | pd.Timestamp | None = None,
    first_seen_fixed: pd.DataFrame | None = None,
    eol_table: EolTable | None = None,
) -> Evaluation:
    """Evaluate `policy` on every image of `data` (`auditlib.assess` does this and more for a
    store, with its history).

    Args:
        data: the tables (a store's current state, or a load).
        policy: the rules and waivers (`load_policy`).
        as_of: the moment ages and waiver expiries are measured at (default: now, UTC).
        first_seen_fixed: when each finding was first seen fixable, from the store's history
            (`auditlib.history.first_seen_fixed`), for the SLA clock.
        eol_table: the end-of-life table (default: `auditlib.eol.load_table()`).

    Returns:
        The results, the scores, and how each waiver was used.

    Raises:
        PolicyError: if a rule parameter has a value no rule can use.
    """
    when = as_of if as_of is not None else dt.datetime.now(dt.UTC)
    view = FleetView(data, pd.Timestamp(when), first_seen_fixed, eol_table, eol_kind(policy))
    return evaluate_view(view, policy)


def evaluate_view(ctx: FleetView, policy: Policy) -> Evaluation:
    """Evaluate `policy` on every image of a fleet view (its as-of time, history clock and
    end-of-life table).

    Returns:
        The results, the scores, and how each waiver was used.
    """
    now = ctx.as_of
    today = now.date()
    uses = {
        id(w): WaiverUse(w, w.expires is not None and w.expires < today) for w in policy.waivers
    }
    live = [w for w in policy.waivers if not uses[id(w)].expired]
    expired = [w for w in policy.waivers if uses[id(w)].expired]
    errors: list[str] = []
    cols: dict[str, list[Any]] = {c: [] for c in POLICY_RESULTS.column_names}
    for rc in policy.enabled():
        rule = rc.rule
        verdicts = _verdicts(rc, ctx, errors)
        for image_id in ctx.image_ids:
            v = verdicts.get(image_id) or Verdict(image_id, "no-data", rule.no_data)
            status, evidence = v.status, v.evidence
            names = [*ctx.references.get(image_id, []), image_id]
            waiver: Waiver | None = None
            was_expired: bool | None = None
            if status in ("fail", "warn"):
                waiver = _waiver_for(live, rule.slug, names)
                if waiver is not None:
                    uses[id(waiver)].applied_to.append((image_id, rule.slug))
                    status, was_expired = "waived", False
                    evidence = f"{evidence} (waived {v.status}: {waiver.reason})"
                else:
                    waiver = _waiver_for(expired, rule.slug, names)
                    if waiver is not None:
                        uses[id(waiver)].applied_to.append((image_id, rule.slug))
                        was_expired = True
                        evidence = (f"{evidence} (a waiver expired on {waiver.expires}: "
                                    f"{waiver.reason})")
            cols["image_id"].append(image_id)
            cols["image_name"].append(ctx.name(image_id))
            cols["rule"].append(rule.slug)
            cols["title"].append(rule.title)
            cols["status"].append(status)
            cols["severity"].append(rc.severity)
            cols["points"].append(rule.points)
            cols["earned"].append(rule.points * EARNED[status])
            cols["evidence"].append(evidence)
            cols["waiver_reason"].append(waiver.reason if waiver else None)
            cols["waiver_expires"].append(
                waiver.expires.isoformat() if waiver and waiver.expires else None
            )
            cols["waiver_expired"].append(was_expired)
            cols["evaluated_at"].append(now)
    n = len(cols["image_id"])
    results = frame(POLICY_RESULTS, cols, n)
    return Evaluation(results, _scores(results), policy, now, list(uses.values()), errors)


def _scores(results: pd.DataFrame) -> pd.DataFrame:
    if results.empty:
        return frame(POLICY_SCORES, {}, 0)
    r = results.assign(
        status=results["status"].astype(str), severity=results["severity"].astype(str)
    )
    g = r.groupby("image_id", sort=True)
    points = g["points"].sum().astype(float)
    judged_rows = r[r["status"] != "no-data"]
    judged = judged_rows.groupby("image_id", sort=True)["points"].sum().astype(float).reindex(
        points.index, fill_value=0.0)
    earned = g["earned"].sum().astype(float)
    score = (earned / judged.where(judged > 0) * 100).round(1)
    share = (judged / points.where(points > 0)).round(3)
    counts = pd.crosstab(r["image_id"], r["status"]).reindex(
        columns=["pass", "fail", "warn", "waived", "no-data"], fill_value=0
    )
    failed = r[r["status"] == "fail"]
    # Each image's most severe failure: the least rank in `SEVERITIES` (most severe first),
    # grouped as numbers (a Python `min` per image took seconds at 100,000 images).
    rank = failed["severity"].map({s: i for i, s in enumerate(SEVERITIES)})
    if rank.isna().any():
        raise KeyError(f"not a rule severity: {sorted(set(failed['severity'][rank.isna()]))}")
    worst = rank.astype("int64").groupby(failed["image_id"]).min().map(dict(enumerate(SEVERITIES)))
    ids = list(score.index)
    cols: dict[str, list[Any]] = {
        "image_id": ids,
        "image_name": list(g["image_name"].first().reindex(ids)),
        "score": [None if pd.isna(s) else float(s) for s in score],
        "judged_share": [None if pd.isna(s) else float(s) for s in share],
        "grade": [UNGRADED if pd.isna(sc) or pd.isna(sh) or sh < MIN_JUDGED_SHARE
                  else grade(float(sc)) for sc, sh in zip(score, share, strict=True)],
        "pass_count": [int(x) for x in counts["pass"].reindex(ids)],
        "fail_count": [int(x) for x in counts["fail"].reindex(ids)],
        "warn_count": [int(x) for x in counts["warn"].reindex(ids)],
        "waived_count": [int(x) for x in counts["waived"].reindex(ids)],
        "no_data_count": [int(x) for x in counts["no-data"].reindex(ids)],
        "worst_failure": [worst.get(i) for i in ids],
    }
    return frame(POLICY_SCORES, cols, len(ids))
