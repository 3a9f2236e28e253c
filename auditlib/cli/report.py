"""`auditlib report` (execute the report notebooks, export HTML) and `auditlib run` (the one
scheduled job: collect, scan, ingest, check, report).

Registered on the `auditlib` group at the end of `auditlib.cli.main`; imports nothing from it at
module level. Exit codes: 0 done; 1 the policy is broken at `--fail-on` (`run`); 2 bad usage,
bad configuration, a store that cannot be read or written, or a report that failed (its page
is still written and shows the error).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from auditlib.cli.options import store_option
from auditlib.errors import AuditlibError

EXIT_OK, EXIT_POLICY, EXIT_FAILED = 0, 1, 2

_err = Console(stderr=True)


def _say(label: str, message: str) -> None:
    _err.print(f"{label} {escape(message)}", highlight=False, soft_wrap=True)


def _report_names(names: Sequence[str]) -> list[str]:
    from auditlib.reports.runner import DEFAULT_REPORTS

    out: list[str] = []
    for n in names:
        for part in n.split(","):
            part = part.strip()
            for name in (DEFAULT_REPORTS if part == "all" else (part,)):
                if name and name not in out:
                    out.append(name)
    if not out:
        raise click.UsageError("name a report: compliance, staleness, explore or all")
    return out


def _split_parameters(
    names: list[str], given: dict[str, Any], notebooks: Path | None
) -> dict[str, dict[str, Any]]:
    """Return, per report, the parameters its notebook declares; a parameter no report
    declares is a usage error."""
    from auditlib.reports.runner import notebook_parameters, notebook_path

    declared = {n: notebook_parameters(notebook_path(n, notebooks)) for n in names}
    unused = [k for k in given if not any(k in d for d in declared.values())]
    if unused:
        every = sorted({k for d in declared.values() for k in d})
        raise click.UsageError(f"-p {', '.join(unused)}: not a parameter of "
                               f"{', '.join(names)}; parameters are {', '.join(every)}")
    return {n: {k: v for k, v in given.items() if k in declared[n]} for n in names}


def run_reports(
    names: list[str], *, store: Path, out: Path, given: dict[str, Any], kernel: str | None,
    notebooks: Path | None, quiet: bool, cell_timeout: int | None = None,
    run_dir: Path | None = None,
) -> tuple[list[Any], Path]:
    """Run the reports `names` into one run folder, rebuild the index, print a line per report.

    Returns:
        The `ReportRun` of each report, and the index page.

    Raises:
        click.UsageError: if a parameter is not one of the notebooks'.
        AuditlibError: if a notebook, the kernel or a parameter value is wrong (nothing ran).
    """
    from auditlib.reports import new_run_dir, run_report, write_index
    from auditlib.reports.kernel import find_kernel

    per_report = _split_parameters(names, given, notebooks)
    kernel_name = find_kernel(kernel)
    folder = run_dir or new_run_dir(out)
    runs = []
    show = not quiet and _err.is_terminal
    with Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("cells"), TimeElapsedColumn(), console=_err, transient=True,
                  disable=not show) as bar:
        for name in names:
            task = bar.add_task(name, total=None)

            def advance(done: int, total: int, task: Any = task) -> None:
                bar.update(task, completed=done, total=total)

            run = run_report(name, store=store, run_dir=folder, parameters=per_report[name],
                             kernel=kernel_name, notebooks=notebooks, progress=advance,
                             cell_timeout=cell_timeout)
            bar.update(task, visible=False)
            runs.append(run)
            if run.ok:
                _say(f"{name}:", f"{run.html} ({run.html_bytes / 1e6:.1f} MB, {run.figures} "
                     f"figures, {run.seconds_execute + run.seconds_export:.1f} s)")
            else:
                _say(f"[red]{name} failed:[/red]", f"{run.error}; the page shows what ran and "
                     f"the error: {run.html}")
    index = write_index(out)
    return runs, index


def _given(parameters: Sequence[tuple[str, str]], policy: str | None,
           as_of: str | None) -> dict[str, Any]:
    given: dict[str, Any] = dict(parameters)
    if policy is not None:
        given["policy"] = policy
    if as_of is not None:
        given["as_of"] = as_of
    return given


def _check_store(store: Path) -> None:
    from auditlib.store.snapshots import list_snapshots

    if not list_snapshots(store):
        _say("[red]error:[/red]", f"{store}: no snapshot in this store; run `auditlib ingest "
             f"PATH --store {store}`, `auditlib collect --store {store}` or `auditlib run` first")
        sys.exit(EXIT_FAILED)


_report_options: list[Callable[[Any], Any]] = [
    click.option("-p", "--parameter", "parameters", nargs=2, multiple=True,
                 metavar="NAME VALUE",
                 help="A notebook parameter (typed as its parameters cell says); repeatable."),
    click.option("--kernel", default=None, metavar="NAME",
                 help="The Jupyter kernel (default: one that runs this Python, registered "
                 "when none does)."),
    click.option("--notebooks", type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="The folder of the report notebooks (default: AUDITLIB_NOTEBOOKS, else "
                 "notebooks/ of this checkout)."),
    click.option("--cell-timeout", type=click.IntRange(min=1), default=None, metavar="SECONDS",
                 help="Seconds one notebook cell may run (default: no limit)."),
]


def report_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options `report` and `run` share to a command."""
    for option in reversed(_report_options):
        f = option(f)
    return f


