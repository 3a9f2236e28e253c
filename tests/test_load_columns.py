"""Rows a parser hands over as columns (`Output.add_columns`) become the same table rows as rows
handed over one by one, after them; a batch of columns that does not fit is a parser bug that
refuses the whole document and nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import auditlib
from auditlib.ingest.accumulate import Accumulator
from auditlib.ingest.reader import ingest_output
from auditlib.rows import Output
from tests.samples import TRIVY


def _output() -> Output:
    out = Output("doc.json")
    out.add("package_licenses", {"package_id": "a", "license": "MIT", "license_source": "scanner"})
    out.add_columns("package_licenses", {"package_id": ["b", "c"], "license": ["GPL-2.0-only",
                                                                               "ISC"]})
    out.add_columns("package_licenses", {"package_id": ["d"], "license_class": ["permissive"]})
    return out


def test_columns_come_after_rows_and_fill_what_they_name() -> None:
    acc = Accumulator(datetime.now(UTC))
    counts = ingest_output(acc, _output(), "trivy-json", "2", "sha256:" + "1" * 64, 10)
    assert counts["package_licenses"] == 4
    df = acc.build()["package_licenses"]
    assert df["package_id"].tolist() == ["a", "b", "c", "d"]
    assert df["license"].astype(object).where(df["license"].notna(), None).tolist() == [
        "MIT", "GPL-2.0-only", "ISC", None]
    assert df["license_source"].isna().tolist() == [False, True, True, True]
    assert df["license_class"].astype(object).tolist()[3] == "permissive"
    assert set(df["scan_id"].astype(str)) == {"sha256:" + "1" * 64}


@pytest.mark.parametrize(("columns", "message"), [
    ({"package_id": ["x", "y"], "license": ["MIT"]}, "columns of different lengths [1, 2]"),
    ({"package_id": ["x"], "colour": ["red"]}, "undeclared package_licenses columns ['colour']"),
])
def test_columns_that_do_not_fit_refuse_the_document_and_add_nothing(
    columns: dict[str, list[str]], message: str,
) -> None:
    acc = Accumulator(datetime.now(UTC))
    out = _output()
    out.add_columns("package_licenses", columns)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ingest_output(acc, out, "trivy-json", "2", "sha256:" + "2" * 64, 10)
    tables = acc.build()
    assert all(len(tables[name]) == 0 for name in ("scans", "package_licenses"))


def test_trivy_packages_licences_and_edges_given_as_columns_keep_their_rows(
    tmp_path: Path,
) -> None:
    doc = json.loads(json.dumps(TRIVY))
    result = doc["Results"][0]
    result["Packages"] = [
        {"ID": "a@1", "Name": "a", "Version": "1", "Licenses": ["MIT", "GPL-2.0-only", "MIT"],
         "DependsOn": ["b@2"]},
        {"ID": "b@2", "Name": "b", "Version": "2", "Release": "3", "Epoch": 1},
    ]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    data = auditlib.load(path, workers=1)
    assert data.load_errors.empty, data.load_errors["reason"].tolist()
    pkgs = data.packages
    assert pkgs["package_id"].tolist() == ["a@1", "b@2"]
    assert pkgs["version"].tolist() == ["1", "1:2-3"]
    assert pkgs["license_expression"].tolist()[0] == "MIT AND GPL-2.0-only"
    lic = data.package_licenses
    assert lic[["package_id", "license", "license_source"]].astype(str).values.tolist() == [
        ["a@1", "MIT", "declared"], ["a@1", "GPL-2.0-only", "declared"]]
    edges = data.package_dependencies
    assert edges[["from_package_id", "to_package_id"]].astype(str).values.tolist() == [
        ["a@1", "b@2"]]


@pytest.mark.parametrize("table", ["no_such_table", "load_errors"])
def test_columns_for_a_table_no_document_may_write_refuse_the_document(table: str) -> None:
    acc = Accumulator(datetime.now(UTC))
    out = _output()
    out.add_columns(table, {"package_id": ["x"]})
    with pytest.raises(ValueError, match=f"parser wrote to unknown table '{table}'"):
        ingest_output(acc, out, "trivy-json", "2", "sha256:" + "2" * 64, 10)
    assert all(len(t) == 0 for t in acc.build().values())
