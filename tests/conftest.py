"""Shared fixtures: the real-tool corpus in ../shared/corpus, and small written inputs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

import auditlib
from tests.skip_or_fail import skip_or_fail

CORPUS = Path(
    os.environ.get("AUDITLIB_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus")
)


def _corpus_missing() -> NoReturn:
    """Skip (or, under CI=true, fail) a test that needs the corpus when it is absent."""
    skip_or_fail(f"real-tool corpus not found at {CORPUS} (set AUDITLIB_CORPUS)",
                 "the corpus tests")


def corpus_path(relpath: str) -> Path:
    """Return a corpus file's path, skipping the test with a clear reason when the corpus is
    absent.
    """
    path = CORPUS / relpath
    if not CORPUS.is_dir():
        _corpus_missing()
    assert path.exists(), f"corpus file missing: {path}"
    return path


@pytest.fixture
def corpus() -> type[CorpusLoader]:
    """Return a loader of corpus files: `corpus.load("trivy-json/x.json")` gives the `AuditData`."""
    return CorpusLoader


class CorpusLoader:
    """Loads one corpus file and checks it gave no error."""

    @staticmethod
    def path(relpath: str) -> Path:
        """Return the path of a corpus file (skips when the corpus is absent)."""
        return corpus_path(relpath)

    @staticmethod
    def load(relpath: str, *, allow_error: bool = False) -> auditlib.AuditData:
        """Load one corpus file; unless `allow_error`, assert that it gave no load error."""
        data = auditlib.load(corpus_path(relpath))
        if not allow_error:
            errors = data.load_errors[data.load_errors["level"] == "error"]
            assert errors.empty, errors["reason"].tolist()
        return data


@pytest.fixture
def write_json(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Return a function writing bytes or text to a file in tmp_path and returning its path."""

    def _write(name: str, content: str | bytes) -> Path:
        p = tmp_path / name
        p.write_bytes(content.encode() if isinstance(content, str) else content)
        return p

    return _write


@pytest.fixture(autouse=True, scope="session")
def _default_store_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Point the default store (`AUDITLIB_STORE`) at a temporary folder for the whole run: no
    test writes `./auditlib-store` of the checkout it runs in."""
    os.environ["AUDITLIB_STORE"] = str(tmp_path_factory.mktemp("default-store") / "store")
