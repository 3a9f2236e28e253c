"""History across snapshots: three snapshots of a small fleet, ingested incrementally from Trivy
documents, with vulnerabilities appearing, becoming fixable, and fixed by a rebuild."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from auditlib import history
from auditlib.errors import StoreError
from auditlib.fleet.coverage import coverage, image_ids
from auditlib.fleet.findings import FINDING_KEY as KEYS
from auditlib.fleet.findings import fixable_findings
from auditlib.ingest.incremental import commit_ingest, load_planned, plan_ingest
from auditlib.store import list_snapshots, read_current

Vuln = tuple[str, str, str, str, str | None]
"""vuln_id, package, installed version, severity, fixed version (None: not fixed)."""


def image_id(n: int) -> str:
    """Return a well-formed image id number `n`."""
    return f"sha256:{n:064x}"


def trivy_doc(image: int, tag: str | None, created: str | None, vulns: list[Vuln],
              repo_digest: str | None = None, with_id: bool = True) -> dict[str, Any]:
    """Return a Trivy JSON report of one image."""
    md: dict[str, Any] = {"RepoTags": [tag] if tag else []}
    if with_id:
        md["ImageID"] = image_id(image)
    if repo_digest:
        md["RepoDigests"] = [repo_digest]
    if created:
        md["ImageConfig"] = {"created": created, "os": "linux", "architecture": "amd64"}
    return {
        "SchemaVersion": 2,
        "ArtifactName": tag or image_id(image),
        "ArtifactType": "container_image",
        "Metadata": md,
        "Results": [{
            "Target": "image (debian 12)",
            "Class": "os-pkgs",
            "Type": "debian",
            "Vulnerabilities": [
                {"VulnerabilityID": v, "PkgName": pkg, "InstalledVersion": ver,
                 "Severity": sev.upper(), "Status": "fixed" if fix else "affected",
                 **({"FixedVersion": fix} if fix else {})}
                for v, pkg, ver, sev, fix in vulns
            ],
        }],
    }


def write_doc(path: Path, doc: dict[str, Any]) -> None:
    """Write a document (its mtime set a minute back, so the stat cache trusts it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    old = path.stat().st_mtime_ns - 60 * 10**9
    os.utime(path, ns=(old, old))


def ingest(store: Path, folder: Path, at: str) -> Path:
    """Ingest `folder` into `store` incrementally, as `auditlib ingest`, at time `at`."""
    plan = plan_ingest(store, [str(folder)])
    return commit_ingest(plan, load_planned(plan),
                         created_at=datetime.fromisoformat(at).replace(tzinfo=UTC))


APP, BASE = "registry.example/team/app:1.0", "docker.io/library/base:1"
T1, T2, T3 = "2026-01-01T00:00:00", "2026-01-11T00:00:00", "2026-02-10T00:00:00"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a store with three snapshots of a fleet folder.

    1. app (image 1, built 2025-12-20): CVE-1 in openssl 3.0.1, high, not fixed. base (image 9,
       built 2025-11-01): CVE-9 critical fixable, CVE-8 medium fixable. other (image 7, tagged
       other:1): clean; old (image 5): CVE-5 low. quiet (image 6): no change ever.
    2. app's scan again: CVE-1 now fixable (3.0.2), CVE-2 critical fixable appears.
    3. app rebuilt (image 2, built 2026-02-05, openssl 3.0.2): CVE-1 and CVE-2 gone. base
       rescanned: CVE-8 no longer reported. old.json deleted.
    """
    tmp_path = tmp_path_factory.mktemp("history")
    fleet, s = tmp_path / "fleet", tmp_path / "store"
    base = [("CVE-9", "zlib", "1.2", "critical", "1.3"), ("CVE-8", "bash", "5.1", "medium", "5.2")]
    write_doc(fleet / "app.json", trivy_doc(1, APP, "2025-12-20T00:00:00Z",
                                            [("CVE-1", "openssl", "3.0.1", "high", None)]))
    write_doc(fleet / "base.json", trivy_doc(9, BASE, "2025-11-01T00:00:00Z", base))
    write_doc(fleet / "other.json", trivy_doc(7, "docker.io/team/other:1", None, []))
    write_doc(fleet / "old.json", trivy_doc(5, None, None, [("CVE-5", "tar", "1", "low", None)]))
    write_doc(fleet / "sub" / "quiet.json", trivy_doc(6, "docker.io/team/quiet:2",
                                                      "2025-06-01T00:00:00Z", []))
    ingest(s, fleet, T1)
    write_doc(fleet / "app.json", trivy_doc(1, APP, "2025-12-20T00:00:00Z", [
        ("CVE-1", "openssl", "3.0.1", "high", "3.0.2"),
        ("CVE-2", "curl", "8.0", "critical", "8.1"),
    ]))
    ingest(s, fleet, T2)
    write_doc(fleet / "app.json", trivy_doc(2, APP, "2026-02-05T00:00:00Z", []))
    write_doc(fleet / "base.json", trivy_doc(9, BASE, "2025-11-01T00:00:00Z", base[:1]))
    (fleet / "old.json").unlink()
    ingest(s, fleet, T3)
    return s


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_the_fixture_carries_unchanged_files_and_removes_deleted_ones(store: Path) -> None:
    snaps = list_snapshots(store)
    manifests = [json.loads((p / "manifest.json").read_text()) for p in snaps]
    assert [len(m["files"]) for m in manifests] == [5, 1, 2]
    assert [len(m["carried"]) for m in manifests] == [0, 4, 2]
    assert manifests[2]["removed"] == [str(store.parent / "fleet" / "old.json")]
    assert image_id(5) not in set(read_current(store).scans["image_id"].astype(str))


def _tables(data: Any, names: list[str]) -> dict[str, pd.DataFrame]:
    return {n: getattr(data, n) for n in names}


def test_read_history_equals_read_current_at_each_snapshot(store: Path) -> None:
    h = history.read_history(store)
    snaps = list_snapshots(store)
    assert h["snapshots"]["snapshot_id"].tolist() == [p.name for p in snaps]
    assert h["snapshots"]["snapshot_at"].tolist() == [_ts(T1), _ts(T2), _ts(T3)]
    for p in snaps:
        current = read_current(store, as_of=p.name)
        for name, df in current.tables().items():
            got = h[name][h[name]["snapshot_id"] == p.name].drop(
                columns=["snapshot_id", "snapshot_at"]).reset_index(drop=True)
            pd.testing.assert_frame_equal(got.astype(object), df.astype(object), obj=name)
    at = h["vulnerabilities"].groupby("snapshot_id", observed=False).size().tolist()
    assert at == [4, 5, 1]  # CVE-1, 9, 8, 5; then CVE-2 too; then CVE-9 only


def test_read_history_of_some_tables_and_errors(store: Path, tmp_path: Path) -> None:
    h = history.read_history(store, ["vulnerabilities"])
    assert set(h) == {"vulnerabilities", "snapshots"}
    assert list(h["vulnerabilities"].columns[:2]) == ["snapshot_id", "snapshot_at"]
    with pytest.raises(KeyError, match="no such table"):
        history.read_history(store, ["nope"])
    with pytest.raises(StoreError, match="no snapshot"):
        history.read_history(tmp_path / "empty")
    with pytest.raises(ValueError, match="lacks"):
        history.time_to_fix(h)


def test_vulnerability_counts_per_snapshot(store: Path) -> None:
    c = history.vulnerability_counts(store)
    assert len(c) == 3 * 6 and c["severity"].iloc[0] == "critical"
    got = {(i, str(s)): (v, f, n) for i, s, v, f, n in zip(
        c["snapshot_id"], c["severity"], c["vulnerabilities"], c["fixable"], c["images"],
        strict=True) if v}
    s1, s2, s3 = (p.name for p in list_snapshots(store))
    assert got == {
        (s1, "critical"): (1, 1, 1), (s1, "high"): (1, 0, 1), (s1, "medium"): (1, 1, 1),
        (s1, "low"): (1, 0, 1),
        (s2, "critical"): (2, 2, 2), (s2, "high"): (1, 1, 1), (s2, "medium"): (1, 1, 1),
        (s2, "low"): (1, 0, 1),
        (s3, "critical"): (1, 1, 1),
    }
    assert c.loc[c["snapshot_id"] == s3, "snapshot_at"].iloc[0] == _ts(T3)


def test_vulnerability_changes_between_snapshots(store: Path) -> None:
    s1, s2, s3 = (p.name for p in list_snapshots(store))
    first = history.vulnerability_changes(store, s1, s2)
    assert first[["image_id", "vuln_id", "severity", "change"]].astype(str).values.tolist() == [
        [image_id(1), "CVE-2", "critical", "new"]]
    assert first.attrs == {"older": s1, "newer": s2}
    last = history.vulnerability_changes(store)  # the last two
    rows = last[["image_id", "vuln_id", "change", "repository"]].astype(object).fillna(
        "-").astype(str).values.tolist()
    assert rows == [
        [image_id(9), "CVE-8", "fixed", "docker.io/library/base"],  # same image, no longer has it
        [image_id(1), "CVE-2", "gone", "registry.example/team/app"],  # image 1 replaced
        [image_id(1), "CVE-1", "gone", "registry.example/team/app"],
        [image_id(5), "CVE-5", "gone", "-"],  # its file deleted
    ]
    from_history = history.vulnerability_changes(history.read_history(store))
    pd.testing.assert_frame_equal(from_history.astype(str), last.astype(str))
    with pytest.raises(ValueError, match="not older"):
        history.vulnerability_changes(store, s3, s2)
    with pytest.raises(ValueError, match="no such snapshot"):
        history.vulnerability_changes(store, "nope")


def test_vulnerability_changes_needs_two_snapshots(tmp_path: Path) -> None:
    write_doc(tmp_path / "f" / "a.json", trivy_doc(1, APP, None, []))
    ingest(tmp_path / "s", tmp_path / "f", T1)
    with pytest.raises(StoreError, match="two snapshots"):
        history.vulnerability_changes(tmp_path / "s")


def test_time_to_fix_in_days(store: Path) -> None:
    t = history.time_to_fix(store)
    rows = {r.vuln_id: r for r in t.itertuples()}
    assert set(rows) == {"CVE-1", "CVE-2", "CVE-5", "CVE-8", "CVE-9"}
    one = rows["CVE-1"]
    assert (one.repository, one.image_id, str(one.severity)) == (
        "registry.example/team/app", image_id(1), "high")
    assert (one.first_seen_at, one.first_fixable_at, one.fixed_at) == (_ts(T1), _ts(T2), _ts(T3))
    assert one.fixed_in_image_id == image_id(2) and one.days_to_fix == 40
    two = rows["CVE-2"]
    assert (two.first_seen_at, two.first_fixable_at, two.days_to_fix) == (_ts(T2), _ts(T2), 30)
    eight = rows["CVE-8"]  # the same image no longer has it
    assert eight.fixed_in_image_id == image_id(9) and eight.days_to_fix == 40
    nine = rows["CVE-9"]  # still there
    assert nine.first_fixable_at == _ts(T1) and pd.isna(nine.fixed_at)
    assert pd.isna(nine.days_to_fix)
    five = rows["CVE-5"]  # its image left the fleet: gone, never fixed
    assert pd.isna(five.repository) and pd.isna(five.fixed_at)


def test_first_seen_fixed_is_what_the_sla_rule_accepts(store: Path) -> None:
    f = history.first_seen_fixed(store)
    assert list(f.columns) == [*KEYS, "first_seen_fixed_at", "fix_seen_appearing"]
    got = {(i, v): (t, a) for i, v, t, a in zip(f["image_id"], f["vuln_id"],
                                                f["first_seen_fixed_at"], f["fix_seen_appearing"],
                                                strict=True)}
    # CVE-1 was seen not fixable at T1, then fixable at T2: the fix was seen appearing. The
    # others were fixable the first time they were seen: the first sight is only a bound.
    assert got == {(image_id(1), "CVE-1"): (_ts(T2), True),
                   (image_id(1), "CVE-2"): (_ts(T2), False),
                   (image_id(9), "CVE-9"): (_ts(T1), False),
                   (image_id(9), "CVE-8"): (_ts(T1), False)}
    # The rule's seam: the clock of CVE-1 (no fix date, no publication date) is the history's.
    s2 = list_snapshots(store)[1].name
    found = fixable_findings(read_current(store, as_of=s2), _ts("2026-01-21T00:00:00"), f).rows()
    one = found[found["vuln_id"] == "CVE-1"].iloc[0]
    assert (one["clock"], one["clock_at"], one["days"]) == ("seen", _ts(T2), 10)
    # CVE-2 has no date of its own either: at least since the first snapshot that saw it.
    two = found[found["vuln_id"] == "CVE-2"].iloc[0]
    assert (two["clock"], two["clock_at"], two["days"]) == ("first-seen", _ts(T2), 10)


def test_first_seen_fixed_keeps_the_clock_across_a_rebuild(tmp_path: Path) -> None:
    fleet, s = tmp_path / "f", tmp_path / "s"
    vuln = [("CVE-3", "zlib", "1.2", "high", "1.3")]
    write_doc(fleet / "a.json", trivy_doc(1, APP, None, vuln))
    ingest(s, fleet, T1)
    write_doc(fleet / "a.json", trivy_doc(2, APP, None, vuln))  # rebuilt, still vulnerable
    ingest(s, fleet, T2)
    f = history.first_seen_fixed(s)
    assert f["first_seen_fixed_at"].tolist() == [_ts(T1), _ts(T1)]
    assert f["image_id"].tolist() == [image_id(1), image_id(2)]


def test_never_rebuilt(store: Path) -> None:
    n = history.never_rebuilt(store, min_days=30)
    assert n["repository"].tolist() == ["docker.io/library/base", "docker.io/team/other",
                                        "docker.io/team/quiet"]
    base = n.iloc[0]
    assert base["image_id"] == image_id(9) and base["snapshots"] == 3
    assert base["span_days"] == 40 and base["age_days"] == 101  # 2025-11-01 -> 2026-02-10
    assert pd.isna(n.iloc[1]["age_days"])  # other: build time unknown
    assert history.never_rebuilt(store, min_days=41).empty
    every = history.never_rebuilt(store, min_days=0)
    app = every[every["repository"] == "registry.example/team/app"].iloc[0]
    assert app["image_id"] == image_id(2) and app["span_days"] == 0


def test_staleness_trend_per_snapshot_and_repository(store: Path) -> None:
    t = history.staleness_trend(store)
    app = t[t["repository"] == "registry.example/team/app"]
    assert app["image_id"].tolist() == [image_id(1), image_id(1), image_id(2)]
    assert app["age_days"].tolist() == [12, 22, 5]
    assert app["critical"].tolist() == [0, 1, 0]
    assert app["high"].tolist() == [1, 1, 0]
    assert app["fixable"].tolist() == [0, 2, 0]
    assert app["vulnerabilities"].tolist() == [1, 2, 0]
    old = t[t["image_id"] == image_id(5)]
    assert len(old) == 2 and old["repository"].isna().all()  # deleted before snapshot 3
    assert len(t[t["repository"] == "docker.io/library/base"]) == 3


def test_analyses_accept_a_history_read_once(store: Path) -> None:
    h = history.read_history(store, history.NEEDED)
    pd.testing.assert_frame_equal(history.time_to_fix(h), history.time_to_fix(store))
    pd.testing.assert_frame_equal(history.staleness_trend(h), history.staleness_trend(store))
    pd.testing.assert_frame_equal(history.vulnerability_counts(h),
                                  history.vulnerability_counts(store))


def test_scan_coverage_per_snapshot(store: Path) -> None:
    """Images present and vulnerability-scanned in each state: what a count of vulnerabilities
    at a snapshot is a count over (the newest agrees with the assessment's coverage)."""
    cov = history.scan_coverage(store)
    assert cov["images"].tolist() == [5, 5, 4]  # old.json deleted; app rebuilt as image 2
    assert cov["vuln_scanned"].tolist() == [5, 5, 4]
    assert cov["not_scanned"].tolist() == [0, 0, 0]
    now = read_current(store)
    assert cov["vuln_scanned"].iloc[-1] == coverage(now, sorted(image_ids(now))).vuln_scanned
    pd.testing.assert_frame_equal(cov, history.scan_coverage(history.read_history(store)))
