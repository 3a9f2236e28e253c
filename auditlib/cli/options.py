"""Options shared by several `auditlib` commands, and the parsing of their values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import pandas as pd

from auditlib.cli.console import fail, say
from auditlib.engine import ENGINES
from auditlib.errors import AuditlibError, ParameterError
from auditlib.normalize.times import parse_time
from auditlib.sources.cosign_keys import KeyFileError, load_keys
from auditlib.sources.registry import RegistryLimits
from auditlib.store.damage import ALLOW_DAMAGED_ENV
from auditlib.store.layout import DEFAULT_STORE, STORE_ENV, StorePath, default_store
from auditlib.store.manifest import StoreScan, usable_snapshots

store_option = click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_store,
    show_default=f"${STORE_ENV}, else ./{DEFAULT_STORE}",
    help="The store folder.",
)
"""`--store DIR`, default `store.layout.default_store()` ($AUDITLIB_STORE, else
`./auditlib-store`)."""

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

query_engine_option = click.option(
    "--query-engine", type=click.Choice(ENGINES), default=ENGINES[0], show_default=True,
    help="What runs the aggregates over the store's big tables (vulnerabilities, packages, "
    "licences), reading its Parquet files: DuckDB, embedded; or Apache Spark (pip install "
    "'auditlib[spark]', Java 17) at --spark-master.")
"""`--query-engine duckdb|spark` (`auditlib.engine`; `--engine` names Docker Engines)."""

spark_master_option = click.option(
    "--spark-master", metavar="URL", default=None,
    help="Spark's master URL (spark://HOST:7077) for --query-engine spark; default local[*]. "
    "Every worker must read the store at the same path.")
"""`--spark-master URL`."""

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

def _cosign_keys(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
                 ) -> tuple[str, ...]:
    try:
        load_keys(value)
    except KeyFileError as e:
        raise click.BadParameter(str(e)) from None
    return value


cosign_key_option = click.option(
    "--cosign-key", "cosign_keys", multiple=True, metavar="FILE", callback=_cosign_keys,
    help="A cosign public key (cosign.pub) to verify the signatures and attestations found in "
    "registries with. Repeatable; without one they are recorded, unverified.")
"""`--cosign-key FILE`, repeatable, each checked to be a public key."""

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


def _allow_damaged(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    """Set AUDITLIB_ALLOW_DAMAGED for the command (and the report kernels it starts); restored
    when the command ends."""
    if value:
        before = os.environ.get(ALLOW_DAMAGED_ENV)
        os.environ[ALLOW_DAMAGED_ENV] = "1"

        def restore() -> None:
            if before is None:
                os.environ.pop(ALLOW_DAMAGED_ENV, None)
            else:
                os.environ[ALLOW_DAMAGED_ENV] = before

        ctx.call_on_close(restore)
    return value


allow_damaged_option = click.option(
    "--allow-damaged", is_flag=True, envvar=ALLOW_DAMAGED_ENV, callback=_allow_damaged,
    expose_value=False, is_eager=True,
    help=f"Go on without the store's damaged snapshots (each is named on standard error, in the "
    f"report header and in the summary JSON) instead of exiting 2. Same as {ALLOW_DAMAGED_ENV}=1.")
"""`--allow-damaged` (or AUDITLIB_ALLOW_DAMAGED=1): read a damaged store without its damaged
snapshots."""


def warn_damaged(store: StorePath) -> StoreScan:
    """Look at the store's snapshots before a command uses them: print a `warning:` line per
    damaged snapshot left out (damage allowed), or exit 2 naming them (not allowed) or saying why
    the store cannot be read."""
    try:
        scan = usable_snapshots(store)
    except AuditlibError as e:
        fail(str(e))
    for line in scan.warnings():
        say("warning:", line)
    return scan
