"""`auditlib store`: look after the store folder (`auditlib store verify`, `prune`, `compact`)."""

from __future__ import annotations

from pathlib import Path

import click

from auditlib.cli.console import fail, say
from auditlib.cli.exits import Exit, leave
from auditlib.cli.options import store_option
from auditlib.errors import AuditlibError
from auditlib.normalize.visible import visible
from auditlib.store import retention
from auditlib.store.layout import default_store
from auditlib.store.manifest import scan_store
from auditlib.store.retention import Folded, parse_duration


@click.group(name="store")
def store_group() -> None:
    """The store folder: check that every snapshot can be read; prune and compact it."""


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


_uri_store_option = click.option(
    "--store", default=lambda: str(default_store()), show_default="$AUDITLIB_STORE, else "
    "./auditlib-store", help="The store: a folder, or a URI pyarrow reaches (file://...).")


def _report(store: str, done: Folded) -> None:
    """Print what a prune or compact did, one line."""
    if not done.folded:
        click.echo(f"store: {store}: nothing older than the cutoff; nothing pruned")
        return
    base = (f"base snapshot {done.base} holds the state they left" if done.base
            else f"snapshot {done.folded[-1]} already held the state they left")
    n, r = len(done.deleted), len(done.redirected)
    click.echo(f"store: {store}: {n} snapshot{'s' if n != 1 else ''} deleted; {base}; {r} kept "
               f"snapshot{'s' if r != 1 else ''} now carry rows from it")


@store_group.command()
@_uri_store_option
@click.option("--keep", required=True, metavar="DURATION",
              help="Keep the snapshots of this last period: 36h, 90d, 12w.")
def prune(store: str, keep: str) -> None:
    """Delete the snapshots older than --keep, first folding the state they leave into one base
    snapshot, so the current state and every kept snapshot read as before.

    Exits 0 when done, 2 on a bad duration, a damaged store (`auditlib store verify` names it),
    or a store that cannot be written.
    """
    try:
        period = parse_duration(keep)
    except ValueError as e:
        fail(f"--keep: {e}")
    try:
        done = retention.prune(store, period)
    except AuditlibError as e:
        fail(str(e))
    _report(store, done)


@store_group.command()
@_uri_store_option
def compact(store: str) -> None:
    """Fold every snapshot but the newest into one base snapshot and delete them: the store keeps
    its current state (and the newest snapshot), not the history before it.

    Exits 0 when done, 2 on a damaged store or a store that cannot be written.
    """
    try:
        done = retention.compact(store)
    except AuditlibError as e:
        fail(str(e))
    _report(store, done)
