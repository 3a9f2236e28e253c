"""An image's base: what it was built on, and whether the base tag still points at it.

The base is learnt, in this order, from the Dockerfile that builds the image (its final `FROM`),
the OCI base labels (`org.opencontainers.image.base.name` / `.digest`), or the layers (the
newest other image whose layers start this image's, as Docker Scout matches). What the base tag
points at now comes from a registry's tag list, else an engine's tags.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from auditlib.data import AuditData
from auditlib.identity import normalize_reference, parse_reference
from auditlib.normalize.times import build_series, build_time, utc_time

BASE_NAME_LABEL = "org.opencontainers.image.base.name"
BASE_DIGEST_LABEL = "org.opencontainers.image.base.digest"

_LEGACY_HUB = dict.fromkeys(("index.docker.io", "registry-1.docker.io",
                             "registry.hub.docker.com"), "docker.io")
_OLDEST = pd.Timestamp(0, tz="UTC")


def _text(v: Any) -> str | None:
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


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


def find_bases(
    image_ids: list[str],
    layers: Mapping[str, tuple[str, ...]],
    created: pd.Series,
    dockerfiles: Mapping[str, pd.Series],
    labels: Mapping[str, Mapping[str, str]],
    tags: Mapping[str, list[str]],
) -> dict[str, Base]:
    """Return image id -> its base, for the images whose base is known.

    Args:
        image_ids: every image.
        layers: image id -> its layer diff ids, base first.
        created: image id -> its build time (NaT when unknown).
        dockerfiles: image id -> the `dockerfiles` row of the Dockerfile that builds it.
        labels: image id -> its labels.
        tags: image id -> its tag references.
    """
    # Layer prefixes: the longest other image whose layers start this image's layers (an image
    # that only adds metadata has the same layers as its base: the older one is the base).
    by_layers: dict[tuple[str, ...], list[str]] = {}
    for i, lay in layers.items():
        if lay:
            by_layers.setdefault(lay, []).append(i)

    # Every build time parsed at once (`build_series` on the whole column); an image without a
    # known one (missing, not a time, a reproducible build's fixed time) is absent: unknown.
    when = build_series(created)
    known: dict[str, pd.Timestamp] = {
        str(i): t for i, t in zip(when.index, when, strict=True) if not pd.isna(t)}

    def built(i: str) -> pd.Timestamp | None:
        return known.get(i)

    # Each group of images with the same layers is searched once, not once per image (a fleet
    # rebuilt without changes has large groups): the newest of a group, the first listed on a
    # tie (what `max` over the group gives), and its dated images' distinct build times in
    # order, each with the first image listed at that time.
    newest: dict[tuple[str, ...], str] = {}
    dated: dict[tuple[str, ...], tuple[list[pd.Timestamp], list[str]]] = {}

    def newest_of(group: tuple[str, ...]) -> str:
        if group not in newest:
            newest[group] = max(by_layers[group], key=lambda c: built(c) or _OLDEST)
        return newest[group]

    def built_before(group: tuple[str, ...], me: pd.Timestamp) -> str | None:
        """The newest image of `group` built before `me` (the first listed on a tie)."""
        if group not in dated:
            first: dict[pd.Timestamp, str] = {}
            for c in by_layers[group]:
                t = built(c)
                if t is not None:
                    first.setdefault(t, c)
            times = sorted(first)
            dated[group] = (times, [first[t] for t in times])
        times, ids = dated[group]
        at = bisect_left(times, me)
        return ids[at - 1] if at else None

    out: dict[str, Base] = {}
    for image_id in image_ids:
        mine = layers.get(image_id, ())
        base_id = None
        if mine in by_layers:  # an image with the same layers, built before it
            me = built(image_id)
            base_id = built_before(mine, me) if me is not None else None
        for n in range(len(mine) - 1, 0, -1):
            if base_id is not None:
                break
            if mine[:n] in by_layers:  # the newest image whose layers start this one's
                base_id = newest_of(mine[:n])
        df = dockerfiles.get(image_id)
        own = labels.get(image_id, {})
        ref = digest = None
        how = ""
        if df is not None and _text(df.get("final_base_ref")):
            ref, how = _text(df["final_base_ref"]), "dockerfile"
            parsed = parse_reference(ref or "")
            digest = parsed.digest if parsed else None
        elif own.get(BASE_NAME_LABEL):
            ref, how = normalize_reference(own[BASE_NAME_LABEL]), "label"
            digest = own.get(BASE_DIGEST_LABEL) or None
        if ref is None and base_id is not None:
            base_tags = tags.get(base_id, [])
            ref, how = (base_tags[0] if base_tags else None), "layers"
        if ref is None and base_id is None:
            continue
        out[image_id] = Base(ref, digest, base_id, how or "layers")
    return out


@dataclass
class BaseTagNow:
    """What a base tag points at now: digests, image ids -> platform (`linux/amd64`, None when
    not known), and the platforms of the rows."""

    source: str
    """Who says: `the registry` or `an engine`."""
    shown: str
    """The digest or id to show."""
    created: pd.Timestamp | None
    """When that image was built, when known."""
    digests: set[str] = field(default_factory=set)
    image_ids: dict[str, str | None] = field(default_factory=dict)
    platforms: set[str | None] = field(default_factory=set)


def tag_key(ref: str | None) -> str | None:
    """Return `registry/repository:tag` of a reference with a tag, else None."""
    p = parse_reference(ref) if ref else None
    return f"{p.name}:{p.tag}" if p is not None and p.tag else None


def _latest(df: pd.DataFrame, key: str) -> pd.DataFrame:
    """Return the rows of each key's newest collection."""
    newest = df.groupby(key)["collected_at"].transform("max")
    return df[(df["collected_at"] == newest) | newest.isna()]


