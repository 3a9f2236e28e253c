"""Transitional: the old home of the store's snapshot functions, kept only for the modules that
still import it and are being rewritten elsewhere (`auditlib.history.read`,
`auditlib.history.views`, `auditlib.cli.check`, `auditlib.cli.main`, `auditlib.cli.report`,
`auditlib.cli.scan`, `auditlib.cli.staleness`, `auditlib.reports.facts`,
`auditlib.reports.context`).

New code imports from `auditlib.store` (the public API) or from the module that defines a name:
`manifest`, `lock`, `write`, `read`, `current`. Delete this module once those importers have
switched.
"""

from auditlib.store.current import current_sources, read_current
from auditlib.store.manifest import SnapshotInfo, list_snapshots, snapshot_infos
from auditlib.store.read import read_snapshot, source_mask
from auditlib.store.write import write_snapshot

__all__ = [
    "SnapshotInfo",
    "current_sources",
    "list_snapshots",
    "read_current",
    "read_snapshot",
    "snapshot_infos",
    "source_mask",
    "write_snapshot",
]
