"""`auditlib summarize`: what each file gives, as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from auditlib.cli.console import say
from auditlib.cli.exits import Exit, leave
from auditlib.ingest.loader import load


@click.command()
@click.argument("paths", nargs=-1, required=True)
def summarize(paths: tuple[str, ...]) -> None:
    """Parse files and folders; print what each file gave, as JSON.

    Prints {"files": [{"path", "format", "format_version", "rows": {table: count}, "error"}]};
    files that are plainly not JSON are listed on stderr as skipped. Exits 2 when a file could not
    be read.
    """
    data = load(*paths)
    click.echo(json.dumps({"files": [f.summary() for f in data.files if f.skipped is None]},
                          indent=2))
    for f in data.files:
        if f.skipped is not None:
            say("skipped:", f"{f.path}: {f.skipped}")
    bad = any(f.error for f in data.files) or any(not Path(p).exists() for p in paths)
    leave(Exit.BAD_INPUT if bad else Exit.OK)
