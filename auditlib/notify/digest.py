"""The digest of what changed between two assessments of one store: the previous run's and this
run's.

Every item is read from what the assessment already defines, never recomputed: fixable findings
and their SLA state (`Assessment.view.fixable`, `auditlib.fleet.findings`: the new and the
crossed ones asked of the engine, which compares them with the previous run's there), the base
tag each image was built on and what it points at now (`Assessment.staleness`,
`auditlib.fleet.bases`), the one end-of-life verdict per image (`Assessment.eol`), and the policy
results (`Assessment.evaluation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from auditlib.assess import Assessment
from auditlib.fleet.findings import SEVERITY_RANK
from auditlib.fleet.view import text

SCHEMA_ID = "https://auditlib.dev/schemas/notify-webhook-1.json"
"""The `$id` of the webhook body's JSON Schema (docs/notify-webhook.schema.json)."""

NEW_SEVERITIES = ("critical", "high")
"""Severities of the new fixable findings a digest lists."""

EOL_WINDOW_DAYS = 30
"""An image whose OS reaches its end of life within this many days is listed."""

MAX_ITEMS = 100
"""Items listed per kind at most (the counts give the totals)."""

KINDS = {
    "new_fixable": "new fixable critical and high vulnerabilities",
    "sla_crossed": "findings that crossed their SLA",
    "base_moved": "base tags that moved",
    "eol_soon": f"end of life within {EOL_WINDOW_DAYS} days",
    "rules_failing": "rules newly failing",
    "rules_fixed": "rules fixed",
}
"""Each kind of change, as the messages title it, in the order they list them."""


@dataclass(frozen=True, slots=True)
class Previous:
    """The run the digest compares with."""

    snapshot_id: str
    as_of: pd.Timestamp


