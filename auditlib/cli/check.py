"""`auditlib check`: the policy's results of the store's assessment."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import pandas as pd

from auditlib.assess import assess
from auditlib.cli.console import err, error, fail, note, out_console, say, show
from auditlib.cli.exits import Exit, leave
from auditlib.cli.options import (
    allow_damaged_option,
    as_of_option,
    fail_on_option,
    policy_option,
    query_engine_option,
    spark_master_option,
    store_option,
)
from auditlib.errors import AuditlibError
from auditlib.files import atomic_path
from auditlib.policy.config import default_policy_yaml
from auditlib.policy.output import table_view, write_json, write_junit
from auditlib.policy.rules import RULES


@click.command()
@store_option
@policy_option
@fail_on_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "junit"]), default="table",
              show_default=True, help="How to print the results.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the results to this file instead of standard output.")
@as_of_option
@click.option("--print-default-policy", is_flag=True,
              help="Print the default policy as YAML (to start a policy file) and exit.")
@allow_damaged_option
@query_engine_option
@spark_master_option
def check(store: Path, policy_file: str | None, fail_on: str, fmt: str, output: Path | None,
          as_of: pd.Timestamp | None, print_default_policy: bool, query_engine: str,
          spark_master: str | None) -> None:
    """Evaluate the policy on every image of the store.

    The same assessment as the reports' (`auditlib.assess`): the SLA clock uses the store's
    history, the end of life is the images' one verdict. `--format json` adds the assessment's
    summary (the headline figures every page shows).

    Exits 1 when a result is at least as bad as --fail-on (a CI job fails), 2 when the policy
    file or the store cannot be read, or the store is damaged (unless --allow-damaged).
    """
    if print_default_policy:
        click.echo(default_policy_yaml(RULES), nl=False)
        return
    try:
        a = assess(store, as_of=as_of, policy=policy_file, engine=query_engine,
                   spark_master=spark_master)
        ev = a.evaluation
    except AuditlibError as e:
        fail(str(e))
    for line in a.warnings:
        say("warning:", line)
    if a.view.table.note:
        note(a.view.table.note)
    if fmt == "table":  # json has it in the assessment's summary
        _say_vex(a.vex_summary)
    if fmt == "table":
        if output:
            with output.open("w", encoding="utf-8") as f:
                show(out_console(f), *table_view(ev))
        else:
            show(out_console(), *table_view(ev))
    else:
        if fmt == "json":  # written one image at a time: at fleet scale the text is gigabytes
            summary = {"assessment": a.summary()}
            if output:  # replaced whole or not at all (a failure half way leaves it as it was)
                with atomic_path(output, sync=False) as temp, \
                        temp.open("w", encoding="utf-8") as f:
                    write_json(ev, f, summary)
            else:
                write_json(ev, sys.stdout, summary)
                sys.stdout.flush()
        elif output:  # JUnit, one image at a time, as JSON
            with atomic_path(output, sync=False) as temp, temp.open("w", encoding="utf-8") as f:
                write_junit(ev, f)
        else:
            write_junit(ev, sys.stdout)
            sys.stdout.flush()
    if fmt != "table" or output:  # the table on the terminal lists them; else only the file
        for message in ev.errors:
            error(f"rule error: {message} (its images' results for it are no-data)")
    broken = fail_on != "never" and ev.broken(fail_on)
    counts = ", ".join(f"{ev.count(s)} {s}" for s in ("fail", "warn", "no-data", "waived", "pass"))
    err.print(f"{len(ev.scores)} images, {len(ev.policy.enabled())} rules: {counts}"
              + (f"; policy broken (--fail-on {fail_on})" if broken else ""),
              markup=False, highlight=False, soft_wrap=True)
    leave(Exit.POLICY if broken else Exit.OK)


SHOWN = 10
"""Findings a VEX statement speaks about that `check` names, and unmatched statements."""


def _say_vex(vex: dict[str, Any]) -> None:
    """Say on standard error what the VEX statements did (`fleet.vex.vex_summary`): the findings
    they speak about, and each statement that matches no finding."""
    if not vex.get("statements"):
        return
    n = vex["findings"]
    say("VEX:", f"{vex['statements']} statements; findings not affected {n['not_affected']}, "
        f"fixed {n['fixed']} (both out of the SLA clock, the score and the fix-first list), "
        f"under investigation {n['under_investigation']}, affected {n['affected']}")
    said = vex["said_shown"]
    for line in said[:SHOWN]:
        say("VEX:", line)
    if sum(n.values()) > SHOWN:
        say("VEX:", f"and {sum(n.values()) - SHOWN} more (`--format json`: the assessment's "
            "`vex`; the compliance report lists them all)")
    if vex["unmatched"]:
        say("VEX:", f"{vex['unmatched']} statements match no finding:")
        for line in vex["unmatched_shown"]:
            say("VEX: unmatched:", line)
