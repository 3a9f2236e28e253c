"""The tables of collected sources are built a source at a time (`reader.ingest_outputs`) and
with shortcuts in `tables.frame`; these tests hold them to the same tables as the
document-by-document path the loader takes and as plain pandas conversions."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from auditlib.ingest import accumulate
from auditlib.ingest.accumulate import Accumulator
from auditlib.ingest.documents import decode_document, read_file
from auditlib.ingest.reader import Document, ingest_output, ingest_outputs
from auditlib.parsers import identify, parse_document
from auditlib.sources.engine import FORMAT, container_from_inspect, image_from_inspect
from auditlib.sources.record import scan_id_of
from auditlib.tables import DTYPES, TABLES_BY_NAME, _series, frame
from tests.conftest import corpus_path
from tests.sources.test_engine import CONTAINER, DIFF, HISTORY, INSPECT

WHEN = datetime(2026, 12, 1, tzinfo=UTC)

CORPUS_FILES = (
    "trivy-json/trivy-golden-npm-fs-list-all-pkgs.json",  # packages given as columns
    "trivy-json/dd-schema2-misconfig-and-secrets.json",
    "syft-json/syft-0.101.1-schema-13.0.0-alpine.json",
)


def _engine_documents() -> list[Document]:
    """Images (tagged, untagged, one named by its reference only) and containers, as records."""
    docs: list[Document] = []
    for i in range(6):
        inspect = copy.deepcopy(INSPECT)
        inspect["Id"] = "sha256:" + f"{i:02x}" * 32
        inspect["RepoTags"] = [f"team/app{i % 3}:1.{i}"] if i % 2 else []
        inspect["Config"]["Env"] = [f"APP_VERSION=1.{i}", "PATH=/bin", "API_TOKEN=x1"]
        rec = image_from_inspect(inspect, HISTORY[: 1 + i % 3], source="unix:///s",
                                 host=f"h{i % 2}", api_version="1.41")
        docs.append((rec.output, rec.format, rec.version, scan_id_of(rec.payload),
                     len(rec.payload)))
    for i in range(3):
        inspect = copy.deepcopy(CONTAINER)
        inspect["Id"] = f"{i}" * 64
        inspect["Image"] = None if i == 2 else inspect["Image"]  # no image id: the document's
        rec = container_from_inspect(inspect, DIFF[:i], source="unix:///s", host="h1",
                                     api_version="1.41")
        docs.append((rec.output, FORMAT, rec.version, scan_id_of(rec.payload),
                     len(rec.payload)))
    return docs


def _parsed(relpath: str) -> Document:
    raw = read_file(corpus_path(relpath))
    doc = decode_document(raw)
    parser, version, out = parse_document(doc, identify(doc))
    return out, parser.format_id, version, raw.scan_id, raw.size


def _tables(docs: list[Document], *, together: bool) -> dict[str, pd.DataFrame]:
    acc = Accumulator(WHEN)
    if together:
        ingest_outputs(acc, docs)
    else:
        for doc in docs:
            ingest_output(acc, *doc)
    return acc.build()


def _assert_same(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    assert got.keys() == want.keys()
    for name, df in want.items():
        pd.testing.assert_frame_equal(got[name], df, check_exact=True, obj=name)
        for col in df.columns:
            if isinstance(df[col].dtype, pd.CategoricalDtype):  # same categories, same order
                assert got[name][col].dtype == df[col].dtype, (name, col)
                assert got[name][col].cat.categories.dtype == df[col].cat.categories.dtype


@pytest.mark.parametrize("chunk_rows", [accumulate.CHUNK_ROWS, 3])
def test_documents_together_give_the_tables_of_one_by_one(
    chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accumulate, "CHUNK_ROWS", chunk_rows)  # 3: chunks end mid-source
    docs = _engine_documents()
    docs[3:3] = [_parsed(p) for p in CORPUS_FILES]  # other sources, columns, warnings between
    docs[0][0].add("image_labels", {"image_id": None, "label": "added", "value": "v"})
    docs[3][0].add("packages", {"name": "added-as-a-row"})  # before the file's column batches
    together = _tables(docs, together=True)
    assert len(together["scans"]) == len(docs) and len(together["containers"]) == 3
    assert len(together["images"].query("source == 'unix:///s'")) == 6
    assert together["packages"]["name"].iloc[0] == "added-as-a-row"
    assert len(together["image_env"].query("source == 'unix:///s'")) == 18
    labels = together["image_labels"].set_index("label")
    assert labels.at["added", "image_id"] == "sha256:" + "00" * 32  # filled from the document
    assert together["containers"]["image_id"].isna().tolist() == [False, False, True]  # unknown
    _assert_same(together, _tables(docs, together=False))


def test_a_parser_bug_in_one_document_is_named() -> None:
    docs = _engine_documents()
    docs[1][0].add("image_env", {"name": "X", "not_a_column": 1})
    with pytest.raises(ValueError, match=r"unix:///s: parser wrote undeclared image_env columns "
                                         r"\['not_a_column'\]"):
        ingest_outputs(Accumulator(WHEN), docs)
    docs[2][0].add("no_such_table", {})
    with pytest.raises(ValueError, match="unknown table 'no_such_table'"):
        ingest_outputs(Accumulator(WHEN), docs)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_missing_columns_are_what_pandas_makes_of_none(n: int) -> None:
    table = TABLES_BY_NAME["vulnerabilities"]  # every dtype
    assert {c.dtype for c in table.columns} >= set(DTYPES) - {"severity"} | {"severity"}
    df = frame(table, {}, n)
    for col in table.columns:
        want = (_series([None] * n, col.dtype) if col.dtype == "severity"
                else pd.Series(pd.array([None] * n, dtype=DTYPES[col.dtype])))
        pd.testing.assert_series_equal(df[col.name], want, check_names=False)
        if col.dtype == "category":
            assert df[col.name].cat.categories.dtype == want.cat.categories.dtype, n


@pytest.mark.parametrize("values", [
    ["b", None, "a", "b", "é", "Z", "ä"],  # sorted by code point, as by UTF-8 bytes
    [f"v{i % 1500:04d}" for i in range(3000)] + [None],  # more names than are shared
    [None, None],
])
def test_category_columns_are_what_pandas_makes(values: list[Any]) -> None:
    got = _series(values, "category")
    want = pd.Series(pd.Categorical(values))
    pd.testing.assert_series_equal(got, want, check_exact=True)
    assert got.cat.categories.dtype == want.cat.categories.dtype
    again = _series(list(reversed(values)), "category")
    assert again.dtype == got.dtype  # a shared dtype gives the same categories each time


def test_frame_keeps_a_given_series_shared_safely() -> None:
    table = TABLES_BY_NAME["image_labels"]
    given = pd.Series(pd.Categorical(["sha256:" + "a" * 64] * 2))
    df = frame(table, {"image_id": given, "label": ["a", "b"]}, 2)
    df.loc[0, "label"] = "changed"
    df["image_id"] = df["image_id"].cat.add_categories(["x"])
    df.loc[1, "image_id"] = "x"
    assert given.tolist() == ["sha256:" + "a" * 64] * 2


def test_corpus_file_found() -> None:
    assert all(Path(corpus_path(p)).is_file() for p in CORPUS_FILES)
