"""The history's trends as SQL run by the engine (`auditlib.engine.trends`, issue 15): each equals
its definition (`auditlib.history.views`' module docstring) computed here in plain pandas from the
state after every snapshot (`read_current(as_of=...)`, which reads the snapshots' Parquet files),
on a store of four snapshots where two documents of one image disagree, a fix appears, an image
leaves, a snapshot has no vulnerability scan at all (a gap, not a zero), and a vulnerability
comes back in a rebuilt image."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from auditlib import history
from auditlib.fleet.findings import FINDING_KEY as KEYS
from auditlib.history.trends import FRAMES, trends_of
from auditlib.normalize.severity import SEVERITIES
from auditlib.reports import staleness_trends as t
from auditlib.store import read_current
from auditlib.store.manifest import snapshot_infos
from tests.test_history import image_id, ingest, trivy_doc, write_doc

T1, T2, T3, T4 = ("2026-01-01T00:00:00", "2026-01-11T00:00:00", "2026-02-10T00:00:00",
                  "2026-03-01T00:00:00")
APP, WEB, BASE = ("registry.example/team/app:1.0", "registry.example/team/web:2",
                  "docker.io/library/base:1")
CVE1 = ("CVE-1", "openssl", "3.0.1", "high", None)
CVE1_FIXED = ("CVE-1", "openssl", "3.0.1", "high", "3.0.2")
CVE2 = ("CVE-2", "zlib", "1.2", "critical", None)
CVE3 = ("CVE-3", "curl", "8.0", "medium", "8.1")


def _secrets_only(image: int, tag: str, created: str) -> dict[str, Any]:
    """Return a Trivy report of a secret scan only: the image is there, not
    vulnerability-scanned."""
    doc = trivy_doc(image, tag, created, [])
    doc["Results"] = [{"Target": "/app/config.yaml", "Class": "secret"}]
    return doc


def trend_store(root: Path) -> Path:
    """Return a store of four snapshots (incremental ingests of a fleet folder).

    1. app (image 1): CVE-1 (not fixable), CVE-2 (critical). web (image 3): CVE-3 fixable.
       base (image 9): two documents disagree on CVE-6 (low and not fixed; high and fixed).
       old (image 5, no tag): CVE-5 fixable.
    2. app rescanned: CVE-1 now fixable (the fix appears), CVE-2 gone (fixed); old.json
       deleted (the image leaves).
    3. every vulnerability report deleted; app and web only secret-scanned: no vulnerability
       scan in this snapshot (a gap), two images present.
    4. app rebuilt (image 2): CVE-1 fixable, CVE-2 back; web and base scanned again.
    """
    fleet, s = root / "fleet", root / "store"
    app1, app2 = "2025-12-20T00:00:00Z", "2026-02-20T00:00:00Z"
    web, base = "2025-12-01T00:00:00Z", "2025-11-01T00:00:00Z"
    base_docs = {
        "base.json": trivy_doc(9, BASE, base, [("CVE-6", "bash", "5.1", "low", None)]),
        "base-again.json": trivy_doc(9, BASE, base, [("CVE-6", "bash", "5.1", "high", "5.2")]),
    }
    write_doc(fleet / "app.json", trivy_doc(1, APP, app1, [CVE1, CVE2]))
    write_doc(fleet / "web.json", trivy_doc(3, WEB, web, [CVE3]))
    for name, doc in base_docs.items():
        write_doc(fleet / name, doc)
    write_doc(fleet / "old.json", trivy_doc(5, None, "2025-10-01T00:00:00Z",
                                            [("CVE-5", "tar", "1", "low", "2")]))
    ingest(s, fleet, T1)
    write_doc(fleet / "app.json", trivy_doc(1, APP, app1, [CVE1_FIXED]))
    (fleet / "old.json").unlink()
    ingest(s, fleet, T2)
    for f in fleet.glob("*.json"):
        f.unlink()
    write_doc(fleet / "app-secrets.json", _secrets_only(1, APP, app1))
    write_doc(fleet / "web-secrets.json", _secrets_only(3, WEB, web))
    ingest(s, fleet, T3)
    for f in fleet.glob("*.json"):
        f.unlink()
    write_doc(fleet / "app.json", trivy_doc(2, APP, app2, [CVE1_FIXED, CVE2]))
    write_doc(fleet / "web.json", trivy_doc(3, WEB, web, [CVE3]))
    for name, doc in base_docs.items():
        write_doc(fleet / name, doc)
    ingest(s, fleet, T4)
    return s


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trend_store(tmp_path_factory.mktemp("history-trends"))


# --- the definitions in plain pandas, from each state's Parquet files ---------------------------

class States:
    """Each snapshot's state as `read_current` reads it, and the definitions over them."""

    def __init__(self, store: Path) -> None:
        self.ids: list[str] = []
        self.at: list[pd.Timestamp] = []
        self.data: list[Any] = []
        for info in snapshot_infos(store):
            self.ids.append(info.snapshot_id)
            self.at.append(info.created_at.tz_convert("UTC"))
            self.data.append(read_current(store, as_of=info.snapshot_id, tables=[
                "scans", "images", "image_tags", "vulnerabilities"]))
        # A document is a vulnerability scan when it says so or has a vulnerability row in some
        # state (its scan_id names the same document in every snapshot).
        self.with_rows = {str(i) for d in self.data for i in d.vulnerabilities["scan_id"].dropna()}

    def findings(self, k: int) -> pd.DataFrame:
        """Return state k's findings: KEYS as text, rank (highest severity), fixable (any)."""
        v = self.data[k].vulnerabilities
        v = v[v["image_id"].notna()]
        contradicted = v["fix_contradicted"].astype("boolean").fillna(False).astype(bool)
        f = pd.DataFrame({
            **{c: v[c].astype(str).to_numpy() for c in KEYS},
            "rank": v["severity"].astype(str).map(list(SEVERITIES).index).to_numpy(),
            "fixable": ((v["fix_state"].astype(str) == "fixed") & ~contradicted).to_numpy(),
        })
        return f.groupby(list(KEYS), as_index=False).agg(rank=("rank", "max"),
                                                          fixable=("fixable", "any"))

    def scanned(self, k: int) -> set[str]:
        d = self.data[k]
        sc = d.scans[d.scans["image_id"].notna()]
        said = sc["vulnerability_scan"].astype("boolean").fillna(False).astype(bool)
        rows = sc["scan_id"].astype(str).isin(self.with_rows)
        return ({str(i) for i in sc.loc[said | rows, "image_id"]}
                | set(self.findings(k)["image_id"]))

    def present(self, k: int) -> set[str]:
        d = self.data[k]
        return ({str(i) for i in d.scans["image_id"].dropna()}
                | {str(i) for i in d.images["image_id"].dropna()} | self.scanned(k))

    def repository(self, image: str) -> str | None:
        for d in self.data:
            tags = d.image_tags[d.image_tags["image_id"].astype(str) == image]
            for r in tags.itertuples():
                return f"{r.registry}/{r.repository}"
        return None

    def created(self, image: str) -> pd.Timestamp:
        return min(pd.Timestamp(c) for d in self.data
                   for c in d.images.loc[d.images["image_id"].astype(str) == image, "created_at"])

    def current(self, among: str) -> dict[str, list[tuple[int, str]]]:
        """Return unit -> [(state, its newest image among the `among` images of the state)]."""
        out: dict[str, list[tuple[int, str]]] = {}
        for k in range(len(self.ids)):
            units: dict[str, str] = {}
            for image in sorted(getattr(self, among)(k), key=self.created):
                units[self.repository(image) or image] = image  # the newest build wins
            for unit, image in units.items():
                out.setdefault(unit, []).append((k, image))
        return out


