"""What every report page says about its data: which snapshots, how much of the fleet had data
(coverage), and whether the data is the synthetic demo fleet's.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from auditlib.data import AuditData

SYNTHETIC_PREFIX = "demo.auditlib.invalid/synthetic/"
"""Every image of the demo fleet is named under this prefix (auditlib.demo)."""
SYNTHETIC_LABEL = "org.auditlib.synthetic"
"""...and carries this label set to `true`."""

SBOM_FORMATS = ("syft-json", "cyclonedx-json", "spdx-json")
COLLECTED_FORMATS = ("docker-engine", "oci-registry", "docker-archive", "oci-layout")


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A snapshot that the current state of a store is made of."""

    snapshot_id: str
    created_at: str
    """When it was written (ISO 8601, UTC)."""
    sources: int
    """How many sources (files, engines, repositories) it read."""


@dataclass(frozen=True, slots=True)
class FleetFacts:
    """How much data a report had."""

    snapshots: list[SnapshotInfo] = field(default_factory=list)
    """The snapshots the current state comes from, oldest first."""
    images: int = 0
    """Images the tables name (after the image filter)."""
    vuln_scanned: int = 0
    """Of them, with a vulnerability scan."""
    with_sbom: int = 0
    """Of them, with a package inventory (an SBOM, or a scanner's package list)."""
    collected: int = 0
    """Of them, with metadata collected from an engine, a registry or an archive."""
    containers_running: int = 0
    """Running containers in the data."""
    documents: int = 0
    """Documents and sources read (`scans` rows)."""
    load_errors: int = 0
    """Files or sources that could not be read at all."""
    synthetic_images: int = 0
    """Images of the synthetic demo fleet (named under `SYNTHETIC_PREFIX` or labelled)."""
    filtered_out: int = 0
    """Images the image filter left out."""

    @property
    def is_synthetic(self) -> bool:
        """Return whether any image is from the synthetic demo fleet."""
        return self.synthetic_images > 0

    @property
    def coverage(self) -> float | None:
        """Return the share of images with both a vulnerability scan and a package inventory
        (0-1); None when there are no images."""
        if not self.images:
            return None
        return min(self.vuln_scanned, self.with_sbom) / self.images

    def to_dict(self) -> dict[str, Any]:
        """Return the facts as plain data (for the summary JSON)."""
        out = asdict(self)
        out["coverage"] = self.coverage
        out["is_synthetic"] = self.is_synthetic
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FleetFacts:
        """Return facts from `to_dict`'s output (extra keys are ignored)."""
        snaps = [SnapshotInfo(**s) for s in d.get("snapshots", [])]
        names = {f for f in cls.__dataclass_fields__ if f != "snapshots"}
        return cls(snapshots=snaps, **{k: v for k, v in d.items() if k in names})


def current_snapshots(store: str | os.PathLike[str]) -> list[SnapshotInfo]:
    """Return the snapshots the store's current state (`auditlib.store.read_current`) is
    made of, oldest first, each with how many of the current sources it holds.

    Reads only manifests and the `source` column of two small tables. A store that has no
    snapshot gives an empty list.

    Raises:
        StoreError: if the store's manifests contradict each other (a snapshot holding carried
            rows is missing).
    """
    from auditlib.store.snapshots import current_sources, snapshot_infos

    held: dict[str, int] = {}
    for state in current_sources(store).values():
        held[state.snapshot_id] = held.get(state.snapshot_id, 0) + 1
    made = {i.snapshot_id: i.created_at.isoformat() for i in snapshot_infos(store)}
    return [SnapshotInfo(sid, made.get(sid, ""), n) for sid, n in sorted(held.items())]


def _ids(s: pd.Series) -> set[str]:
    return {str(i) for i in s.dropna().unique()}


def image_ids(data: AuditData) -> set[str]:
    """Return every image id the tables name (images, scans, containers, registry tags), as the
    policy does."""
    ids: set[str] = set()
    for df in (data.images, data.scans, data.containers, data.registry_tags):
        ids |= _ids(df["image_id"])
    return ids


def synthetic_image_ids(data: AuditData) -> set[str]:
    """Return the images of the synthetic demo fleet: named under `SYNTHETIC_PREFIX`, or with
    the label `org.auditlib.synthetic=true`."""
    out: set[str] = set()
    for df, col in ((data.scans, "image_ref"), (data.images, "image_ref"),
                    (data.image_tags, "reference"), (data.containers, "image_ref")):
        refs = df[col].astype("string")
        out |= _ids(df.loc[refs.str.startswith(SYNTHETIC_PREFIX).fillna(False), "image_id"])
    lb = data.image_labels
    flagged = (lb["label"].astype("string") == SYNTHETIC_LABEL) & (
        lb["value"].astype("string").str.strip().str.lower() == "true")
    out |= _ids(lb.loc[flagged.fillna(False), "image_id"])
    return out


def fleet_facts(
    data: AuditData, snapshots: list[SnapshotInfo] | None = None, *, filtered_out: int = 0
) -> FleetFacts:
    """Return the facts of `data` (a store's current state, filtered or not).

    Args:
        data: the tables.
        snapshots: the snapshots they come from (`current_snapshots`).
        filtered_out: images an image filter left out, to say so.
    """
    from auditlib.fleet.view import Context
    from auditlib.policy.rules.vulns import scanned_images

    ids = image_ids(data)
    scans = data.scans
    fmt = scans["format"].astype("string")
    sbom = _ids(data.packages["image_id"]) | _ids(
        scans.loc[fmt.isin(SBOM_FORMATS).fillna(False), "image_id"])
    collected = _ids(data.images.loc[data.images["host"].notna(), "image_id"]) | _ids(
        scans.loc[fmt.isin(COLLECTED_FORMATS).fillna(False), "image_id"])
    scanned = scanned_images(Context(data, pd.Timestamp.now(tz="UTC")))
    running = int((data.containers["state"].astype("string") == "running").fillna(False).sum())
    errors = int((data.load_errors["level"].astype("string") == "error").fillna(False).sum())
    return FleetFacts(
        snapshots=list(snapshots or []),
        images=len(ids),
        vuln_scanned=len(scanned & ids),
        with_sbom=len(sbom & ids),
        collected=len(collected & ids),
        containers_running=running,
        documents=len(scans),
        load_errors=errors,
        synthetic_images=len(synthetic_image_ids(data) & ids),
        filtered_out=filtered_out,
    )
