"""`auditlib staleness`: how far behind each image of the store is."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditlib.cli.options import store_option
from auditlib.errors import AuditlibError
from auditlib.policy.output import jsonable

EXIT_OK, EXIT_BAD_INPUT = 0, 2

_SHOWN = (
    ("priority_rank", "#"), ("image_name", "image"), ("age_days", "age d"),
    ("base_ref", "base"), ("base_drifted", "base moved"), ("newest_tag", "newer tag"),
    ("os_version", "os"), ("os_days_to_eol", "EOL in d"), ("fixable_count", "fixable"),
    ("oldest_fix_days", "oldest fix d"), ("deployment_lag_days", "lag d"),
    ("rebuild_priority", "priority"),
)


def _show(v: Any) -> str:
    v = jsonable(v)
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.0f}"
    return str(v)


@click.command(name="staleness")
@store_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--as-of", default=None, metavar="DATE", help="Measure ages at this date.")
@click.option("--limit", type=int, default=None, help="Only the N images to rebuild first.")
def staleness_command(store: Path, fmt: str, as_of: str | None, limit: int | None) -> None:
    """List every image of the store with how far behind it is, rebuild first on top.

    Exits 2 when the store cannot be read.
    """
    from auditlib.eol.table import load_table
    from auditlib.staleness.table import staleness
    from auditlib.store.snapshots import read_current

    err = Console(stderr=True)
    from auditlib.cli.check import first_seen_fixed_of, parse_as_of

    when = parse_as_of(as_of) or pd.Timestamp(dt.datetime.now(dt.UTC))
    try:
        data = read_current(store)
        table = load_table()
        seen = first_seen_fixed_of(store)
    except AuditlibError as e:
        err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_BAD_INPUT)
    df = staleness(data, as_of=when, eol_table=table, first_seen_fixed=seen)
    if limit is not None:
        df = df.head(limit)
    if fmt == "json":
        records = [{k: jsonable(v) for k, v in r.items()} for r in df.to_dict("records")]
        click.echo(json.dumps({"as_of": when.isoformat(), "eol_table": table.describe(),
                               "images": records}, indent=2))
    else:
        out = Table(title=f"staleness as of {when:%Y-%m-%d}; EOL table {table.describe()}")
        for _, title in _SHOWN:
            out.add_column(title, overflow="fold")
        for r in df.to_dict("records"):
            out.add_row(*(Text(_show(r.get(c))) for c, _ in _SHOWN))
        Console().print(out)
        for r in df.head(10).to_dict("records"):
            if r.get("priority_reasons"):
                Console().print(Text(f"{r['priority_rank']}. {r['image_name']}: "
                                     f"{r['priority_reasons']}"))
    sys.exit(EXIT_OK)
