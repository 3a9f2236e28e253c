"""Many writers, one store: snapshots written at once without a lock, on any pyarrow filesystem."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from auditlib.data import AuditData, FileResult
from auditlib.store import (
    Location,
    current_table_files,
    read_current,
    scan_store,
    write_snapshot,
)
from tests.policy.builders import image_id, make_data

ROUNDS = 2
WRITERS = 8


def host_data(host: int, round_: int) -> AuditData:
    """Return what collector `host` read in its run `round_`: one image, its own source."""
    source = f"engine-{host}"
    data = make_data(
        scans=[{"scan_id": f"sha256:{host}-{round_}", "source": source}],
        images=[{"image_id": image_id(100 * host + round_), "source": source,
                 "scan_id": f"sha256:{host}-{round_}"}],
    )
    data.files = [FileResult(source, "docker-engine")]
    return data


_WRITER = """
import sys
from auditlib.store import write_snapshot
from tests.test_store_concurrent import ROUNDS, host_data
store, host = sys.argv[1], int(sys.argv[2])
for r in range(ROUNDS):
    write_snapshot(store, host_data(host, r), sources=[f"engine-{host}"])
"""


def _check(store: Path | Location | str, rounds: int = ROUNDS) -> None:
    """Every snapshot is there, and the current state is each host's last run."""
    scan = scan_store(store)
    assert not scan.damaged
    ids = [s.snapshot_id for s in scan.snapshots]
    assert len(ids) == WRITERS * rounds == len(set(ids))
    by_host: dict[str, int] = {}
    for s in scan.snapshots:
        (source,) = s.sources
        by_host[source] = by_host.get(source, 0) + 1
    assert by_host == {f"engine-{h}": rounds for h in range(WRITERS)}
    images = read_current(store, tables=["images"]).images
    assert sorted(images["image_id"].astype(str)) == sorted(
        image_id(100 * h + rounds - 1) for h in range(WRITERS))
    files = current_table_files(store, "images")
    assert sorted(s for f in files for s in f.sources) == sorted(
        f"engine-{h}" for h in range(WRITERS))


@pytest.mark.slow  # eight processes
def test_eight_writer_processes_into_one_store(tmp_path: Path) -> None:
    store = tmp_path / "s"
    repo = Path(__file__).resolve().parents[1]
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(store), str(h)], cwd=repo,
                              stderr=subprocess.PIPE, text=True) for h in range(WRITERS)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert not [p for p in (store / "snapshots").iterdir() if p.name.startswith(".")]
    _check(store)


def _threads(store: Location | str, rounds: int = ROUNDS) -> None:
    """Write every host's runs from eight threads at once."""
    def run(host: int) -> None:
        for r in range(rounds):
            write_snapshot(store, host_data(host, r), sources=[f"engine-{host}"])

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(run, range(WRITERS)))


def test_eight_writers_on_pyarrow_in_memory_filesystem() -> None:
    store = Location(pafs._MockFileSystem(), "bucket/store")
    _threads(store)
    hidden = [i.base_name for i in store.fs.get_file_info(
        pafs.FileSelector("bucket/store/snapshots")) if i.base_name.startswith(".")]
    assert hidden == []
    _check(store)


def test_a_store_in_a_subtree_filesystem_and_by_file_uri(tmp_path: Path) -> None:
    (tmp_path / "mnt").mkdir()
    sub = Location(pafs.SubTreeFileSystem(str(tmp_path / "mnt"), pafs.LocalFileSystem()),
                   "store")
    _threads(sub, rounds=1)
    _check(sub, rounds=1)
    assert len(scan_store(tmp_path / "mnt" / "store").snapshots) == WRITERS  # as a local folder
    uri = (tmp_path / "by-uri").as_uri()
    write_snapshot(uri, host_data(3, 0), sources=["engine-3"])
    for store in (uri, tmp_path / "by-uri"):
        assert read_current(store, tables=["images"]).images["image_id"].tolist() == [
            image_id(300)]


def test_a_crashed_write_on_another_filesystem_is_never_read() -> None:
    fs = pafs._MockFileSystem()
    store = Location(fs, "store")
    write_snapshot(store, host_data(0, 0), sources=["engine-0"])
    fs.create_dir("store/snapshots/.tmp-29991231T000000000000Z-abcdef")  # a writer died here
    assert len(scan_store(store).snapshots) == 1
    later = write_snapshot(store, host_data(0, 1), sources=["engine-0"])
    assert later.name > "29991231T000000000000Z-abcdef"  # sorts after every write it saw
    images = read_current(store, tables=["images"]).images
    assert images["image_id"].astype(str).tolist() == [image_id(1)]
