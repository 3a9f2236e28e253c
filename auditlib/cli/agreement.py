"""`auditlib agreement`: where the scanners that scanned the same image disagree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.table import Table
from rich.text import Text

from auditlib.assess import assess
from auditlib.cli.console import fail, out_console, say, show
from auditlib.cli.exits import Exit, leave
from auditlib.cli.options import allow_damaged_option, as_of_option, store_option
from auditlib.errors import AuditlibError
from auditlib.fleet.agreement import STATES
from auditlib.normalize.visible import visible
from auditlib.tables import jsonable

_SHOWN = (
    ("image_name", "image"), ("vuln_id", "vulnerability"), ("pkg_name", "package"),
    ("pkg_version", "version"), ("state", "state"), ("found_by", "found by"),
    ("severities", "severity"), ("fixed_versions", "fixed in"),
)


def _cell(v: Any) -> Text:
    v = jsonable(v)
    return Text("-" if v is None else visible(str(v)))


@click.command(name="agreement")
@store_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--state", "states", type=click.Choice(STATES), multiple=True,
              help="Only the findings in this state (repeatable); default: `differ` and "
              "`partial`, the disagreements (`agree` too with --all).")
@click.option("--all", "show_all", is_flag=True, help="Every compared finding, agreed ones too.")
@as_of_option
@allow_damaged_option
def agreement(store: Path, fmt: str, states: tuple[str, ...], show_all: bool,
              as_of: pd.Timestamp | None) -> None:
    """Compare the scanners that scanned the same image: each finding found by all of them,
    by only some, or by all with another severity or fixed version.

    Vulnerabilities are matched by their CVE where the documents' aliases name one (a GHSA of
    Grype, the CVE of Trivy), packages by name (without namespace) and version as the
    distribution writes it. Images one tool only scanned are listed as such, never counted as
    agreement. `--format json` gives the figures and every row (`scanner_agreement` table).

    Exits 2 when the store cannot be read, or is damaged (unless --allow-damaged).
    """
    try:
        a = assess(store, as_of=as_of)
        ag = a.agreement
    except AuditlibError as e:
        fail(str(e))
    for line in a.warnings:
        say("warning:", line)
    wanted = set(states) or (set(STATES) if show_all else {"differ", "partial"})
    df = ag.table
    df = df[df["state"].astype(str).isin(wanted).to_numpy(bool)]
    if fmt == "json":
        records = [{k: jsonable(v) for k, v in r.items()} for r in df.to_dict("records")]
        click.echo(json.dumps({"as_of": a.as_of.isoformat(), **ag.to_dict(),
                               "states": sorted(wanted), "findings": records}, indent=2))
        leave(Exit.OK)
    out = Table(title=Text(f"scanner agreement ({', '.join(sorted(wanted))})",
                           style="table.title"))
    for _, title in _SHOWN:
        out.add_column(title, overflow="fold")
    for r in df.to_dict("records"):
        out.add_row(*(_cell(r.get(c)) for c, _ in _SHOWN))
    lines = [Text(visible(s)) for s in ag.sentences()]
    show(out_console(), *([out] if len(df) else []), *lines)
    leave(Exit.OK)
