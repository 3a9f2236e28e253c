"""`auditlib vex`: VEX documents from the store's assessment (`export`)."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from auditlib.assess import assess
from auditlib.assess.vex_export import export_waivers
from auditlib.cli.console import fail, say
from auditlib.cli.options import allow_damaged_option, as_of_option, policy_option, store_option
from auditlib.errors import AuditlibError


@click.group("vex")
def vex_group() -> None:
    """VEX (Vulnerability Exploitability eXchange) documents."""


@vex_group.command("export")
@store_option
@policy_option
@as_of_option
@click.option("--author", default="auditlib policy", show_default=True,
              help="The document's author: who made the waivers' decisions.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the document to this file instead of standard output.")
@allow_damaged_option
def export(store: Path, policy_file: str | None, as_of: pd.Timestamp | None, author: str,
           output: Path | None) -> None:
    """Write the policy's waivers of vulnerability rules as an OpenVEX document.

    Each finding a waiver accepts (the fixable findings of an image whose vulnerability rule the
    waiver turned into `waived`) becomes a `not_affected` statement about the image (its
    manifest digest, as a `pkg:oci/` purl) and the package (its purl), with the waiver's reason
    as the impact statement: give it to `trivy --vex FILE` or `grype --vex FILE`. Images whose
    manifest digest is unknown are named on standard error.

    When no waiver accepts a finding, no document is written (OpenVEX needs a statement).
    Exits 2 when the policy file or the store cannot be read.
    """
    try:
        done = export_waivers(assess(store, as_of=as_of, policy=policy_file), author=author)
    except AuditlibError as e:
        fail(str(e))
    for line in done.skipped:
        say("warning:", line)
    if not done.document["statements"]:
        # OpenVEX requires at least one statement: an empty document would not be valid.
        say("vex:", "no waived finding of a vulnerability rule: no document written")
        return
    if output:
        output.write_text(done.text(), encoding="utf-8")
    else:
        click.echo(done.text(), nl=False)
    say("vex:", f"{len(done.document['statements'])} statements"
        + (f" written to {output}" if output else ""))