@click.command()
@click.argument("names", nargs=-1, required=True, metavar="compliance|staleness|explore|all...")
@store_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Where runs and index.html go.")
@click.option("--policy", default=None, metavar="FILE",
              help="A YAML policy file (the compliance report's `policy` parameter).")
@click.option("--as-of", default=None, metavar="DATE",
              help="Measure ages, SLAs and waivers at this date (the `as_of` parameter).")
@report_options
@click.option("--quiet", is_flag=True, help="No progress bars.")
def report(names: tuple[str, ...], store: Path, out: Path, policy: str | None,
           as_of: str | None, parameters: tuple[tuple[str, str], ...], kernel: str | None,
           notebooks: Path | None, cell_timeout: int | None, quiet: bool) -> None:
    """Execute report notebooks with papermill and export each to HTML that renders offline.

    NAMES are compliance, staleness, explore, or all (compliance and staleness). Each run goes
    to OUT/run-<UTC time>/: per report NAME.html (the page, without code), NAME.ipynb (the
    executed notebook) and NAME.json (a summary); OUT/index.html lists every run, newest first.

    Exits 0 when every report ran to its end; 2 on bad usage, a store without snapshot, an
    unknown kernel, or a report whose notebook failed (its page still shows what ran and the
    error).
    """
    from auditlib.policy import PolicyError, load_policy
    from auditlib.reports.params import ParameterError

    chosen = _report_names(names)
    _check_store(store)
    if policy is not None:
        try:
            load_policy(policy)  # a bad policy file is one clear line, not a failed page
        except PolicyError as e:
            _say("[red]error:[/red]", str(e))
            sys.exit(EXIT_FAILED)
    try:
        runs, index = run_reports(chosen, store=store, out=out,
                                  given=_given(parameters, policy, as_of), kernel=kernel,
                                  notebooks=notebooks, quiet=quiet, cell_timeout=cell_timeout)
    except ParameterError as e:
        raise click.UsageError(str(e)) from e
    except AuditlibError as e:
        _say("[red]error:[/red]", str(e))
        sys.exit(EXIT_FAILED)
    failed = [r for r in runs if not r.ok]
    pages = ", ".join(str(r.html) for r in runs)
    click.echo(f"report: {len(runs) - len(failed)} of {len(runs)} reports written ({pages}); "
               f"index: {index}")
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


def _collect_step(engines: tuple[str, ...], registries: tuple[str, ...], store: Path,
                  show: bool) -> tuple[int, bool]:
    """Collect from the engine(s) and registries; return (sources read, an engine answered).
    A source that cannot be reached is a note."""
    from auditlib.sources.collect import CollectRequest, collect
    from auditlib.store.snapshots import write_snapshot

    req = CollectRequest(engines=[None if e == "default" else e for e in engines or ("default",)],
                         registries=list(registries))
    with Progress(TextColumn("collecting"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=_err, transient=True, disable=not show) as bar:
        task = bar.add_task("collect", total=None)
        data = collect(req, progress=lambda _x: bar.advance(task))
    ok = [f for f in data.files if not f.error]
    for f in data.files:
        if f.error:
            _say("note:", f"not collected: {f.error}")
    engine_ok = any(f.format == "docker-engine" for f in ok)
    if ok:
        write_snapshot(store, data, sources=[f.path for f in data.files])
    return len(ok), engine_ok


def _scan_step(engine: str | None, store: Path, show: bool) -> int:
    """Scan every tagged image of the engine with the scanners on PATH; return the outputs
    ingested. Missing tools and failed runs are notes."""
    from auditlib.ingest.loader import load
    from auditlib.scanners.runner import run_scans
    from auditlib.scanners.targets import EngineUnreachableError, connect_engine, tagged_images
    from auditlib.store.snapshots import write_snapshot

    try:
        client, address = connect_engine(engine)
        targets: list[Any] = list(tagged_images(client, address))
    except EngineUnreachableError as e:
        _say("note:", f"not scanned: {e}")
        return 0
    if not targets:
        _say("note:", f"not scanned: no tagged image on the Docker Engine at {address}")
        return 0
    with Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=_err, transient=True, disable=not show) as bar:
        task = bar.add_task("scan", total=None)
        report = run_scans(targets, store, progress=lambda done, total, _last: bar.update(
            task, completed=done, total=total))
    for message in report.messages:
        _say("note:", message)
    if not report.raw_files:
        return 0
    data = load(*report.raw_files)
    write_snapshot(store, data, sources=[f"{address} {getattr(t, 'ref', t)}" for t in targets])
    return len(report.raw_files)


