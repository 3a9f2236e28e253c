"""The fleet benchmark's tiled store (`benchmarks/fleet100k.py`, `tile_store`): a real store of N
copies of a base store, read by the store's readers and assessed as N times the base."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from auditlib.assess import assess
from auditlib.store import list_snapshots, read_current
from auditlib.store.current import current_files
from tests.engine_store import NOW, two_snapshot_store

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "fleet100k.py"
COPIES = 3


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fleet100k", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fleet100k", module)
    spec.loader.exec_module(module)
    return module


def _copy_id(image_id: str, k: int) -> str:
    """The id copy `k` gives an image (the benchmark's SQL, written again in Python)."""
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    return f"sha256:{md5(f'{image_id}#{k}')}{md5(f'#{k}{image_id}')}"


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fleet100k")
    base = two_snapshot_store(root, images=2)
    tiled = _benchmark().tile_store(base, root / "tiled", COPIES, snapshots=2)
    return base, tiled


def test_tiled_store_reads_as_copies_of_the_base(stores: tuple[Path, Path]) -> None:
    base, tiled = stores
    assert len(list_snapshots(tiled)) == 2
    b, t = read_current(base), read_current(tiled)
    for name, df in b.tables().items():
        assert len(getattr(t, name)) == COPIES * len(df), name
    ids = set(b.images["image_id"].astype(str))
    want = {_copy_id(i, k) for i in ids for k in range(COPIES)}
    assert set(t.images["image_id"].astype(str)) == want
    assert set(t.vulnerabilities["image_id"].dropna().astype(str)) <= want
    # each copy's tags point at its own image, under its own repository
    tags = t.image_tags.astype({"image_id": str, "reference": str})
    for i in ids:
        for k in range(COPIES):
            refs = tags.loc[tags["image_id"] == _copy_id(i, k), "reference"]
            assert len(refs) and all(f"-c{k}" in r for r in refs)
    # the engine's file listing sees the big tables of both snapshots
    files = current_files(tiled, ("vulnerabilities", "packages"))
    assert {f.snapshot_id for f in files["packages"]} == {s.name for s in list_snapshots(tiled)}


@pytest.mark.slow  # two assessments: about 8 s on this machine under load
def test_tiled_store_assesses_as_copies_of_the_base(stores: tuple[Path, Path]) -> None:
    base, tiled = stores
    a, t = assess(base, as_of=NOW), assess(tiled, as_of=NOW)
    key = ["image_id", "rule"]
    br = a.evaluation.results[[*key, "status"]].astype(str)
    tr = t.evaluation.results[[*key, "status"]].astype(str)
    assert len(tr) == COPIES * len(br) > 0
    for k in range(COPIES):
        got = tr[tr["image_id"].isin({_copy_id(i, k) for i in br["image_id"]})].copy()
        got["image_id"] = got["image_id"].map({_copy_id(i, k): i for i in br["image_id"]})
        pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True),
                                      br.sort_values(key).reset_index(drop=True))
    bs = a.evaluation.scores.set_index(a.evaluation.scores["image_id"].astype(str))["score"]
    ts = t.evaluation.scores.set_index(t.evaluation.scores["image_id"].astype(str))["score"]
    for i, score in bs.items():
        assert [ts[_copy_id(str(i), k)] for k in range(COPIES)] == [score] * COPIES
    assert len(t.findings) == COPIES * len(a.findings)


def test_tiling_refuses_a_store_with_snapshots(stores: tuple[Path, Path]) -> None:
    base, tiled = stores
    with pytest.raises(ValueError, match="already has snapshots"):
        _benchmark().tile_store(base, tiled, 1)
