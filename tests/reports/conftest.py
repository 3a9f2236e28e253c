"""Fixtures of the report tests: a small poisoned store and the reports run on it once."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditlib.reports import ReportRun, new_run_dir, run_report, write_index
from tests.reports.fleet import make_store

REPORTS = ("compliance", "staleness", "explore")


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 5 synthetic images (two snapshots) with untrusted text in it."""
    return make_store(tmp_path_factory.mktemp("reports-store"), snapshots=2)


@pytest.fixture(scope="session")
def report_runs(small_store: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> dict[str, ReportRun]:
    """Each report notebook run once on the small store, into one run folder."""
    out = tmp_path_factory.mktemp("reports-out")
    folder = new_run_dir(out)
    runs = {name: run_report(name, store=small_store, run_dir=folder) for name in REPORTS}
    write_index(out)
    return runs
