"""Integration tests use the real tools; where they cannot be had, they skip with one clear line.

Under CI=true nothing may skip: a missing tool is a failure.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def require_tool(name: str, install_hint: str) -> Path:
    """Return the path of executable `name` (on PATH or beside this Python), or skip/fail."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found:
        return Path(found)
    why = f"{name} not found on PATH or in {Path(sys.executable).parent} ({install_hint})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(why + "; CI must run the integration tests")
    pytest.skip(why)


@pytest.fixture(scope="session")
def docker_engine():  # type: ignore[no-untyped-def]
    """A real dockerd started for this test session (skips, or fails under CI, when it cannot
    be).
    """
    from tests.integration.engine import engine_or_skip

    yield from engine_or_skip()


@pytest.fixture(scope="session")
def engine_fleet(docker_engine, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The integration fleet (tests/integration/fleet.py) built on the session's engine."""
    from tests.integration.fleet import build_fleet

    return build_fleet(docker_engine, tmp_path_factory.mktemp("fleet"))
