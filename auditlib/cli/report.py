"""`auditlib report`: execute the report notebooks with papermill, export each to HTML."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.progress import Progress

from auditlib.assess import assess
from auditlib.cli.console import fail, note, progress, say
from auditlib.cli.exits import Exit, leave
from auditlib.cli.options import (
    allow_damaged_option,
    as_of_option,
    quiet_option,
    store_option,
    warn_damaged,
)
from auditlib.errors import AuditlibError, ParameterError
from auditlib.job import reads_saved, report_parameters, save_for_reports
from auditlib.policy.config import load_policy
from auditlib.reports.batch import StartReport, report_names, run_reports
from auditlib.reports.params import ReportParams
from auditlib.reports.runner import ReportRun, new_run_dir

_report_options: list[Callable[[Any], Any]] = [
    click.option("-p", "--parameter", "parameters", nargs=2, multiple=True,
                 metavar="NAME VALUE",
                 help="A notebook parameter (typed as its parameters cell says); repeatable."),
    click.option("--kernel", default=None, metavar="NAME",
                 help="The Jupyter kernel (default: one that runs this Python, registered "
                 "when none does)."),
    click.option("--notebooks", type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="The folder of the report notebooks (default: AUDITLIB_NOTEBOOKS, else "
                 "the notebooks shipped with auditlib)."),
    click.option("--cell-timeout", type=click.IntRange(min=1), default=None, metavar="SECONDS",
                 help="Seconds one notebook cell may run (default: no limit)."),
    click.option("--report-workers", type=click.IntRange(min=1), default=2, show_default=True,
                 metavar="N",
                 help="Reports run at once, each in its own kernel (1: one after the other; "
                 "each kernel holds what its page reads in memory)."),
]


def report_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options `report` and `run` share to a command."""
    for option in reversed(_report_options):
        f = option(f)
    return f


def said(run: ReportRun) -> None:
    """Print one line on a report that ended: its page, or why it failed."""
    if run.ok:
        say(f"{run.name}:", f"{run.html} ({run.html_bytes / 1e6:.1f} MB, {run.figures} figures, "
            f"{run.seconds_execute + run.seconds_export:.1f} s)")
    else:
        say("error:", f"{run.name} failed: {run.error}; the page shows what ran and the error: "
            f"{run.html}")


@contextmanager
def report_bars(quiet: bool) -> Iterator[StartReport]:
    """Return the `started` callback of `run_reports`: a bar of cells per report."""
    with progress("{task.description:<12}", quiet=quiet, extra="cells") as bar:
        def start(name: str, bar: Progress = bar) -> Callable[[int, int], None]:
            task = bar.add_task(name, total=None)
            return lambda done, total: bar.update(task, completed=done, total=total)

        yield start


def assessed_once(names: list[str], store: Path, out: Path, given: dict[str, Any],
                  notebooks: Path | None) -> tuple[Path | None, dict[str, Any]]:
    """Return the run folder and the parameters of reports `names`: for two or more, the store
    assessed once (at the given time, else now, under the given policy and image filter), saved
    in a new run folder and named by the `assessment` parameter, so each report reads it back
    instead of assessing again (`auditlib.job.save_for_reports`); for one, no folder and `given`.

    Raises:
        ParameterError: if a parameter's value cannot be used.
        StoreError, PolicyError, EngineError: as `auditlib.assess.assess`.
    """
    if len(names) < 2 or not reads_saved(names, notebooks):
        return None, given  # each page assesses the store itself
    known = {k: v for k, v in given.items() if k in ("policy", "as_of", "image_filter")}
    p = ReportParams.from_values({**known, "store": str(store)})
    a = assess(store, as_of=p.as_of, policy=p.policy, image_filter=p.image_filter)
    a.summary()  # what every page shows: computed once, saved for each
    folder = new_run_dir(out)
    return folder, save_for_reports(a, folder, names, notebooks,
                                    report_parameters(a, p.policy, given), note)


def given_parameters(parameters: Sequence[tuple[str, str]], policy: str | None,
                     as_of: pd.Timestamp | None) -> dict[str, Any]:
    """Return the notebook parameters of `-p NAME VALUE`, `--policy` and `--as-of`."""
    given: dict[str, Any] = dict(parameters)
    if policy is not None:
        given["policy"] = policy
    if as_of is not None:
        given["as_of"] = as_of.isoformat()
    return given


@click.command()
@click.argument("names", nargs=-1, required=True, metavar="compliance|staleness|explore|all...")
@store_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Where runs and index.html go.")
@click.option("--policy", default=None, metavar="FILE",
              help="A YAML policy file (the compliance report's `policy` parameter).")
@as_of_option
@report_options
@quiet_option
@allow_damaged_option
def report(names: tuple[str, ...], store: Path, out: Path, policy: str | None,
           as_of: pd.Timestamp | None, parameters: tuple[tuple[str, str], ...],
           kernel: str | None, notebooks: Path | None, cell_timeout: int | None,
           report_workers: int, quiet: bool) -> None:
    """Execute report notebooks with papermill and export each to HTML that renders offline.

    NAMES are compliance, staleness, explore, or all (compliance and staleness). Each run goes
    to OUT/run-<UTC time>/: per report NAME.html (the page, without code), NAME.ipynb (the
    executed notebook) and NAME.json (a summary); OUT/index.html lists every run, newest first.
    Two or more reports read one assessment of the store (at --as-of, else now), saved in the
    run folder: the store is assessed once, not once per page.

    Exits 0 when every report ran to its end; 2 on bad usage, a store without snapshot, a
    damaged store (unless --allow-damaged: each page's header then names the damaged snapshots
    left out), an unknown kernel, or a report whose notebook failed (its page still shows what
    ran and the error).
    """
    try:
        chosen = report_names(names)
    except ParameterError as e:
        raise click.UsageError(str(e)) from e
    if not warn_damaged(store).snapshots:
        fail(f"{store}: no snapshot in this store; run `auditlib ingest PATH --store {store}`, "
             f"`auditlib collect --store {store}` or `auditlib run` first")
    try:
        load_policy(policy)  # a bad policy file is one clear line, not a failed page
        folder, given = assessed_once(chosen, store, out,
                                      given_parameters(parameters, policy, as_of), notebooks)
        with report_bars(quiet) as start:
            batch = run_reports(chosen, store=store, out=out, parameters=given, kernel=kernel,
                                notebooks=notebooks, cell_timeout=cell_timeout, run_dir=folder,
                                started=start, finished=said, workers=report_workers)
    except ParameterError as e:
        raise click.UsageError(str(e)) from e
    except AuditlibError as e:
        fail(str(e))
    pages = ", ".join(str(r.html) for r in batch.runs)
    click.echo(f"report: {len(batch.runs) - len(batch.failed)} of {len(batch.runs)} reports "
               f"written ({pages}); index: {batch.index}")
    leave(Exit.BAD_INPUT if batch.failed else Exit.OK)
