"""`auditlib ingest`: files and folders into a new snapshot of the store."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from auditlib.cli.console import error, fail, out_console, progress, show
from auditlib.cli.exits import Exit, leave
from auditlib.cli.options import allow_damaged_option, quiet_option, store_option, warn_damaged
from auditlib.data import AuditData
from auditlib.errors import AuditlibError
from auditlib.ingest.steps import ingest_paths


def print_counts(data: AuditData, rows: dict[str, int] | None = None) -> None:
    """Print how many files were read, failed and skipped, and the rows of each table with the
    distinct images they name (`images` has a row per image and document: rows are not
    images)."""
    read = sum(1 for f in data.files if f.skipped is None and f.error is None)
    failed = sum(1 for f in data.files if f.error)
    skipped = sum(1 for f in data.files if f.skipped)
    click.echo(f"{read} files read, {failed} failed, {skipped} skipped (not JSON)")
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("images", justify="right")
    for name, df in data.tables().items():
        if rows is not None and rows.get(name, 0) != len(df):  # streamed: not held here
            table.add_row(name, f"{rows[name]:,}", "")
            continue
        images = f"{df['image_id'].nunique():,}" if "image_id" in df.columns else ""
        table.add_row(name, f"{len(df):,}", images)
    show(out_console(), table)


@click.command()
@click.argument("paths", nargs=-1, required=True)
@store_option
@quiet_option
@click.option("--full", is_flag=True, help="Read every file, even those unchanged since the "
              "store read them.")
@allow_damaged_option
def ingest(paths: tuple[str, ...], store: Path, quiet: bool, full: bool) -> None:
    """Parse files and folders into a new snapshot of the store.

    Files whose bytes the store already holds for the same path are skipped, their rows carried
    over (`--full` reads them again); files gone from a folder given leave the store's current
    state. Files that cannot be read are listed (and kept in the snapshot's load_errors table);
    the rest are stored. Exits 2 when a file could not be read, or the store is damaged (unless
    --allow-damaged).
    """
    missing = [p for p in paths if not Path(p).exists()]
    for p in missing:
        error(f"{p}: no such file or folder")
    warn_damaged(store)
    try:
        with progress("reading", quiet=quiet) as bar:
            task = bar.add_task("read", total=None)
            done = ingest_paths(store, paths, full=full,
                                planned=lambda n: bar.update(task, total=n),
                                progress=lambda _p: bar.advance(task))
    except AuditlibError as e:
        fail(str(e))
    print_counts(done.data, done.rows)
    click.echo(f"{done.carried} files skipped as unchanged (already in the store), "
               f"{len(done.plan.removed)} gone from the folders given")
    for message in done.errors:
        error(message)
    click.echo(f"snapshot written: {done.snapshot}")
    leave(Exit.BAD_INPUT if done.errors or missing else Exit.OK)
