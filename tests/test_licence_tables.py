"""The store's licence tables (`auditlib.store.licence_tables`): written with each snapshot,
read by the licence aggregates, derived on read for the sources of a snapshot written before
them, and written into retention's base; the aggregates give the same rows every way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from auditlib.data import AuditData, merge
from auditlib.engine import Engine, FrameTables, StoreTables, open_engine
from auditlib.engine.aggregates import AGGREGATES, licence_risks, licences_flagged
from auditlib.normalize.licenses import LICENSE_CLASSES
from auditlib.store import compact, current, list_snapshots, read_current, write_snapshot
from auditlib.store.current import holds_table
from auditlib.store.layout import MANIFEST, table_file
from auditlib.store.licence_tables import (
    DOCUMENT_LICENCES,
    LICENCE_TABLES,
    PACKAGE_LICENCE_CLASSES,
    derive,
)
from auditlib.store.manifest import snapshot_info
from tests.policy.builders import image_id, make_data

A, B, D = image_id(1), image_id(2), image_id(4)
LICENCE_AGGREGATES = ("licence_classes", "licences", "licences_checked")
FLAGGED = pd.DataFrame({
    "license": ["AGPL-3.0", None], "license_spdx": ["AGPL-3.0-only", None],
    "license_class": ["network-copyleft", None], "level": [2, 1],
    "why": ["network-copyleft", "unknown licence"]})
"""A judgement of the licence rule (`licences_flagged`): mongo's AGPL fails, a missing licence
warns; every other licence passes."""


def _doc(scan: str, image: str | None, packages: list[tuple[Any, ...]],
         licences: list[tuple[Any, ...]]) -> AuditData:
    """Return one document's rows: packages (name, class), licences (name, licence, SPDX id,
    class[, file path]); with `image` None, a document that names its image by A's manifest
    digest only (its image is found when the state is read)."""
    prov = {"scan_id": f"sha256:{scan}", "source": f"docs/{scan}.json"}
    on = {} if image is None else {"image_id": image}
    return make_data(
        scans=[{**prov, **on, "repo_digest": "sha256:" + (image or A)[-64:][::-1]}],
        packages=[{**prov, **on, "package_id": n, "name": n, "version": "1.0",
                   "license_class": c} for n, c in packages],
        package_licenses=[{**prov, **on, "package_id": f"{r[0]}#{i}", "package_name": r[0],
                           "package_version": None if r[0] is None else "1.0",
                           "license": r[1], "license_spdx": r[2], "license_class": r[3],
                           "file_path": r[4] if len(r) > 4 else None,
                           "license_source": "declared"} for i, r in enumerate(licences)])


def _first() -> AuditData:
    a = _doc("s1", A, [("musl", "permissive"), ("busybox", "permissive")],
             [("musl", "MIT", "MIT", "permissive"),
              ("busybox", "Apache-2.0", "Apache-2.0", "permissive")])
    b = _doc("s4", B, [("mongo", "network-copyleft")],
             [("mongo", "AGPL-3.0", "AGPL-3.0-only", "network-copyleft")])
    d = _doc("s5", D, [("left-pad", "unknown"), ("zlib", "permissive"), ("nolic", None)],
             [("zlib", "Zlib", "Zlib", "permissive"),
              ("weird", "Acme Corp Licence", None, "other"),
              ("nolic", "NOASSERTION", None, None)])
    return merge(a, b, d)


def _second() -> AuditData:
    # curl: listed bare by s2, given a licence by s3, whose rows name no image (its scan does).
    s2 = _doc("s2", A, [("busybox", "permissive"), ("curl", None)],
              [("busybox", "Apache-2.0", "Apache-2.0", "permissive")])
    s3 = _doc("s3", None, [],
              [("curl", "curl", "curl", "permissive"),
               (None, "GPL-2.0", "GPL-2.0-only", "strong-copyleft", "/usr/share/doc/x")])
    return merge(s2, s3)


def licence_store(root: Path) -> Path:
    store = root / "store"
    write_snapshot(store, _first(), sources=["docs"])
    write_snapshot(store, _second(), sources=["docs"])
    return store


def as_before(snapshot: Path) -> None:
    """Make a snapshot as an auditlib before the licence tables wrote it: no file of them, and
    no row count in its manifest."""
    for t in LICENCE_TABLES:
        table_file(snapshot, t).unlink()
    m = json.loads((snapshot / MANIFEST).read_text())
    m["rows"] = {k: v for k, v in m["rows"].items() if k not in LICENCE_TABLES}
    (snapshot / MANIFEST).write_text(json.dumps(m))


def _aggregates(tables: StoreTables | FrameTables) -> dict[str, pd.DataFrame]:
    engine = open_engine("duckdb", tables)
    try:
        return {**{n: AGGREGATES[n](engine) for n in LICENCE_AGGREGATES},
                **licence_queries(engine)}
    finally:
        engine.close()


def _of(store: Path) -> StoreTables:
    return StoreTables.of(store, read_current(store).scans)


def check_figures(got: dict[str, pd.DataFrame]) -> None:
    """The figures of `_first` and `_second`, counted by hand."""
    classes = got["licence_classes"].set_index("license_class")
    assert classes.to_dict("index") == {
        "unknown": {"packages": 2, "images": 1},  # left-pad (bare), nolic (no class): D
        "other": {"packages": 1, "images": 1},
        "network-copyleft": {"packages": 1, "images": 1},
        "strong-copyleft": {"packages": 1, "images": 1},  # the licence file of A
        "weak-copyleft": {"packages": 0, "images": 0},
        "permissive": {"packages": 4, "images": 2},  # musl, busybox, curl (s3), zlib
    }
    assert got["licences_checked"].to_dict("index") == {
        A: {"packages": 4, "licences": 4}, B: {"packages": 1, "licences": 1},
        D: {"packages": 4, "licences": 3}}
    lic = got["licences"]
    assert len(lic) == 9 and lic.isna().all(axis=1).sum() == 1  # left-pad's missing licence


def licence_queries(engine: Engine, judged: pd.DataFrame = FLAGGED) -> dict[str, pd.DataFrame]:
    """Return the licence queries over `package_licences`: the compliance page's licence risks
    and the licence rule's flagged packages under the judgement `judged`."""
    return {"licence_risks": licence_risks(engine, 5),
            "licences_flagged": licences_flagged(engine, judged, 5)}


