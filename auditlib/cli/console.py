"""How commands talk: messages on standard error (one line each, never wrapped, untrusted text
shown as it is but for the characters that would hide or reorder it: `auditlib.normalize.visible`),
progress bars only on a terminal, and tables that are not cut when piped.

Markup is never printed raw: rich renders it on a terminal and drops it elsewhere. Untrusted text
(names, paths, messages, evidence) never goes through rich's markup parser, so `[bold]` in a name
shows as `[bold]`: it is given as `Text` (messages, table titles and cells), and progress columns
read no markup.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, NoReturn

from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from auditlib.cli.exits import Exit, leave
from auditlib.cli.plain import table_lines
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


def _is_tty(file: IO[str]) -> bool:
    """Return whether `file` is a terminal (not a pipe or a file, whatever FORCE_COLOR says)."""
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def out_console(file: IO[str] | None = None) -> Console:
    """Return a console for standard output (or `file`): on a terminal, rich's; elsewhere (a pipe,
    a file, `--output`) one that is no terminal, whose lines are never wrapped, and whose tables
    `show` prints as plain text."""
    if file is None and _is_tty(sys.stdout):
        return Console()
    return Console(file=file, force_terminal=False, soft_wrap=True)


def show(console: Console, *items: RenderableType) -> None:
    """Print tables and lines on a console of `out_console`: on a terminal as rich draws them
    (tables boxed, to the terminal's width); elsewhere tables as plain aligned columns
    (`auditlib.cli.plain.table_lines`: no box, nothing cut or wrapped) and lines whole.

    Raises:
        rich.errors.MarkupError: if a `str` item or cell is not valid markup (untrusted text is
            given as `Text`, never as markup).
    """
    for item in items:
        if console.is_terminal:
            console.print(item)
        elif isinstance(item, Table):
            for line in table_lines(item):
                console.print(Text(line), soft_wrap=True, highlight=False)
        else:
            console.print(item, soft_wrap=True, highlight=False)


@contextmanager
def progress(label: str, *, quiet: bool = False, extra: str | None = None
             ) -> Iterator[Progress]:
    """Return a progress bar on standard error (`label`, bar, done/total, time, then `extra`):
    shown only on a terminal and when not `quiet`. `label` and `extra` are format strings of the
    task (`{task.description}`); what they give is shown as it is, never read as markup."""
    columns: list[Any] = [TextColumn(label, markup=False), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn()]
    if extra is not None:
        columns.append(TextColumn(extra, markup=False))
    with Progress(*columns, console=err, transient=True,
                  disable=quiet or not err.is_terminal) as bar:
        yield bar
