"""Every finding, only on request (issue 15): the notify digest, the OpenVEX export, the explore
notebook and the staleness table ask the engine for what they need, and give what they gave
when they read every finding into pandas (`Assessment.findings`, kept here as the oracle: the
code main had, on the demo fleet's store and a small two-snapshot store)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib.assess.vex_export as vex_export
import auditlib.notify.digest as digest
from auditlib.assess import Assessment, assess
from auditlib.assess.vex_export import VULNERABILITY_RULES, export_waivers, image_purl
from auditlib.engine.aggregates import SLA_COUNTS
from auditlib.fleet.findings import FINDING_KEY, SEVERITY_RANK, SlaParams
from auditlib.fleet.vex import image_manifests
from auditlib.fleet.view import text
from auditlib.notify import Previous, make_digest, previous_assessment
from auditlib.policy.config import load_policy
from auditlib.reports.explore import findings_relation, findings_sql, longest_fixable
from auditlib.staleness.table import staleness_of
from auditlib.store.manifest import snapshot_infos
from tests.engine_store import NOW, demo_store, two_snapshot_store

LATER = pd.Timestamp(NOW) + pd.Timedelta(days=75)
"""When the small store is assessed once (its fix dates are about NOW)."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo fleet's store over its snapshots (12 images), and a policy waiving the SLA
    rule of some of its images."""
    out = tmp_path_factory.mktemp("demo")
    store = demo_store(out)
    policy = out / "policy.yaml"
    policy.write_text("waivers:\n  - rule: fixable-vulns-sla\n    image: \"*\"\n"
                      "    reason: \"accepted <b>for now</b>\"\n    expires: 2099-01-31\n")
    return store, policy


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_snapshot_store(tmp_path_factory.mktemp("two"), images=8)


# --- the oracle: main's digest items, from every finding in pandas ----------------------------

def _keyed(df: pd.DataFrame) -> pd.Series:
    key = df[FINDING_KEY[0]].astype(str)
    for c in FINDING_KEY[1:]:
        key = key + "\x1f" + df[c].astype(str)
    return key


def _number(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else round(float(v), 1)


def _by_severity(f: pd.DataFrame) -> pd.DataFrame:
    """Main's order: the most severe first, then by image and vulnerability, ties in the order
    findings are listed. (Main sorted the categorical ids by their codes, the order the engine
    first gave each id, not by text: within an image, vulnerabilities came in an order that
    depended on the other images; the engine sorts them as text, as the docstring said.)"""
    key = pd.DataFrame({"s": f["severity"], "i": f["image_id"].astype(str),
                        "v": f["vuln_id"].astype(str)})
    order = key.sort_values(["s", "i", "v"], ascending=[False, True, True], kind="stable").index
    return f.loc[order]


def _old_new_fixable(before: Assessment, after: Assessment) -> list[dict[str, Any]]:
    f = after.findings
    if not len(f):
        return []
    f = f[f["severity"].astype(str).isin(digest.NEW_SEVERITIES).to_numpy()]
    old = set(_keyed(before.findings)) if len(before.findings) else set()
    f = f[~_keyed(f).isin(old).to_numpy(dtype=bool)] if len(f) else f
    f = _by_severity(f)
    return [{"image": after.view.name(str(r.image_id)), "image_id": str(r.image_id),
             "vuln_id": str(r.vuln_id), "package": str(r.pkg_name),
             "version": text(r.pkg_version), "severity": str(r.severity),
             "fixed_version": text(r.fixed_version)} for r in f.itertuples(index=False)]


def _old_sla_crossed(before: Assessment, after: Assessment) -> list[dict[str, Any]]:
    b, f = before.findings, after.findings
    if not len(b) or not len(f):
        return []
    was = dict(zip(_keyed(b), b["state"].astype(str), strict=True))
    f = f[(f["state"].astype(str) == "over").to_numpy()]
    crossed = [k in was and was[k] != "over" for k in _keyed(f)]
    f = _by_severity(f[crossed])
    return [{"image": after.view.name(str(r.image_id)), "image_id": str(r.image_id),
             "vuln_id": str(r.vuln_id), "package": str(r.pkg_name),
             "version": text(r.pkg_version), "severity": str(r.severity),
             "sla_days": _number(r.sla_days), "days": _number(r.days)}
            for r in f.itertuples(index=False)]


def _pair(store: Path, first_at: pd.Timestamp | None = None
          ) -> tuple[Assessment, Assessment, Previous]:
    """The assessment of the store's first snapshot a day after `first_at` (default: when it
    was written), and of now 200 days later (so that findings cross their SLA in between)."""
    infos = snapshot_infos(store)
    assert len(infos) >= 2
    first_at = first_at if first_at is not None else pd.Timestamp(infos[0].snapshot_id[:8],
                                                                  tz="UTC")
    policy = load_policy(None)
    prev = Previous(infos[0].snapshot_id, first_at + pd.Timedelta(days=1))
    after = assess(store, as_of=first_at + pd.Timedelta(days=200), policy=policy)
    return previous_assessment(store, prev, policy, after.view.first_seen_fixed), after, prev


@pytest.fixture(scope="module")
def pairs(demo: tuple[Path, Path], small: Path
          ) -> dict[str, tuple[Assessment, Assessment, Previous]]:
    # the small fleet's fix dates are about NOW, whenever its snapshots were written
    return {"demo": _pair(demo[0]), "small": _pair(small, pd.Timestamp(NOW))}


@pytest.mark.parametrize("which", ["demo", "small"])
def test_the_digest_asks_the_engine_and_says_what_every_finding_said(
        which: str, pairs: dict[str, tuple[Assessment, Assessment, Previous]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    before, after, prev = pairs[which]
    want_new, want_crossed = _old_new_fixable(before, after), _old_sla_crossed(before, after)
    assert want_crossed, "the pair must cross SLAs for the comparison to mean anything"
    for most in (digest.MAX_ITEMS, 3):  # the first few, and the count of all
        monkeypatch.setattr(digest, "MAX_ITEMS", most)
        d = make_digest(before, after, previous=prev, store="s", page=None)
        assert d.items["new_fixable"] == want_new[:most]
        assert d.counts["new_fixable"] == len(want_new)
        assert d.items["sla_crossed"] == want_crossed[:most]
        assert d.counts["sla_crossed"] == len(want_crossed)
        assert list(d.to_json())[-6:] == list(digest.KINDS)
    if which == "demo":  # new findings appeared after the first snapshot
        assert want_new


def test_nothing_new_against_itself_and_all_new_against_nothing(
        pairs: dict[str, tuple[Assessment, Assessment, Previous]]) -> None:
    a = pairs["small"][1]
    fixable = a.view.fixable
    none = fixable.earlier(a.sla_params).iloc[0:0]
    ranks = [SEVERITY_RANK[s] for s in digest.NEW_SEVERITIES]
    same, n_same = fixable.new(a.sla_params, fixable.earlier(a.sla_params), ranks, 10)
    assert n_same == 0 and same.empty
    got, n = fixable.new(a.sla_params, none, ranks, 10)
    f = a.findings
    assert n == int(f["severity"].astype(str).isin(digest.NEW_SEVERITIES).sum()) > 0
    assert len(got) == min(n, 10)
    assert fixable.crossed(a.sla_params, none, 10)[1] == 0


# --- the OpenVEX export ------------------------------------------------------------------------

def _old_export(a: Assessment, author: str) -> dict[str, Any]:
    """Main's export_waivers, from every finding in pandas."""
    res = a.evaluation.results
    waived = res[(res["status"].astype(str) == "waived")
                 & res["rule"].astype(str).isin(VULNERABILITY_RULES)]
    f = a.findings
    aliases = a.data.vulnerability_aliases
    alias_of: dict[str, set[str]] = {}
    for v, al in zip(aliases["vuln_id"].astype(str), aliases["alias"].astype(str), strict=True):
        alias_of.setdefault(v, set()).add(al)
    at = a.as_of.isoformat()
    statements: list[dict[str, Any]] = []
    by_image = {str(i): rows for i, rows in f.groupby(f["image_id"].astype(str), sort=False)}
    manifests = image_manifests(a.data, a.view.references) if len(waived) else {}
    for w in waived.itertuples(index=False):
        mine = by_image.get(str(w.image_id))
        if mine is None:
            continue
        products = [p for name, d in manifests.get(str(w.image_id), [])
                    if name is not None and (p := image_purl(name, d))]
        if not products:
            continue
        reason = (f"waived by policy {a.policy.source}, rule {w.rule}: {w.waiver_reason}"
                  + (f" (until {w.waiver_expires})" if isinstance(w.waiver_expires, str)
                     else ""))
        for vuln, rows in mine.groupby(mine["vuln_id"].astype(str), sort=True):
            subs = sorted({str(p) for p in rows["purl"] if isinstance(p, str)})
            statements.append({
                "vulnerability": {"name": vuln, **({"aliases": sorted(alias_of[vuln])}
                                                   if vuln in alias_of else {})},
                "products": [{"@id": p, **({"subcomponents": [{"@id": s} for s in subs]}
                                           if subs else {})} for p in products],
                "status": "not_affected", "impact_statement": reason, "timestamp": at})
    body = json.dumps(statements, sort_keys=True).encode()
    return {"@context": vex_export.CONTEXT,
            "@id": f"urn:auditlib:vex:sha256:{hashlib.sha256(body).hexdigest()}",
            "author": author, "role": "policy waivers (auditlib)", "timestamp": at,
            "version": 1, "tooling": "auditlib vex export", "statements": statements}


