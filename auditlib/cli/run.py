"""`auditlib run`: the one scheduled job (collect, scan, ingest, assess, report)."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from auditlib.cli.console import error, fail, note, progress
from auditlib.cli.exits import Exit, leave
from auditlib.cli.fleet import SourceBars, fleet_options, fleet_request
from auditlib.cli.headline import fix_first_lines, fixable_line, unknown_line
from auditlib.cli.options import (
    allow_damaged_option,
    as_of_option,
    cosign_key_option,
    engines_option,
    fail_on_option,
    policy_option,
    quiet_option,
    registries_option,
    registry_limits_option,
    store_option,
    warn_damaged,
)
from auditlib.cli.report import report_bars, report_options, said
from auditlib.errors import AuditlibError, ParameterError
from auditlib.ingest.vex_paths import not_vex
from auditlib.job import JobRequest, run_job
from auditlib.reports.batch import report_names
from auditlib.sources.registry import RegistryLimits


@click.command()
@store_option
@engines_option
@registries_option
@registry_limits_option
@cosign_key_option
@fleet_options
@click.option("--ingest", "ingest_paths", multiple=True, metavar="PATH",
              help="Scanner outputs and SBOMs (files or folders) to ingest; repeatable.")
@click.option("--vex", "vex_paths", multiple=True, metavar="PATH",
              help="VEX documents (OpenVEX, CycloneDX VEX, CSAF 2.0 VEX; files or folders) to "
              "ingest and apply to the findings; repeatable.")
@click.option("--scan/--no-scan", default=True, show_default=True,
              help="Scan the engine's tagged images with the scanners on PATH.")
@policy_option
@fail_on_option
@as_of_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Where runs and index.html go.")
@click.option("--reports", "report_list", default="compliance,staleness", show_default=True,
              metavar="LIST", help="The reports to write (comma-separated; `none` for none).")
@click.option("--notify", "notify", multiple=True, metavar="TARGET",
              help="Send a digest of what changed since the previous run of the store: a "
              "webhook URL (JSON), `slack:URL` (a Slack-compatible incoming webhook) or "
              "`mailto:ADDRESS` (SMTP from AUDITLIB_SMTP_* or the policy's notify.smtp); a URL "
              "may be `env:NAME` or `file:PATH`. Repeatable; adds to the policy's notify.targets.")
@click.option("--notify-always", is_flag=True,
              help="Send the digest even when nothing changed.")
@click.option("--notify-page-url", metavar="URL", default=None,
              help="The link the digest gives (default: the policy's notify.page_url, else the "
              "page's file:// URI).")
@click.option("--notify-strict", is_flag=True,
              help="Exit 2 when the digest could not be sent to a target (default: one error "
              "line, and the exit code is the run's).")
@report_options
@quiet_option
@allow_damaged_option
def run(store: Path, engines: tuple[str, ...], registries: tuple[str, ...],
        registry_limits: RegistryLimits | None, cosign_keys: tuple[str, ...],
        contexts: tuple[str, ...], all_contexts: bool,
        sources_file: str | None, deadline: float | None, ingest_paths: tuple[str, ...],
        vex_paths: tuple[str, ...], scan: bool,
        policy_file: str | None, fail_on: str,
        as_of: pd.Timestamp | None, out: Path, report_list: str,
        parameters: tuple[tuple[str, str], ...], kernel: str | None, notebooks: Path | None,
        cell_timeout: int | None, report_workers: int, quiet: bool, notify: tuple[str, ...],
        notify_always: bool, notify_page_url: str | None, notify_strict: bool) -> None:
    """The scheduled job: collect, scan, ingest, assess and report, into one store and one run
    folder.

    Collects the Docker Engines (--engine, --context, --all-contexts, the --sources inventory's;
    else DOCKER_HOST when it answers: an engine that cannot be reached is a note, not a failure)
    and the registry repositories, all at once, each within its deadline; scans the engine's
    tagged images with the scanners on PATH (--no-scan to skip); ingests the --ingest paths and
    the --vex documents (each must be a VEX document: a typo must not pass as no statement);
    assesses the store once (OUT/run-*/policy.json, policy.xml (JUnit) and assessment.json);
    writes the reports at the same as-of time and policy, and OUT/index.html. Each step writes
    its own snapshot. With --notify (or the policy's `notify` section), sends a digest of what
    changed since the previous run of the store (nothing when nothing changed); a target that
    cannot be reached is one error line and changes nothing else (unless --notify-strict).

    Prints, from that one assessment, what `auditlib check` and `auditlib staleness` say in
    short: the policy's verdict (images x rules and the count of each status, "broken at
    --fail-on" and exit 1 when it is), the fixable findings against their SLA, what is not
    known, and the fix-first list `auditlib staleness` prints under its table. Over an existing
    store, `auditlib run --store S --no-scan` (no engine answering: a note) gives check,
    staleness and both pages with the store assessed once: the pages read the run's saved
    assessment back.

    Exits 1 when the policy is broken at --fail-on; 2 on bad usage, a bad policy file, a store
    that cannot be written, a damaged store (unless --allow-damaged), no data at all, or a report
    that failed; 0 otherwise.
    """
    try:
        names = [] if report_list.strip() == "none" else report_names((report_list,))
    except ParameterError as e:
        raise click.UsageError(str(e)) from e
    missing = [p for p in ingest_paths if not Path(p).exists()]
    if missing:
        raise click.UsageError(f"--ingest {', '.join(missing)}: no such file or folder")
    wrong = not_vex(*vex_paths) if vex_paths else []
    if wrong:
        raise click.UsageError("--vex " + "; ".join(wrong))
    fleet = fleet_request(sources_file, contexts, all_contexts, deadline)
    warn_damaged(store)
    req = JobRequest(store=store, engines=engines, registries=registries, fleet=fleet,
                     registry_limits=registry_limits, cosign_keys=cosign_keys,
                     ingest=(*ingest_paths, *vex_paths),
                     scan=scan, policy_file=policy_file, as_of=as_of, out=out, reports=names,
                     parameters=dict(parameters), kernel=kernel, notebooks=notebooks,
                     cell_timeout=cell_timeout, report_workers=report_workers, notify=notify,
                     notify_always=notify_always, notify_page_url=notify_page_url)
    try:
        with progress("{task.description}", quiet=quiet) as bar, report_bars(quiet) as start:
            task = bar.add_task("working", total=None)
            done = run_job(req, note=note, collecting=SourceBars(bar),
                           scanning=lambda d, t, _l: bar.update(task, completed=d, total=t),
                           reading=lambda _p: bar.advance(task), started=start,
                           finished=said)
    except ParameterError as e:
        raise click.UsageError(str(e)) from e
    except AuditlibError as e:
        fail(str(e))
    broken = fail_on != "never" and done.assessment.evaluation.broken(fail_on)
    steps = [*done.steps[:-1], done.steps[-1] + (f" (broken at --fail-on {fail_on})"
                                                 if broken else "")]
    index = f"; index: {done.batch.index}" if done.batch else ""
    click.echo(f"run: {'; '.join(steps)}; wrote {', '.join(str(p) for p in done.written)}"
               f"{index}; store: {store}")
    for message in done.assessment.evaluation.errors:
        error(f"rule error: {message} (its images' results for it are no-data)")
    s = done.assessment.summary()
    click.echo(fixable_line(s))
    unknown = unknown_line(s)
    if unknown:
        click.echo(unknown)
    for line in fix_first_lines(done.assessment.staleness, s):
        click.echo(line)
    if done.notify_sent:
        click.echo(f"notified: {', '.join(done.notify_sent)}")
    for line in done.notify_failed:
        error(line)
    if done.failed or (notify_strict and done.notify_failed):
        leave(Exit.BAD_INPUT)
    leave(Exit.POLICY if broken else Exit.OK)
