"""Retention: `prune --keep` and `compact` fold old snapshots into a base and delete them; the
current state, the kept snapshots and the next incremental ingest read as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from auditlib.cli.main import main as cli
from auditlib.data import AuditData
from auditlib.ingest.incremental import plan_ingest
from auditlib.store import (
    compact,
    list_snapshots,
    parse_duration,
    prune,
    read_current,
    read_snapshot,
    scan_store,
    write_snapshot,
)
from tests.test_history import ingest, trivy_doc, write_doc

DAY0 = datetime(2026, 1, 1, tzinfo=UTC)


def _fleet(store: Path, folder: Path, days: int) -> None:
    """Ingest a fleet of four images daily; image `d % 4` is rebuilt (a new vulnerability) on
    day d, the others are carried over unchanged."""
    for i in range(4):
        write_doc(folder / f"{i}.json", trivy_doc(i + 1, f"docker.io/team/app{i}:1",
                                                  "2025-12-01T00:00:00Z",
                                                  [(f"CVE-{i}", "zlib", "1.2", "high", "1.3")]))
    ingest(store, folder, DAY0.isoformat())
    for d in range(1, days):
        i = d % 4
        write_doc(folder / f"{i}.json", trivy_doc(
            i + 1, f"docker.io/team/app{i}:1", "2025-12-01T00:00:00Z",
            [(f"CVE-{i}", "zlib", "1.2", "high", "1.3"),
             (f"CVE-{i}-{d}", "bash", "5", "low", None)]))
        ingest(store, folder, (DAY0 + timedelta(days=d)).isoformat())


def _rows(data: AuditData) -> dict[str, pd.DataFrame]:
    """Return the tables with rows, sorted, to compare two reads."""
    out = {}
    for name, df in data.tables().items():
        if len(df):
            df = df.astype(str)
            out[name] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return out


def _same(a: AuditData, b: AuditData) -> None:
    ra, rb = _rows(a), _rows(b)
    assert ra.keys() == rb.keys()
    for name in ra:
        pd.testing.assert_frame_equal(ra[name], rb[name], obj=name)


@pytest.mark.slow  # seven ingests
def test_prune_keeps_every_read_the_same(tmp_path: Path) -> None:
    store, folder = tmp_path / "s", tmp_path / "fleet"
    _fleet(store, folder, 7)
    snaps = list_snapshots(store)
    kept = snaps[5:]  # days 5 and 6; they carry rows over from days 0 to 4
    assert any(c.snapshot_id <= snaps[4].name
               for s in scan_store(store).snapshots[5:] for c in s.carried.values())
    before = read_current(store)
    before_kept = [read_snapshot(s) for s in kept]
    done = prune(store, timedelta(days=2), now=DAY0 + timedelta(days=7))
    assert done.deleted == [s.name for s in snaps[:5]] and done.base is not None
    after = list_snapshots(store)
    assert [s.name for s in after] == [done.base, *(s.name for s in kept)]
    scan = scan_store(store, deep=True)
    assert not scan.damaged and not scan.lost
    _same(before, read_current(store))
    for s, b in zip(kept, before_kept, strict=True):
        _same(b, read_snapshot(s))
    assert scan.snapshots[0].created_at == pd.Timestamp(DAY0 + timedelta(days=4))
    # The next ingest still carries the unchanged files over from the base.
    plan = plan_ingest(store, [str(folder)])
    assert plan.to_parse == [] and len(plan.unchanged) == 4
    # Pruning again with nothing older does nothing.
    again = prune(store, timedelta(days=30), now=DAY0 + timedelta(days=7))
    assert again.deleted == [] and len(list_snapshots(store)) == len(after)


@pytest.mark.slow  # four ingests
def test_compact_keeps_the_current_state_in_two_snapshots(tmp_path: Path) -> None:
    store, folder = tmp_path / "s", tmp_path / "fleet"
    _fleet(store, folder, 4)
    before = read_current(store)
    newest = list_snapshots(store)[-1]
    before_newest = read_snapshot(newest)
    done = compact(store)
    assert len(done.deleted) == 3
    assert [s.name for s in list_snapshots(store)] == [done.base, newest.name]
    _same(before, read_current(store))
    _same(before_newest, read_snapshot(newest))


def test_a_base_is_not_written_when_the_last_old_snapshot_holds_everything(
        tmp_path: Path) -> None:
    from tests.test_store_concurrent import host_data

    store = tmp_path / "s"
    for r in range(3):
        write_snapshot(store, host_data(0, r), sources=["engine-0"],
                       created_at=DAY0 + timedelta(days=r))
    snaps = list_snapshots(store)
    done = prune(store, timedelta(hours=12), now=DAY0 + timedelta(days=2))
    assert done.base is None and done.deleted == [snaps[0].name]
    assert list_snapshots(store) == snaps[1:]


def test_durations() -> None:
    assert parse_duration("90d") == timedelta(days=90)
    assert parse_duration("12w") == timedelta(weeks=12)
    assert parse_duration("36h") == timedelta(hours=36)
    for bad in ("90", "1y", "-3d", "d"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)


@pytest.mark.slow  # three ingests
def test_the_commands(tmp_path: Path) -> None:
    store, folder = tmp_path / "s", tmp_path / "fleet"
    _fleet(store, folder, 3)
    runner = CliRunner()
    bad = runner.invoke(cli, ["store", "prune", "--store", str(store), "--keep", "1y"])
    assert bad.exit_code == 2 and "not a duration" in bad.output
    none = runner.invoke(cli, ["store", "prune", "--store", str(store), "--keep", "3650d"])
    assert none.exit_code == 0 and "nothing pruned" in none.output
    done = runner.invoke(cli, ["store", "compact", "--store", store.as_uri()])
    assert done.exit_code == 0, done.output
    assert "2 snapshots deleted" in done.output and len(list_snapshots(store)) == 2


def test_the_base_id_sorts_between_the_last_old_and_the_first_kept_snapshot() -> None:
    from auditlib.errors import StoreError
    from auditlib.store.retention import _base_id

    last, kept = "20260101T000000000000Z-fffffe", "20260102T000000000000Z-000000"
    # the only id after `last` at its time (a random suffix found none in 64 tries ~1 time in 65)
    assert _base_id(last, kept) == "20260101T000000000000Z-ffffff"
    for _ in range(200):
        sid = _base_id("20260101T000000000000Z-a00000", "20260101T000000000000Z-a00003")
        assert sid in {"20260101T000000000000Z-a00001", "20260101T000000000000Z-a00002"}
    with pytest.raises(StoreError, match="no snapshot id sorts between"):
        _base_id("20260101T000000000000Z-ffffff", kept)
