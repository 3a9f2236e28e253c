"""Which snapshots a store's current state is made of (what a report header names)."""

from __future__ import annotations

from dataclasses import dataclass

from auditlib.store.current import current_sources
from auditlib.store.layout import StorePath
from auditlib.store.manifest import snapshot_infos


@dataclass(frozen=True, slots=True)
class SnapshotUse:
    """A snapshot that the current state of a store is made of."""

    snapshot_id: str
    created_at: str
    """When it was written (ISO 8601, UTC)."""
    sources: int
    """How many of the current sources (files, engines, repositories) it holds."""


def current_snapshots(store: StorePath) -> list[SnapshotUse]:
    """Return the snapshots the store's current state (`auditlib.store.read_current`) is made
    of, oldest first, each with how many of the current sources it holds.

    Reads only manifests and the `source` column of two small tables. A store that has no
    snapshot gives an empty list.

    Raises:
        StoreError: if the store's manifests contradict each other (a snapshot holding carried
            rows is missing).
    """
    held: dict[str, int] = {}
    for state in current_sources(store).values():
        held[state.snapshot_id] = held.get(state.snapshot_id, 0) + 1
    made = {i.snapshot_id: i.created_at.isoformat() for i in snapshot_infos(store)}
    return [SnapshotUse(sid, made.get(sid, ""), n) for sid, n in sorted(held.items())]