def _counts(s: States) -> list[tuple[str, str, int, int, int]]:
    rows = []
    for k, sid in enumerate(s.ids):
        f = s.findings(k)
        for rank, g in f.groupby("rank"):
            rows.append((sid, SEVERITIES[int(rank)], len(g), int(g["fixable"].sum()),
                         g["image_id"].nunique()))
    return sorted(rows)


def _changes(s: States, a: int, b: int) -> list[tuple[str, str, str, str]]:
    fa, fb = (s.findings(k).set_index(list(KEYS)) for k in (a, b))
    out = [(*k[:2], SEVERITIES[int(r)], "new") for k, r in fb["rank"].items() if k not in fa.index]
    still = s.scanned(b)
    out += [(*k[:2], SEVERITIES[int(r)], "fixed" if k[0] in still else "gone")
            for k, r in fa["rank"].items() if k not in fb.index]
    return sorted(out)


def _time_to_fix(s: States) -> list[tuple[Any, ...]]:
    rows = []
    for seq in s.current("scanned").values():
        seen: dict[tuple[str, str], list[tuple[int, int, bool]]] = {}
        for rank, (k, image) in enumerate(seq):
            f = s.findings(k)
            f = f[f["image_id"] == image]
            for (vuln, pkg), g in f.groupby(["vuln_id", "pkg_name"]):
                seen.setdefault((vuln, pkg), []).append((rank, int(g["rank"].max()),
                                                         bool(g["fixable"].any())))
        for (vuln, pkg), hits in seen.items():
            run = [h for i, h in enumerate(hits) if h[0] == hits[0][0] + i]  # the first run
            end = run[-1][0] + 1
            fixable = [s.at[seq[r][0]] for r, _, fx in run if fx]
            fixed = s.at[seq[end][0]] if end < len(seq) else None
            rows.append((s.repository(seq[run[0][0]][1]), seq[run[0][0]][1], vuln, pkg,
                         SEVERITIES[max(r for _, r, _ in run)], s.at[seq[run[0][0]][0]],
                         min(fixable) if fixable else None, fixed,
                         seq[end][1] if end < len(seq) else None))
    return sorted(rows, key=str)