def base_tag_now(data: AuditData, created: pd.Series, references: Mapping[str, list[str]],
                 wanted: set[str]) -> dict[str, BaseTagNow]:
    """Return tag reference -> what it points at now, from registries, else engines.

    Args:
        data: the tables (registry_tags, image_tags).
        created: image id -> its build time.
        references: image id -> the references that name it.
        wanted: the tag references to look up (`tag_key`).
    """
    out: dict[str, BaseTagNow] = {}
    rt = data.registry_tags.dropna(subset=["tag"])
    if len(rt) and wanted:
        reg = rt["registry"].astype(str).replace(_LEGACY_HUB)
        rt = rt.assign(key=reg + "/" + rt["repository"].astype(str) + ":" + rt["tag"].astype(str))
        rt = _latest(rt[rt["key"].isin(wanted)], "key")
        for key, md, pd_, iid, plat, built_at in zip(
            rt["key"], rt["manifest_digest"], rt["platform_manifest_digest"], rt["image_id"],
            rt["platform"], rt["created_at"], strict=True,
        ):
            now = out.setdefault(key, BaseTagNow("the registry",
                                                 str(_text(md) or _text(iid) or "?"),
                                                 build_time(built_at)))
            now.digests.update(d for d in (_text(md), _text(pd_)) if d)
            now.platforms.add(_text(plat))
            if _text(iid):
                now.image_ids[str(iid)] = _text(plat)
    it = data.image_tags.dropna(subset=["image_id", "reference"])
    it = it.assign(ref=it["reference"].astype(str))
    it = _latest(it[it["ref"].isin(wanted - set(out))], "ref")
    for ref, iid in zip(it["ref"], it["image_id"].astype(str), strict=True):
        now = out.setdefault(ref, BaseTagNow("an engine", iid, utc_time(created.get(iid))))
        now.image_ids[iid] = None
        now.platforms.add(None)
        now.digests.update(r.rsplit("@", 1)[1] for r in references.get(iid, []) if "@" in r)
    return out


def built_on_current(layers: Mapping[str, tuple[str, ...]], image_id: str,
                     built_digest: str | None, built_id: str | None, now: BaseTagNow,
                     platform: str | None) -> bool | None:
    """Return whether the image is built on what the tag points at now (None: cannot tell).

    Same image id or digest: current. Else the layers decide (the current base's layers start
    this image's), for a current image of the image's platform. Else a different digest or id
    proves a move only when the rows are for the image's platform (another platform's image of
    the same index has another id and manifest digest).
    """
    if (built_id is not None and built_id in now.image_ids) or (
            built_digest is not None and built_digest in now.digests):
        return True
    same = [i for i, p in now.image_ids.items() if p is None or platform is None or p == platform]
    mine = layers.get(image_id, ())
    layered = [i for i in same if i in layers]
    if mine and layered:
        return any(mine[:len(layers[i])] == layers[i] for i in layered)
    if platform is not None and all(p is not None and p != platform for p in now.platforms):
        return None
    return False if (built_digest and now.digests) or (built_id is not None and same) else None


def platforms(images: pd.DataFrame) -> pd.Series:
    """Return image id -> `os/architecture` of the merged images (missing when either is
    unknown)."""
    return images["os"].astype("string") + "/" + images["architecture"].astype("string")