def check_query_figures(got: dict[str, pd.DataFrame]) -> None:
    """The licence queries' figures of `_first` and `_second`, counted by hand."""
    risks = got["licence_risks"]
    assert [tuple(r) for r in risks[["licence", "class", "packages", "images",
                                     "package_name"]].itertuples(index=False)] == [
        ("(no licence declared)", "unknown", 1, 1, "left-pad"),  # bare, no document's licence
        ("AGPL-3.0-only", "network-copyleft", 1, 1, "mongo"),
        ("Acme Corp Licence", "other", 1, 1, "weird"),
        ("GPL-2.0-only", "strong-copyleft", 1, 1, "file /usr/share/doc/x"),  # A's, via s3's scan
        ("NOASSERTION", "unknown", 1, 1, "nolic")]  # a licence of no class: not bare
    flagged = got["licences_flagged"].astype(object)
    flagged = flagged.where(flagged.notna(), None)
    # A's licences all pass (curl, bare in s2, has s3's licence): A has no flagged package.
    assert [tuple(r) for r in flagged[["image_id", "level", "packages", "shown", "package_name",
                                       "license_spdx", "why"]].itertuples(index=False)] == [
        (B, 2, 1, 1, "mongo", "AGPL-3.0-only", "network-copyleft"),
        (D, 1, 1, 1, "left-pad", None, "unknown licence")]


