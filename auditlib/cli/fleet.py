"""The options that name a fleet (`--context`, `--all-contexts`, `--sources FILE`, `--deadline`),
shared by `auditlib collect` and `auditlib run`, and the progress bar with one line per source.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from rich.progress import Progress, TaskID

from auditlib.errors import ParameterError
from auditlib.ingest.collect import CollectRequest
from auditlib.ingest.inventory import read_inventory

F = TypeVar("F", bound=Callable[..., Any])


def fleet_options(f: F) -> F:
    """Add `--context NAME` (repeatable), `--all-contexts`, `--sources FILE` and `--deadline`."""
    for option in reversed((
        click.option("--context", "contexts", multiple=True, metavar="NAME",
                     help="A docker context (`docker context ls`), read from the docker CLI's "
                     "context store ($DOCKER_CONFIG/contexts): its host, TLS files, ssh. "
                     "Repeatable."),
        click.option("--all-contexts", is_flag=True,
                     help="Every context of the docker CLI's context store."),
        click.option("--sources", "sources_file", type=click.Path(dir_okay=False),
                     default=None, metavar="FILE",
                     help="An inventory file (YAML) of engines (URLs with TLS settings), "
                     "contexts, registry repositories, archives and deadlines; the other "
                     "options add to it."),
        click.option("--deadline", type=click.FloatRange(min=0, min_open=True), default=None,
                     metavar="SECONDS",
                     help="Seconds each source may take (default: the inventory's, else "
                     "600); a source past it is one error, the others are collected."),
    )):
        f = option(f)
    return f


def fleet_request(sources_file: str | None, contexts: tuple[str, ...], all_contexts: bool,
                  deadline: float | None) -> CollectRequest:
    """Return what the fleet options name: the inventory's request (empty without one) with
    the contexts added and the deadline set.

    Raises:
        click.BadParameter: when the inventory cannot be read (the message names the file).
    """
    try:
        req = read_inventory(sources_file) if sources_file else CollectRequest()
    except ParameterError as e:
        raise click.BadParameter(str(e), param_hint="--sources") from None
    req.contexts = [*req.contexts, *(c for c in contexts if c not in req.contexts)]
    req.all_contexts = req.all_contexts or all_contexts
    if deadline is not None:
        req.deadline = deadline
    return req


def with_sources(req: CollectRequest, *, engines: Sequence[str | None],
                 registries: Sequence[str], archives: Sequence[str] = (),
                 dockerfiles: Sequence[str] = ()) -> CollectRequest:
    """Return `req` with the sources named on the command line after its own."""
    return dataclasses.replace(
        req, engines=[*req.engines, *engines], registries=[*req.registries, *registries],
        archives=[*req.archives, *archives], dockerfiles=[*req.dockerfiles, *dockerfiles],
    )


class SourceBars:
    """A `SourceProgress` that shows one line per source on a rich progress bar: its name, the
    things read so far, and at its end whether it was read."""

    def __init__(self, bar: Progress) -> None:
        """Show on `bar` (a progress of `auditlib.cli.console.progress` with label
        `{task.description}`)."""
        self.bar = bar
        self.tasks: dict[str, TaskID] = {}
        self.lock = threading.Lock()

    def _task(self, source: str) -> TaskID:
        with self.lock:
            if source not in self.tasks:
                self.tasks[source] = self.bar.add_task(source, total=None)
            return self.tasks[source]

    def started(self, source: str) -> None:
        """Add the source's line."""
        self._task(source)

    def advanced(self, source: str, item: str) -> None:
        """Count one more thing read from the source."""
        self.bar.advance(self._task(source))

    def finished(self, source: str, error: str | None) -> None:
        """Mark the source's line done, or failed."""
        task = self._task(source)
        done = next((t.completed for t in self.bar.tasks if t.id == task), 0)
        self.bar.update(task, description=f"{source}: {'failed' if error else 'read'}",
                        total=max(done, 1), completed=max(done, 1))


__all__ = ["SourceBars", "fleet_options", "fleet_request", "with_sources"]
