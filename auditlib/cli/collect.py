"""`auditlib collect`: image metadata from engines, registries, archives and Dockerfiles."""

from __future__ import annotations

from pathlib import Path

import click

from auditlib.cli.console import error, fail, progress, say
from auditlib.cli.exits import Exit, leave
from auditlib.cli.options import (
    allow_damaged_option,
    cosign_key_option,
    engines_option,
    quiet_option,
    registries_option,
    registry_limits_option,
    store_option,
    warn_damaged,
)
from auditlib.errors import AuditlibError
from auditlib.ingest.collect import CollectRequest
from auditlib.ingest.steps import collect_into
from auditlib.sources.registry import RegistryLimits


@click.command()
@engines_option
@registries_option
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
@registry_limits_option
@cosign_key_option
@store_option
@quiet_option
@allow_damaged_option
def collect(engines: tuple[str, ...], registries: tuple[str, ...], archives: tuple[str, ...],
            dockerfiles: tuple[str, ...], platform: str, insecure_registry: bool,
            docker_config: str | None, registry_limits: RegistryLimits | None,
            cosign_keys: tuple[str, ...], store: Path, quiet: bool) -> None:
    """Collect image metadata from engines, registries, archives and Dockerfiles into a new
    snapshot.

    Exits 2 when a source could not be read at all (an engine that cannot be reached, a socket
    without permission, a registry that refuses), after storing what the other sources gave;
    2 as well when the store is damaged (unless --allow-damaged).
    """
    if not (engines or registries or archives or dockerfiles):
        engines = ("default",)
    warn_damaged(store)
    req = CollectRequest(
        engines=[None if e == "default" else e for e in engines],
        registries=list(registries),
        archives=list(archives),
        dockerfiles=list(dockerfiles),
        platform=platform,
        insecure_registries=insecure_registry,
        docker_config=docker_config,
        registry_limits=registry_limits,
        cosign_keys=list(cosign_keys),
    )
    try:
        with progress("collecting", quiet=quiet) as bar:
            task = bar.add_task("collect", total=None)
            done = collect_into(store, req, progress=lambda _x: bar.advance(task))
    except AuditlibError as e:
        fail(str(e))
    for message in done.failed:
        error(message)
    warnings = done.data.load_errors
    for reason in warnings.loc[warnings["level"] == "warning", "reason"]:
        say("warning:", str(reason))
    counts = ", ".join(f"{len(getattr(done.data, n)):,} {n}"
                       for n in ("images", "containers", "registry_tags", "dockerfiles"))
    click.echo(f"collected {done.read} of {len(done.data.files)} sources: {counts}; "
               f"snapshot written: {done.snapshot}")
    leave(Exit.BAD_INPUT if done.failed else Exit.OK)
