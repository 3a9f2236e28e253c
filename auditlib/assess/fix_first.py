"""What to fix first: the one ranking of images by the risk that fixing them removes.

The staleness page's "rebuild first", the compliance page's "what to fix first", `auditlib
staleness`, `auditlib check --format json` and the summary's `rebuild_first` all read this
ranking (the `rebuild_priority`, `priority_rank`, `priority_reasons`, `priority_actions` and
`priority_unknown` columns of the assessment's `staleness` table). An image's risk is the sum of
the points of what is known to be wrong with it, each with the reason and the action that
removes it:

* every fixable vulnerability: its severity's weight (critical 10, high 5, medium 3, low 1, as
  Dependency-Track's inherited risk score), doubled when the finding is over its SLA (x1.5 when
  near it), tripled when a scanner says it is known exploited (CISA KEV), else raised by its EPSS
  probability (x(1 + 2 EPSS)), as Grype's `risk` weighs threat;
* an OS past its end of life: 20 points (no fixes at all any more); within 90 days: 5;
* a base tag that moved on: 10 points (a rebuild picks up the publisher's fixes);
* a baked secret (`no-baked-secrets` fails): 30 points (everyone who pulls the image has it);
* running as root (`non-root-user` fails): 5 points (Docker Scout's health-score weight).

Policy results count only where the rule fails: a waived or disabled rule adds nothing.

What is not known is never counted as nothing: each image lists what the data does not say
(`priority_unknown`: no vulnerability scan, end of life unknown, base unknown, whether the base
moved on unknown, user unknown, not scanned for secrets). Ties are broken by risk (findings over
SLA, known exploited, the worst severity, then what is unknown before what is known clean), and
only then by name; an image with no known risk
and something unknown is ranked after every image with a known risk, and is never shown as clean.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditlib.fleet.findings import Fixable, SlaParams
from auditlib.policy.evaluate import Evaluation

SEVERITY_WEIGHTS = {"critical": 10.0, "high": 5.0, "medium": 3.0, "low": 1.0}
"""Points per fixable vulnerability by severity (Dependency-Track's inherited risk score)."""
SLA_FACTORS = {"over": 2.0, "near": 1.5}
"""Factor on a finding's points by where it stands against its SLA (others: 1)."""
KEV_FACTOR = 3.0
"""Factor on a finding a scanner says is known exploited (CISA KEV)."""
EPSS_FACTOR = 2.0
"""A finding with an EPSS probability p (and not in KEV) counts (1 + EPSS_FACTOR * p) times."""
DRIFT_POINTS = 10.0
"""Points when the base tag has moved on (a rebuild picks up the publisher's fixes)."""
EOL_POINTS = 20.0
"""Points when the OS is past its end of life (no more fixes at all)."""
EOL_SOON_POINTS = 5.0
"""Points when the end of life is within `EOL_SOON_DAYS`."""
EOL_SOON_DAYS = 90
"""Days before an end of life at which it counts as soon."""
SECRET_POINTS = 30.0
"""Points when a secret is baked into the image (`no-baked-secrets` fails)."""
ROOT_POINTS = 5.0
"""Points when the image runs as root (`non-root-user` fails)."""
ACTIONS_SHOWN = 3
"""Package upgrades named per image; the rest are counted."""

PRIORITY_COLUMNS = ("rebuild_priority", "priority_rank", "priority_reasons", "priority_actions",
                    "priority_unknown")
"""The columns of the `staleness` table this ranking fills."""


@dataclass(frozen=True, slots=True)
class Item:
    """One known risk of an image, the reason it counts and what removes it."""

    image_id: str
    points: float
    reason: str
    action: str


def _num(v: object) -> float | None:
    return None if v is None or pd.isna(v) else float(v)  # type: ignore[arg-type,call-overload]


def points_sql(fixable: Fixable, sla: SlaParams, st: pd.DataFrame,
               base_layers: dict[str, set[str]], drifted: Mapping[str, str] | None = None
               ) -> str:
    """Return the SQL of each fixable finding with its points (module docstring; `aggregates.
    finding_points`) against `sla`, whether its package came with the image's base
    (`base_layers`) and whether a rebuild on the refreshed base fixes it (the base tag of the
    image moved on: `st`'s base_drifted; `drifted`, when given, is `_drifted(st)`).

    Raises:
        EngineError: if the engine refuses a view.
    """
    moved = _drifted(st) if drifted is None else drifted
    return fixable.points(sla, base_layers, set(moved), SEVERITY_WEIGHTS, SLA_FACTORS,
                          KEV_FACTOR, EPSS_FACTOR)


def _drifted(st: pd.DataFrame) -> dict[str, str]:
    """Return image id -> its base reference, for the images whose base tag moved on."""
    return {str(i): str(b) for i, d, b in zip(st["image_id"], st["base_drifted"],
                                              st["base_ref"], strict=True)
            if pd.notna(d) and bool(d) and pd.notna(b)}


def _vuln_items(by_image: pd.DataFrame, upgrades: pd.DataFrame, drifted: Mapping[str, str]
                ) -> list[Item]:
    """Return one item per image with fixable vulnerabilities: counts by severity, those over
    their SLA and known exploited; the action: a rebuild on the refreshed base for the packages
    the base brought when its tag moved on, and the upgrades of the other packages that weigh
    most. Read from the engine's per-image aggregates (`Fixable.fix_first`, `.upgrades`);
    `drifted` is `_drifted` of the staleness table."""
    shown: dict[str, list[str]] = {}
    more: dict[str, int] = {}
    for img, name, fixed, total in zip(upgrades["image_id"], upgrades["pkg_name"],
                                       upgrades["fixed"], upgrades["upgrades"], strict=True):
        name = "a package no scanner named" if name is None else name  # unknown, never "nan"
        shown.setdefault(img, []).append(
            f"upgrade {name} to {fixed}" if fixed is not None else f"upgrade {name}")
        if total > ACTIONS_SHOWN:
            more[img] = int(total) - ACTIONS_SHOWN
    out: list[Item] = []
    weighed = by_image[by_image["pts"].notna()]
    extras = (("pts_over", "over SLA"), ("pts_kev", "known exploited"),
              ("pts_likely", "with EPSS >= 10%"))
    # the rows as plain dicts at once: a row object per image (iterrows) cost most of the loop
    for img, row in zip(weighed.index, weighed.to_dict("records"), strict=True):
        i = str(img)
        parts = [f"{int(row[s])} {s}" for s in SEVERITY_WEIGHTS if row[s]]
        extra = [f"{int(row[k])} {words}" for k, words in extras if row[k]]
        reason = (f"fixable: {', '.join(parts)}" + (f" ({', '.join(extra)})" if extra else "")
                  + f" (+{float(row['pts']):.0f})")
        actions = ([f"rebuild on the refreshed base {drifted[i]}"]
                   if i in drifted and bool(row["pts_base"]) else [])
        actions.extend(shown.get(i, []))
        if more.get(i):
            actions.append(f"upgrade {more[i]} more packages")
        out.append(Item(i, float(row["pts"]), reason, "; ".join(actions)))
    return out


def _os_name(row: pd.Series) -> str:
    parts = [str(row[c]) for c in ("os_family", "os_version") if pd.notna(row[c])]
    return " ".join(parts).strip() or "the OS"


def _eol_date(row: pd.Series) -> str:
    d = row["os_eol_date"]
    return "" if pd.isna(d) else f" (end of life {pd.Timestamp(d):%Y-%m-%d})"


def _image_items(st: pd.DataFrame) -> list[Item]:
    """Return the end-of-life and base-drift items of the staleness facts."""
    out: list[Item] = []
    eol = st["os_is_eol"].astype("boolean")
    days_to = pd.to_numeric(st["os_days_to_eol"], errors="coerce")
    hit = (eol.fillna(False) | (eol.notna() & (days_to <= EOL_SOON_DAYS)).fillna(False)
           | st["base_drifted"].astype("boolean").fillna(False))
    for _, row in st[hit.to_numpy(dtype=bool)].iterrows():  # only the images with an item
        i = str(row["image_id"])
        is_eol = row["os_is_eol"]
        days = _num(row["os_days_to_eol"])
        name = _os_name(row)
        if pd.notna(is_eol) and bool(is_eol):
            out.append(Item(i, EOL_POINTS, f"{name} past its end of life (+{EOL_POINTS:g})",
                            f"move off {name}{_eol_date(row)}"))
        elif pd.notna(is_eol) and days is not None and days <= EOL_SOON_DAYS:
            out.append(Item(i, EOL_SOON_POINTS,
                            f"{name} end of life in {days:.0f} days (+{EOL_SOON_POINTS:g})",
                            f"plan the move off {name}{_eol_date(row)}"))
        drifted = row["base_drifted"]
        if pd.notna(drifted) and bool(drifted):
            base = str(row["base_ref"])
            out.append(Item(i, DRIFT_POINTS, f"base tag {base} moved on (+{DRIFT_POINTS:g})",
                            f"rebuild on the refreshed base {base}"))
    return out


_POLICY_ITEMS = {
    "no-baked-secrets": (SECRET_POINTS, "baked secret", "remove it from the image and rotate it"),
    "non-root-user": (ROOT_POINTS, "root", "set a non-root USER"),
}
_POLICY_UNKNOWN = {"no-baked-secrets": "not scanned for secrets", "non-root-user": "user unknown"}


def _policy_items(ev: Evaluation) -> tuple[list[Item], dict[str, list[str]]]:
    """Return the items of failed policy rules that are risks (secrets, root), and per image the
    rules of them that had no data."""
    res = ev.results
    rule = res["rule"].astype(str)
    status = res["status"].astype(str)
    items: list[Item] = []
    unknown: dict[str, list[str]] = {}
    for slug, (points, what, action) in _POLICY_ITEMS.items():
        hit = res[(rule == slug) & (status == "fail")]
        for i, evidence in zip(hit["image_id"].astype(str), hit["evidence"].astype("string"),
                               strict=True):
            why = str(evidence) if pd.notna(evidence) and evidence else what  # the rule's words
            items.append(Item(i, points, f"{why} (+{points:g})", action))
        for i in res.loc[(rule == slug) & (status == "no-data"), "image_id"].astype(str):
            unknown.setdefault(i, []).append(_POLICY_UNKNOWN[slug])
    return items, unknown


def _unknown(st: pd.DataFrame, scanned: set[str], by_policy: dict[str, list[str]]
             ) -> dict[str, str | None]:
    """Return per image what the data does not say that the ranking needs, or None."""
    out: dict[str, str | None] = {}
    for i, eol, base, drift in zip(st["image_id"].astype(str), st["os_is_eol"], st["base_ref"],
                                   st["base_drifted"], strict=True):
        parts = [] if i in scanned else ["no vulnerability scan"]
        if pd.isna(eol):
            parts.append("end of life unknown")
        if pd.isna(base):
            parts.append("base unknown")
        elif pd.isna(drift):
            parts.append("whether the base moved on unknown")
        parts.extend(by_policy.get(i, []))
        out[i] = "; ".join(parts) or None
    return out


def _joined(items: Iterable[Item], attr: str) -> dict[str, str]:
    """Return image id -> its items' texts (`reason` or `action`), largest risk first, each
    part once."""
    out: dict[str, list[str]] = {}
    for it in sorted(items, key=lambda x: -x.points):
        for part in str(getattr(it, attr) or "").split("; "):
            if part and part not in out.setdefault(it.image_id, []):
                out[it.image_id].append(part)
    return {i: "; ".join(v) for i, v in out.items() if v}


def rank_fix_first(st: pd.DataFrame, fixable: Fixable, sla: SlaParams, ev: Evaluation,
                   scanned: set[str], base_layers: dict[str, set[str]] | None = None
                   ) -> pd.DataFrame:
    """Return `st` (the staleness facts, one row per image) with the ranking's columns
    (`PRIORITY_COLUMNS`) filled and sorted by rank, 1 first.

    Args:
        st: the staleness table of the view (`staleness.table.staleness_of`).
        fixable: the fixable findings (`FleetView.fixable`), weighed in the engine.
        sla: the SLA they stand against (`Assessment.sla`).
        ev: the policy's results (secrets and root count where their rules fail).
        scanned: the images a vulnerability scan covered (`fleet.coverage`).
        base_layers: image id -> its base's layers (`staleness.table.base_layer_sets`): which
            fixable packages a rebuild on the refreshed base fixes.

    Raises:
        EngineError: if the engine fails.
    """
    drifted = _drifted(st)
    points = points_sql(fixable, sla, st, base_layers or {}, drifted)
    by_image = fixable.fix_first(points)
    policy_items, by_policy = _policy_items(ev)
    items = [*_vuln_items(by_image, fixable.upgrades(points, ACTIONS_SHOWN), drifted),
             *_image_items(st), *policy_items]
    points_of: dict[str, float] = {}
    for it in items:
        points_of[it.image_id] = points_of.get(it.image_id, 0.0) + it.points
    ids = st["image_id"].astype(str)
    unknown = _unknown(st, scanned, by_policy)
    # Ties: findings over SLA, known exploited, the worst severity (of every fixable finding).
    tie = by_image[["over_sla", "kev", "worst"]].reindex(list(ids)).fillna(0)
    prio = ids.map(points_of).fillna(0.0).astype(float)
    key = pd.DataFrame({
        "p": -prio.to_numpy(), "over": -tie["over_sla"].to_numpy(dtype=float),
        "kev": -tie["kev"].to_numpy(dtype=float), "worst": -tie["worst"].to_numpy(dtype=float),
        "known": [0 if unknown[i] is not None else 1 for i in ids],
        "name": st["image_name"].astype(str).to_numpy(), "id": ids.to_numpy(),
    })
    order = key.sort_values(list(key.columns), kind="stable").index.to_numpy()
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(1, len(order) + 1)
    reasons, actions = _joined(items, "reason"), _joined(items, "action")
    out = st.assign(
        rebuild_priority=prio.to_numpy(),
        priority_rank=pd.array(rank, dtype="Int64"),
        priority_reasons=pd.array([reasons.get(i) for i in ids], dtype="string"),
        priority_actions=pd.array([actions.get(i) for i in ids], dtype="string"),
        priority_unknown=pd.array([unknown[i] for i in ids], dtype="string"),
    )
    out["rebuild_priority"] = out["rebuild_priority"].astype("Float64")
    return out.iloc[order].reset_index(drop=True)
