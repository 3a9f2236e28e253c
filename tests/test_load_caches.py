"""Values a load caches by distinct input (image references, licences, CVSS maps) give the same
rows as working each one out anew: two documents sharing an image and its packages, read in one
load (the second from the caches), give the rows each gives read alone. And identification's
cheap look at an array (`Document.has_items`) answers as decoding it would."""

from __future__ import annotations

import functools
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pandas as pd
import pytest

import auditlib
from auditlib import tables
from auditlib.identity import parse_reference
from auditlib.normalize import licenses
from auditlib.normalize.licenses import LicenseInfo
from auditlib.normalize.severity import SEVERITY_DTYPE
from auditlib.parsers import _trivy_rows, grype_json
from auditlib.parsers.interface import Document
from tests.conftest import corpus_path

_AT = datetime(2026, 12, 1, tzinfo=UTC)
_HEX64 = re.compile(rb"[0-9a-f]{64}")

REFERENCES = [
    "nginx", "nginx:1.25-alpine", "docker.io/library/nginx:latest", "index.docker.io/nginx",
    "ghcr.io/org/app@sha256:" + "a" * 64, "localhost:5000/a/b:t", "[::1]:5000/x:y",
    "ubuntu:22.04", "Upper/Case", "/a/path", "./rel", "img.tar", "sha256:" + "b" * 64,
    "with space:1", "tab\there", "nbsp\u00a0x", "line\u2028sep", "", "a@sha256:short",
]


@pytest.mark.parametrize("text", REFERENCES)
def test_cached_reference_is_the_uncached_one(text: str) -> None:
    uncached = parse_reference.__wrapped__(text)
    assert parse_reference(text) == uncached
    hits = parse_reference.cache_info().hits
    assert parse_reference(text) == uncached  # now from the cache
    assert parse_reference.cache_info().hits == hits + 1


def _forget() -> None:
    """Empty every cache a load keeps by distinct input: each `lru_cache` of auditlib's modules
    (`parse_reference`, `classify_license`, `_symbol`, the parsers' per-record caches; not
    those of size 1, which hold a table read once, such as the SPDX index), Trivy's CVSS
    map cache and Grype's record and match-detail caches, so the next load works every value
    out afresh."""
    cleared = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("auditlib.") or module is None:
            continue
        for value in list(vars(module).values()):
            if (isinstance(value, functools._lru_cache_wrapper)
                    and getattr(value, "__module__", None) == name
                    and value.cache_parameters()["maxsize"] != 1):
                value.cache_clear()
                cleared += 1
    _trivy_rows._CVSS_CACHE.clear()
    grype_json._RECORDS.clear()
    grype_json._DETAILS.clear()
    assert cleared >= 5 and parse_reference.cache_info().currsize == 0


def _copy(data: bytes, n: int) -> bytes:
    """Return `data` with every 64-hex id (image, layers) made distinct for copy `n`."""
    return _HEX64.sub(lambda m: (f"{n:x}" + m.group().decode()[1:]).encode(), data)


def _plain(df: pd.DataFrame) -> list[list[object]]:
    """Return a frame's cells as plain values (categories may differ between loads)."""
    return df.astype(object).where(df.notna(), None).values.tolist()


@pytest.mark.parametrize("relpath", [
    "grype-json/dd-grype-0.96.0-image-35-matches.json",
    "trivy-json/trivy-0.76.0-licenses-pkgs-debian-bookworm-image.json",
    "trivy-json/trivy-golden-debian-buster-image.json",
    "cyclonedx-json/trivy-0.76.0-cdx-debian-bookworm-image.json",
])
def test_documents_sharing_packages_give_the_rows_each_gives_alone(
        relpath: str, tmp_path: Path) -> None:
    data = corpus_path(relpath).read_bytes()
    paths = []
    for n in (1, 2):
        path = tmp_path / f"doc{n}.json"
        path.write_bytes(_copy(data, n))
        paths.append(path)
    together = auditlib.load(*paths, workers=1, collected_at=_AT)
    alone = []
    for p in paths:  # cached (the second document, together) against worked out afresh
        _forget()
        assert licenses.classify_license.cache_info().currsize == 0
        alone.append(auditlib.load(p, workers=1, collected_at=_AT))
    assert together.load_errors.empty and not any(len(a.load_errors) for a in alone)
    checked = 0
    for name, df in together.tables().items():
        parts = [a.tables()[name] for a in alone]
        assert len(df) == sum(map(len, parts)), name
        if len(df):
            checked += 1
            assert _plain(df) == [row for p in parts for row in _plain(p)], name
    assert checked >= 4  # scans, images and the findings or packages at least


