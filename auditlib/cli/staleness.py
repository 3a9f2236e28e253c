"""`auditlib staleness`: how far behind each image of the store is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.table import Table
from rich.text import Text

from auditlib.assess import assess
from auditlib.cli.console import fail, note, out_console, say, show
from auditlib.cli.exits import Exit, leave
from auditlib.cli.headline import fix_first_lines
from auditlib.cli.options import (
    allow_damaged_option,
    as_of_option,
    policy_option,
    query_engine_option,
    spark_master_option,
    store_option,
)
from auditlib.errors import AuditlibError
from auditlib.normalize.visible import visible
from auditlib.tables import jsonable

_SHOWN = (
    ("priority_rank", "#"), ("image_name", "image"), ("age_days", "age d"),
    ("base_ref", "base"), ("base_drifted", "base moved"), ("newest_tag", "newer tag"),
    ("os", "os"), ("os_is_eol", "EOL"), ("os_days_to_eol", "EOL in d"),
    ("fixable_count", "fixable"), ("oldest_fix_days", "oldest fix d"),
    ("deployment_lag_days", "lag d"), ("rebuild_priority", "priority"),
)


def _show(v: Any) -> str:
    v = jsonable(v)
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.0f}"
    return visible(v)


@click.command(name="staleness")
@store_option
@policy_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@as_of_option
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Only the N images to rebuild first.")
@allow_damaged_option
@query_engine_option
@spark_master_option
def staleness_command(store: Path, policy_file: str | None, fmt: str,
                      as_of: pd.Timestamp | None, limit: int | None, query_engine: str,
                      spark_master: str | None) -> None:
    """List every image of the store with how far behind it is, rebuild first on top.

    The same assessment as `auditlib check` and the reports' (`auditlib.assess`): the end of
    life follows the policy's `supported-os` support kind, the fix clock the store's history.
    `--format json` adds the assessment's summary.

    Exits 2 when the store or the policy file cannot be read, or the store is damaged (unless
    --allow-damaged).
    """
    try:
        a = assess(store, as_of=as_of, policy=policy_file, engine=query_engine,
                   spark_master=spark_master)
        df = a.staleness
        table = a.view.table
    except AuditlibError as e:
        fail(str(e))
    for line in a.warnings:
        say("warning:", line)
    if table.note:
        note(table.note)
    if limit is not None:
        df = df.head(limit)
    if fmt == "json":
        records = [{k: jsonable(v) for k, v in r.items()} for r in df.to_dict("records")]
        click.echo(json.dumps({"as_of": a.as_of.isoformat(), "eol_table": table.describe(a.as_of),
                               "assessment": a.summary(), "images": records}, indent=2))
        leave(Exit.OK)
    out = Table(title=Text(visible(f"staleness as of {a.as_of:%Y-%m-%d}; EOL table "
                                   f"{table.describe(a.as_of)}"), style="table.title"))
    for _, title in _SHOWN:
        out.add_column(title, overflow="fold")
    for r in df.to_dict("records"):
        r["os"] = " ".join(str(x) for x in (jsonable(r["os_family"]), jsonable(r["os_version"]))
                           if x) or None
        out.add_row(*(Text(_show(r.get(c))) for c, _ in _SHOWN))
    lines = [Text(line) for line in fix_first_lines(df, a.summary())]
    show(out_console(), out, *lines)
    leave(Exit.OK)
