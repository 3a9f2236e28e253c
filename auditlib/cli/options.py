"""Options shared by several `auditlib` commands, and the parsing of their values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pandas as pd

from auditlib.errors import ParameterError
from auditlib.normalize.times import parse_time
from auditlib.sources.registry import RegistryLimits
from auditlib.store.layout import DEFAULT_STORE

store_option = click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STORE,
    show_default=True,
    help="The store folder.",
)
"""`--store DIR`, default `./auditlib-store`."""

policy_option = click.option(
    "--policy", "policy_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
    help="A YAML policy file (default: every rule with its defaults; docs/policy.md).")
"""`--policy FILE`."""

fail_on_option = click.option(
    "--fail-on", type=click.Choice(["fail", "warn", "never"]), default="fail",
    show_default=True, help="Exit 1 when a policy result is at least this bad.")
"""`--fail-on fail|warn|never`."""

quiet_option = click.option("--quiet", is_flag=True, help="No progress bars.")
"""`--quiet`."""

engines_option = click.option(
    "--engine", "engines", multiple=True, metavar="URL",
    help="A Docker Engine (unix://, tcp://, ssh://; `default` is DOCKER_HOST, else the local "
    "socket). Repeatable. Default: that engine, when no other source is given.")
"""`--engine URL`, repeatable."""

def _limits(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
            ) -> RegistryLimits | None:
    if not value:
        return None
    try:
        return RegistryLimits().override(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


registry_limits_option = click.option(
    "--registry-limit", "registry_limits", multiple=True, metavar="NAME=VALUE", callback=_limits,
    help="Change a limit of registry reads (auditlib.sources.registry.RegistryLimits), e.g. "
    "source_deadline=1200, max_tag_pages=5000. Repeatable.")
"""`--registry-limit NAME=VALUE`, repeatable, parsed to `RegistryLimits` (None when not given)."""

registries_option = click.option(
    "--registry", "registries", multiple=True, metavar="REPO",
    help="A registry repository (`ghcr.io/org/app`, `host:5000/team/app:1.2`). Repeatable.")
"""`--registry REPO`, repeatable."""


def _as_of(_ctx: click.Context, _param: click.Parameter, value: Any) -> pd.Timestamp | None:
    try:
        return parse_time(value, "--as-of")
    except ParameterError as e:
        raise click.BadParameter(str(e)) from None


as_of_option = click.option(
    "--as-of", callback=_as_of, default=None, metavar="DATE",
    help="Measure ages, SLAs, end of life and waiver expiries at this date or time (default: "
    "now).")
"""`--as-of DATE`, parsed to a UTC time (None when not given)."""
