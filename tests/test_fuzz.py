"""Property-based: truncated and mutated corpus files never make `load` raise or fail unexpectedly.

Each mutated document must give either rows or exactly one error row that names the file; a
parser that lets a KeyError or TypeError through shows up here as an "unexpected" error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import auditlib
from tests.conftest import CORPUS, _corpus_missing

pytestmark = pytest.mark.corpus

# One small real document per format (the fuzzer rewrites them many times, so small is fast).
SEEDS = [
    "trivy-json/dd-schema2-misconfig-and-secrets.json",
    "trivy-json/trivy-v0.19dev-list-with-class-alpine-310.json",
    "trivy-json/dd-schema2-alpine-jar-5vulns.json",
    "grype-json/dd-grype-0.28.0-check-all-fields.json",
    "grype-json/dd-grype-0.94.0-epss.json",
    "syft-json/syft-0.12.7-schema-1.0.1-ubuntu-pruned.json",
    "cyclonedx-json/dd-cdx-1.4-grype-0.41.0-nested-component-log4j.json",
    "cyclonedx-json/dd-cdx-1.5-trivy-0.48.1-issue9277.json",
    "spdx-json/syft-spdx-2.2-alpine-3.10.json",
    "sarif/dd-dockle-0.3.15.sarif",
    "sarif/trivy-sarif-native-head-alpine-310.sarif",
    "hadolint-json/dd-hadolint-one-dockerfile.json",
    "other/dd-dockle-json-3-findings.json",
    "other/dd-harbor-trivy-vulns.json",
]

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.just("<script>alert(1)</script>"),
    st.just([]),
    st.just({}),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _seed(rel: str) -> bytes:
    if not CORPUS.is_dir():
        _corpus_missing()
    return (CORPUS / rel).read_bytes()


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    doc[path[0]] = _replace(doc[path[0]], path[1:], value)
    return doc


def _check(path: Path) -> None:
    data = auditlib.load(path)
    errors = data.load_errors[data.load_errors["level"] == "error"]
    assert len(errors) <= 1
    if len(errors):
        reason = errors["reason"].iloc[0]
        assert str(path) in reason
        # "... while reading:" is how the loader reports an exception a parser let through.
        assert "while reading:" not in reason, reason
        assert data.scans.empty
    else:
        assert len(data.scans) == 1


_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("rel", SEEDS)
@_SETTINGS
@given(cut=st.floats(0.0, 1.0))
def test_truncated_documents(tmp_path: Path, rel: str, cut: float) -> None:
    raw = _seed(rel)
    p = tmp_path / "doc.json"
    p.write_bytes(raw[: int(len(raw) * cut)])
    _check(p)


@pytest.mark.parametrize("rel", SEEDS)
@_SETTINGS
@given(data=st.data())
def test_values_replaced_by_other_types(tmp_path: Path, rel: str, data: st.DataObject) -> None:
    doc = json.loads(_seed(rel))
    paths = _paths(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        try:
            doc = _replace(doc, path, data.draw(_VALUES))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    p = tmp_path / "doc.json"
    p.write_text(json.dumps(doc))
    _check(p)


@pytest.mark.parametrize("rel", SEEDS)
@_SETTINGS
@given(data=st.data())
def test_bytes_flipped(tmp_path: Path, rel: str, data: st.DataObject) -> None:
    raw = bytearray(_seed(rel))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    p = tmp_path / "doc.json"
    p.write_bytes(bytes(raw))
    _check(p)
