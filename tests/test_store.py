"""The store: atomic snapshots, latest wins, half-written snapshots are never read."""

from __future__ import annotations

from pathlib import Path

import pytest

import auditlib
from auditlib.errors import StoreError
from auditlib.store import (
    list_snapshots,
    read_current,
    read_latest,
    read_snapshot,
    write_snapshot,
)
from tests.samples import TRIVY


def test_round_trip_keeps_dtypes(tmp_path: Path, write_json) -> None:  # type: ignore[no-untyped-def]
    import json

    data = auditlib.load(write_json("t.json", json.dumps(TRIVY)))
    write_snapshot(tmp_path / "s", data, sources=["t.json"])
    back = read_latest(tmp_path / "s")
    for name, df in data.tables().items():
        got = getattr(back, name)
        assert list(got.columns) == list(df.columns), name
        assert got.dtypes.astype(str).tolist() == df.dtypes.astype(str).tolist(), name
        assert len(got) == len(df)


def test_half_written_snapshot_is_not_listed(tmp_path: Path) -> None:
    store = tmp_path / "s"
    (store / "snapshots" / ".tmp-20260101T000000000000Z-abcdef").mkdir(parents=True)
    assert list_snapshots(store) == []
    with pytest.raises(StoreError, match="no snapshot"):
        read_latest(store)
    # A snapshot folder is renamed into place complete: one without a manifest is damaged.
    (store / "snapshots" / "20260101T000000000000Z-abcdef").mkdir()
    with pytest.raises(StoreError, match="snapshot 20260101T000000000000Z-abcdef: has no manifest"):
        list_snapshots(store)


def test_read_current_adds_up_snapshots_and_replaces_re_read_sources(tmp_path: Path) -> None:
    from auditlib.data import FileResult
    from auditlib.store import read_current
    from tests.policy.builders import image_id, make_data

    store = tmp_path / "s"

    def snap(source: str, image: int) -> None:
        data = make_data(images=[{"image_id": image_id(image), "source": source}])
        data.files = [FileResult(source, "test")]
        write_snapshot(store, data, sources=[source])

    snap("engine", 1)
    snap("registry", 2)
    snap("engine", 3)  # the engine again: image 1 is gone from it
    current = read_current(store)
    assert sorted(current.images["source"].astype(str)) == ["engine", "registry"]
    assert set(current.images["image_id"]) == {image_id(2), image_id(3)}


# --- robustness: ids, locking, crashed writes, manifests -----------------------------------------

def _small(write_json) -> auditlib.AuditData:  # type: ignore[no-untyped-def]
    import json

    return auditlib.load(write_json("t.json", json.dumps(TRIVY)))


def test_ids_are_unique_and_ordered_within_one_microsecond_and_when_the_clock_goes_back(
    tmp_path: Path, write_json  # type: ignore[no-untyped-def]
) -> None:
    from datetime import UTC, datetime

    data = _small(write_json)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    written = [write_snapshot(tmp_path / "s", data, sources=["t"], created_at=at).name
               for _ in range(5)]
    written.append(write_snapshot(tmp_path / "s", data, sources=["t"],
                                  created_at=datetime(2020, 1, 1, tzinfo=UTC)).name)
    assert len(set(written)) == 6
    assert written == sorted(written) == [p.name for p in list_snapshots(tmp_path / "s")]
    assert written[0].startswith("20260301T000000000000Z-")
    assert written[1].startswith("20260301T000000000001Z-")


_WRITER = """
import sys
import auditlib
from auditlib.store import write_snapshot
data = auditlib.load(sys.argv[2])
for _ in range(int(sys.argv[3])):
    write_snapshot(sys.argv[1], data, sources=[sys.argv[2]])
"""


def _writer(store: Path, doc: Path, n: int):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(store), str(doc), str(n)],
                            cwd=repo, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow  # processes racing for the lock
