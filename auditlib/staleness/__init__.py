"""Staleness: how far behind each image is (`table.staleness_of`), with newer tags found by
Renovate's docker versioning rules (`tag_tracks`). The staleness table with its ranking of what
to fix first is the assessment's (`auditlib.assess.staleness`, `Assessment.staleness`).
"""

from auditlib.staleness.table import staleness_of

__all__ = ["staleness_of"]
