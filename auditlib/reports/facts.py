"""What every report page says about its data: which snapshots, how much of the fleet had data
(coverage), and whether the data is the synthetic demo fleet's. The counts are the assessment's
(`auditlib.fleet.coverage` defines them); this module only carries them to the page header.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from auditlib.assess import Assessment, SnapshotUse
from auditlib.fleet.coverage import Coverage


@dataclass(frozen=True, slots=True)
class FleetFacts(Coverage):
    """How much data a report had: its assessment's coverage, the snapshots, the filter."""

    snapshots: list[SnapshotUse] = field(default_factory=list)
    """The snapshots the current state comes from, oldest first."""
    filtered_out: int = 0
    """Images the image filter left out."""
    warnings: list[str] = field(default_factory=list)
    """The damaged snapshots the data leaves out (a damaged store read with damage allowed),
    one line each (`Assessment.warnings`)."""

    @property
    def is_synthetic(self) -> bool:
        """Return whether any image is from the synthetic demo fleet."""
        return self.synthetic_images > 0

    @property
    def coverage(self) -> float | None:
        """Return the share of images with both a vulnerability scan and an SBOM (0-1); None
        when there are no images (`Coverage.share`)."""
        return self.share

    def to_dict(self) -> dict[str, Any]:
        """Return the facts as plain data (for the summary JSON)."""
        out = asdict(self)
        out["coverage"] = self.coverage
        out["is_synthetic"] = self.is_synthetic
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FleetFacts:
        """Return facts from `to_dict`'s output (extra keys are ignored)."""
        snaps = [SnapshotUse(**s) for s in d.get("snapshots", [])]
        names = {f for f in cls.__dataclass_fields__ if f != "snapshots"}
        return cls(snapshots=snaps, **{k: v for k, v in d.items() if k in names})


def fleet_facts(a: Assessment) -> FleetFacts:
    """Return the facts of an assessment: its snapshots, coverage and image filter."""
    return FleetFacts(snapshots=list(a.snapshots), filtered_out=a.filtered_out,
                      warnings=list(a.warnings), **a.coverage.to_dict())
