"""The image filter of an assessment (the reports' `image_filter`): keep the rows of the images
whose name matches a pattern."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from auditlib.data import AuditData
from auditlib.fleet.coverage import image_ids
from auditlib.fleet.glob import matches_any


def image_references(data: AuditData) -> dict[str, set[str]]:
    """Return image id -> every reference that names it (tags, repo digests, scanned names)."""
    out: dict[str, set[str]] = {}

    def add(ids: pd.Series, refs: pd.Series) -> None:
        for i, r in zip(ids.astype("string"), refs.astype("string"), strict=True):
            if i is not pd.NA and r is not pd.NA:
                out.setdefault(str(i), set()).add(str(r))

    add(data.image_tags["image_id"], data.image_tags["reference"])
    add(data.scans["image_id"], data.scans["image_ref"])
    add(data.images["image_id"], data.images["image_ref"])
    add(data.containers["image_id"], data.containers["image_ref"])
    rt = data.registry_tags
    add(rt["image_id"], rt["registry"].astype("string") + "/" + rt["repository"].astype(
        "string") + ":" + rt["tag"].astype("string"))
    return out


def select_images(data: AuditData, pattern: str) -> set[str]:
    """Return the ids of the images a reference (or the id itself) of which matches `pattern`
    (Docker Scout's globs, as in policy files: `docker.io/team/*`, `*nginx*`)."""
    refs = image_references(data)
    return {i for i in image_ids(data) if matches_any([pattern], [*sorted(refs.get(i, ())), i])}


def filter_images(data: AuditData, pattern: str | None) -> tuple[AuditData, int]:
    """Return `data` restricted to the images matching `pattern`, and how many images it left
    out. With no pattern, `data` itself and 0.

    Rows of tables with an `image_id` are kept when it is selected; containers' mounts and
    changes follow their containers; Dockerfiles are kept when the image they build matches;
    load errors are kept.
    """
    if not pattern:
        return data, 0
    every = image_ids(data)
    keep = select_images(data, pattern)
    changes: dict[str, Any] = {}
    for name, df in data.tables().items():
        if "image_id" in df.columns:
            changes[name] = df[df["image_id"].astype("string").isin(keep).fillna(False)
                               ].reset_index(drop=True)
    kept_containers = set(changes["containers"]["container_id"].astype(str))
    for name in ("container_mounts", "container_changes"):
        df = getattr(data, name)
        changes[name] = df[df["container_id"].astype(str).isin(kept_containers)].reset_index(
            drop=True)
    dockerfiles = data.dockerfiles
    built = dockerfiles["context_image_ref"].astype("string")
    ok = np.array([r is not pd.NA and matches_any([pattern], [str(r)]) for r in built], bool)
    changes["dockerfiles"] = dockerfiles[ok].reset_index(drop=True)  # a mask, even when empty
    paths = set(changes["dockerfiles"]["path"].astype(str))
    for name in ("dockerfile_stages", "dockerfile_secret_names", "dockerfile_copies"):
        df = getattr(data, name)
        changes[name] = df[df["path"].astype(str).isin(paths)].reset_index(drop=True)
    return data.replace(**changes), len(every - keep)
