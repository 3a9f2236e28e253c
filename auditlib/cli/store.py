"""`auditlib store`: look after the store folder (`auditlib store verify`)."""

from __future__ import annotations

from pathlib import Path

import click

from auditlib.cli.console import fail, say
from auditlib.cli.exits import Exit, leave
from auditlib.cli.options import store_option
from auditlib.errors import AuditlibError
from auditlib.normalize.visible import visible
from auditlib.store.manifest import scan_store


@click.group(name="store")
def store_group() -> None:
    """The store folder: check that every snapshot can be read."""


@store_group.command()
@store_option
def verify(store: Path) -> None:
    """Check every snapshot of the store and name each damaged one and why.

    A snapshot is damaged when its folder or manifest cannot be read, the manifest is not valid
    JSON or has a field of the wrong type, it names another snapshot that is not in the store (or
    by a path), or a table the manifest says has rows is missing, unreadable, not Parquet, or
    has another number of rows. Readers (`check`, `staleness`, `report`, `run`, `ingest`...)
    stop on a damaged store, or go on without the damaged snapshots with --allow-damaged.

    Prints one `damaged:` line per damaged snapshot. Exits 0 when every snapshot is sound, 2 when
    one is damaged or the store cannot be read.
    """
    if not store.is_dir():
        fail(f"{store}: no such store folder")
    try:
        scan = scan_store(store, deep=True)
    except AuditlibError as e:
        fail(str(e))
    for d in scan.damaged:
        click.echo(f"damaged: {visible(d)}")
    for x in scan.lost:
        say("note:", f"snapshot {x.snapshot_id} carried {x.sources} sources over from damaged "
                     f"snapshot {x.holder}: their rows cannot be read")
    n, bad = len(scan.snapshots), len(scan.damaged)
    click.echo(f"store verify: {store}: {n} sound snapshot{'s' if n != 1 else ''}, "
               f"{bad} damaged")
    leave(Exit.BAD_INPUT if bad else Exit.OK)
