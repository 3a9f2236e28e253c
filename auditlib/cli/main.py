"""The `auditlib` command group: every command is a module of `auditlib.cli`, imported when it
is run (click's lazy subcommands), so `auditlib ingest` does not start by importing the report
machinery (`auditlib --help` imports them all, to show their help)."""

from __future__ import annotations

import importlib
from typing import Any

import click

COMMANDS = {
    "summarize": "auditlib.cli.summarize:summarize",
    "ingest": "auditlib.cli.ingest:ingest",
    "collect": "auditlib.cli.collect:collect",
    "scan": "auditlib.cli.scan:scan",
    "check": "auditlib.cli.check:check",
    "staleness": "auditlib.cli.staleness:staleness_command",
    "agreement": "auditlib.cli.agreement:agreement",
    "eol": "auditlib.cli.eol:eol",
    "report": "auditlib.cli.report:report",
    "run": "auditlib.cli.run:run",
    "demo": "auditlib.cli.demo:demo",
    "lab": "auditlib.cli.lab:lab",
    "store": "auditlib.cli.store:store_group",
    "vex": "auditlib.cli.vex:vex_group",
}
"""Command name -> `module:attribute` of its click command, in the order `--help` lists them."""

class LazyGroup(click.Group):
    """A group whose commands are imported when they are run (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the command names, in `COMMANDS` order."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return the command `cmd_name`, importing its module; None for an unknown name."""
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        command: Any = getattr(importlib.import_module(module), attr)
        return command if isinstance(command, click.Command) else None


@click.group(cls=LazyGroup)
@click.version_option(package_name="auditlib")
def main() -> None:
    """Audit the container images a team builds and runs."""
