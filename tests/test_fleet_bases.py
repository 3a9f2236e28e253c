"""`fleet.bases.find_bases` reads the build times of a whole column at once: the base learnt from
the layers is the newest older image, and a build time that is missing, not a time or a
reproducible build's fixed one stays unknown (never today, never 1970)."""

from __future__ import annotations

import pandas as pd

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