@dataclass
class Digest:
    """What changed since the previous run of a store, item by item."""

    store: str
    as_of: pd.Timestamp
    previous: Previous | None
    """None on the first run of a store: nothing to compare with, so nothing changed."""
    page: str | None
    """The link to the run's page (a URL, or a `file://` URI when no URL was given)."""
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Kind (`KINDS`) -> its items (at most `MAX_ITEMS`), each a flat mapping of plain values."""
    counts: dict[str, int] = field(default_factory=dict)
    """Kind -> how many items there are in all."""

    @property
    def changed(self) -> bool:
        """Return whether anything changed."""
        return any(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        """Return the webhook body (docs/notify-webhook.schema.json)."""
        return {
            "$schema": SCHEMA_ID,
            "kind": "auditlib.digest",
            "version": 1,
            "store": self.store,
            "as_of": self.as_of.isoformat(),
            "previous": None if self.previous is None else {
                "snapshot_id": self.previous.snapshot_id,
                "as_of": self.previous.as_of.isoformat()},
            "page": self.page,
            "changed": self.changed,
            "summary": summary_line(self),
            "counts": {k: self.counts.get(k, 0) for k in KINDS},
            **{k: self.items.get(k, []) for k in KINDS},
        }


def summary_line(d: Digest) -> str:
    """Return the digest in one line (`3 new fixable critical and high vulnerabilities, ...`)."""
    if d.previous is None:
        return "first run of this store: nothing to compare with"
    parts = [f"{d.counts[k]} {title}" for k, title in KINDS.items() if d.counts.get(k)]
    return ", ".join(parts) if parts else "nothing changed since the previous run"


def _number(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else round(float(v), 1)


def _keyed(df: pd.DataFrame, cols: list[str]) -> pd.Series:
    """Return one text key per row, equal for rows equal in `cols`."""
    if not len(df):
        return pd.Series([], dtype=object)
    key = df[cols[0]].astype(str)
    for c in cols[1:]:
        key = key + "\x1f" + df[c].astype(str)
    return key


def _finding_items(a: Assessment, f: pd.DataFrame, *columns: str) -> list[dict[str, Any]]:
    """Return findings (`Fixable.rows` columns) as digest items, with `columns` as numbers."""
    return [{"image": a.view.name(str(r.image_id)), "image_id": str(r.image_id),
             "vuln_id": str(r.vuln_id), "package": str(r.pkg_name),
             "version": text(r.pkg_version), "severity": str(r.severity),
             **{c: (_number(getattr(r, c)) if c != "fixed_version" else text(r.fixed_version))
                for c in columns}}
            for r in f.itertuples(index=False)]


def _new_fixable(earlier: pd.DataFrame, after: Assessment) -> tuple[list[dict[str, Any]], int]:
    """Return the first `MAX_ITEMS` fixable findings of `NEW_SEVERITIES` of `after` that
    `earlier` (the previous assessment's `Fixable.earlier`) does not hold, asked of the engine,
    and how many there are in all."""
    f, total = after.view.fixable.new(after.sla_params, earlier,
                                      [SEVERITY_RANK[s] for s in NEW_SEVERITIES], MAX_ITEMS)
    return _finding_items(after, f, "fixed_version"), total


def _sla_crossed(earlier: pd.DataFrame, after: Assessment) -> tuple[list[dict[str, Any]], int]:
    """Return the first `MAX_ITEMS` findings of `after` over their SLA that `earlier` (the
    previous assessment's `Fixable.earlier`) holds within it, asked of the engine, and how many
    there are in all."""
    f, total = after.view.fixable.crossed(after.sla_params, earlier, MAX_ITEMS)
    return _finding_items(after, f, "sla_days", "days"), total


def _base_now(a: Assessment) -> dict[str, str]:
    """Return base tag -> the image it points at now, where known."""
    s = a.staleness
    s = s[s["base_ref"].notna().to_numpy() & s["base_current_image_id"].notna().to_numpy()]
    return dict(zip(s["base_ref"].astype(str), s["base_current_image_id"].astype(str),
                    strict=True))


def _base_moved(before: Assessment, after: Assessment) -> list[dict[str, Any]]:
    was, now = _base_now(before), _base_now(after)
    s = after.staleness
    out = []
    for base in sorted(b for b in now if b in was and was[b] != now[b]):
        users = s.loc[(s["base_ref"].astype("string") == base).fillna(False).to_numpy(),
                      "image_id"].astype(str)
        out.append({"base": base, "was": was[base], "now": now[base],
                    "images": sorted(after.view.name(i) for i in users)})
    return out


def _eol_soon(before: Assessment, after: Assessment) -> list[dict[str, Any]]:
    def soon(a: Assessment) -> pd.DataFrame:
        e = a.eol
        return e[(e["os_days_to_eol"] <= EOL_WINDOW_DAYS).fillna(False).to_numpy(dtype=bool)]

    was = set(soon(before).index.astype(str))
    e = soon(after).sort_values("os_days_to_eol", kind="stable")
    return [{"image": after.view.name(str(i)), "image_id": str(i),
             "os": " ".join(x for x in (text(r["os_family"]), text(r["os_version"])) if x),
             "eol_date": None if pd.isna(r["os_eol_date"]) else
             pd.Timestamp(r["os_eol_date"]).date().isoformat(),
             "days": _number(r["os_days_to_eol"])}
            for i, r in e.iterrows() if str(i) not in was]


def _rules(before: Assessment, after: Assessment) -> tuple[list[dict[str, Any]],
                                                            list[dict[str, Any]]]:
    b = before.evaluation.results
    was = dict(zip(_keyed(b, ["image_id", "rule"]), b["status"].astype(str), strict=True))
    r = after.evaluation.results.sort_values(["image_name", "rule"], kind="stable")
    failing, fixed = [], []
    for key, row in zip(_keyed(r, ["image_id", "rule"]), r.itertuples(index=False),
                        strict=True):
        status, old = str(row.status), was.get(key)
        item = {"image": str(row.image_name), "image_id": str(row.image_id),
                "rule": str(row.rule), "was": old, "status": status,
                "evidence": str(row.evidence)}
        if status == "fail" and old != "fail":
            failing.append(item)
        elif status == "pass" and old == "fail":
            fixed.append(item)
    return failing, fixed


def make_digest(before: Assessment | None, after: Assessment, *, previous: Previous | None,
                store: str, page: str | None) -> Digest:
    """Return what changed from `before` (the previous run's assessment; None on a first run)
    to `after` (this run's).

    Returns:
        A `Digest`: each kind's items (at most `MAX_ITEMS`) and counts; nothing changed on a
        first run.
    """
    d = Digest(store=store, as_of=after.as_of, previous=previous, page=page)
    if before is None or previous is None:
        d.counts = dict.fromkeys(KINDS, 0)
        return d
    failing, fixed = _rules(before, after)
    # The previous findings' keys cross from its engine to this one (categorical: each text
    # once), where the findings are compared; only the items listed reach pandas as rows.
    earlier = before.view.fixable.earlier(before.sla_params)
    new, sla_crossed = _new_fixable(earlier, after), _sla_crossed(earlier, after)
    del earlier
    found = {
        "base_moved": _base_moved(before, after),
        "eol_soon": _eol_soon(before, after),
        "rules_failing": failing,
        "rules_fixed": fixed,
    }
    d.counts = {"new_fixable": new[1], "sla_crossed": sla_crossed[1],
                **{k: len(v) for k, v in found.items()}}
    items = {"new_fixable": new[0], "sla_crossed": sla_crossed[0], **found}
    d.items = {k: items[k][:MAX_ITEMS] for k in KINDS}
    return d
