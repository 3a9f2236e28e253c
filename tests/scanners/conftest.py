"""Fixtures of the scanner tests: stand-in scanners on PATH (`tests.scanners.fakes`), an image
archive and a Dockerfile to scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditlib.scanners import tools
from tests.scanners import image_archive
from tests.scanners.fakes import FILES, Fakes


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fakes:
    """Stand-in scanners only: PATH is their folder alone, and nothing is found beside Python."""
    folder = tmp_path / "bin"
    folder.mkdir()
    empty = tmp_path / "python-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setattr(tools, "python_bin_dir", lambda: empty)
    return Fakes(folder)


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "app.tar"
    return path, image_archive(path, FILES)


@pytest.fixture
def dockerfile(tmp_path: Path) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM debian:latest\n")
    return path
