"""Times: every date or time auditlib compares goes through here, so that a date, a naive or an
aware time, a string or a missing value are one thing: a UTC `pandas.Timestamp`, or None.

Formats give times in every shape: Trivy and Grype ISO 8601 with a zone, Syft sometimes none,
registries a config `created` that reproducible builds set to the Unix epoch, endoflife.date bare
dates, a Python user `datetime.date` objects. Comparing two shapes raises in pandas (`Timestamp`
against `date`); so nothing outside this module compares raw values.

A *build time* is a time an image was built. Reproducible builds (`SOURCE_DATE_EPOCH`) write the
Unix epoch or another fixed early time: a build time at or before `REPRODUCIBLE_BEFORE` says
nothing about when the image was made, and is unknown here, never a date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from auditlib.errors import ParameterError

UTC_DTYPE = pd.DatetimeTZDtype("ns", "UTC")
"""The dtype of every time column (`auditlib.tables`: `datetime`)."""

REPRODUCIBLE_BEFORE = pd.Timestamp("1981-01-01", tz="UTC")
"""Build times before this are a reproducible build's fixed time, not a build date."""

_EARLIEST, _LATEST = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
"""What a nanosecond time column holds (1677 to 2262): Go's zero time `0001-01-01`, which some
tools write for "unknown", is outside, and is no time here."""


def utc_time(value: Any) -> pd.Timestamp | None:
    """Return `value` as a UTC timestamp, or None when it is missing or not a time.

    Accepts `pandas.Timestamp`, `datetime.datetime` (naive is taken as UTC), `datetime.date`
    (midnight UTC), `numpy.datetime64`, and ISO 8601 strings. Never raises.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    try:
        if pd.isna(value):
            return None
        t = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if pd.isna(t):
        return None
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.as_unit("ns") if _EARLIEST <= t <= _LATEST else None


def utc_day(value: Any) -> dt.date | None:
    """Return the UTC calendar day of `value` (any shape `utc_time` takes), or None."""
    t = utc_time(value)
    return None if t is None else t.date()


def build_time(value: Any) -> pd.Timestamp | None:
    """Return `value` as a build time: `utc_time`, and None for a reproducible build's fixed
    time (at or before 1980)."""
    t = utc_time(value)
    return None if t is None or t < REPRODUCIBLE_BEFORE else t


def utc_series(values: Any) -> pd.Series:
    """Return a column of times as `datetime64[ns, UTC]`: whatever shapes it mixes, and NaT
    where a value is missing or not a time. Never raises; a column of that dtype is returned
    as it is."""
    s = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if s.dtype == UTC_DTYPE:
        return s
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
        t = s.dt.tz_convert("UTC") if isinstance(s.dtype, pd.DatetimeTZDtype) else (
            s.dt.tz_localize("UTC"))
        return t.where((t >= _EARLIEST) & (t <= _LATEST)).astype(UTC_DTYPE)
    obj = s.astype(object)
    obj = obj.where(~obj.map(lambda v: isinstance(v, bool | int | float) and not pd.isna(v)))
    out = pd.to_datetime(obj, utc=True, errors="coerce", format="mixed")
    out = out.where((out >= _EARLIEST) & (out <= _LATEST))
    return out.astype(UTC_DTYPE)


def build_series(values: Any) -> pd.Series:
    """Return a column of build times (`utc_series`), NaT for reproducible builds' fixed
    times."""
    s = utc_series(values)
    return s.where(s >= REPRODUCIBLE_BEFORE)


def days_between(later: Any, earlier: Any) -> float | None:
    """Return the days from `earlier` to `later` (negative when `later` is earlier), or None
    when either is unknown."""
    a, b = utc_time(later), utc_time(earlier)
    return None if a is None or b is None else (a - b).total_seconds() / 86400


_NOT_GIVEN = {"", "none", "null", "~"}


def parse_time(value: Any, name: str = "as_of") -> pd.Timestamp | None:
    """Return a time a user gave (`--as-of`, the `as_of` report parameter) as a UTC timestamp,
    or None when it is not given (None, or `""`, `none`, `null`).

    Accepts a `datetime`, a `date`, a pandas timestamp, or a string (`2026-01-31`,
    `2026-01-31T12:00:00Z`); a time without a zone is taken as UTC.

    Raises:
        ParameterError: naming `name`, if the value is not a date or time.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in _NOT_GIVEN):
        return None
    t = utc_time(value)
    if t is None:
        raise ParameterError(
            f"{name}: {value!r} is not a date or time (YYYY-MM-DD or an ISO 8601 time)")
    return t
