"""`auditlib demo`: the synthetic demo fleet, ingested, assessed and reported."""

from __future__ import annotations

from pathlib import Path

import click

from auditlib.cli.console import error, fail, progress
from auditlib.cli.exits import Exit, leave
from auditlib.cli.headline import fixable_line, unknown_line
from auditlib.cli.options import store_option
from auditlib.cli.report import report_bars, said
from auditlib.errors import AuditlibError
from auditlib.job import DemoResult, demo_job


def fleet_lines(done: DemoResult) -> list[str]:
    """Return what the demo made, in counts a person can check: app images and their
    snapshots, the documents written, what was collected, and the images the assessment counts
    (app images and base images alike, each once, not each document)."""
    fleet, world = done.fleet, done.fleet.world
    s = done.assessment.summary()
    w, cov = fleet.written, s["coverage"]
    times = fleet.times
    return [
        f"SYNTHETIC demo fleet: {len(world.plans)} app images of {len(world.by_app)} apps, "
        f"on {fleet.base_releases()} base releases of its registry mirror; {len(times)} "
        f"snapshots, {times[0]:%Y-%m-%d} to {times[-1]:%Y-%m-%d}",
        f"written to {done.fleet_dir} over the snapshots: {w['trivy']} Trivy reports, "
        f"{w['syft']} Syft SBOMs, {w['dockerfiles']} Dockerfiles, {w['hadolint']} hadolint "
        f"outputs ({fleet.total_bytes / 1e6:.1f} MB); and at each, a Docker Engine and a "
        f"registry collected",
        f"store: {done.store}: {len(done.snapshots)} snapshots, the newest {done.snapshot.name}",
        f"images: {s['images']} in the store's current state: {cov['vuln_scanned']} with a "
        f"vulnerability scan, {cov['with_sbom']} with an SBOM, {cov['collected']} collected "
        f"from the engine or the registry ({cov['containers_running']} running containers)",
    ]


@click.command()
@click.option("--images", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="Images in the synthetic fleet.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Where the demo fleet and its outputs go.")
@click.option("--seed", type=int, default=7, show_default=True)
@store_option
def demo(images: int, out: Path, seed: int, store: Path) -> None:
    """Make the synthetic demo fleet under OUT, ingest it into STORE (the default store, so
    `auditlib lab` and the notebooks find it with their defaults; an earlier demo's store is
    replaced, a store of other data is never touched), assess it, and write the compliance and
    staleness reports and OUT/index.html.

    The fleet is synthetic (generated scanner documents, engine, registry and Dockerfiles over
    several snapshots) and says so on everything it produces, every report page included. An
    earlier demo's fleet and store under --out are made again. Exits 2 when a report failed
    (its page shows why).
    """
    try:
        with progress("reading") as bar, report_bars(False) as start:
            task = bar.add_task("read", total=None)
            done = demo_job(out, images=images, seed=seed, store=store,
                            reading=lambda _p: bar.advance(task), started=start, finished=said)
    except AuditlibError as e:
        fail(str(e))
    s = done.assessment.summary()
    for line in fleet_lines(done):
        click.echo(line)
    for message in done.errors:
        error(message)
    pol, eol = s["policy"], s["eol"]
    results = ", ".join(f"{pol['results'][k]} {k}" for k in ("fail", "warn", "no-data", "waived",
                                                             "pass"))
    grades = " ".join(f"{g}:{n}" for g, n in pol["grades"].items() if n)
    click.echo(f"policy: {s['images']} images x {len(pol['rules'])} rules: {results}; "
               f"grades {grades}")
    click.echo(f"end of life: {eol['past']} images on an OS past its end of life, "
               f"{eol['within_90_days']} within 90 days, {eol['unknown']} unknown")
    click.echo(fixable_line(s))
    unknown = unknown_line(s)
    if unknown:
        click.echo(unknown)
    click.echo(f"reports: {', '.join(str(r.html) for r in done.batch.runs)}; "
               f"index: {done.batch.index}")
    click.echo("All of this is SYNTHETIC demo data: generated documents, not real images.")
    leave(Exit.BAD_INPUT if done.batch.failed or done.errors else Exit.OK)
