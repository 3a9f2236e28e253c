"""What the staleness table does not let a page judge, image by image (issue 12, "Unknown is
never good news"): the staleness report's cards, notes, tables and charts say how many images
each of them could not judge, from here.

Everything is read from the staleness table's missing values, which the coverage
(`auditlib.fleet.coverage`) and base (`auditlib.fleet.bases`) definitions put there:
`fixable_count` is missing for an image no vulnerability scan covered, `base_found_by` when the
base is unknown, `base_drifted` when the base tag's image was not seen, `newer_tag_count` when
the repository's tags are unknown, `os_is_eol` when no end of life is known, `age_days` when the
build time is. Nothing here recomputes coverage or bases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditlib.fleet.bases import tag_key
from auditlib.reports.figures import UNKNOWN_COLOR

DRIFTED, CURRENT = "base moved on", "base current"
NO_TAG = "base known, drift unknown: no base tag to follow"
NOT_COLLECTED = "base known, drift unknown: base tag not collected"
NOT_MATCHED = "base known, drift unknown: the base tag's image could not be compared"
BASE_UNKNOWN = "base unknown"
BASE_STATES = {DRIFTED: "#d62728", CURRENT: "#2ca02c", NOT_COLLECTED: "#cfcfcf",
               NO_TAG: "#cfcfcf", NOT_MATCHED: "#cfcfcf", BASE_UNKNOWN: UNKNOWN_COLOR}
"""Each image's base, in the three states (good, bad, unknown and why), with its colour."""
NOT_SCANNED = "unknown: not scanned"
"""What a fixable count of an image no vulnerability scan covered shows."""


@dataclass(frozen=True, slots=True)
class Unknowns:
    """How many images the data does not let the page judge, per question (the staleness
    table's missing values)."""

    images: int
    not_scanned: int
    """No vulnerability scan: fixable vulnerabilities unknown."""
    no_build_time: int
    base_unknown: int
    """No base known (no Dockerfile, no OCI base label, no image whose layers start its own)."""
    drift_unknown: int
    """Base known, but not whether its tag moved on (the tag not collected, say)."""
    newer_tags_unknown: int
    eol_unknown: int

    @property
    def scanned(self) -> int:
        """Return the images a vulnerability scan covered."""
        return self.images - self.not_scanned

    @property
    def drift_known(self) -> int:
        """Return the images whose base drift is known (moved on or current)."""
        return self.images - self.base_unknown - self.drift_unknown

    @property
    def priority_unknown(self) -> bool:
        """Return whether any part of any image's rebuild priority is unknown."""
        return bool(self.not_scanned or self.base_unknown or self.drift_unknown
                    or self.eol_unknown)


def unknowns(st: pd.DataFrame) -> Unknowns:
    """Return what the staleness table leaves unknown, image by image (`Unknowns`)."""
    base_known = st["base_found_by"].notna()
    return Unknowns(
        images=len(st),
        not_scanned=int(st["fixable_count"].isna().sum()),
        no_build_time=int(st["age_days"].isna().sum()),
        base_unknown=int((~base_known).sum()),
        drift_unknown=int((base_known & st["base_drifted"].isna()).sum()),
        newer_tags_unknown=int(st["newer_tag_count"].isna().sum()),
        eol_unknown=int(st["os_is_eol"].isna().sum()),
    )


def images(n: int) -> str:
    """Return `1 image` or `N images`."""
    return f"{n:,} image" if n == 1 else f"{n:,} images"


def any_of(n: int) -> str:
    """Return `the image` or `any of the N images`."""
    return "the image" if n == 1 else f"any of the {n:,} images"


def yes_no(s: pd.Series, unknown: str = "unknown") -> list[str]:
    """Return `yes`, `no` or `unknown` (never blank: blank reads as no) per value."""
    return [unknown if pd.isna(v) else "yes" if bool(v) else "no" for v in s]


def base_states(st: pd.DataFrame) -> pd.Series:
    """Return each image's base state: moved on, current, known with its drift unknown (and
    why), or unknown (`BASE_STATES`), from the table's base columns (`fleet.bases`)."""
    known = st["base_found_by"].notna().to_numpy(dtype=bool)
    drift = st["base_drifted"].astype("boolean")
    judged = drift.notna().to_numpy(dtype=bool)
    drifted = drift.fillna(False).to_numpy(dtype=bool)
    refs = st["base_ref"].astype("string")
    has_tag = {r: tag_key(r) is not None for r in refs.dropna().unique()}  # a few distinct
    tagged = refs.map(has_tag).fillna(False).to_numpy(dtype=bool)
    seen = (st["base_current_image_id"].notna()
            | st["base_current_created_at"].notna()).to_numpy(dtype=bool)
    state = np.select(
        [~known, judged & drifted, judged, ~tagged, seen],
        [BASE_UNKNOWN, DRIFTED, CURRENT, NO_TAG, NOT_MATCHED], NOT_COLLECTED)
    return pd.Series(state, index=st.index, dtype=object)


_WHY = {NOT_COLLECTED: "base tag not collected", NO_TAG: "no base tag to follow",
        NOT_MATCHED: "base tag's image not comparable", BASE_UNKNOWN: "base unknown"}


def base_unknown_words(st: pd.DataFrame) -> str:
    """Return why base drift is unknown, with how many images for each reason (`3 base tag not
    collected, 2 base unknown`); empty when it is known for every image."""
    counts = base_states(st).value_counts()
    return ", ".join(f"{int(counts[s]):,} {w}" for s, w in _WHY.items() if s in counts)
