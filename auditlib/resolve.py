"""Fill in the `image_id` of documents that name their image only by a manifest digest.

Syft's CycloneDX and SPDX SBOMs, and many CI-made reports, know the image by its manifest (repo)
digest, not its config digest. Another source in the same data often knows both: Syft's own JSON,
Trivy, the engine's `RepoDigests`, the registry. `resolve_image_ids` uses those pairs so that every
document about an image joins on one `image_id`.
"""

from __future__ import annotations

import pandas as pd

from auditlib.data import AuditData


def digest_map(data: AuditData) -> dict[str, str]:
    """Return manifest digest -> image id, from every row that knows both (only digests that
    map to exactly one image).
    """
    pairs = [
        data.images[["repo_digest", "image_id"]],
        data.image_tags[["repo_digest", "image_id"]],
        data.scans[["repo_digest", "image_id"]],
        data.registry_tags[["platform_manifest_digest", "image_id"]].set_axis(
            ["repo_digest", "image_id"], axis=1
        ),
    ]
    both = pd.concat([p.astype("string") for p in pairs], ignore_index=True).dropna()
    both = both.drop_duplicates()
    unique = both.groupby("repo_digest")["image_id"].nunique()
    both = both[both["repo_digest"].isin(unique[unique == 1].index)]
    return dict(zip(both["repo_digest"], both["image_id"], strict=True))


def resolve_image_ids(data: AuditData) -> AuditData:
    """Set `image_id` on the rows of documents that lack it but whose scan names a manifest
    digest another source maps to one image.

    Returns:
        `data`, changed in place (the same object), for chaining.
    """
    scans = data.scans
    lacking = scans["image_id"].isna() & scans["repo_digest"].notna()
    if not lacking.any():  # most loads: every scan knows its image (no frame is filtered)
        return data
    missing = scans.loc[lacking, ["scan_id", "repo_digest"]]
    known = digest_map(data)
    by_scan = {
        str(sid): known[str(d)]
        for sid, d in zip(missing["scan_id"], missing["repo_digest"], strict=True)
        if str(d) in known
    }
    if not by_scan:
        return data
    for name, df in data.tables().items():
        if "image_id" not in df.columns or "scan_id" not in df.columns or df.empty:
            continue
        fill = df["scan_id"].astype("string").map(by_scan)
        todo = df["image_id"].isna() & fill.notna()
        if not todo.any():
            continue
        ids = df["image_id"].astype("string").where(~todo, fill)
        df["image_id"] = ids.astype("category")
        setattr(data, name, df)
    return data
