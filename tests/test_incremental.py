"""Incremental ingest: unchanged files are skipped by content hash (a stat cache saves hashing),
their rows carried over, and the current state is what a full ingest gives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from auditlib.cli import main
from auditlib.data import AuditData
from auditlib.ingest import incremental
from auditlib.ingest.incremental import commit_ingest, load_planned, plan_ingest, read_stat_cache
from auditlib.store import list_snapshots, read_current, read_latest, read_snapshot
from tests.test_history import APP, image_id, trivy_doc, write_doc


def _fleet(root: Path, n: int = 4) -> Path:
    for i in range(n):
        write_doc(root / f"img{i}.json", trivy_doc(
            i + 1, f"docker.io/team/app{i}:1", "2025-01-01T00:00:00Z",
            [(f"CVE-{i}", "zlib", "1.2", "high", "1.3")]))
    (root / "notes.md").write_text("# not JSON")
    return root


def _ingest(store: Path, *paths: Path, full: bool = False) -> tuple[incremental.IngestPlan,
                                                                     AuditData]:
    plan = plan_ingest(store, [str(p) for p in paths], full=full)
    data = load_planned(plan)
    commit_ingest(plan, data)
    return plan, data


def _same(a: AuditData, b: AuditData, ignore: tuple[str, ...] = ("collected_at",)) -> None:
    """Assert two states hold the same rows (order and read times aside)."""
    for name, df in a.tables().items():
        other = getattr(b, name)
        cols = [c for c in df.columns if c not in ignore]
        left = df[cols].astype(str).sort_values(cols).reset_index(drop=True)
        right = other[cols].astype(str).sort_values(cols).reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right, obj=name)


def test_second_ingest_of_unchanged_files_reads_nothing(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    fleet, store = _fleet(tmp_path / "f"), tmp_path / "s"
    _ingest(store, fleet)
    first = read_current(store)

    def no_read(*_a: object, **_k: object) -> None:
        raise AssertionError("an unchanged file was opened")

    monkeypatch.setattr(incremental, "hash_file", no_read)
    monkeypatch.setattr("auditlib.ingest.reader.read_file", no_read)
    plan, data = _ingest(store, fleet)
    assert (plan.cache_hits, plan.hashed, len(plan.unchanged)) == (4, 0, 4)
    assert plan.to_parse == [str(fleet / "notes.md")]  # listed as skipped again, never read
    assert len(data.scans) == 0
    second = read_current(store)
    for name, df in first.tables().items():  # exactly the same rows, read times included
        if name != "load_errors":  # notes.md is listed as skipped again, with this run's time
            pd.testing.assert_frame_equal(getattr(second, name).astype(object), df.astype(object))
    _same(first, second)
    manifest = json.loads((list_snapshots(store)[-1] / "manifest.json").read_text())
    assert [c["path"] for c in manifest["carried"]] == [str(fleet / f"img{i}.json")
                                                        for i in range(4)]
    assert {c["snapshot_id"] for c in manifest["carried"]} == {list_snapshots(store)[0].name}
    # The newest snapshot reads as complete; its own Parquet files hold none of it.
    assert len(read_latest(store).vulnerabilities) == 4
    assert len(read_snapshot(list_snapshots(store)[-1], carried=False).vulnerabilities) == 0


def test_touched_file_is_hashed_not_parsed_and_changed_file_is_parsed(tmp_path: Path) -> None:
    fleet, store = _fleet(tmp_path / "f"), tmp_path / "s"
    _ingest(store, fleet)
    touched, changed = fleet / "img1.json", fleet / "img2.json"
    t = touched.stat().st_mtime_ns + 10**9
    os.utime(touched, ns=(t, t))
    doc = trivy_doc(3, "docker.io/team/app2:1", "2025-01-01T00:00:00Z",
                    [("CVE-2", "zlib", "1.2", "high", "1.3"), ("CVE-X", "bash", "5", "low", None)])
    write_doc(changed, doc)
    plan, data = _ingest(store, fleet)
    assert plan.hashed == 1 and plan.cache_hits == 2  # the changed one is of another size
    assert sorted(plan.unchanged) == [str(fleet / f"img{i}.json") for i in (0, 1, 3)]
    assert plan.to_parse == [str(changed), str(fleet / "notes.md")]
    assert data.scans["source"].astype(str).tolist() == [str(changed)]
    full = tmp_path / "full"
    _ingest(full, fleet, full=True)
    _same(read_current(store), read_current(full))
    assert sorted(read_current(store).vulnerabilities["vuln_id"].astype(str)) == [
        "CVE-0", "CVE-1", "CVE-2", "CVE-3", "CVE-X"]
    # The stat cache now trusts the touched file again.
    plan, _ = _ingest(store, fleet)
    assert plan.hashed == 0 and len(plan.unchanged) == 4


def test_same_size_other_bytes_is_hashed_and_read(tmp_path: Path) -> None:
    fleet, store = _fleet(tmp_path / "f", 2), tmp_path / "s"
    _ingest(store, fleet)
    f = fleet / "img0.json"
    size = f.stat().st_size
    f.write_text(f.read_text().replace("CVE-0", "CVE-7"))
    assert f.stat().st_size == size
    plan, data = _ingest(store, fleet)
    assert plan.hashed == 1 and plan.to_parse[0] == str(f)
    assert sorted(read_current(store).vulnerabilities["vuln_id"].astype(str)) == ["CVE-1",
                                                                                  "CVE-7"]


def test_a_file_of_another_size_is_not_even_hashed(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    fleet, store = _fleet(tmp_path / "f", 2), tmp_path / "s"
    _ingest(store, fleet)
    write_doc(fleet / "img0.json", trivy_doc(1, "docker.io/team/app0:1", None, []))
    monkeypatch.setattr(incremental, "hash_file", lambda _p: pytest.fail("hashed"))
    plan = plan_ingest(store, [str(fleet)])
    assert plan.to_parse == [str(fleet / "img0.json"), str(fleet / "notes.md")]


def test_a_file_deleted_from_a_folder_leaves_the_current_state(tmp_path: Path) -> None:
    fleet, store = _fleet(tmp_path / "f"), tmp_path / "s"
    other = _fleet(tmp_path / "other", 1)
    _ingest(store, fleet)
    _ingest(store, other)
    (fleet / "img3.json").unlink()
    plan, _ = _ingest(store, fleet)
    assert plan.removed == [str(fleet / "img3.json")]
    current = read_current(store)
    assert image_id(4) not in set(current.scans["image_id"].astype(str))
    assert str(other / "img0.json") in set(current.scans["source"].astype(str))  # untouched
    full = tmp_path / "full"
    _ingest(full, fleet, full=True)
    _ingest(full, other, full=True)
    _same(current, read_current(full))
    assert str(fleet / "img3.json") not in set(read_stat_cache(store))


def test_a_missing_folder_removes_nothing(tmp_path: Path) -> None:
    fleet, store = _fleet(tmp_path / "f", 2), tmp_path / "s"
    _ingest(store, fleet)
    fleet.rename(tmp_path / "moved")
    plan = plan_ingest(store, [str(fleet)])
    assert plan.removed == []


def test_files_given_one_by_one_are_never_removed_by_a_folder(tmp_path: Path) -> None:
    fleet, store = _fleet(tmp_path / "f", 2), tmp_path / "s"
    lone = tmp_path / "f" / "sub" / "lone.json"
    write_doc(lone, trivy_doc(9, "docker.io/team/lone:1", None, []))
    _ingest(store, lone)
    lone.unlink()
    plan, _ = _ingest(store, fleet)
    assert plan.removed == []


def test_another_auditlib_version_reads_again(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fleet, store = _fleet(tmp_path / "f", 2), tmp_path / "s"
    _ingest(store, fleet)
    with monkeypatch.context() as m:
        m.setattr(incremental, "__version__", "99.0")
        plan = plan_ingest(store, [str(fleet)])
        assert plan.unchanged == {} and len(plan.to_parse) == 3
    with monkeypatch.context() as m:
        m.setattr(incremental, "schema_fingerprint", lambda: "another table schema")
        assert plan_ingest(store, [str(fleet)]).unchanged == {}
    assert len(plan_ingest(store, [str(fleet)]).unchanged) == 2


def test_full_reads_everything(tmp_path: Path) -> None:
    fleet, store = _fleet(tmp_path / "f", 2), tmp_path / "s"
    _ingest(store, fleet)
    plan, data = _ingest(store, fleet, full=True)
    assert plan.unchanged == {} and len(data.scans) == 2


def test_racy_cache_entries_are_hashed_again(tmp_path: Path) -> None:
    fleet, store = tmp_path / "f", tmp_path / "s"
    fleet.mkdir()
    (fleet / "a.json").write_text(json.dumps(trivy_doc(1, APP, None, [])))  # mtime: now
    _ingest(store, fleet)
    plan = plan_ingest(store, [str(fleet)])
    assert plan.cache_hits == 0 and plan.hashed == 1 and len(plan.unchanged) == 1


def test_image_ids_resolve_against_carried_documents(tmp_path: Path) -> None:
    digest = "docker.io/team/app@sha256:" + "d" * 64
    fleet, store = tmp_path / "f", tmp_path / "s"
    # A report that knows the image only by its repo digest, alone first.
    write_doc(fleet / "b.json", trivy_doc(2, None, None, [("CVE-B", "x", "1", "low", None)],
                                          repo_digest=digest, with_id=False))
    _ingest(store, fleet)
    assert read_current(store).vulnerabilities["image_id"].isna().all()
    # A report naming both arrives: the carried one is read again and resolved.
    write_doc(fleet / "a.json", trivy_doc(2, "docker.io/team/app:1", None, [],
                                          repo_digest=digest))
    plan, data = _ingest(store, fleet)
    assert sorted(f.path for f in data.files) == [str(fleet / "a.json"), str(fleet / "b.json")]
    assert read_current(store).vulnerabilities["image_id"].astype(str).tolist() == [image_id(2)]
    # Now the digest-only report changes: it is resolved by the carried one.
    write_doc(fleet / "b.json", trivy_doc(2, None, None, [("CVE-C", "x", "1", "low", None)],
                                          repo_digest=digest, with_id=False))
    plan, data = _ingest(store, fleet)
    assert list(plan.unchanged) == [str(fleet / "a.json")]
    assert data.vulnerabilities["image_id"].astype(str).tolist() == [image_id(2)]
    full = tmp_path / "full"
    _ingest(full, fleet, full=True)
    _same(read_current(store), read_current(full))


def test_cli_ingest_prints_the_files_skipped(tmp_path: Path) -> None:
    fleet, store = _fleet(tmp_path / "f", 3), tmp_path / "s"
    args = ["ingest", str(fleet), "--store", str(store), "--quiet"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "0 files skipped as unchanged" in first.output
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0, second.output
    assert "0 files read, 0 failed, 1 skipped (not JSON)" in second.output
    assert "3 files skipped as unchanged (already in the store), 0 gone" in second.output
    again = CliRunner().invoke(main, [*args, "--full"])
    assert "3 files read" in again.output and "0 files skipped as unchanged" in again.output
    assert len(read_current(store).scans) == 3


def test_an_unreadable_cache_is_only_a_cache(tmp_path: Path) -> None:
    fleet, store = _fleet(tmp_path / "f", 2), tmp_path / "s"
    _ingest(store, fleet)
    (store / "cache" / "files.parquet").write_text("garbage")
    assert read_stat_cache(store) == {}
    plan, _ = _ingest(store, fleet)
    assert plan.hashed == 2 and len(plan.unchanged) == 2
    assert len(read_stat_cache(store)) == 2
