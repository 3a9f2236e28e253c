"""The `auditlib` command line.

Exit codes a pipeline can use: 0 done; 1 policy broken (later commands); 2 bad usage, bad
configuration, or a source that could not be read at all.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from auditlib.cli.options import store_option
from auditlib.data import AuditData
from auditlib.errors import AuditlibError
from auditlib.ingest.documents import find_files
from auditlib.ingest.loader import load
from auditlib.store.snapshots import write_snapshot

EXIT_OK, EXIT_POLICY, EXIT_BAD_INPUT = 0, 1, 2

err_console = Console(stderr=True)


def _load_with_progress(paths: tuple[str, ...], quiet: bool) -> AuditData:
    missing = [p for p in paths if not Path(p).exists()]
    for p in missing:
        err_console.print(f"[red]error:[/red] {p}: no such file or folder")
    if quiet or not err_console.is_terminal:
        return load(*paths)
    total = sum(1 for _ in find_files(*paths))
    with Progress(
        TextColumn("reading"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("read", total=total)
        return load(*paths, progress=lambda _p: bar.advance(task))


def _summary(data: AuditData) -> dict[str, Any]:
    return {"files": [f.summary() for f in data.files if f.skipped is None]}


def _exit_code(data: AuditData, paths: tuple[str, ...]) -> int:
    bad = any(f.error for f in data.files) or any(not Path(p).exists() for p in paths)
    return EXIT_BAD_INPUT if bad else EXIT_OK


@click.group()
@click.version_option(package_name="auditlib")
def main() -> None:
    """Audit the container images a team builds and runs."""


@main.command()
@click.argument("paths", nargs=-1, required=True)
def summarize(paths: tuple[str, ...]) -> None:
    """Parse files and folders; print what each file gave, as JSON.

    Prints {"files": [{"path", "format", "format_version", "rows": {table: count}, "error"}]};
    files that are plainly not JSON are listed on stderr as skipped. Exits 2 when a file could not
    be read.
    """
    data = _load_with_progress(paths, quiet=True)
    click.echo(json.dumps(_summary(data), indent=2))
    for f in data.files:
        if f.skipped is not None:
            click.echo(f"skipped: {f.path}: {f.skipped}", err=True)
    sys.exit(_exit_code(data, paths))


def ingest_paths(
    store: Path, paths: tuple[str, ...], *, quiet: bool, full: bool = False
) -> tuple[Any, AuditData, Path]:
    """Ingest files and folders into a new snapshot, reading only what changed (a progress bar
    on a terminal unless `quiet`).

    Returns:
        The ingest plan (`auditlib.ingest.incremental.IngestPlan`), the tables read, the snapshot.

    Raises:
        AuditlibError: if the store cannot be read or written.
    """
    from auditlib.ingest.incremental import commit_ingest, load_planned, plan_ingest

    plan = plan_ingest(store, paths, full=full)
    if quiet or not err_console.is_terminal:
        data = load_planned(plan)
    else:
        with Progress(TextColumn("reading"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err_console, transient=True) as bar:
            task = bar.add_task("read", total=len(plan.to_parse))
            data = load_planned(plan, progress=lambda _p: bar.advance(task))
    return plan, data, commit_ingest(plan, data)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@store_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--full", is_flag=True, help="Read every file, even those unchanged since the "
              "store read them.")
def ingest(paths: tuple[str, ...], store: Path, quiet: bool, full: bool) -> None:
    """Parse files and folders into a new snapshot of the store.

    Files whose bytes the store already holds for the same path are skipped, their rows carried
    over (`--full` reads them again); files gone from a folder given leave the store's current
    state. Files that cannot be read are listed (and kept in the snapshot's load_errors table);
    the rest are stored. Exits 2 when a file could not be read.
    """
    for p in paths:
        if not Path(p).exists():
            err_console.print(f"[red]error:[/red] {p}: no such file or folder")
    try:
        plan, data, snap = ingest_paths(store, paths, quiet=quiet, full=full)
    except AuditlibError as e:
        err_console.print(f"[red]error:[/red] {e}")
        sys.exit(EXIT_BAD_INPUT)
    _print_counts(data)
    carried = len(plan.unchanged) - sum(1 for f in data.files if f.path in plan.unchanged)
    click.echo(f"{carried} files skipped as unchanged (already in the store), "
               f"{len(plan.removed)} gone from the folders given")
    for f in data.files:
        if f.error:
            err_console.print(f"[red]error:[/red] {f.error}", markup=False, highlight=False)
    click.echo(f"snapshot written: {snap}")
    sys.exit(_exit_code(data, paths))


@main.command()
@click.option("--engine", "engines", multiple=True, metavar="URL",
              help="A Docker Engine (unix://, tcp://, ssh://); `default` is DOCKER_HOST. "
              "Repeatable. Default: the DOCKER_HOST engine, when no other source is given.")
@click.option("--registry", "registries", multiple=True, metavar="REPO",
              help="A registry repository (`ghcr.io/org/app`, `host:5000/team/app:1.2`). "
              "Repeatable.")
@click.option("--archive", "archives", multiple=True, metavar="PATH",
              help="A `docker save` tarball or an OCI image layout (folder or tar). Repeatable.")
@click.option("--dockerfile", "dockerfiles", multiple=True, metavar="PATH[=IMAGE]",
              help="A Dockerfile, optionally with the image it builds. Repeatable.")
@click.option("--platform", default="linux/amd64", show_default=True,
              help="Platform chosen from multi-platform registry indexes.")
@click.option("--insecure-registry", is_flag=True,
              help="Allow plain HTTP to registries not on a loopback address.")
@click.option("--docker-config", type=click.Path(dir_okay=False), default=None,
              help="The docker config.json with registry credentials (default: the docker CLI's).")
@store_option
@click.option("--quiet", is_flag=True, help="No progress display.")
def collect(
    engines: tuple[str, ...],
    registries: tuple[str, ...],
    archives: tuple[str, ...],
    dockerfiles: tuple[str, ...],
    platform: str,
    insecure_registry: bool,
    docker_config: str | None,
    store: Path,
    quiet: bool,
) -> None:
    """Collect image metadata from engines, registries, archives and Dockerfiles into a new
    snapshot.

    Exits 2 when a source could not be read at all (an engine that cannot be reached, a socket
    without permission, a registry that refuses), after storing what the other sources gave.
    """
    from auditlib.sources.collect import CollectRequest
    from auditlib.sources.collect import collect as run_collect

    if not (engines or registries or archives or dockerfiles):
        engines = ("default",)
    req = CollectRequest(
        engines=[None if e == "default" else e for e in engines],
        registries=list(registries),
        archives=list(archives),
        dockerfiles=list(dockerfiles),
        platform=platform,
        insecure_registries=insecure_registry,
        docker_config=docker_config,
    )
    if quiet or not err_console.is_terminal:
        data = run_collect(req)
    else:
        with Progress(
            TextColumn("collecting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err_console, transient=True,
        ) as bar:
            task = bar.add_task("collect", total=None)
            data = run_collect(req, progress=lambda _x: bar.advance(task))
    sources = [f.path for f in data.files]
    try:
        snap = write_snapshot(store, data, sources=sources)
    except AuditlibError as e:
        err_console.print(f"[red]error:[/red] {e}")
        sys.exit(EXIT_BAD_INPUT)
    failed = [f for f in data.files if f.error]
    for f in failed:
        err_console.print(f"error: {f.error}", markup=False, highlight=False, soft_wrap=True)
    for _, row in data.load_errors[data.load_errors["level"] == "warning"].iterrows():
        err_console.print(f"warning: {row['reason']}", markup=False, highlight=False,
                          soft_wrap=True)
    counts = ", ".join(
        f"{len(getattr(data, n)):,} {n}"
        for n in ("images", "containers", "registry_tags", "dockerfiles")
    )
    click.echo(
        f"collected {len(data.files) - len(failed)} of {len(data.files)} sources: {counts}; "
        f"snapshot written: {snap}"
    )
    sys.exit(EXIT_BAD_INPUT if failed else EXIT_OK)


def _print_counts(data: AuditData) -> None:
    read = sum(1 for f in data.files if f.skipped is None and f.error is None)
    failed = sum(1 for f in data.files if f.error)
    skipped = sum(1 for f in data.files if f.skipped)
    click.echo(f"{read} files read, {failed} failed, {skipped} skipped (not JSON)")
    table = RichTable()
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, df in data.tables().items():
        table.add_row(name, f"{len(df):,}")
    Console().print(table)


def _print_findings(data: AuditData) -> None:
    """Print what the tables say about the fleet: a first look at what the reports will show."""
    v, scans = data.vulnerabilities, data.scans
    images = scans["image_id"].nunique()
    by_sev = v.groupby("severity", observed=False).size()
    fixable = v[v["fix_state"] == "fixed"].groupby("severity", observed=False).size()
    table = RichTable(title=f"vulnerabilities of {images} images, by severity")
    for col in ("severity", "vulnerabilities", "fixable", "images affected"):
        table.add_column(col, justify="left" if col == "severity" else "right")
    for sev in reversed(by_sev.index.tolist()):
        hit = v.loc[v["severity"] == sev, "image_id"].nunique()
        table.add_row(str(sev), f"{by_sev[sev]:,}", f"{fixable.get(sev, 0):,}", f"{hit:,}")
    Console().print(table)
    # An image is past end of life when any scan of it says so (Syft does not say either way).
    eol = scans["is_os_eol"].fillna(False).groupby(scans["image_id"], observed=True).any()
    lic = data.package_licenses.drop_duplicates(["image_id", "package_name", "license"])
    classes = lic.groupby("license_class", observed=True)["image_id"].nunique()
    click.echo(
        f"OS past end of life (as the scanner says): {int(eol.sum())} "
        f"of {len(eol)} images; images with a licence of class: "
        + ", ".join(f"{k} {n}" for k, n in classes.sort_values(ascending=False).items())
    )


@main.command()
@click.option(
    "--images",
    type=click.IntRange(1, 100_000),
    default=50,
    show_default=True,
    help="Images in the synthetic fleet.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where the demo fleet and its outputs go.",
)
@click.option("--seed", type=int, default=7, show_default=True)
def demo(images: int, out: Path, seed: int) -> None:
    """Make the synthetic demo fleet, ingest it into a store under --out, check it, and write the
    compliance and staleness reports and OUT/index.html.

    The fleet is synthetic (generated Trivy and Syft documents) and says so on everything it
    produces, every report page included. Exits 2 when a report failed (its page shows why).
    """
    from auditlib.demo import write_fleet

    fleet_dir = out / "demo-fleet"
    # Fewer owned files than the benchmark fleet: the demo is about its tables, not its bulk.
    info = write_fleet(fleet_dir, images=images, seed=seed, files_per_image=1000)
    click.echo(
        f"SYNTHETIC demo fleet: {info.images} images, {info.files} files, "
        f"{info.total_bytes / 1e6:.1f} MB in {fleet_dir}"
    )
    data = _load_with_progress((str(fleet_dir),), quiet=False)
    snap = write_snapshot(out / "demo-store", data, sources=[str(fleet_dir)])
    _print_counts(data)
    _print_findings(data)
    click.echo(f"snapshot written: {snap}")
    from auditlib.cli.report import demo_reports

    code = max(_exit_code(data, (str(fleet_dir),)), demo_reports(out / "demo-store", out))
    click.echo("All of this is SYNTHETIC demo data: generated documents, not real images.")
    sys.exit(code)


from auditlib.cli.check import check  # noqa: E402
from auditlib.cli.eol import eol  # noqa: E402
from auditlib.cli.report import report, run  # noqa: E402
from auditlib.cli.scan import scan  # noqa: E402 - cli_scan uses the helpers above
from auditlib.cli.staleness import staleness_command  # noqa: E402

main.add_command(scan)
main.add_command(check)
main.add_command(eol)
main.add_command(staleness_command)
main.add_command(report)
main.add_command(run)

if __name__ == "__main__":  # pragma: no cover
    main()
