"""The parameters every page of a run gets (auditlib.job.report_parameters)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from auditlib.job import report_parameters


def test_a_relative_policy_path_reaches_the_pages_absolute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports run beside each other while papermill changes the working folder: `auditlib demo`
    once failed one page with 'policy.yaml: cannot read' for a relative policy path."""
    (tmp_path / "fleet").mkdir()
    (tmp_path / "fleet" / "policy.yaml").write_text("rules: {}\n")
    monkeypatch.chdir(tmp_path)
    a = SimpleNamespace(as_of=pd.Timestamp("2026-12-06T00:00:00Z"))
    got = report_parameters(a, "fleet/policy.yaml", {"limit": 5})  # type: ignore[arg-type]
    assert os.path.isabs(got["policy"])
    assert Path(got["policy"]) == tmp_path.resolve() / "fleet" / "policy.yaml"
    assert got["limit"] == 5 and got["as_of"] == "2026-12-06T00:00:00+00:00"
