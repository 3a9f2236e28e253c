"""Streaming ingest: documents written to the snapshot batch by batch read back as an ingest
held in memory gives them, image ids resolved across batches, and carried over the next time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from auditlib.ingest.steps import ingest_paths
from auditlib.ingest.stream import stream_ingest
from auditlib.store import read_current, read_latest, scan_store
from tests.test_history import image_id, trivy_doc, write_doc

DIGEST = "docker.io/team/app@sha256:" + "e" * 64


def _fleet(folder: Path) -> None:
    # a.json names its image only by a manifest digest; b.json, read in a later batch, gives it.
    write_doc(folder / "a.json", trivy_doc(1, None, None, [("CVE-1", "zlib", "1.2", "high", "1.3")],
                                           repo_digest=DIGEST, with_id=False))
    write_doc(folder / "b.json", trivy_doc(1, "docker.io/team/app:1", "2026-01-01T00:00:00Z",
                                           [("CVE-2", "bash", "5", "low", None)],
                                           repo_digest=DIGEST))
    for i in range(3):
        write_doc(folder / f"c{i}.json", trivy_doc(
            10 + i, f"docker.io/team/svc{i}:1", "2026-01-01T00:00:00Z",
            [(f"CVE-{10 + i}", "openssl", "3", "critical", "3.1")]))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    df = df.astype(str)
    return df.sort_values(list(df.columns)).reset_index(drop=True)


@pytest.mark.slow  # three ingests
def test_streamed_batches_read_back_as_one_ingest(tmp_path: Path) -> None:
    folder = tmp_path / "fleet"
    _fleet(folder)
    at = datetime(2026, 2, 1, tzinfo=UTC)
    streamed = stream_ingest(tmp_path / "s1", [folder], batch_bytes=1, at=at)  # a file a batch
    assert streamed.batches == 5 and streamed.rows["vulnerabilities"] == 5
    ingest_paths(tmp_path / "s2", [folder], at=at)
    one, two = read_latest(tmp_path / "s1"), read_latest(tmp_path / "s2")
    for name, df in two.tables().items():
        pd.testing.assert_frame_equal(_sorted(getattr(one, name)), _sorted(df), obj=name)
    # The digest-only document's rows got the image id b.json gave, in the stored file itself.
    v = one.vulnerabilities
    assert v.loc[v["vuln_id"] == "CVE-1", "image_id"].astype(str).tolist() == [image_id(1)]
    assert not scan_store(tmp_path / "s1", deep=True).damaged
    # The next run carries every file over.
    again = stream_ingest(tmp_path / "s1", [folder], batch_bytes=1)
    assert again.batches == 0 and len(again.plan.unchanged) == 5
    pd.testing.assert_frame_equal(_sorted(read_current(tmp_path / "s1").vulnerabilities),
                                  _sorted(one.vulnerabilities))
