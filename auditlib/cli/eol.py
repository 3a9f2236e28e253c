"""`auditlib eol`: show the end-of-life table auditlib uses; refresh it from downloaded files."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, NoReturn

import click

from auditlib.cli.console import fail, note
from auditlib.eol.table import ENV_FILE, EolTable
from auditlib.eol.update import update_table
from auditlib.eol.versions import product_for
from auditlib.errors import AuditlibError
from auditlib.normalize.visible import visible


def _fail(message: str) -> NoReturn:
    fail(message)


@click.group()
def eol() -> None:
    """The end-of-life table of OS releases: show it, or refresh it from endoflife.date files."""


@eol.command()
@click.option("--from", "source", required=True, metavar="FILE",
              type=click.Path(path_type=Path),
              help="A downloaded https://endoflife.date/api/<product>.json, a whole EOL table, or "
                   "a folder of them.")
@click.option("--product", default=None,
              help="The product of a single product file (default: the file name, e.g. debian).")
@click.option("--to", "target", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write this table file instead of the cache (~/.cache/auditlib/eol.json).")
def update(source: Path, product: str | None, target: Path | None) -> None:
    """Merge downloaded endoflife.date data into the cached EOL table.

    Each product given replaces the table's one; the table's date becomes the newest date of the
    files given (today for a product file). Prints what changed. Exits 2, writing nothing, when a
    file is not JSON or a release cycle is malformed.
    """

    try:
        result = update_table(source, product=product, to=target)
    except (AuditlibError, OSError) as e:
        _fail(str(e))
    click.echo(visible(f"wrote {result.path}: table of {result.generated_at.isoformat()} "
                       f"(was {result.previous_date.isoformat()}, from {result.based_on})"))
    for change in result.changes:
        click.echo(f"  {visible(change.describe())}")
    env = os.environ.get(ENV_FILE)
    if env and Path(env).resolve() != result.path.resolve():
        note(f"{ENV_FILE}={env} is set, so lookups read that file, not this one")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return visible(value)


@eol.command()
@click.option("--product", default=None,
              help="Print this product's release cycles (an endoflife.date name or an OS family "
                   "as scanners give it: debian, redhat, amzn...).")
@click.option("--table", "table_path", default=None, type=click.Path(path_type=Path),
              help="Read this table file instead of the usual one.")
def show(product: str | None, table_path: Path | None) -> None:
    """Print the EOL table's date, where it was loaded from, and its products or one's cycles.

    Exits 2 when the table cannot be read or has no such product.
    """

    try:
        table = EolTable.load(table_path)
    except AuditlibError as e:
        _fail(str(e))
    name = None if product is None else (product_for(product) or product.strip().lower())
    if name is not None and name not in table.products:
        _fail(f"no product {product!r} in the table (products: {', '.join(table.products)})")
    today = dt.datetime.now(dt.UTC).date()
    click.echo(visible(f"EOL table of {table.generated_at.isoformat()} "
                       f"({table.table_age_days(today)} days old), source {table.source or '-'}"))
    click.echo(visible(f"loaded from: {table.origin} ({table.location})"))
    if name is None:
        for each, cycles in table.products.items():
            day = table.product_dates.get(each, table.generated_at).isoformat()
            click.echo(visible(f"  {each}: {len(cycles)} cycles, data of {day}"))
        return
    day = table.product_dates.get(name, table.generated_at).isoformat()
    click.echo(visible(f"{name} (data of {day}):"))
    keys = ("cycle", "codename", "releaseDate", "eol", "support", "extendedSupport", "lts",
            "latest")
    heads = ("cycle", "codename", "released", "eol", "support", "extended", "lts", "latest")
    rows = [heads, *(tuple(_cell(c.get(k)) for k in keys) for c in table.cycles(name))]
    widths = [max(len(r[i]) for r in rows) for i in range(len(heads))]
    for r in rows:
        click.echo("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
