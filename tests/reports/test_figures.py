"""The chart helpers at every fleet size (issue 12): count axes tick whole numbers, durations
are shown in the unit their range calls for, histogram bins suit 1 image and 100,000, an
unknown is a grey category of its own and an empty category is not drawn as data."""

from __future__ import annotations

import numpy as np
import pytest

from auditlib.reports.figures import (
    UNKNOWN_COLOR,
    bar,
    duration_histogram,
    format_days,
    histogram,
    lines,
    nice_step,
    stacked,
    time_unit,
)


def _is_count_axis(axis: object) -> bool:
    dtick = getattr(axis, "dtick", None)
    return (getattr(axis, "tickformat", None) == ",d" and dtick is not None
            and float(dtick).is_integer() and dtick >= 1)


@pytest.mark.parametrize(("days", "unit"), [
    (0.0, "seconds"), (0.00006, "seconds"), (0.02, "minutes"), (0.5, "hours"), (14, "days"),
    (150, "weeks"), (1248, "months"), (3650, "years"), (-3, "hours"),
])
def test_time_unit_follows_the_range(days: float, unit: str) -> None:
    assert time_unit(days)[0] == unit


def test_durations_in_words() -> None:
    assert format_days(158.2) == "158 days"
    assert format_days(0.25) == "6 hours"
    assert format_days(1248) == "3.4 years"
    assert format_days(None) == "unknown"


@pytest.mark.parametrize("top", [0, 1, 2, 3, 7, 10, 11, 99, 1234, 100_000])
def test_count_axes_tick_whole_numbers(top: int) -> None:
    fig = bar(["a", "b"], [top, 0], "t")
    assert _is_count_axis(fig.layout.yaxis)
    assert fig.layout.yaxis.rangemode == "tozero"
    assert top / fig.layout.yaxis.dtick <= 10  # a readable number of ticks


def test_nice_steps() -> None:
    assert [nice_step(s, 5) for s in (1, 7, 12, 100, 0.3)] == [0.2, 2, 5, 20, 0.1]
    assert nice_step(0) == 1


@pytest.mark.parametrize("values", [
    [0.3], [0.0], [13.7], [5.0] * 10, [0.00006, 0.00012],
    list(np.random.default_rng(1).exponential(300, 100_000)),
], ids=["one-fresh", "one-zero", "one", "same", "seconds", "100k"])
def test_age_histogram_at_every_size(values: list[float]) -> None:
    fig = duration_histogram(values, "Image age", since="since the build",
                             marks={"30 days": 30.0})
    unit = time_unit(max(values))[0]
    assert fig.layout.xaxis.title.text == f"{unit} since the build"
    assert fig.layout.xaxis.range[0] >= 0  # no -0.4 days for one image
    assert fig.layout.xaxis.range[1] > max(values) / time_unit(max(values))[1]
    bars = fig.data[0]
    assert sum(bars.y) == len(values)  # every value in a bin, counted
    assert all(isinstance(n, int) for n in bars.y)
    assert 1 <= len(bars.x) <= 31
    assert _is_count_axis(fig.layout.yaxis)
    assert "u" not in "".join(fig.layout.xaxis.ticktext).replace("unknown", "")


def test_histogram_carries_counts_not_values() -> None:
    fig = histogram(list(np.arange(100_000) % 500), "t", x="days")
    assert len(fig.to_json()) < 20_000


def test_unknown_is_a_grey_bar_of_its_own() -> None:
    fig = duration_histogram([10.0, 20.0], "Image age", unknown=3,
                             unknown_label="no build time")
    grey = fig.data[-1]
    assert grey.marker.color == UNKNOWN_COLOR and list(grey.y) == [3]
    assert fig.layout.xaxis.ticktext[-1] == "no build time"
    assert grey.x[0] > fig.data[0].x[-1]  # beside the bins, not among them


def test_empty_categories_are_left_out_when_asked() -> None:
    fig = bar(["a", "b", "c"], [0, 3, 1], "t", colors=["red", "green", "blue"],
              drop_empty=True)
    assert list(fig.data[0].x) == ["b", "c"] and list(fig.data[0].marker.color) == ["green", "blue"]
    fig = stacked(["x", "y"], {"s1": [0, 0], "s2": [2, 0]}, "t", drop_empty=True)
    assert [t.name for t in fig.data] == ["s2"] and list(fig.data[0].x) == ["x"]
    assert _is_count_axis(fig.layout.yaxis)
    # Without it, the charts are as they were (the compliance page's).
    assert list(bar(["a", "b"], [0, 1], "t").data[0].x) == ["a", "b"]


def test_lines_leave_gaps_for_missing_values() -> None:
    fig = lines([1, 2, 3], {"a": [1, float("nan"), 3]}, "t", counts=True)
    assert list(fig.data[0].y) == [1, None, 3]
    assert _is_count_axis(fig.layout.yaxis)
    ages = lines([1, 2], {"a": [0.00006, 0.00012]}, "t")
    assert ages.layout.yaxis.exponentformat == "none"  # never `60µ`


def test_subtitle_says_what_is_not_shown() -> None:
    fig = bar(["a"], [1], "Title", subtitle="<b>2 images</b> not shown")
    assert fig.layout.title.subtitle.text == "&lt;b&gt;2 images&lt;/b&gt; not shown"


def test_pandas_series_are_read_by_position() -> None:
    """The explore notebook passes Series indexed by image id (as before the helpers changed)."""
    import pandas as pd

    col = pd.Series([2, 0], index=["sha256:a", "sha256:b"])
    fig = stacked(["a", "b"], {"high": col, "low": col * 0}, "t", drop_empty=True)
    assert list(fig.data[0].y if fig.data[0].y is not None else fig.data[0].x) == [2]
    assert list(bar(col.index, col, "t").data[0].y) == [2, 0]