def _trend(s: States) -> list[tuple[Any, ...]]:
    rows = []
    for unit, seq in s.current("present").items():
        for k, image in seq:
            f = s.findings(k)
            f = f[f["image_id"] == image]
            scanned = image in s.scanned(k)
            counts = (len(f), int((f["rank"] == 5).sum()), int((f["rank"] == 4).sum()),
                      int(f["fixable"].sum())) if scanned else (None,) * 4
            rows.append((s.ids[k], unit, image, *counts))
    return sorted(rows, key=str)


def _na(v: Any) -> Any:
    return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) or (
        v is pd.NaT) else v


def _rows(df: pd.DataFrame, cols: Iterable[str]) -> list[tuple[Any, ...]]:
    return sorted((tuple(_na(v) if not isinstance(v, (np.integer,)) else int(v) for v in r)
                   for r in df[list(cols)].itertuples(index=False)), key=str)


# --- the tests ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def states(store: Path) -> States:
    return States(store)


def test_the_fixture_has_a_gap_a_leaver_and_a_comeback(states: States) -> None:
    assert len(states.ids) == 4
    assert states.present(2) == {image_id(1), image_id(3)} and states.scanned(2) == set()
    assert image_id(5) in states.present(0) and image_id(5) not in states.present(1)
    assert "CVE-2" in set(states.findings(3)["vuln_id"])


def test_counts_by_severity(store: Path, states: States) -> None:
    got = history.vulnerability_counts(store)
    assert len(got) == 4 * 6  # every severity of every snapshot, zeros included
    mine = got[got["vulnerabilities"] > 0]
    assert _rows(mine.astype({"severity": str}), ["snapshot_id", "severity", "vulnerabilities",
                                                  "fixable", "images"]) == _counts(states)
    # The disagreeing documents: CVE-6 once, at its highest severity, fixable.
    first = mine[mine["snapshot_id"] == states.ids[0]]
    first = first.set_index(first["severity"].astype(str))
    assert int(first.loc["high", "vulnerabilities"]) == 2  # CVE-1 and CVE-6
    assert int(first.loc["high", "fixable"]) == 1


