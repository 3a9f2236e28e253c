"""Dates in every shape the formats and Python users give, through the whole assessment.

Time columns arrive typed from the loader, but a Python user's `AuditData`, a history frame or
another tool's Parquet can hold dates, naive and aware times, ISO strings in several forms, the
epoch of reproducible builds, garbage and missing values, mixed in one column; `as_of` comes as a
date, a time or a string. None of it may raise in the policy or the staleness analysis (two
official ubuntu tags in one fleet once did: `Timestamp` against `date`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditlib.assess import assess_data, staleness
from auditlib.data import AuditData
from auditlib.eol import EolTable
from auditlib.normalize.times import REPRODUCIBLE_BEFORE, build_time, utc_series, utc_time
from auditlib.policy import evaluate, load_policy
from auditlib.tables import DATA_TABLES, jsonable
from tests.policy.builders import image_id, make_data

UBUNTU_A, UBUNTU_B, DEBIAN, APP, BASE = (image_id(n) for n in range(1, 6))
TABLE = EolTable.bundled()

_zones = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2)),
                          dt.timezone(dt.timedelta(hours=-7, minutes=-30))])
_datetimes = st.datetimes(min_value=dt.datetime(1969, 12, 31), max_value=dt.datetime(2030, 1, 1))

# Every shape a time takes in the tables auditlib reads.
TIME_VALUES = st.one_of(
    st.none(),
    st.just(np.nan),
    st.just(pd.NaT),
    st.dates(min_value=dt.date(1970, 1, 1), max_value=dt.date(2030, 1, 1)),
    _datetimes,  # naive
    st.builds(lambda t, z: t.replace(tzinfo=z), _datetimes, _zones),  # aware
    st.builds(lambda t: pd.Timestamp(t), _datetimes),
    st.builds(lambda t, z: pd.Timestamp(t).tz_localize(z), _datetimes, _zones),
    st.builds(lambda t: t.date().isoformat(), _datetimes),
    st.builds(lambda t: t.isoformat(), _datetimes),
    st.builds(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"), _datetimes),
    st.builds(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f+02:00"), _datetimes),
    st.just("1970-01-01T00:00:00Z"),  # reproducible builds
    st.just("0001-01-01T00:00:00Z"),  # Go's zero time, as some tools write it
    st.sampled_from(["", "not a date", "2026-13-45", "yesterday"]),
)
AS_OF_VALUES = st.one_of(
    st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 1, 1)),
    st.builds(lambda t: t.replace(year=max(t.year, 2020)), _datetimes),
    st.builds(lambda t, z: t.replace(year=max(t.year, 2020), tzinfo=z), _datetimes, _zones),
    st.builds(lambda t: f"{max(t.year, 2020)}-{t.month:02d}-{t.day:02d}", _datetimes),
)


def _fleet() -> AuditData:
    """Two official ubuntu tags, a debian one, an app on a base (by label), a registry that
    lists newer tags, fixable vulnerabilities and a running container."""
    tags = [
        (UBUNTU_A, "docker.io/library/ubuntu:20.04"), (UBUNTU_B, "docker.io/library/ubuntu:22.04"),
        (DEBIAN, "docker.io/library/debian:bookworm"), (APP, "registry.example/team/app:1.2"),
        (BASE, "registry.example/team/base:3"),
    ]
    return make_data(
        images=[
            {"image_id": UBUNTU_A, "os_family": "ubuntu", "os_version": "20.04", "host": "h",
             "user": "", "is_os_eol": False, "source_format": "trivy-json@2"},
            {"image_id": UBUNTU_B, "os_family": "ubuntu", "os_version": "22.04", "host": "h"},
            {"image_id": DEBIAN, "os_family": "debian", "os_version": "12", "host": "h"},
            {"image_id": APP, "os_family": "alpine", "os_version": "3.20", "host": "h",
             "user": "app"},
            {"image_id": BASE, "os_family": "alpine", "os_version": "3.20", "host": "h"},
        ],
        image_tags=[{"image_id": i, "reference": r} for i, r in tags],
        image_labels=[{"image_id": APP, "label": "org.opencontainers.image.base.name",
                       "value": "registry.example/team/base:3"}],
        image_layers=[{"image_id": BASE, "layer_index": 0, "diff_id": "sha256:" + "a" * 64},
                      {"image_id": APP, "layer_index": 0, "diff_id": "sha256:" + "a" * 64},
                      {"image_id": APP, "layer_index": 1, "diff_id": "sha256:" + "b" * 64}],
        registry_tags=[
            {"registry": "docker.io", "repository": "library/ubuntu", "tag": t,
             "image_id": UBUNTU_B if t == "22.04" else None}
            for t in ("20.04", "22.04", "24.04", "jammy", "noble")
        ] + [{"registry": "registry.example", "repository": "team/base", "tag": "3",
              "image_id": BASE}],
        scans=[{"image_id": i, "format": "trivy-json"} for i, _ in tags],
        packages=[{"image_id": i, "pkg_name": "openssl", "pkg_version": "1"} for i, _ in tags],
        vulnerabilities=[
            {"image_id": i, "vuln_id": f"CVE-{n}", "pkg_name": "openssl", "pkg_version": "1",
             "severity": sev, "fix_state": "fixed", "fixed_version": "2",
             "layer_diff_id": "sha256:" + "a" * 64}
            for n, (i, sev) in enumerate([(UBUNTU_A, "critical"), (DEBIAN, "high"),
                                          (APP, "medium"), (APP, "low")])
        ],
        containers=[{"image_id": APP, "host": "h", "container_id": "c1", "name": "app",
                     "state": "running", "image_ref": "registry.example/team/app:1.2"}],
    )


def _with_times(data: AuditData, values: list[Any]) -> AuditData:
    """Return `data` with every time column holding `values` (as objects, mixed), cycled."""
    out = {}
    for table in DATA_TABLES:
        df = getattr(data, table.name)
        cols = [c.name for c in table.columns if c.dtype == "datetime"]
        if len(df) and cols:
            df = df.copy()
            for k, c in enumerate(cols):
                df[c] = pd.Series([values[(k + j) % len(values)] for j in range(len(df))],
                                  dtype=object, index=df.index)
        out[table.name] = df
    return AuditData(**out)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(TIME_VALUES, min_size=1, max_size=12), as_of=AS_OF_VALUES)
def test_any_mix_of_time_shapes_goes_through_policy_and_staleness(
        values: list[Any], as_of: Any) -> None:
    data = _with_times(_fleet(), values)
    a = assess_data(data, as_of=as_of, eol_table=TABLE)
    ev = a.evaluation
    assert ev.errors == []  # a rule that raised would hide as no-data
    assert len(ev.scores) == 5
    st_table = a.staleness
    assert set(st_table["image_id"]) == {UBUNTU_A, UBUNTU_B, DEBIAN, APP, BASE}
    assert str(st_table["created_at"].dtype) == "datetime64[ns, UTC]"
    # A reproducible build's fixed time is no build date: no age reaches back before 1981.
    when = utc_time(as_of)
    assert when is not None
    assert (st_table["age_days"].dropna() <= (when - REPRODUCIBLE_BEFORE).days).all()
    summary = a.summary()
    assert jsonable(summary) == summary
    # The same through the plain functions a Python user calls.
    staleness(data, as_of=as_of, eol_table=TABLE)
    assert evaluate(data, load_policy(None), as_of=as_of, eol_table=TABLE).errors == []


@given(value=TIME_VALUES)
def test_time_normalisers_never_raise(value: Any) -> None:
    t = utc_time(value)
    assert t is None or str(t.tz) == "UTC"
    b = build_time(value)
    assert b is None or b.year > 1980
    s = utc_series([value, value])
    assert str(s.dtype) == "datetime64[ns, UTC]"
