"""The fast paths of the Grype and SPDX parsers give the tables the plain record walks give.

Grype: `grype_json._add_columns` decodes the matches with their records left raw and normalises
each distinct record once per process (cached by its bytes); the record walk (every match
decoded whole, each record normalised anew) is the parser's own fallback for a report with a
match that does not decode, and is the reference here (both hand their rows to `_write`).
SPDX: `spdx_json._links` drops file containments with one comprehension before the subject and
dependency loops; the reference is the same loops over every
relationship (`_links` replaced by the identity).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

import auditlib
from auditlib.ingest.documents import decode_document, read_file
from auditlib.parsers import grype_json, spdx_json
from auditlib.parsers._spdx_model import Relationship
from auditlib.rows import Output
from tests.conftest import CORPUS, _corpus_missing

AT = datetime(2026, 1, 2, tzinfo=UTC)


def _corpus_files(folder: str) -> list[str]:
    if not (CORPUS / folder).is_dir():
        return []
    return sorted(p.name for p in (CORPUS / folder).glob("*.json"))


def _path(folder: str, name: str) -> Path:
    if not CORPUS.is_dir():
        _corpus_missing()
    return CORPUS / folder / name


def _assert_same(a: auditlib.AuditData, b: auditlib.AuditData) -> None:
    """Every table of `a` equals `b`'s: rows, order, dtypes, categories."""
    ta, tb = a.tables(), b.tables()
    assert ta.keys() == tb.keys()
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], obj=name)


def _record_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grype_json, "_add_columns", lambda *args: False)


@pytest.mark.parametrize("name", _corpus_files("grype-json") or ["(corpus missing)"])
def test_grype_columns_are_the_record_walk(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _path("grype-json", name)
    taken: list[bool] = []
    original = grype_json._add_columns

    def spy(*args: object) -> bool:
        taken.append(original(*args))  # type: ignore[arg-type]
        return taken[-1]

    monkeypatch.setattr(grype_json, "_add_columns", spy)
    grype_json._RECORDS.clear()
    grype_json._DETAILS.clear()
    first = auditlib.load(path, collected_at=AT)  # records decoded
    second = auditlib.load(path, collected_at=AT)  # records from the cache
    assert taken == [True, True]  # every corpus report fits the column path
    _record_walk(monkeypatch)
    walked = auditlib.load(path, collected_at=AT)
    _assert_same(first, walked)
    _assert_same(second, walked)


def test_grype_columns_with_a_cache_that_keeps_one_record(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    path = _path("grype-json", "dd-grype-0.7.0-debian-327-matches.json")
    monkeypatch.setattr(grype_json, "_CACHE_SIZE", 1)  # cleared at every new record
    columns = auditlib.load(path, collected_at=AT)
    assert len(columns.vulnerabilities) == 327
    _record_walk(monkeypatch)
    _assert_same(columns, auditlib.load(path, collected_at=AT))


def _with_bad_match(tmp_path: Path) -> Path:
    doc = json.loads(_path("grype-json", "dd-grype-0.94.0-epss.json").read_bytes())
    doc["matches"][2]["vulnerability"]["id"] = 42  # an id that is no text
    doc["matches"][4]["relatedVulnerabilities"] = [{"id": ["CVE-1"]}]
    out = tmp_path / "grype.json"
    out.write_text(json.dumps(doc))
    return out


def test_grype_bad_match_is_skipped_as_the_record_walk_skips_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _with_bad_match(tmp_path)
    out = Output(str(path))
    top = decode_document(read_file(path)).top
    assert top is not None
    raw = top["matches"]
    assert grype_json._add_columns(raw, None, "0.94.0", out) is False
    assert not out.rows and not out.columns and not out.warnings  # nothing half-added
    data = auditlib.load(path, collected_at=AT)
    warnings = data.load_errors[data.load_errors["level"] == "warning"]
    assert sorted(warnings["locator"]) == ["$.matches[2]", "$.matches[4]"]
    assert len(data.vulnerabilities) == 13  # 15 matches, two skipped
    _record_walk(monkeypatch)
    _assert_same(data, auditlib.load(path, collected_at=AT))


def _every_relationship(rels: list[Relationship], elements: object) -> list[Relationship]:
    """The reference: `_subjects` and `_add_dependencies` walk every relationship."""
    return rels


@pytest.mark.parametrize("name", _corpus_files("spdx-json") or ["(corpus missing)"])
def test_spdx_dependencies_are_the_plain_walk(name: str, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    path = _path("spdx-json", name)
    fast = auditlib.load(path, collected_at=AT)
    monkeypatch.setattr(spdx_json, "_links", _every_relationship)
    _assert_same(fast, auditlib.load(path, collected_at=AT))


def test_spdx_dependencies_of_every_kind_and_dangling_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Containments between packages, backwards ones, files, and dependencies naming nothing."""
    pkgs = [{"SPDXID": f"SPDXRef-Package-{n}", "name": n, "versionInfo": "1"}
            for n in ("a", "b", "c")]
    rels = [
        ("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Package-a"),
        ("SPDXRef-Package-a", "CONTAINS", "SPDXRef-Package-b"),
        ("SPDXRef-Package-c", "CONTAINED_BY", "SPDXRef-Package-b"),
        ("SPDXRef-Package-b", "CONTAINS", "SPDXRef-File-x"),
        ("SPDXRef-Package-b", "DEPENDS_ON", "SPDXRef-Package-c"),
        ("SPDXRef-Package-c", "DEPENDENCY_OF", "SPDXRef-Package-b"),
        ("SPDXRef-Package-b", "DEPENDS_ON", "SPDXRef-Package-gone"),
        ("SPDXRef-Package-b", "CONTAINS", "SPDXRef-Package-b"),
        ("SPDXRef-Package-b", "OTHER", "SPDXRef-Package-c"),
    ]
    doc = {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "x",
           "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: syft-1.0"]},
           "packages": pkgs,
           "relationships": [{"spdxElementId": e, "relationshipType": t, "relatedSpdxElement": r}
                             for e, t, r in rels]}
    path = tmp_path / "sbom.spdx.json"
    path.write_text(json.dumps(doc))
    fast = auditlib.load(path, collected_at=AT)
    edges = fast.package_dependencies
    assert sorted(zip(edges["from_package_id"], edges["to_package_id"], edges["relationship"],
                      strict=True)) == [
        ("SPDXRef-Package-b", "SPDXRef-Package-c", "contains"),
        ("SPDXRef-Package-b", "SPDXRef-Package-c", "depends-on"),
    ]
    assert fast.load_errors["reason"].str.contains("1 package relationships name an id").any()
    monkeypatch.setattr(spdx_json, "_links", _every_relationship)
    _assert_same(fast, auditlib.load(path, collected_at=AT))