def test_scan_coverage_a_gap_is_not_a_zero(store: Path, states: States) -> None:
    cov = history.scan_coverage(store)
    assert cov["images"].tolist() == [len(states.present(k)) for k in range(4)]
    assert cov["vuln_scanned"].tolist() == [len(states.scanned(k)) for k in range(4)]
    assert cov["vuln_scanned"].tolist()[2] == 0 and cov["images"].tolist()[2] == 2
    trends = trends_of(store)
    fig = t.vulnerability_trend(trends)
    assert fig is not None
    lines = [tr for tr in fig.data if tr.name in t.SEVERITY_ORDER]
    assert lines and all(tr.y[2] is None or np.isnan(tr.y[2]) for tr in lines)  # a gap
    assert all(tr.y[3] is not None and not np.isnan(tr.y[3]) for tr in lines)


def test_changes_between_each_pair(store: Path, states: States) -> None:
    for a in range(3):
        got = history.vulnerability_changes(store, states.ids[a], states.ids[a + 1])
        assert _rows(got.astype({"severity": str, "change": str}),
                     ["image_id", "vuln_id", "severity", "change"]) == _changes(states, a, a + 1)
    first = history.vulnerability_changes(store, states.ids[0], states.ids[1])
    assert set(zip(first["vuln_id"], first["change"].astype(str), strict=True)) == {
        ("CVE-2", "fixed"), ("CVE-5", "gone")}
    back = history.vulnerability_changes(store, states.ids[2], states.ids[3])
    assert ("CVE-2", "new") in set(zip(back["vuln_id"], back["change"].astype(str), strict=True))
    # The page's counts are the same changes, counted.
    counted = trends_of(store).changes
    want = pd.Series([(states.ids[a + 1], c, sev) for a in range(3)
                      for _, _, sev, c in _changes(states, a, a + 1)]).value_counts()
    assert {(r.snapshot, r.change, r.severity): r.vulnerabilities
            for r in counted.itertuples()} == dict(want.items())


def test_time_to_fix(store: Path, states: States) -> None:
    got = history.time_to_fix(store)
    cols = ["repository", "image_id", "vuln_id", "pkg_name", "severity", "first_seen_at",
            "first_fixable_at", "fixed_at", "fixed_in_image_id"]
    assert _rows(got.astype({"severity": str}), cols) == _time_to_fix(states)
    cve2 = got[got["vuln_id"] == "CVE-2"]
    assert len(cve2) == 1 and cve2["fixed_at"].iloc[0] == states.at[1]  # back later: one row
    summary = trends_of(store).fix_times.set_index("severity")
    ref = pd.DataFrame(_time_to_fix(states), columns=cols)
    for sev, g in ref.groupby("severity"):
        done = g[g["fixed_at"].notna()].astype({"fixed_at": "datetime64[ns, UTC]"})
        days = (done["fixed_at"] - done["first_seen_at"]).dt.total_seconds() / 86400
        assert summary.loc[sev, "fixed"] == len(done)
        assert summary.loc[sev, "still open"] == len(g) - len(done)
        if len(done):
            assert summary.loc[sev, "median days to fix"] == days.median()


def test_staleness_trend(store: Path, states: States) -> None:
    got = history.staleness_trend(store)
    got = got.assign(unit=got["repository"].astype(object).fillna(got["image_id"]))
    assert _rows(got, ["snapshot_id", "unit", "image_id", "vulnerabilities", "critical", "high",
                       "fixable"]) == _trend(states)
    gap = got[got["snapshot_id"] == states.ids[2]]
    assert len(gap) == 2 and gap["vulnerabilities"].isna().all()  # unknown, not zero


def test_a_history_in_memory_gives_the_same_trends(store: Path) -> None:
    a, b = trends_of(store), trends_of(history.read_history(store, history.NEEDED))
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(b, name), getattr(a, name), obj=name)


def test_one_snapshot_has_only_its_coverage(tmp_path: Path) -> None:
    fleet, s = tmp_path / "f", tmp_path / "s"
    write_doc(fleet / "a.json", trivy_doc(1, APP, None, [CVE3]))
    ingest(s, fleet, T1)
    tr = trends_of(s)
    assert tr.snapshot_count == 1
    assert tr.coverage[["images", "vuln_scanned"]].values.tolist() == [[1, 1]]
    assert tr.counts.empty and tr.changes.empty and tr.staleness.empty
    assert t.no_trend_text(tr).startswith("one snapshot only")
