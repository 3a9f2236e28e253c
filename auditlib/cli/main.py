"""The `auditlib` command group: every command is a module of `auditlib.cli`."""

from __future__ import annotations

import click

from auditlib.cli.check import check
from auditlib.cli.collect import collect
from auditlib.cli.demo import demo
from auditlib.cli.eol import eol
from auditlib.cli.ingest import ingest
from auditlib.cli.report import report
from auditlib.cli.run import run
from auditlib.cli.scan import scan
from auditlib.cli.staleness import staleness_command
from auditlib.cli.summarize import summarize


@click.group()
@click.version_option(package_name="auditlib")
def main() -> None:
    """Audit the container images a team builds and runs."""


for command in (summarize, ingest, collect, scan, check, staleness_command, eol, report, run,
                demo):
    main.add_command(command)