def _equal(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for n in a:
        pd.testing.assert_frame_equal(a[n], b[n], obj=n)


def test_derived_per_document() -> None:
    data = _second()
    got = derive(data.packages, data.package_licenses)
    classes = got[PACKAGE_LICENCE_CLASSES].astype(object)
    classes = classes.where(classes.notna(), None)
    rows = {(r.scan_id, r.package_name): (r.image_id, r.licensed, r.has_permissive,
                                          r.has_strong_copyleft, r.has_unknown)
            for r in classes.itertuples()}
    assert rows == {
        ("sha256:s2", "busybox"): (A, True, True, False, False),
        ("sha256:s2", "curl"): (A, False, False, False, False),  # bare in this document
        ("sha256:s3", "curl"): (None, True, True, False, False),  # its image: from its scan
        ("sha256:s3", "file /usr/share/doc/x"): (None, True, False, True, False),
    }
    assert len(got[DOCUMENT_LICENCES]) == 3
    assert str(got[PACKAGE_LICENCE_CLASSES]["package_name"].dtype) == "category"  # declared


def test_store_writes_them_and_the_aggregates_read_them(tmp_path: Path) -> None:
    store = licence_store(tmp_path)
    for snap in list_snapshots(store):
        info = snapshot_info(snap)
        assert info is not None and all(holds_table(info, t) for t in LICENCE_TABLES)
    tables = _of(store)
    assert not tables.underived and tables.files[PACKAGE_LICENCE_CLASSES]
    got = _aggregates(tables)
    check_figures(got)
    check_query_figures(got)
    _equal(got, _aggregates(FrameTables(read_current(store))))  # derived in memory


def test_flagged_packages_without_the_missing_licence_flagged(tmp_path: Path) -> None:
    # The rule passes a missing licence: left-pad (no licence anywhere) is not flagged, and an
    # image whose packages' licences all pass has no row.
    engine = open_engine("duckdb", _of(licence_store(tmp_path)))
    got = licence_queries(engine, FLAGGED.iloc[:1])["licences_flagged"]
    assert list(zip(got["image_id"], got["package_name"], strict=True)) == [(B, "mongo")]
    # ... and when it flags only the missing licence, the packages no document gives one
    got = licence_queries(engine, FLAGGED.iloc[1:])["licences_flagged"]
    assert list(zip(got["image_id"], got["package_name"], got["license"].isna(),
                    strict=True)) == [(D, "left-pad", True)]


@pytest.mark.parametrize("older", [[0], [0, 1]], ids=["mixed", "all-older"])
def test_a_store_written_before_them_gives_the_same(tmp_path: Path, older: list[int]) -> None:
    store = licence_store(tmp_path)
    want = _aggregates(_of(store))
    snaps = list_snapshots(store)
    for i in older:
        as_before(snaps[i])
    tables = _of(store)
    assert tables.underived == {snaps[i].name for i in older}
    got = _aggregates(tables)
    check_figures(got)
    check_query_figures(got)
    _equal(got, want)
    # Compaction writes them into the base for the sources of the older snapshots.
    compact(store)
    base = list_snapshots(store)[0]
    info = snapshot_info(base)
    assert info is not None and all(holds_table(info, t) for t in LICENCE_TABLES)
    assert info.rows is not None and info.rows[PACKAGE_LICENCE_CLASSES] > 0
    tables = _of(store)  # the newest snapshot is kept as it is
    assert tables.underived == ({snaps[1].name} if 1 in older else set())
    _equal(_aggregates(tables), want)


def test_a_store_without_packages(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_snapshot(store, make_data(scans=[{"image_id": A}]), sources=["docs"])
    got = _aggregates(_of(store))
    assert len(got["licence_classes"]) == len(LICENSE_CLASSES)  # every class, with zeros
    assert got["licence_classes"][["packages", "images"]].eq(0).all().all()
    assert got["licences"].empty and got["licences_checked"].empty


def test_the_store_tables_read_the_manifests_once(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store = licence_store(tmp_path)
    as_before(list_snapshots(store)[0])
    scans = read_current(store).scans
    calls: list[object] = []
    real = current.usable_snapshots

    def counted(where: object) -> object:
        calls.append(where)
        return real(where)  # type: ignore[arg-type]

    monkeypatch.setattr(current, "usable_snapshots", counted)
    tables = StoreTables.of(store, scans)
    assert len(calls) == 1  # the files, the sources and the snapshots without the tables
    assert tables.underived == {list_snapshots(store)[0].name}


def test_they_are_files_of_the_store_not_tables_in_memory(tmp_path: Path) -> None:
    store = licence_store(tmp_path)
    data = read_current(store)
    assert not any(hasattr(data, t) for t in LICENCE_TABLES)
    assert set(data.tables()).isdisjoint(LICENCE_TABLES)
    with pytest.raises(KeyError, match="kept by the store as files only"):
        read_current(store, tables=[PACKAGE_LICENCE_CLASSES])
    # ... and the store has them, for the engines
    newest = snapshot_info(list_snapshots(store)[-1])
    assert newest is not None and newest.rows is not None
    assert newest.rows[PACKAGE_LICENCE_CLASSES] > 0 and newest.rows[DOCUMENT_LICENCES] > 0


def test_a_write_derives_the_licence_tables_within_a_1_gb_address_space(tmp_path: Path) -> None:
    # DuckDB's per-thread arenas outgrew `ulimit -v 1G` (the rest of an ingest fits in it): the
    # ingest failed with "cannot derive the licence tables: Out of Memory Error".
    import subprocess
    import sys

    from tests.conftest import corpus_path

    doc = corpus_path("syft-json/syft-0.101.1-schema-13.0.0-alpine.json")
    script = (
        "import resource, sys\nresource.setrlimit(resource.RLIMIT_AS, (1024 << 20,) * 2)\n"
        "from auditlib.cli.main import main\n"
        f"sys.argv = ['auditlib', 'ingest', {str(doc)!r}, '--store', {str(tmp_path / 's')!r}, "
        "'--quiet']\nmain()\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    info = snapshot_info(list_snapshots(tmp_path / "s")[-1])
    assert info is not None and all(holds_table(info, t) for t in LICENCE_TABLES)
    assert len(read_current(tmp_path / "s").packages) > 0
