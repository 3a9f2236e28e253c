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


def image_ids_by_scan(scans: pd.DataFrame, known: dict[str, str]) -> dict[str, str]:
    """Return scan id -> image id for the documents (`scans` rows) that name no image but a
    manifest digest `known` (`digest_map`) maps to one."""
    missing = scans[scans["image_id"].isna() & scans["repo_digest"].notna()]
    return {str(sid): known[str(d)]
            for sid, d in zip(missing["scan_id"], missing["repo_digest"], strict=True)
            if str(d) in known}


def fill_image_ids(df: pd.DataFrame, by_scan: dict[str, str]) -> pd.DataFrame:
    """Return a table's rows with `image_id` set from `by_scan` (scan id -> image id) where it
    is missing: `df` itself when nothing changes (or it has no such columns), else a copy."""
    if df.empty or "image_id" not in df.columns or "scan_id" not in df.columns:
        return df
    fill = df["scan_id"].astype("string").map(by_scan)
    todo = df["image_id"].isna() & fill.notna()
    if not todo.any():
        return df
    df = df.copy()
    df["image_id"] = df["image_id"].astype("string").where(~todo, fill).astype("category")
    return df


def resolve_image_ids(data: AuditData) -> AuditData:
    """Set `image_id` on the rows of documents that lack it but whose scan names a manifest
    digest another source maps to one image.

    Returns:
        `data`, changed in place (the same object), for chaining.
    """
    scans = data.scans
    if not (scans["image_id"].isna() & scans["repo_digest"].notna()).any():
        return data
    by_scan = image_ids_by_scan(scans, digest_map(data))
    if not by_scan:
        return data
    for name, df in data.tables().items():
        setattr(data, name, fill_image_ids(df, by_scan))
    return data