def _ingest_step(paths: tuple[str, ...], store: Path, quiet: bool) -> int:
    """Ingest files and folders into a new snapshot; return the files read. Unreadable files are
    notes (they are kept in load_errors)."""
    from auditlib.cli.main import ingest_paths

    _, data, _ = ingest_paths(store, paths, quiet=quiet)
    for f in data.files:
        if f.error:
            _say("note:", f"not ingested: {f.error}")
    return sum(1 for f in data.files if f.skipped is None and f.error is None)


def _check_step(store: Path, policy_file: str | None, as_of: str | None, folder: Path,
                fail_on: str) -> tuple[bool, str]:
    """Evaluate the policy; write policy.json and policy.xml (JUnit) into the run folder.
    Return (broken at fail_on, a summary line)."""
    from auditlib.policy import evaluate, load_policy
    from auditlib.policy.output import to_json, to_junit
    from auditlib.reports.params import parse_date
    from auditlib.store.snapshots import read_current

    when = parse_date(as_of) if as_of else None
    from auditlib.cli.check import first_seen_fixed_of

    policy = load_policy(policy_file)
    ev = evaluate(read_current(store), policy, as_of=when or dt.datetime.now(dt.UTC),
                  first_seen_fixed=first_seen_fixed_of(store))
    (folder / "policy.json").write_text(to_json(ev), encoding="utf-8")
    (folder / "policy.xml").write_text(to_junit(ev), encoding="utf-8")
    broken = fail_on != "never" and ev.broken(fail_on)
    counts = ", ".join(f"{ev.count(s)} {s}" for s in ("fail", "warn", "no-data", "waived", "pass"))
    return broken, f"{len(ev.scores)} images x {len(policy.enabled())} rules: {counts}"


@click.command()
@store_option
@click.option("--engine", "engines", multiple=True, metavar="URL",
              help="A Docker Engine to collect and scan (default: DOCKER_HOST or the local "
              "socket, when it answers); repeatable.")
@click.option("--registry", "registries", multiple=True, metavar="REPO",
              help="A registry repository to collect (`ghcr.io/org/app`); repeatable.")
@click.option("--ingest", "ingest_paths", multiple=True, metavar="PATH",
              help="Scanner outputs and SBOMs (files or folders) to ingest; repeatable.")
@click.option("--scan/--no-scan", default=True, show_default=True,
              help="Scan the engine's tagged images with the scanners on PATH.")
@click.option("--policy", "policy_file", default=None, metavar="FILE",
              help="A YAML policy file (default: every rule with its defaults).")
@click.option("--fail-on", type=click.Choice(["fail", "warn", "never"]), default="fail",
              show_default=True, help="Exit 1 when a policy result is at least this bad.")
@click.option("--as-of", default=None, metavar="DATE",
              help="Measure ages, SLAs and waivers at this date (default: now).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Where runs and index.html go.")
@click.option("--reports", "report_list", default="compliance,staleness", show_default=True,
              metavar="LIST", help="The reports to write (comma-separated; `none` for none).")
