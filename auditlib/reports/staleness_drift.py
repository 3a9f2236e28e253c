"""The base image drift and newer tags section of the staleness report: one bar per base state
(moved on, current, base known with its drift unknown and why, base unknown), from the same base
facts (`auditlib.fleet.bases`, the staleness table's `base_*` columns) as the drift table under
it, and one bar per newer-tag state; unknown is grey.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from auditlib.reports.figures import UNKNOWN_COLOR, bar, esc
from auditlib.reports.staleness_unknowns import (
    BASE_STATES,
    BASE_UNKNOWN,
    base_states,
    base_unknown_words,
    images,
    unknowns,
)

NEWER_TAG_STATES = {"newer tag exists": "#d62728", "no newer tag": "#2ca02c",
                    "newer tags unknown: repository's tags not collected": UNKNOWN_COLOR}
"""Whether a newer tag exists in each image's track: yes, no, unknown (grey)."""


def _newer_tag_state(st: pd.DataFrame) -> pd.Series:
    states = list(NEWER_TAG_STATES)
    out = pd.Series(states[2], index=st.index, dtype=object)
    count = st["newer_tag_count"]
    out[(count == 0).fillna(False).to_numpy(dtype=bool)] = states[1]
    out[(count > 0).fillna(False).to_numpy(dtype=bool)] = states[0]
    return out


def _state_bars(states: pd.Series, colors: dict[str, str], title: str) -> go.Figure:
    """Return one horizontal bar per state that has images, in the order of `colors`."""
    counts = states.value_counts()
    order = [s for s in colors if s in counts]
    values = [int(counts[s]) for s in order]
    hover = [f"{esc(s)}: {images(v)}" for s, v in zip(order, values, strict=True)]
    return bar(order, values, title, horizontal=True, hover=hover,
               colors=[colors[s] for s in order], x="images",
               height=max(200, 40 * len(order) + 130), drop_empty=True)


def drift_figure(st: pd.DataFrame) -> go.Figure | None:
    """Return one bar per base state that has images: moved on, current, base known with its
    drift unknown (and why), base unknown (grey): the same base facts as the drift table;
    None for no image."""
    if st.empty:
        return None
    return _state_bars(base_states(st), BASE_STATES, "Base image drift")


def newer_tags_figure(st: pd.DataFrame) -> go.Figure | None:
    """Return one bar per newer-tag state that has images: a newer tag in the image's track,
    none, or unknown (grey: the repository's tags not collected); None for no image."""
    if st.empty:
        return None
    return _state_bars(_newer_tag_state(st), NEWER_TAG_STATES, "Newer tags in the image's track")


def drift_table(st: pd.DataFrame) -> pd.DataFrame:
    """Return the images whose base moved on or that have newer tags, most urgent first."""
    hit = st[st["base_drifted"].fillna(False).astype(bool) | (st["newer_tag_count"].fillna(0) > 0)]
    return pd.DataFrame({
        "image": hit["image_name"], "base": hit["base_ref"].fillna(BASE_UNKNOWN),
        "found by": hit["base_found_by"], "base state": base_states(hit),
        "newer tags": hit["newer_tags"], "base's newer tags": hit["base_newer_tags"],
        "age (days)": hit["age_days"],
    })


def _drift_unknown_parts(st: pd.DataFrame) -> list[str]:
    u = unknowns(st)
    parts = []
    if u.images - u.drift_known:
        parts.append(f"base drift unknown for {images(u.images - u.drift_known)} "
                     f"({base_unknown_words(st)})")
    if u.newer_tags_unknown:
        parts.append(f"newer tags unknown for {images(u.newer_tags_unknown)} (their "
                     "repository's tags not collected)")
    return parts


def drift_unknown_text(st: pd.DataFrame) -> str:
    """Return what the drift table leaves out because it is unknown (empty when nothing is, or
    when the table is empty: then `no_drift_text` says it)."""
    parts = _drift_unknown_parts(st)
    if not parts or drift_table(st).empty:
        return ""
    return "the table lists what is known; " + "; ".join(parts)


def no_drift_text(st: pd.DataFrame) -> str:
    """Return what the drift table says when no image is known to have a drifted base or a
    newer tag: a clean result only when every image's base and tags are known."""
    parts = _drift_unknown_parts(st)
    if not parts:
        return "no image has a drifted base or a newer tag"
    return "no image is known to have a drifted base or a newer tag; " + "; ".join(parts)
