"""A damaged store: what is wrong with a snapshot (`Damage`), the error that stops every reader
(`DamagedStoreError`), and the one switch that lets readers go on without the damaged snapshots
(`AUDITLIB_ALLOW_DAMAGED=1`, which the commands' `--allow-damaged` sets).

A snapshot is damaged when its folder or manifest cannot be read, its manifest is not valid JSON
or has a field of the wrong type, it names another snapshot that is not in the store (or by
something that is not a snapshot id: a manifest never names a path), or a table its manifest
says has rows is missing, unreadable, or (checked by `auditlib store verify` and when damage is
allowed) not the Parquet file of that many rows. Nothing is dropped silently: a reader raises
`DamagedStoreError` naming each damaged snapshot and why; with damage allowed, it goes on without
them and every output says which it left out (`auditlib.store.manifest.StoreScan.warnings`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from auditlib.errors import StoreError

ALLOW_DAMAGED_ENV = "AUDITLIB_ALLOW_DAMAGED"
"""Set to 1 (or true, yes, on) to read a damaged store without its damaged snapshots."""

_TRUE = {"1", "true", "yes", "on"}
_SHOWN = 5
"""Damaged snapshots an error message names (the rest are counted)."""


def allow_damaged() -> bool:
    """Return whether readers go on without damaged snapshots (`AUDITLIB_ALLOW_DAMAGED`)."""
    return os.environ.get(ALLOW_DAMAGED_ENV, "").strip().lower() in _TRUE


@dataclass(frozen=True, slots=True)
class Damage:
    """A damaged snapshot and what is wrong with it."""

    snapshot_id: str
    """The folder name under `STORE/snapshots/`."""
    reason: str
    """What is wrong, in words (which file, which field)."""

    def __str__(self) -> str:
        return f"snapshot {self.snapshot_id}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Lost:
    """Rows a sound snapshot carried over from a damaged one: they cannot be read."""

    snapshot_id: str
    """The snapshot that carried them."""
    holder: str
    """The damaged snapshot holding them."""
    sources: int
    """How many sources."""


class DamagedStoreError(StoreError):
    """Snapshots of the store are damaged; the message names each one (up to five) and why."""

    def __init__(self, store: str | os.PathLike[str], damaged: list[Damage]) -> None:
        """Make the error for `damaged` snapshots of `store`."""
        self.store = Path(store)
        self.damaged = list(damaged)
        shown = "; ".join(str(d) for d in self.damaged[:_SHOWN])
        more = (f"; and {len(self.damaged) - _SHOWN} more damaged snapshots"
                if len(self.damaged) > _SHOWN else "")
        super().__init__(
            f"{store}: damaged store: {shown}{more} (`auditlib store verify --store {store}` "
            "lists every damaged snapshot; repair or move them out of the store, or pass "
            f"--allow-damaged ({ALLOW_DAMAGED_ENV}=1) to go on without them)")

    def __reduce__(self) -> tuple[type[DamagedStoreError], tuple[Path, list[Damage]]]:
        """Pickle as the arguments it was made with (an assessment in a process of its own,
        `auditlib.assess.apart`, raises it in the run's)."""
        return (type(self), (self.store, self.damaged))


def damaged_error(store: str | os.PathLike[str], snapshot_id: str, reason: str
                  ) -> DamagedStoreError:
    """Return the error for one damaged snapshot found while reading it."""
    return DamagedStoreError(store, [Damage(snapshot_id, reason)])
