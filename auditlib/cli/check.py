"""`auditlib check`: evaluate the policy on the store's current state."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
import pandas as pd
from rich.console import Console

from auditlib.cli.options import store_option
from auditlib.errors import AuditlibError

EXIT_OK, EXIT_POLICY, EXIT_BAD_INPUT = 0, 1, 2


def first_seen_fixed_of(store: Path) -> pd.DataFrame | None:
    """Return when each finding was first seen fixable, when the store has a history (more
    than one snapshot); else None.

    Raises:
        StoreError: if the store cannot be read.
    """
    from auditlib.history import first_seen_fixed
    from auditlib.store.snapshots import list_snapshots

    return first_seen_fixed(store) if len(list_snapshots(store)) > 1 else None


def parse_as_of(value: str | None) -> pd.Timestamp | None:
    """Return the `--as-of` option as a UTC time (None when not given).

    Raises:
        click.BadParameter: if it is not a date or time.
    """
    from auditlib.reports.params import ParameterError, parse_date

    try:
        return parse_date(value, "--as-of")
    except ParameterError as e:
        raise click.BadParameter(str(e)) from None


@click.command()
@store_option
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), default=None,
              help="A YAML policy file (default: every rule with its defaults; docs/policy.md).")
@click.option("--fail-on", type=click.Choice(["fail", "warn", "never"]), default="fail",
              show_default=True, help="Exit 1 when a result is at least this bad.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "junit"]), default="table",
              show_default=True, help="How to print the results.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the results to this file instead of standard output.")
@click.option("--as-of", default=None, metavar="DATE",
              help="Measure ages and waiver expiries at this date (default: now).")
@click.option("--print-default-policy", is_flag=True,
              help="Print the default policy as YAML (to start a policy file) and exit.")
def check(
    store: Path,
    policy_file: str | None,
    fail_on: str,
    fmt: str,
    output: Path | None,
    as_of: str | None,
    print_default_policy: bool,
) -> None:
    """Evaluate the policy on every image of the store.

    Exits 1 when a result is at least as bad as --fail-on (a CI job fails), 2 when the policy
    file or the store cannot be read.
    """
    from auditlib.policy import evaluate, load_policy
    from auditlib.policy.config import default_policy_yaml
    from auditlib.policy.output import print_table, to_json, to_junit
    from auditlib.policy.rules import RULES
    from auditlib.store.snapshots import read_current

    if print_default_policy:
        click.echo(default_policy_yaml(RULES), nl=False)
        return
    err = Console(stderr=True)
    when = parse_as_of(as_of)
    try:
        policy = load_policy(policy_file)
        data = read_current(store)
        seen = first_seen_fixed_of(store)
    except AuditlibError as e:
        err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_BAD_INPUT)
    ev = evaluate(data, policy, as_of=when or dt.datetime.now(dt.UTC), first_seen_fixed=seen)
    if fmt == "table":
        console = Console(file=output.open("w") if output else None, width=160 if output else None)
        print_table(ev, console)
    else:
        text = to_json(ev) if fmt == "json" else to_junit(ev)
        if output:
            output.write_text(text)
        else:
            click.echo(text, nl=False)
    broken = fail_on != "never" and ev.broken(fail_on)
    counts = ", ".join(f"{ev.count(s)} {s}" for s in ("fail", "warn", "no-data", "waived", "pass"))
    err.print(
        f"{len(ev.scores)} images, {len(policy.enabled())} rules: {counts}"
        + (f"; policy broken (--fail-on {fail_on})" if broken else ""),
        markup=False, highlight=False,
    )
    sys.exit(EXIT_POLICY if broken else EXIT_OK)