def test_runs_at_once_do_not_corrupt_the_store(tmp_path: Path,
                                               write_json) -> None:  # type: ignore[no-untyped-def]
    import json

    from auditlib.store import snapshot_infos

    doc = write_json("t.json", json.dumps(TRIVY))
    store = tmp_path / "s"
    procs = [_writer(store, doc, 5) for _ in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    infos = snapshot_infos(store)
    assert len(infos) == 20 and len({i.snapshot_id for i in infos}) == 20
    assert not [p for p in (store / "snapshots").iterdir() if p.name.startswith(".")]
    for info in infos:
        assert len(read_snapshot(info.path).vulnerabilities) == 1
    current = read_current(store)  # one source, read 20 times: the newest wins
    assert len(current.vulnerabilities) == 1


@pytest.mark.slow  # a writer process
def test_a_writer_does_not_wait_for_the_stat_cache_lock(
        tmp_path: Path, write_json) -> None:  # type: ignore[no-untyped-def]
    import json

    from auditlib.store import store_lock

    doc = write_json("t.json", json.dumps(TRIVY))
    store = tmp_path / "s"
    with store_lock(store):  # held by another run: snapshots are written without it
        proc = _writer(store, doc, 1)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert len(list_snapshots(store)) == 1


def test_crashed_temporary_folders_are_cleaned_after_an_hour(
    tmp_path: Path, write_json  # type: ignore[no-untyped-def]
) -> None:
    import os
    import time

    store = tmp_path / "s"
    old = store / "snapshots" / ".tmp-20260101T000000000000Z-aaaaaa"
    recent = store / "snapshots" / ".tmp-20260101T000000000001Z-bbbbbb"
    for p in (old, recent):
        p.mkdir(parents=True)
        (p / "scans.parquet").write_bytes(b"half")
    hours_ago = time.time() - 7200
    os.utime(old, (hours_ago, hours_ago))
    snap = write_snapshot(store, _small(write_json), sources=["t"])
    assert not old.exists() and recent.exists()
    assert snap.name > recent.name.removeprefix(".tmp-")  # later than any folder, even unfinished
    assert list_snapshots(store) == [snap]


def test_folders_without_a_complete_manifest_are_damaged_never_skipped(
        tmp_path: Path, write_json, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "s"
    snap = write_snapshot(store, _small(write_json), sources=["t"])
    truncated = store / "snapshots" / "20990101T000000000000Z-cccccc"
    truncated.mkdir()
    (truncated / "manifest.json").write_text('{"snapshot_id": "2099')
    not_object = store / "snapshots" / "20990101T000000000001Z-dddddd"
    not_object.mkdir()
    (not_object / "manifest.json").write_text("[]")
    with pytest.raises(StoreError) as e:
        read_current(store)
    assert "snapshot 20990101T000000000000Z-cccccc: manifest.json is not valid JSON (cut " \
        "short)" in str(e.value)
    assert ("snapshot 20990101T000000000001Z-dddddd: manifest.json: Expected `object`"
            in str(e.value))
    monkeypatch.setenv("AUDITLIB_ALLOW_DAMAGED", "1")
    assert list_snapshots(store) == [snap]
    assert len(read_current(store).vulnerabilities) == 1


def test_a_missing_snapshot_holding_carried_rows_is_an_error(tmp_path: Path) -> None:
    import json
    import shutil

    from auditlib.ingest.incremental import commit_ingest, load_planned, plan_ingest
    from tests.test_history import write_doc

    fleet, store = tmp_path / "f", tmp_path / "s"
    write_doc(fleet / "a.json", TRIVY)
    for _ in range(2):
        plan = plan_ingest(store, [str(fleet)])
        commit_ingest(plan, load_planned(plan))
    first, second = list_snapshots(store)
    assert json.loads((second / "manifest.json").read_text())["carried"]
    shutil.rmtree(first)
    with pytest.raises(StoreError, match="missing"):
        read_current(store)
    with pytest.raises(StoreError, match="missing"):
        read_latest(store)


def test_read_current_as_of_a_snapshot_and_some_tables(tmp_path: Path) -> None:
    from auditlib.data import FileResult
    from tests.policy.builders import image_id, make_data

    store = tmp_path / "s"
    snaps = []
    for n in (1, 2):
        data = make_data(images=[{"image_id": image_id(n), "source": "engine"}])
        data.files = [FileResult("engine", "test")]
        snaps.append(write_snapshot(store, data, sources=["engine"]))
    first = read_current(store, as_of=snaps[0].name, tables=["images"])
    assert first.images["image_id"].tolist() == [image_id(1)]
    assert first.scans.empty
    assert read_current(store, as_of=snaps[1]).images["image_id"].tolist() == [image_id(2)]
    with pytest.raises(StoreError, match="no snapshot 'nope'"):
        read_current(store, as_of="nope")


# --- DuckDB reads the store as it is ------------------------------------------------------------

def test_duckdb_reads_the_store_as_it_is(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    from auditlib.ingest.incremental import commit_ingest, load_planned, plan_ingest
    from tests.test_history import trivy_doc, write_doc

    fleet, store = tmp_path / "f", tmp_path / "s"
    for i in range(3):
        write_doc(fleet / f"{i}.json", trivy_doc(i + 1, f"docker.io/team/app{i}:1",
                                                 "2025-01-01T00:00:00Z",
                                                 [(f"CVE-{i}", "zlib", "1.2", "high", "1.3")]))
    for _ in range(2):  # the second run carries all three files over
        plan = plan_ingest(store, [str(fleet)])
        commit_ingest(plan, load_planned(plan))
    write_doc(fleet / "0.json", trivy_doc(1, "docker.io/team/app0:1", "2025-01-01T00:00:00Z",
                                          [("CVE-0", "zlib", "1.2", "high", "1.3"),
                                           ("CVE-9", "bash", "5.1", "low", None)]))
    plan = plan_ingest(store, [str(fleet)])
    commit_ingest(plan, load_planned(plan))
    newest = list_snapshots(store)[-1]
    glob = f"{store}/snapshots/*/"
    con = duckdb.connect()
    # Every snapshot's rows, as written, joined to the images they name.
    rows = con.execute(f"""
        SELECT count(*), count(DISTINCT v.vuln_id)
        FROM read_parquet('{glob}vulnerabilities.parquet', union_by_name=true) v
        JOIN read_parquet('{glob}images.parquet', union_by_name=true) i
          ON v.image_id = i.image_id AND v.scan_id = i.scan_id
    """).fetchone()
    assert rows == (5, 4)  # 3 from the first run, 2 from the third (0.json again)
    con.close()
    # The current state: `current_table_files` names the files and, in each, the current sources.
    import pandas as pd

    from auditlib.store import current_table_files

    files = current_table_files(store, "vulnerabilities")
    state = pd.DataFrame([(f.path, s, f.snapshot_id) for f in files for s in sorted(f.sources)],
                         columns=["filename", "source", "snapshot_id"])
    con = duckdb.connect()
    con.register("state", state)
    paths = [f.path for f in files]
    current = con.execute("""
        SELECT v.source, v.vuln_id, s.snapshot_id
        FROM read_parquet(?, filename=true, union_by_name=true) v
        JOIN state s ON v.source = s.source AND v.filename = s.filename
        ORDER BY v.vuln_id
    """, [paths]).fetchall()
    expected = read_current(store).vulnerabilities
    assert [r[1] for r in current] == sorted(expected["vuln_id"].astype(str))
    assert {r[2] for r in current} == {list_snapshots(store)[0].name, newest.name}


def test_read_current_joins_a_digest_only_sbom_to_an_image_of_another_snapshot(
    tmp_path: Path,
) -> None:
    from auditlib.data import FileResult
    from auditlib.store import read_current
    from tests.policy.builders import image_id, make_data

    store, digest = tmp_path / "s", "sha256:" + "d" * 64
    engine = make_data(images=[{"image_id": image_id(1), "repo_digest": digest,
                                "source": "engine"}])
    engine.files = [FileResult("engine", "docker-engine")]
    write_snapshot(store, engine, sources=["engine"])
    sbom = make_data(
        scans=[{"scan_id": "sha256:sbom", "repo_digest": digest, "source": "sbom.cdx.json"}],
        packages=[{"scan_id": "sha256:sbom", "package_id": "p", "name": "zlib",
                   "source": "sbom.cdx.json"}],
    )
    sbom.files = [FileResult("sbom.cdx.json", "cyclonedx-json")]
    write_snapshot(store, sbom, sources=["sbom.cdx.json"])
    current = read_current(store)
    assert current.packages["image_id"].astype(str).tolist() == [image_id(1)]


def test_current_files_of_an_older_manifest_list_only_the_files_it_has(
    tmp_path: Path, write_json  # type: ignore[no-untyped-def]
) -> None:
    """A manifest written before row counts were recorded names no counts: a table file the
    older auditlib did not write (a table added since) is not listed for the engine to read."""
    import json

    from auditlib.store import current_files

    store = tmp_path / "s"
    write_snapshot(store, auditlib.load(write_json("t.json", json.dumps(TRIVY))),
                   sources=["t.json"])
    snap = list_snapshots(store)[0]
    manifest = json.loads((snap / "manifest.json").read_text())
    manifest.pop("rows")
    for f in manifest["files"]:
        f.pop("rows", None)
    (snap / "manifest.json").write_text(json.dumps(manifest))
    (snap / "dockerfile_copies.parquet").unlink()
    got = current_files(store, ["dockerfile_copies", "vulnerabilities"])
    assert got["dockerfile_copies"] == []
    assert [f.snapshot_id for f in got["vulnerabilities"]] == [snap.name]