@pytest.mark.parametrize(("text", "expected"), [
    (b'{"a": [1]}', True), (b'{"a": [ \n\t {"b": []}]}', True), (b'{"a": [[]]}', True),
    (b'{"a": []}', False), (b'{"a": [ \r\n ]}', False), (b'{"a": null}', False),
    (b'{"a": {}}', False), (b'{"a": "[1]"}', False), (b'{"b": [1]}', False),
])
def test_has_items_reads_an_array_by_its_first_bytes(text: bytes, expected: bool) -> None:
    doc = Document("x.json", text, top=msgspec.json.decode(text, type=dict[str, msgspec.Raw]))
    assert doc.has_items("a") is expected
    # The same answer as decoding the array would give.
    assert expected is bool(doc.peek("a", list[msgspec.Raw]))


def _parsed(text: str) -> LicenseInfo:
    """Return what license-expression's SPDX licensing makes of `text`, as classify_license
    did for every text before it looked licence ids up in the index (`licenses._spdx_ids`)."""
    licensing = licenses._licensing()
    parsed = licensing.parse(text, validate=False, simple=False)
    unknown = [k for k in licensing.unknown_license_keys(parsed) if not k.startswith("LicenseRef-")]
    return LicenseInfo(None if unknown else str(parsed), licenses._classify_node(parsed))


def test_every_spdx_id_and_alias_reads_as_the_licensing_reads_it() -> None:
    ids = licenses._spdx_ids()
    assert len(ids) > 2400 and ids["mit"] == "MIT"
    texts = sorted({t for name in ids for t in (name, name.upper())} | set(ids.values()))
    for text in texts:
        assert licenses.classify_license(text) == _parsed(text), text
        assert licenses._symbol(text) == licenses._parsed_symbol(text), text


def test_licence_ids_need_no_licensing_and_other_texts_still_parse() -> None:
    licenses._licensing.cache_clear()
    licenses.classify_license.cache_clear()
    licenses._symbol.cache_clear()
    for text in ("GPL-2.0-or-later", "gpl-2.0+", "MIT AND Apache-2.0", "Classpath-exception-2.0"):
        got = licenses.classify_license(text)
        assert licenses._licensing.cache_info().currsize == 0, text  # not built for ids
        assert got == _parsed(text)
        licenses._licensing.cache_clear()  # _parsed built it: drop it again
    assert licenses.classify_license("GPL-2.0 WITH Classpath-exception-2.0").spdx == (
        "GPL-2.0-only WITH Classpath-exception-2.0")
    assert licenses._licensing.cache_info().currsize == 1  # an expression: the parser read it
    for text in ("public-domain", "GPL-2+", "LicenseRef-Foo", "MIT or Apache-2.0 and (BSD)"):
        assert licenses.classify_license(text) == _parsed(text), text


@pytest.mark.parametrize("values", [
    [], [None], [None] * 3, ["high"] * 4, ["unknown"] * 5,
    ["high", "LOW", "critical", None, "unknown", "x", "negligible", "medium", "low", ""],
    ["h\u00e9", "high", None],
])
@pytest.mark.filterwarnings("ignore:Constructing a Categorical with a dtype")
def test_severity_by_distinct_value_is_pandas_conversion(values: list[str | None]) -> None:
    expected = pd.Series(pd.Categorical(list(values), dtype=SEVERITY_DTYPE)).fillna("unknown")
    pd.testing.assert_series_equal(tables._series(values, "severity"), expected)