@report_options
@click.option("--quiet", is_flag=True, help="No progress bars.")
def run(store: Path, engines: tuple[str, ...], registries: tuple[str, ...],
        ingest_paths: tuple[str, ...], scan: bool, policy_file: str | None, fail_on: str,
        as_of: str | None, out: Path, report_list: str,
        parameters: tuple[tuple[str, str], ...], kernel: str | None, notebooks: Path | None,
        cell_timeout: int | None, quiet: bool) -> None:
    """The scheduled job: collect, scan, ingest, check and report, into one store and one run
    folder.

    Collects the Docker Engine (--engine, else DOCKER_HOST when it answers: an engine that cannot
    be reached is a note, not a failure) and the --registry repositories; scans the engine's
    tagged images with the scanners on PATH (--no-scan to skip); ingests the --ingest paths;
    evaluates the policy (OUT/run-*/policy.json and policy.xml, JUnit); writes the reports and
    OUT/index.html. Each step writes its own snapshot.

    Exits 1 when the policy is broken at --fail-on; 2 on bad usage, a bad policy file, a store
    that cannot be written, no data at all, or a report that failed; 0 otherwise.
    """
    from auditlib.policy import PolicyError, load_policy
    from auditlib.reports import new_run_dir
    from auditlib.reports.params import ParameterError, parse_date

    show = not quiet and _err.is_terminal
    names = [] if report_list.strip() == "none" else _report_names((report_list,))
    try:
        load_policy(policy_file)  # a bad policy file stops the run before any work
        if as_of:
            parse_date(as_of)
    except (PolicyError, ParameterError) as e:
        _say("[red]error:[/red]", str(e))
        sys.exit(EXIT_FAILED)
    missing = [p for p in ingest_paths if not Path(p).exists()]
    if missing:
        raise click.UsageError(f"--ingest {', '.join(missing)}: no such file or folder")
    steps: list[str] = []
    try:
        collected, engine_ok = _collect_step(engines, registries, store, show)
        steps.append(f"collected {collected} source{'s' if collected != 1 else ''}")
        if scan and engine_ok:
            scanned = _scan_step(engines[0] if engines and engines[0] != "default" else None,
                                 store, show)
            steps.append(f"scanned {scanned} output{'s' if scanned != 1 else ''}")
        elif scan:
            steps.append("scan skipped (no engine)")
        if ingest_paths:
            steps.append(f"ingested {_ingest_step(ingest_paths, store, quiet)} files")
        _check_store(store)
        folder = new_run_dir(out)
        broken, checked = _check_step(store, policy_file, as_of, folder, fail_on)
        steps.append(f"policy: {checked}" + (f" (broken at --fail-on {fail_on})"
                                             if broken else ""))
        runs: list[Any] = []
        index = None
        if names:
            runs, index = run_reports(
                names, store=store, out=out,
                given=_given(parameters, policy_file, as_of), kernel=kernel,
                notebooks=notebooks, quiet=quiet, cell_timeout=cell_timeout, run_dir=folder)
    except ParameterError as e:
        raise click.UsageError(str(e)) from e
    except AuditlibError as e:
        _say("[red]error:[/red]", str(e))
        sys.exit(EXIT_FAILED)
    failed = [r for r in runs if not r.ok]
    written = [str(r.html) for r in runs] + [str(folder / "policy.json"),
                                             str(folder / "policy.xml")]
    click.echo(f"run: {'; '.join(steps)}; wrote {', '.join(written)}"
               + (f"; index: {index}" if index else "") + f"; store: {store}")
    if failed:
        sys.exit(EXIT_FAILED)
    sys.exit(EXIT_POLICY if broken else EXIT_OK)


def demo_reports(store: Path, out: Path) -> int:
    """Check the demo store, say how stale it is, and write both reports and the index into
    `out` (what `auditlib demo` does after ingesting the fleet).

    Returns:
        The exit code: 0, or 2 when a report failed (its page shows the error).
    """
    import pandas as pd

    from auditlib.policy import evaluate, load_policy
    from auditlib.reports.staleness import staleness_available
    from auditlib.store.snapshots import read_current

    data = read_current(store)
    ev = evaluate(data, load_policy(None))
    counts = ", ".join(f"{ev.count(s)} {s}" for s in ("fail", "warn", "no-data", "waived", "pass"))
    grades = ev.scores["grade"].astype(str).value_counts().sort_index()
    click.echo(f"policy: {len(ev.scores)} images x {len(ev.policy.enabled())} rules: {counts}; "
               "grades " + " ".join(f"{g}:{n}" for g, n in grades.items()))
    if staleness_available():
        from auditlib.staleness.table import staleness

        st = staleness(data, as_of=pd.Timestamp.now(tz="UTC"))
        eol = int(st["os_is_eol"].fillna(False).astype(bool).sum())
        first = st.sort_values("priority_rank").head(1)["image_name"].tolist()
        click.echo(f"staleness: median age {st['age_days'].median():.0f} days; {eol} images on "
                   f"an OS past its end of life; rebuild first: {first[0] if first else '-'}")
    runs, index = run_reports(["compliance", "staleness"], store=store, out=out, given={},
                              kernel=None, notebooks=None, quiet=False)
    click.echo(f"reports: {', '.join(str(r.html) for r in runs)}; index: {index}")
    return EXIT_FAILED if any(not r.ok for r in runs) else EXIT_OK
