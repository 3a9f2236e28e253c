"""The staleness table on small constructed data: base drift, newer tags, EOL, fixable split,
deployment lag, abandonment and the rebuild priority."""

from __future__ import annotations

import pandas as pd

from auditlib.assess import staleness
from tests.policy.builders import AS_OF, days_ago, image_id, make_data

BASE_OLD, BASE_NEW, APP, APP_NEXT, EOL_IMG = (image_id(n) for n in range(1, 6))
L1, L2, L3, L4 = ("sha256:" + c * 64 for c in "1234")


def _data():  # type: ignore[no-untyped-def]
    return make_data(
        images=[
            {"image_id": BASE_OLD, "host": "h", "created_at": days_ago(100)},
            {"image_id": BASE_NEW, "host": "h", "created_at": days_ago(10)},
            {"image_id": APP, "host": "h", "created_at": days_ago(60), "os_family": "debian",
             "os_version": "13.1"},
            {"image_id": APP_NEXT, "host": "h", "created_at": days_ago(5)},
            {"image_id": EOL_IMG, "host": "h", "created_at": days_ago(900),
             "os_family": "debian", "os_version": "9.13"},
        ],
        image_tags=[
            {"image_id": BASE_NEW, "reference": "r.test/base/os:1.0"},
            {"image_id": APP, "reference": "r.test/team/app:2.0"},
            {"image_id": APP_NEXT, "reference": "r.test/team/app:2.1"},
            {"image_id": EOL_IMG, "reference": "r.test/team/old:1.0"},
        ],
        image_layers=[
            {"image_id": BASE_OLD, "layer_index": 0, "diff_id": L1},
            {"image_id": BASE_NEW, "layer_index": 0, "diff_id": L2},
            {"image_id": APP, "layer_index": 0, "diff_id": L1},
            {"image_id": APP, "layer_index": 1, "diff_id": L3},
            {"image_id": APP_NEXT, "layer_index": 0, "diff_id": L2},
            {"image_id": APP_NEXT, "layer_index": 1, "diff_id": L4},
        ],
        image_labels=[{"image_id": APP, "label": "org.opencontainers.image.base.name",
                       "value": "r.test/base/os:1.0"}],
        registry_tags=[
            {"registry": "r.test", "repository": "base/os", "tag": "1.0", "image_id": BASE_NEW,
             "manifest_digest": "sha256:" + "e" * 64, "created_at": days_ago(10)},
            {"registry": "r.test", "repository": "base/os", "tag": "1.1", "image_id": BASE_NEW,
             "created_at": days_ago(10)},
            {"registry": "r.test", "repository": "team/app", "tag": "2.0", "image_id": APP,
             "created_at": days_ago(60)},
            {"registry": "r.test", "repository": "team/app", "tag": "2.1", "image_id": APP_NEXT,
             "created_at": days_ago(5)},
        ],
        vulnerabilities=[
            {"image_id": APP, "target": "t", "vuln_id": "CVE-1", "pkg_name": "openssl",
             "pkg_version": "1", "severity": "critical", "fix_state": "fixed",
             "fix_available_at": days_ago(40), "layer_diff_id": L1},
            {"image_id": APP, "target": "t", "vuln_id": "CVE-2", "pkg_name": "app-lib",
             "pkg_version": "1", "severity": "high", "fix_state": "fixed",
             "published_at": days_ago(20), "layer_diff_id": L3},
            {"image_id": APP, "target": "t", "vuln_id": "CVE-3", "pkg_name": "zlib",
             "pkg_version": "1", "severity": "low", "fix_state": "not-fixed", "layer_diff_id": L1},
        ],
        containers=[{"host": "h", "container_id": "c1", "name": "web", "image_id": APP,
                     "state": "running"}],
    )


def test_one_row_per_image_sorted_by_priority() -> None:
    df = staleness(_data(), as_of=AS_OF)
    assert sorted(df["image_id"]) == sorted([BASE_OLD, BASE_NEW, APP, APP_NEXT, EOL_IMG])
    # critical over its SLA (2 x 10), high within it (5) and a moved base (10), then an OS past
    # its end of life (20).
    assert df["image_id"].tolist()[:2] == [APP, EOL_IMG]
    assert df["rebuild_priority"].tolist() == [35.0, 20.0, 0.0, 0.0, 0.0]
    assert df["priority_rank"].tolist() == [1, 2, 3, 4, 5]


def test_base_drift_newer_tags_and_lag() -> None:
    app = staleness(_data(), as_of=AS_OF).set_index("image_id").loc[APP]
    assert app["base_ref"] == "r.test/base/os:1.0" and app["base_found_by"] == "label"
    assert app["base_image_id"] == BASE_OLD and bool(app["base_drifted"])
    assert app["base_current_image_id"] == BASE_NEW
    assert app["base_newer_tags"] == "1.1"
    assert app["newer_tags"] == "2.1" and app["newer_tag_count"] == 1
    assert app["running_containers"] == 1 and app["newer_build_image_id"] == APP_NEXT
    assert app["deployment_lag_days"] == 55.0
    assert round(app["age_days"]) == 60


def test_fixable_split_between_base_and_own_layers() -> None:
    app = staleness(_data(), as_of=AS_OF).set_index("image_id").loc[APP]
    assert (app["fixable_count"], app["fixable_critical"], app["fixable_high"]) == (2, 1, 1)
    assert (app["fixable_in_base"], app["fixable_in_own"]) == (1, 1)
    assert app["oldest_fix_days"] == 40
    assert app["rebuild_priority"] == 2 * 10 + 5 + 10  # critical over SLA, high, base drift
    assert "fixable: 1 critical, 1 high (1 over SLA) (+25)" in app["priority_reasons"]
    # openssl came with the base (its layer is the base's): the refreshed base fixes it.
    assert app["priority_actions"] == (
        "rebuild on the refreshed base r.test/base/os:1.0; upgrade app-lib")


def test_end_of_life_from_the_bundled_table() -> None:
    df = staleness(_data(), as_of=AS_OF).set_index("image_id")
    old = df.loc[EOL_IMG]
    assert bool(old["os_is_eol"]) and old["os_days_to_eol"] < 0
    assert old["os_eol_date"] < AS_OF and "debian" in old["os_eol_source"]
    assert "past its end of life" in old["priority_reasons"]
    app = df.loc[APP]
    assert not bool(app["os_is_eol"]) and app["os_eol_date"] > AS_OF


def test_unknowns_stay_missing() -> None:
    df = staleness(_data(), as_of=AS_OF).set_index("image_id")
    base = df.loc[BASE_OLD]
    assert pd.isna(base["base_drifted"]) and pd.isna(base["os_is_eol"])
    assert pd.isna(base["newer_tag_count"]) and base["running_containers"] == 0
    assert pd.isna(df.loc[APP_NEXT, "fixable_count"])


def test_abandoned_upstream() -> None:
    df = staleness(_data(), as_of=AS_OF, abandonment_days=5).set_index("image_id")
    assert bool(df.loc[APP, "upstream_abandoned"])  # base/os newest image is 10 days old
    df = staleness(_data(), as_of=AS_OF).set_index("image_id")
    assert not bool(df.loc[APP, "upstream_abandoned"])
