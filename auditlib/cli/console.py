"""How commands talk: messages on standard error (one line each, never wrapped, untrusted text
shown as it is but for the characters that would hide or reorder it: `auditlib.normalize.visible`),
progress bars only on a terminal, and tables that are not cut when piped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from auditlib.cli.exits import Exit, leave
from auditlib.normalize.visible import visible

err = Console(stderr=True)
"""Standard error: messages and progress bars."""

_STYLES = {"error:": "bold red", "warning:": "yellow", "note:": "cyan", "missing:": "yellow"}


def say(label: str, message: str) -> None:
    """Print `label message` on standard error, on one line, the message taken as it is (no
    markup is read from it; bidirectional and invisible characters shown as `<U+XXXX>`)."""
    err.print(Text.assemble((label, _STYLES.get(label, "bold")), " ", visible(message)),
              highlight=False, soft_wrap=True)


def error(message: str) -> None:
    """Print `error: message` on standard error."""
    say("error:", message)


def fail(message: str, code: Exit = Exit.BAD_INPUT) -> NoReturn:
    """Print `error: message` and exit with `code`."""
    error(message)
    leave(code)


def note(message: str) -> None:
    """Print `note: message` on standard error."""
    say("note:", message)


def out_console(file: IO[str] | None = None) -> Console:
    """Return a console for standard output (or `file`): a terminal's width on a terminal, and
    wide enough elsewhere that tables piped or redirected are not cut."""
    c = Console(file=file)
    return c if c.is_terminal and file is None else Console(file=file, width=200)


@contextmanager
def progress(label: str, *, quiet: bool = False, extra: Any = None) -> Iterator[Progress]:
    """Return a progress bar on standard error (`label`, bar, done/total, time): shown only on
    a terminal and when not `quiet`."""
    columns: list[Any] = [TextColumn(label), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn()]
    if extra is not None:
        columns.append(extra)
    with Progress(*columns, console=err, transient=True,
                  disable=quiet or not err.is_terminal) as bar:
        yield bar
