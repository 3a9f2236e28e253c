"""Run several reports into one run folder and rebuild the index: what `auditlib report`,
`auditlib run` and `auditlib demo` do after the store is filled."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditlib.errors import ParameterError
from auditlib.reports.index import write_index
from auditlib.reports.kernel import find_kernel
from auditlib.reports.runner import (
    DEFAULT_REPORTS,
    ReportRun,
    new_run_dir,
    notebook_parameters,
    notebook_path,
    run_report,
)

REPORT_NAMES = ("compliance", "staleness", "explore")
"""The reports auditlib ships; `all` is `DEFAULT_REPORTS` (compliance and staleness)."""

StartReport = Callable[[str], Callable[[int, int], None]]
"""Called as each report starts, with its name; returns the per-cell progress callback."""


def report_names(names: Iterable[str]) -> list[str]:
    """Return the reports named (comma-separated lists and `all` expanded, duplicates dropped).

    Raises:
        ParameterError: if no report is named.
    """
    out: list[str] = []
    for n in names:
        for part in n.split(","):
            part = part.strip()
            for name in (DEFAULT_REPORTS if part == "all" else (part,)):
                if name and name not in out:
                    out.append(name)
    if not out:
        raise ParameterError("name a report: compliance, staleness, explore or all")
    return out


def split_parameters(names: list[str], given: Mapping[str, Any], notebooks: Path | None
                     ) -> dict[str, dict[str, Any]]:
    """Return, per report, the given parameters its notebook declares.

    Raises:
        ParameterError: if a parameter is declared by none of the reports (the message lists
            the ones that are).
        ReportError: if a notebook is missing.
    """
    declared = {n: notebook_parameters(notebook_path(n, notebooks)) for n in names}
    unused = [k for k in given if not any(k in d for d in declared.values())]
    if unused:
        every = sorted({k for d in declared.values() for k in d})
        raise ParameterError(f"-p {', '.join(unused)}: not a parameter of {', '.join(names)}; "
                             f"parameters are {', '.join(every)}")
    return {n: {k: v for k, v in given.items() if k in declared[n]} for n in names}


@dataclass
class Batch:
    """What `run_reports` wrote."""

    runs: list[ReportRun]
    """Each report's run, in order."""
    folder: Path
    """The run folder."""
    index: Path
    """The index page, rebuilt."""

    @property
    def failed(self) -> list[ReportRun]:
        """Return the reports that did not run to their end."""
        return [r for r in self.runs if not r.ok]


def run_reports(names: list[str], *, store: str | Path, out: str | Path,
                parameters: Mapping[str, Any] | None = None, kernel: str | None = None,
                notebooks: Path | None = None, cell_timeout: int | None = None,
                run_dir: Path | None = None, started: StartReport | None = None,
                finished: Callable[[ReportRun], None] | None = None,
                workers: int = 1) -> Batch:
    """Run the reports `names` into one run folder (a new one under `out` unless `run_dir`),
    then rebuild `out/index.html`.

    Args:
        names: the reports (`report_names`).
        store: the store folder.
        out: where runs and the index go.
        parameters: notebook parameters; each report gets those its notebook declares.
        kernel: the Jupyter kernel (default: one that runs this Python).
        notebooks: the notebooks folder (default: the package's).
        cell_timeout: seconds one cell may run.
        run_dir: the run folder to write into.
        started: called as each report starts (for a progress bar).
        finished: called with each report's run when it ends.
        workers: reports run at once, each in its own kernel (more is faster on several cores,
            and holds the store in memory once per kernel).

    Raises:
        ParameterError: if a parameter is not one of the notebooks', or a value is bad.
        ReportError: if a notebook or the kernel is missing (nothing ran).
    """
    per_report = split_parameters(names, dict(parameters or {}), notebooks)
    kernel_name = find_kernel(kernel)
    # Absolute paths: papermill changes the process's working folder while a notebook runs, so a
    # relative path would mean another folder to a report running beside it.
    out, store = Path(out).resolve(), Path(store).resolve()
    notebooks = notebooks.resolve() if notebooks is not None else None
    folder = (run_dir or new_run_dir(out)).resolve()

    def one(name: str) -> ReportRun:
        cells = started(name) if started is not None else None
        run = run_report(name, store=store, run_dir=folder, parameters=per_report[name],
                         kernel=kernel_name, notebooks=notebooks, progress=cells,
                         cell_timeout=cell_timeout)
        if finished is not None:
            finished(run)
        return run

    if workers > 1 and len(names) > 1:
        with ThreadPoolExecutor(min(workers, len(names)), thread_name_prefix="report") as pool:
            runs = list(pool.map(one, names))
    else:
        runs = [one(name) for name in names]
    return Batch(runs, folder, write_index(out))