@pytest.mark.parametrize("per_batch", [vex_export.WAIVED_PER_BATCH, 2])
def test_the_export_asks_for_the_waived_images_findings_in_batches(
        demo: tuple[Path, Path], per_batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    store, policy = demo
    a = assess(store, as_of=LATER, policy=policy)
    monkeypatch.setattr(vex_export, "WAIVED_PER_BATCH", per_batch)
    asked: list[int] = []
    real = a.view.fixable.of_images

    def spy(ids: Any, per_batch: int = 2_000) -> Any:
        asked.append(len(ids))
        return real(ids, per_batch=per_batch)

    monkeypatch.setattr(a.view.fixable, "of_images", spy)
    got = export_waivers(a, author="team")
    want = _old_export(a, "team")
    assert len(want["statements"]) > 10
    assert got.document == want
    assert got.text() == json.dumps(want, indent=2) + "\n"
    assert max(asked) <= per_batch and (per_batch > 2 or len(asked) > 1)


# --- the explore notebook ------------------------------------------------------------------------

def test_explore_shows_the_longest_fixable_asked_of_the_engine(
        pairs: dict[str, tuple[Assessment, Assessment, Previous]]) -> None:
    a = pairs["small"][1]
    f = a.findings
    f = f[(f["severity"] >= "high").to_numpy()]
    # as the notebook sorted every finding in pandas, ties in the order findings are listed
    want = f.sort_values("days", ascending=False, kind="stable", na_position="last")
    got, total = longest_fixable(a, "high", 15)
    assert total == len(f) > 15
    cols = ["image_id", "vuln_id", "pkg_name", "pkg_version", "fixed_version", "severity",
            "days", "state"]
    pd.testing.assert_frame_equal(
        got.astype({c: object for c in cols if c not in ("days",)}),
        want[cols].head(15).reset_index(drop=True).astype(
            {c: object for c in cols if c not in ("days",)}))
    rel = findings_relation(a)
    assert rel.aggregate("COUNT(*)").fetchall() == [(len(a.findings),)]
    assert int(a.sql(f"SELECT COUNT(*) AS n FROM ({findings_sql(a)}) f")["n"].iloc[0]) == len(
        a.findings)


# --- one count of the findings per SLA in a run -----------------------------------------------

def test_the_rule_the_assessment_and_the_staleness_table_count_once(small: Path,
                                                                       tmp_path: Path) -> None:
    store = small
    policy = tmp_path / "sla.yaml"
    policy.write_text("rules:\n  fixable-vulns-sla:\n    sla_days: {critical: 1, high: 2, "
                      "medium: 3, low: 4}\n")
    a = assess(store, as_of=LATER, policy=policy)
    engine = a.view.aggregate_engine
    counted: list[str] = []
    real = engine.sql

    def spy(query: str) -> pd.DataFrame:
        if "GROUP BY image_id, severity_rank, state" in query:
            counted.append(query)
        return real(query)

    engine.sql = spy  # type: ignore[method-assign]
    a.evaluation  # noqa: B018  (the SLA rule counts)
    st = a.staleness
    a.summary()
    assert len(counted) == 1 and SLA_COUNTS.split("FROM")[0] in counted[0]
    # The staleness columns are counts and days: the same under any SLA.
    pd.testing.assert_frame_equal(staleness_of(a.view, a.abandonment_days),
                                  staleness_of(a.view, a.abandonment_days, a.sla_params))
    assert int(st["fixable_count"].sum()) == int(a.sla_counts["findings"].sum()) > 0
    assert a.sla_params != SlaParams.of({"critical": 7, "high": 30, "medium": 90, "low": 120})
