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
