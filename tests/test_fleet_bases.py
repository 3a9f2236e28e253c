"""`fleet.bases.find_bases` reads the build times of a whole column at once: the base learnt from
the layers is the newest older image, and a build time that is missing, not a time or a
reproducible build's fixed one stays unknown (never today, never 1970)."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from auditlib.fleet.bases import Base, find_bases


def _bases(created: dict[str, object]) -> dict[str, Base]:
    layers = {
        "base-old": ("l1",),
        "base-new": ("l1",),
        "base-unknown": ("l1",),
        "app": ("l1", "l2"),
        "meta": ("l1", "l2"),          # only metadata over `app`: same layers
        "meta-undated": ("l1", "l2"),  # same layers, no build time
    }
    tags = {"base-old": ["docker.io/library/debian:11"],
            "base-new": ["docker.io/library/debian:12"]}
    return find_bases(list(layers), layers, pd.Series(created, dtype=object), {}, {}, tags)


def test_the_newest_dated_image_with_a_layer_prefix_is_the_base() -> None:
    out = _bases({
        "base-old": "2024-01-01T00:00:00Z",
        "base-new": pd.Timestamp("2024-06-01", tz="UTC"),
        "base-unknown": None,           # unknown: never the newest
        "app": "2024-07-01T12:00:00+02:00",
        "meta": pd.Timestamp("2024-08-01"),  # naive: taken as UTC
        "meta-undated": "not a time",
    })
    assert out["app"] == Base("docker.io/library/debian:12", None, "base-new", "layers")
    # Same layers as `app` and built later: `app` is its base (it has no tag: no reference).
    assert out["meta"] == Base(None, None, "app", "layers")
    # With no build time, an image with the same layers cannot be told older or newer: its base
    # is the prefix below, never `app` or `meta` as if its time were today or 1970.
    assert out["meta-undated"].image_id == "base-new"
    # Of the same-layered bases, the newer is built on the older; the undated on neither.
    assert out["base-new"].image_id == "base-old"
    assert not {"base-old", "base-unknown"} & set(out)


def test_a_reproducible_build_time_is_unknown() -> None:
    out = _bases({
        "base-old": "2024-01-01T00:00:00Z",
        "base-new": "1970-01-01T00:00:01Z",  # SOURCE_DATE_EPOCH: unknown, not the oldest
        "base-unknown": float("nan"),
        "app": pd.NaT,
        "meta": "2024-08-01",
        "meta-undated": None,
    })
    # Unknown times rank below every known one, whatever they are.
    assert out["app"].image_id == "base-old"
    # `app` has no known time: `meta`, of the same layers, is not built on it.
    assert out["meta"].image_id == "base-old"
    assert out["meta-undated"].image_id == "base-old"


def _layer_bases_one_by_one(layers: dict[str, tuple[str, ...]], created: pd.Series
                            ) -> dict[str, str]:
    """The layer search as it was written before groups were searched once: per image, every
    prefix from the longest, every candidate of it compared (what `find_bases` must equal)."""
    from auditlib.normalize.times import build_series

    when = build_series(created)
    known = {str(i): t for i, t in zip(when.index, when, strict=True) if not pd.isna(t)}
    by_layers: dict[tuple[str, ...], list[str]] = {}
    for i, lay in layers.items():
        if lay:
            by_layers.setdefault(lay, []).append(i)
    out = {}
    for image_id, mine in layers.items():
        for n in range(len(mine), 0, -1):
            cands = [c for c in by_layers.get(mine[:n], []) if c != image_id]
            if n == len(mine):
                me = known.get(image_id)
                cands = [c for c in cands if me is not None
                         and (t := known.get(c)) is not None and t < me]
            if cands:
                out[image_id] = max(cands, key=lambda c: known.get(c) or pd.Timestamp(0, tz="UTC"))
                break
    return out


@pytest.mark.parametrize("seed", range(8))
def test_groups_searched_once_give_the_bases_one_by_one(seed: int) -> None:
    """Large groups of images with the same layers (a fleet rebuilt without change), ties in
    build time, unknown times and layer prefixes: the same base for every image as comparing
    every candidate of every image."""
    rng = random.Random(seed)
    stacks = [("a",), ("a", "b"), ("a", "b", "c"), ("d",), ("d", "e"), ("a", "x"), ()]
    days = [None, "not a time", *(f"2024-01-{d:02d}T00:00:00Z" for d in range(1, 6))]
    layers = {f"i{n}": rng.choice(stacks) for n in range(300)}
    created = pd.Series({i: rng.choice(days) for i in layers}, dtype=object)
    got = find_bases(list(layers), layers, created, {}, {}, {})
    assert {i: b.image_id for i, b in got.items()} == _layer_bases_one_by_one(layers, created)
    assert len(got) > 100  # the search found bases, not only none
