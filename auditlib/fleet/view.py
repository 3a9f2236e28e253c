"""What every rule reads: the tables, and views of them computed once per evaluation.

An image is an `image_id` (config digest) that any table names: collected images, scanned images,
images containers run. The views merge what all sources say of it, preferring collected metadata
(engine, registry, archive) over what scan files repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pandas as pd

from auditlib.data import AuditData
from auditlib.identity import parse_reference

ROOT_USERS = frozenset({"", "root", "0", "0:0", "root:root", "root:0", "0:root"})
"""Users that mean root (an empty `User` runs as root)."""


def is_root_user(user: str) -> bool:
    """Return whether an image or container user runs as root: empty, `root`, `0` (any group)."""
    u = user.strip()
    return u in ROOT_USERS or u.split(":", 1)[0] in ("root", "0")


def _str(v: Any) -> str | None:
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


@dataclass
class Context:
    """The data a policy is evaluated on, at a moment."""

    data: AuditData
    as_of: pd.Timestamp
    """The moment ages are measured at (UTC)."""
    first_seen_fixed: pd.DataFrame | None = None
    """From the store's history (`auditlib.history.first_seen_fixed`): when each finding was
    first seen fixable; the SLA clock of findings whose scanner gives no fix date."""

    @cached_property
    def image_ids(self) -> list[str]:
        """Return every image id the tables name, sorted."""
        ids: set[str] = set()
        for df in (self.data.images, self.data.scans, self.data.containers,
                   self.data.registry_tags):
            ids.update(str(i) for i in df["image_id"].dropna().unique())
        return sorted(ids)

    @cached_property
    def images(self) -> pd.DataFrame:
        """Return one row per image id (index), merged over sources: collected rows first.

        Columns: created_at, user, size_bytes, os_family, os_version, is_os_eol (True when any
        source says so), layer_count, os, architecture.
        """
        img = self.data.images.dropna(subset=["image_id"]).copy()
        img["image_id"] = img["image_id"].astype(str)
        img["_collected"] = img["host"].notna()
        img = img.sort_values("_collected", ascending=False, kind="stable")
        cols = ["created_at", "user", "size_bytes", "os_family", "os_version", "layer_count",
                "os", "architecture"]
        merged = img.groupby("image_id")[cols].first()
        flag = img["is_os_eol"]
        eol = flag.fillna(False).astype(bool).groupby(img["image_id"]).any().astype("boolean")
        known = flag.notna().groupby(img["image_id"]).any()
        merged["is_os_eol"] = eol.mask(~known)
        # OS from scan documents too (Syft and Grype say it where image rows may not).
        scans = self.data.scans.dropna(subset=["image_id"])
        if len(scans):
            os_rows = scans.dropna(subset=["os_family"]).astype({"image_id": str})
            os_first = os_rows.groupby("image_id")[["os_family", "os_version"]].first()
            merged = merged.reindex(merged.index.union(os_first.index))
            for c in ("os_family", "os_version"):
                merged[c] = merged[c].fillna(os_first[c]) if c in merged else os_first[c]
        return merged.reindex(self.image_ids)

    @cached_property
    def references(self) -> dict[str, list[str]]:
        """Return image id -> the references that name it (tags and repo digests), sorted."""
        out: dict[str, set[str]] = {}
        tags = self.data.image_tags.dropna(subset=["image_id", "reference"])
        for i, ref in zip(tags["image_id"].astype(str), tags["reference"].astype(str), strict=True):
            out.setdefault(i, set()).add(ref)
        rt = self.data.registry_tags.dropna(subset=["image_id"])
        for i, reg, repo, tag in zip(rt["image_id"].astype(str), rt["registry"].astype(str),
                                     rt["repository"].astype(str), rt["tag"].astype(str),
                                     strict=True):
            out.setdefault(i, set()).add(f"{reg}/{repo}:{tag}")
        return {k: sorted(v) for k, v in out.items()}

    @cached_property
    def tags(self) -> dict[str, list[str]]:
        """Return image id -> its tag references only (no repo digests)."""
        return {
            i: [r for r in refs if (p := parse_reference(r)) is not None and p.digest is None]
            for i, refs in self.references.items()
        }

    @cached_property
    def names(self) -> dict[str, str]:
        """Return image id -> the name to show: a version tag, else any tag, else a short id."""
        out = {}
        for i in self.image_ids:
            tags = self.tags.get(i, [])
            versioned = [t for t in tags if not t.endswith(":latest")]
            out[i] = (versioned or tags or [i.removeprefix("sha256:")[:12]])[0]
        return out

    @cached_property
    def labels(self) -> dict[str, dict[str, str]]:
        """Return image id -> its labels."""
        out: dict[str, dict[str, str]] = {}
        lb = self.data.image_labels.dropna(subset=["image_id", "label"])
        for i, k, v in zip(lb["image_id"].astype(str), lb["label"].astype(str),
                           lb["value"].astype(str), strict=True):
            out.setdefault(i, {})[k] = v
        return out

    @cached_property
    def layers(self) -> dict[str, tuple[str, ...]]:
        """Return image id -> its layer diff ids, base first."""
        ly = self.data.image_layers.dropna(subset=["image_id", "diff_id"])
        ly = ly.sort_values(["image_id", "layer_index"])
        out: dict[str, tuple[str, ...]] = {}
        for i, group in ly.groupby(ly["image_id"].astype(str), sort=False):
            out[str(i)] = tuple(dict.fromkeys(group["diff_id"].astype(str)))
        return out

    @cached_property
    def containers(self) -> pd.DataFrame:
        """Return the containers (one row per host and container id), with `image_id` as str."""
        c = self.data.containers.dropna(subset=["image_id"]).copy()
        c["image_id"] = c["image_id"].astype(str)
        return c.drop_duplicates(["host", "container_id"], keep="last")

    @cached_property
    def running(self) -> pd.DataFrame:
        """Return the running containers."""
        c = self.containers
        return c[c["state"].astype(str) == "running"]

    @cached_property
    def dockerfiles(self) -> dict[str, pd.Series]:
        """Return image id -> the Dockerfile that builds it (`dockerfiles` row), matched by
        `context_image_ref` against the image's tags.
        """
        df = self.data.dockerfiles.dropna(subset=["context_image_ref"])
        by_ref = {str(r["context_image_ref"]): r for _, r in df.iterrows()}
        out: dict[str, pd.Series] = {}
        for i, refs in self.tags.items():
            for ref in refs:
                if ref in by_ref:
                    out[i] = by_ref[ref]
                    break
        return out

    @cached_property
    def bases(self) -> dict[str, Base]:
        """Return image id -> its base image, for the images whose base is known."""
        return _bases(self)

    def name(self, image_id: str) -> str:
        """Return the display name of an image."""
        return self.names.get(image_id, image_id.removeprefix("sha256:")[:12])

    def age_days(self, when: Any) -> float | None:
        """Return days from `when` to `as_of`, or None when `when` is missing."""
        t = pd.Timestamp(when) if when is not None and not pd.isna(when) else None
        if t is None:
            return None
        if t.tzinfo is None:
            t = t.tz_localize("UTC")
        return (self.as_of - t).total_seconds() / 86400


def text(v: Any) -> str | None:
    """Return a cell as str, or None when it is missing."""
    return _str(v)


@dataclass(frozen=True, slots=True)
class Base:
    """What is known of the base image an image was built on."""

    ref: str | None
    """The base reference, normalised (`docker.io/library/debian:12`), when known."""
    digest: str | None
    """The base's manifest digest at build time, when known (a `FROM ...@sha256` pin, or the
    `org.opencontainers.image.base.digest` label)."""
    image_id: str | None
    """The base's image id, when its layers are a prefix of this image's (a known image)."""
    how: str
    """Where it was learnt: `dockerfile`, `label`, or `layers`."""


BASE_NAME_LABEL = "org.opencontainers.image.base.name"
BASE_DIGEST_LABEL = "org.opencontainers.image.base.digest"


def _time_or_epoch(value: Any) -> pd.Timestamp:
    if value is None or pd.isna(value):
        return pd.Timestamp(0, tz="UTC")
    return pd.Timestamp(value)


def _bases(ctx: Context) -> dict[str, Base]:
    from auditlib.identity import normalize_reference

    # Layer prefixes: the longest other image whose layers start this image's layers (an image
    # that only adds metadata has the same layers as its base: the older one is the base).
    by_layers: dict[tuple[str, ...], list[str]] = {}
    for i, lay in ctx.layers.items():
        if lay:
            by_layers.setdefault(lay, []).append(i)
    created = ctx.images["created_at"]
    out: dict[str, Base] = {}
    for image_id in ctx.image_ids:
        mine = ctx.layers.get(image_id, ())
        base_id = None
        for n in range(len(mine), 0, -1):
            cands = [c for c in by_layers.get(mine[:n], []) if c != image_id]
            if n == len(mine):
                me = created.get(image_id)
                cands = [c for c in cands
                         if pd.notna(me) and pd.notna(created.get(c)) and created[c] < me]
            if cands:
                base_id = max(cands, key=lambda c: _time_or_epoch(created.get(c)))
                break
        df = ctx.dockerfiles.get(image_id)
        labels = ctx.labels.get(image_id, {})
        ref = digest = None
        how = ""
        if df is not None and text(df.get("final_base_ref")):
            ref, how = text(df["final_base_ref"]), "dockerfile"
            parsed = parse_reference(ref or "")
            digest = parsed.digest if parsed else None
        elif labels.get(BASE_NAME_LABEL):
            ref, how = normalize_reference(labels[BASE_NAME_LABEL]), "label"
            digest = labels.get(BASE_DIGEST_LABEL) or None
        if ref is None and base_id is not None:
            tags = ctx.tags.get(base_id, [])
            ref, how = (tags[0] if tags else None), "layers"
        if ref is None and base_id is None:
            continue
        out[image_id] = Base(ref, digest, base_id, how or "layers")
    return out

