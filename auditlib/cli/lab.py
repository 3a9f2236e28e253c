"""`auditlib lab`: JupyterLab on a copy of the notebooks with the store filled in."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import click

from auditlib.cli.console import fail, note
from auditlib.cli.exits import Exit, leave
from auditlib.cli.options import store_option
from auditlib.errors import AuditlibError
from auditlib.reports.lab import prepare_lab
from auditlib.store.layout import STORE_ENV

INSTALL_HINT = "pip install 'auditlib[lab]'"


def _jupyter_lab() -> list[str] | None:
    """Return the command that starts JupyterLab with this Python, or None without it."""
    if importlib.util.find_spec("jupyterlab") is None:
        return None
    return [sys.executable, "-m", "jupyterlab"]


@click.command("lab", context_settings={"ignore_unknown_options": True})
@store_option
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              default=Path("auditlib-notebooks"), show_default=True,
              help="Where the copies of the notebooks go (your edits there are kept).")
@click.option("--refresh", is_flag=True, help="Overwrite the copies with the packaged notebooks.")
@click.option("--no-launch", is_flag=True,
              help="Only write the notebooks and print the command that opens them.")
@click.argument("lab_args", nargs=-1, type=click.UNPROCESSED)
def lab(store: Path, folder: Path, refresh: bool, no_launch: bool,
        lab_args: tuple[str, ...]) -> None:
    """Open JupyterLab on a copy of the notebooks (explore, compliance, staleness) whose store is
    STORE; arguments after `--` go to `jupyter lab` (`-- --no-browser --port 8890`).

    Exit status: 0 when JupyterLab ends; 2 when the notebooks cannot be written or JupyterLab
    is not installed (`pip install 'auditlib[lab]'`).
    """
    try:
        copies = prepare_lab(folder, store, refresh=refresh)
    except (AuditlibError, OSError) as e:
        fail(str(e))
    for c in copies:
        click.echo(f"{c.path}: {'written' if c.written else 'kept (yours; --refresh to replace)'}")
    if not store.exists():
        note(f"{store}: no store there yet (auditlib demo, ingest or collect --store {store})")
    command = _jupyter_lab()
    if command is None:
        fail(f"JupyterLab is not installed: {INSTALL_HINT}")
    args = [*command, "--notebook-dir", str(folder.resolve()), *lab_args]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in lab_args:
        args.append("--allow-root")  # JupyterLab refuses root without it (containers, CI)
    if no_launch:
        click.echo(" ".join(args))
        leave(Exit.OK)
    env = {**os.environ, STORE_ENV: str(store.resolve())}  # new notebooks default to it too
    with subprocess.Popen(args, env=env, cwd=folder) as proc:
        # A service manager's SIGTERM (or a closed terminal's SIGHUP) reaches JupyterLab too:
        # it would otherwise outlive `auditlib lab`, still serving the notebooks.
        def _forward(signum: int, _frame: object) -> None:
            proc.send_signal(signum)

        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _forward)
        code = proc.wait()
    leave(Exit.OK if code == 0 else Exit.BAD_INPUT)

