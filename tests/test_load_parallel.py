"""Reading on several processes gives the same tables, in the same order, as reading in one."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

import auditlib
from auditlib.ingest import fanout
from auditlib.ingest.documents import find_files
from auditlib.ingest.fanout import auto_workers, shards
from tests.samples import TRIVY


def _fleet(tmp_path: Path) -> Path:
    for i in range(7):
        doc = copy.deepcopy(TRIVY)
        doc["Metadata"]["ImageID"] = f"sha256:{i:064x}"
        doc["Results"][0]["Vulnerabilities"][0]["VulnerabilityID"] = f"CVE-2024-{i:04d}"
        (tmp_path / f"r{i}.json").write_text(json.dumps(doc))
    (tmp_path / "r3b-broken.json").write_text("{")
    (tmp_path / "notes.md").write_text("# notes")
    return tmp_path


def test_workers_give_the_same_tables_in_the_same_order(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path)
    one = auditlib.load(fleet, workers=1)
    two = auditlib.load(fleet, workers=2)
    assert [f.path for f in one.files] == [f.path for f in two.files]
    assert [f.error is None for f in one.files] == [f.error is None for f in two.files]
    for name, df in one.tables().items():
        other = getattr(two, name)
        cols = [c for c in df.columns if c != "collected_at"]
        pd.testing.assert_frame_equal(
            df[cols].astype(object), other[cols].astype(object), obj=name
        )
    assert two.vulnerabilities["vuln_id"].tolist() == [f"CVE-2024-{i:04d}" for i in range(7)]
    assert isinstance(two.vulnerabilities["scan_id"].dtype, pd.CategoricalDtype)


def test_shards_are_contiguous_and_cover_everything(tmp_path: Path) -> None:
    cands = list(find_files(_fleet(tmp_path)))
    parts = shards(cands, 3)
    assert 1 < len(parts) <= 3
    assert [c for p in parts for c in p] == cands


@pytest.mark.parametrize(("cores", "small", "want"), [
    (1, False, 1), (2, False, 1), (3, False, 1), (4, False, 2), (8, False, 4), (32, False, 8),
    (8, True, 1),
])
def test_default_workers_fan_out_only_for_many_bytes_and_two_cores_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cores: int, small: bool, want: int,
) -> None:
    cands = list(find_files(_fleet(tmp_path)))
    monkeypatch.setattr(fanout, "usable_cores", lambda: cores)
    total = fanout.readable_bytes(cands)
    monkeypatch.setattr(fanout, "MIN_PARALLEL_BYTES", total + 1 if small else total)
    assert auto_workers(cands) == want
