"""Options shared by several `auditlib` commands."""

from __future__ import annotations

from pathlib import Path

import click

from auditlib.store.layout import DEFAULT_STORE

store_option = click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STORE,
    show_default=True,
    help="The store folder.",
)
"""`--store DIR`, default `./auditlib-store`."""
