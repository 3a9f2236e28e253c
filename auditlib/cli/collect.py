"""`auditlib collect`: image metadata from engines, registries, archives and Dockerfiles."""

from __future__ import annotations

from pathlib import Path

import click

from auditlib.cli.console import error, fail, progress, say
from auditlib.cli.exits import Exit, leave
from auditlib.cli.fleet import (
    SourceBars,
    fleet_options,
    fleet_request,
    with_sources,
)
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
@fleet_options
@store_option
@quiet_option
@allow_damaged_option
def collect(engines: tuple[str, ...], registries: tuple[str, ...], archives: tuple[str, ...],
            dockerfiles: tuple[str, ...], platform: str, insecure_registry: bool,
            docker_config: str | None, registry_limits: RegistryLimits | None,
            cosign_keys: tuple[str, ...], contexts: tuple[str, ...], all_contexts: bool,
            sources_file: str | None, deadline: float | None, store: Path, quiet: bool) -> None:
    """Collect image metadata from engines, registries, archives and Dockerfiles into a new
    snapshot, every source at once, each within its deadline.

    Exits 2 when a source could not be read at all (an engine that cannot be reached, a socket
    without permission, a registry that refuses, a source past its deadline), after storing what
    the other sources gave; 2 as well when the store is damaged (unless --allow-damaged).
    """
    fleet = fleet_request(sources_file, contexts, all_contexts, deadline)
    if not (engines or registries or archives or dockerfiles or fleet.names_any()):
        engines = ("default",)
    warn_damaged(store)
    req = with_sources(fleet, engines=[None if e == "default" else e for e in engines],
                       registries=registries, archives=archives, dockerfiles=dockerfiles)
    if sources_file is None or platform != "linux/amd64":  # the inventory's, unless given
        req.platform = platform
    req.insecure_registries = req.insecure_registries or insecure_registry
    req.docker_config = docker_config or req.docker_config
    req.registry_limits = registry_limits
    req.cosign_keys = list(cosign_keys)
    try:
        with progress("{task.description}", quiet=quiet) as bar:
            done = collect_into(store, req, progress=SourceBars(bar))
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
