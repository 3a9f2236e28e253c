"""The store: atomic snapshots, latest wins, half-written snapshots are never read."""

from __future__ import annotations

from pathlib import Path

import pytest

import auditlib
from auditlib.errors import StoreError
from auditlib.store import list_snapshots, read_latest, write_snapshot
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
    (store / "snapshots" / ".tmp-20260101T000000Z-abc").mkdir(parents=True)
    (store / "snapshots" / "20260101T000000Z-def").mkdir()  # no manifest: incomplete
    assert list_snapshots(store) == []
    with pytest.raises(StoreError, match="no snapshot"):
        read_latest(store)
