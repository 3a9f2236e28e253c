"""`auditlib scan`: run the scanners, keep their raw output in the store, ingest it.

Registered on the `auditlib` group in `auditlib.cli.main`.
"""

from __future__ import annotations

from pathlib import Path

import click

from auditlib.cli.console import error, fail, note, progress, say
from auditlib.cli.exits import Exit, leave
from auditlib.cli.options import allow_damaged_option, quiet_option, store_option, warn_damaged
from auditlib.errors import AuditlibError
from auditlib.ingest.steps import Scanned, scan_into
from auditlib.normalize.visible import visible
from auditlib.scanners.report import JobResult, JobStatus, ScanReport
from auditlib.scanners.targets import (
    Dockerfile,
    EngineImage,
    EngineUnreachableError,
    ImageArchive,
    Target,
    connect_engine,
    tagged_images,
)
from auditlib.scanners.tools import TOOLS, TRIVY_OFFLINE_SCANNERS, ScanSettings, get_tools


def _names(value: str | None, param: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    if not names:
        raise click.BadParameter("name at least one", param_hint=param)
    return names


def _run(targets: list[Target], store: Path, tools: tuple[str, ...], workers: int, force: bool,
         settings: ScanSettings, quiet: bool) -> Scanned:
    with progress("scanning", quiet=quiet, extra="{task.description}") as bar:
        task = bar.add_task("", total=None)

        def advance(done: int, total: int, last: JobResult | None) -> None:
            shown = visible(f"{last.tool} {last.target}: {last.status}") if last else ""
            bar.update(task, completed=done, total=total, description=shown)

        return scan_into(store, targets, tools=tools, workers=workers, force=force,
                         settings=settings, progress=advance)


def _print_messages(report: ScanReport) -> None:
    for message in report.notes:
        note(message)
    for message in report.limitations:
        say("warning:", message)
    missing = {j.reason for j in report.jobs if j.status is JobStatus.MISSING}
    for message in report.messages:
        if message in missing:
            say("missing:", message)
        else:
            error(message)


def _engine_targets(engine: str | None, images: tuple[str, ...]) -> list[Target]:
    """Return the engine images to scan: `images`, or every tagged image when there are none.
    Exits 2 when the engine cannot be reached."""
    try:
        client, address = connect_engine(engine)
        if images:
            return [EngineImage(ref, client, address) for ref in images]
        found: list[Target] = list(tagged_images(client, address))
    except EngineUnreachableError as e:
        fail(str(e))
    if not found:
        note(f"no tagged image on the Docker Engine at {address}")
    return found


@click.command()
@click.argument("images", nargs=-1, metavar="[IMAGE]... | --all")
@click.option("--all", "all_images", is_flag=True, help="Every tagged image on the engine.")
@store_option
@click.option(
    "--engine",
    metavar="URL",
    help="The Docker Engine of IMAGE and --all (default: DOCKER_HOST, else the local socket).",
)
@click.option(
    "--archive",
    "archives",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A `docker save` tarball (or OCI layout tarball) of one image; repeatable.",
)
@click.option(
    "--dockerfile",
    "dockerfiles",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A Dockerfile to lint with hadolint; repeatable.",
)
@click.option(
    "--tools",
    metavar="LIST",
    default=",".join(TOOLS),
    show_default=True,
    help="The scanners to run, comma-separated.",
)
@click.option(
    "--trivy-scanners",
    metavar="LIST",
    help=(
        "Trivy's --scanners (vuln, misconfig, secret, license); default all four. Without "
        f"Trivy's vulnerability database in its cache, vuln is left out (Trivy runs "
        f"{','.join(TRIVY_OFFLINE_SCANNERS)}) and a warning says so."
    ),
)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Scanner runs at once.")
@click.option("--timeout", type=click.FloatRange(min=1), default=1800.0, show_default=True,
              help="Seconds one scanner run may take.")
@click.option("--force", is_flag=True, help="Scan again what the store already has.")
@quiet_option
@allow_damaged_option
def scan(
    images: tuple[str, ...],
    all_images: bool,
    store: Path,
    engine: str | None,
    archives: tuple[Path, ...],
    dockerfiles: tuple[Path, ...],
    tools: str,
    trivy_scanners: str | None,
    workers: int,
    timeout: float,
    force: bool,
    quiet: bool,
) -> None:
    """Run the scanners found on PATH, keep their raw output, ingest it into a new snapshot.

    IMAGE are references or ids of images on the Docker Engine (DOCKER_HOST or --engine), each
    exported with `docker save` and scanned; --all scans every tagged image there. Images are
    scanned by syft, trivy and grype, Dockerfiles by hadolint. Raw outputs are kept under
    STORE/raw by image id (or Dockerfile content), tool and tool version; what is already there
    is not scanned again unless --force. Trivy scans for vulnerabilities only when its database
    is in its cache (scans never download it): offline it lists packages and looks for licences,
    secrets and misconfigurations, and one warning line says the images had no vulnerability
    scan; the store records what each run covered and skipped (`scans.scanners_run`,
    `scans.scanners_skipped`).

    Exits 0 when done, even when some scanner runs failed (each is reported) or a tool is not
    installed; 2 on bad usage, when the engine cannot be reached, when a target cannot be read at
    all (an image not on the engine, a file that is not an image archive), when no scanner
    run succeeded, or when the store is damaged (unless --allow-damaged).
    """
    if images and all_images:
        raise click.UsageError("give IMAGE... or --all, not both")
    if not (images or all_images or archives or dockerfiles):
        raise click.UsageError("nothing to scan: give IMAGE..., --all, --archive or --dockerfile")
    tool_names = _names(tools, "--tools") or ()
    try:
        get_tools(tool_names)
        settings = ScanSettings(trivy_scanners=_names(trivy_scanners, "--trivy-scanners"),
                                timeout=timeout)
    except ValueError as e:
        raise click.UsageError(str(e)) from e

    warn_damaged(store)
    targets: list[Target] = []
    if images or all_images:
        targets += _engine_targets(engine, images)
    targets += [ImageArchive(p) for p in archives]
    targets += [Dockerfile(p) for p in dockerfiles]
    if not targets:
        click.echo("scan: nothing to scan; no snapshot written")
        leave(Exit.OK)
    try:
        done = _run(targets, store, tool_names, workers, force, settings, quiet)
    except AuditlibError as e:
        fail(str(e))
    report = done.report
    _print_messages(report)
    code = Exit.BAD_INPUT if report.target_errors or report.nothing_done else Exit.OK
    if done.snapshot is None:
        click.echo(f"scan: {report.summary()}; nothing to ingest, no snapshot written")
        leave(code)
    for f in done.data.files:
        if f.error:
            error(f.error)
    click.echo(f"scan: {report.summary()}; snapshot written: {done.snapshot}")
    leave(code)
