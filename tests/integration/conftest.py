"""Integration tests use the real tools; where they cannot be had, they skip with one clear line.

Under CI=true nothing may skip: a missing tool is a failure.
"""

from __future__ import annotations

import secrets
import shutil
import sys
from pathlib import Path

import pytest

from tests.skip_or_fail import skip_or_fail


def require_tool(name: str, install_hint: str) -> Path:
    """Return the path of executable `name` (on PATH or beside this Python), or skip/fail."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found:
        return Path(found)
    skip_or_fail(f"{name} not found on PATH or in {Path(sys.executable).parent} ({install_hint})")


# The registries are module-scoped, not session-scoped: test modules push the same repositories
# (`team/app`, `private/app`) with different contents and assert the exact tags and digests they
# find, so each module gets a registry of its own (one start takes well under a second).


@pytest.fixture(scope="module")
def registry_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real registry without authentication (tests/integration/registry_server.py), started
    for the test module and stopped after it; skips (fails under CI) without `docker-registry`.
    """
    from tests.integration.registry_server import start_registry

    with start_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture(scope="module")
def auth_registry_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real registry behind htpasswd basic auth, started for the test module; its `username`
    and `password` are random for each start. Skips (fails under CI) without `docker-registry`
    or `htpasswd`.
    """
    from tests.integration.registry_server import start_registry

    with start_registry(
        tmp_path_factory.mktemp("registry-auth"),
        username=f"auditor{secrets.token_hex(3)}",
        password=f"Pw-{secrets.token_urlsafe(18)}",
    ) as running:
        yield running


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
