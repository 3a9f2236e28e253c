"""Staleness: how far behind each image is (`table.staleness`), with newer tags found by
Renovate's docker versioning rules (`tag_tracks`).
"""

from auditlib.staleness.table import staleness

__all__ = ["staleness"]
