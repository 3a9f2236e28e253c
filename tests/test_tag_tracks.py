"""Tag tracks follow Renovate's docker versioning: precision kept, suffix must match, codenames of
the official debian and ubuntu images understood, pre-releases skipped for a stable tag."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta

import pytest

from auditlib.staleness.tag_tracks import (
    ABANDONMENT_THRESHOLD_DAYS,
    DEBIAN_CODENAMES,
    UBUNTU_CODENAMES,
    DockerVersion,
    compare,
    distro_of,
    is_abandoned,
    is_same_track,
    is_stable,
    newer_tags,
    newest_in_track,
    parse_tag,
)

# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "release", "prerelease", "suffix"),
    [
        ("1.25", (1, 25), "", ""),
        ("1.25.3", (1, 25, 3), "", ""),
        ("1.25-alpine", (1, 25), "", "alpine"),
        ("1.25.3-alpine3.18", (1, 25, 3), "", "alpine3.18"),
        ("20-bookworm-slim", (20,), "", "bookworm-slim"),
        ("3.12-slim-bookworm", (3, 12), "", "slim-bookworm"),
        ("17-jdk17", (17,), "", "jdk17"),
        ("v1.2.3", (1, 2, 3), "", ""),
        ("22.04", (22, 4), "", ""),
        ("3.7.0b1", (3, 7, 0), "b1", ""),
        ("3.8.0b1-alpine", (3, 8, 0), "b1", "alpine"),
        ("1.26.0-rc1", (1, 26, 0), "rc1", ""),
        ("2.0-beta2-alpine", (2, 0), "beta2", "alpine"),
        ("3.8.3-SNAPSHOT", (3, 8, 3), "SNAPSHOT", ""),
        ("123098140293", (123098140293,), "", ""),  # all digits: not a commit hash
        ("0a1b2C3", (0,), "a1b2C3", ""),  # upper case: not a hash (Renovate's test)
    ],
)
def test_parse_versions(tag: str, release: tuple[int, ...], prerelease: str, suffix: str) -> None:
    v = parse_tag(tag)
    assert v is not None
    assert (v.release, v.prerelease, v.suffix) == (release, prerelease, suffix)
    assert v.tag == tag and v.codename is None and v.distro is None


@pytest.mark.parametrize(
    "tag",
    ["", "latest", "stable", "mainline", "stable-alpine", "lts", "edge", "bookworm",
     "bookworm-slim", "jammy", "0a1b2c3", "0a1b2c3d", "0a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d",
     "sha-1a2b3c4", "01aecc#v2.1.0", "v", "-alpine"],
)
def test_not_versions(tag: str) -> None:
    assert parse_tag(tag) is None


def test_v_prefix_is_recorded() -> None:
    v = parse_tag("v1.2.3")
    assert v is not None and v.v_prefix and v.precision == 3


def test_codenames_of_debian_and_ubuntu_only() -> None:
    assert parse_tag("bookworm", repository="debian") == DockerVersion(
        "bookworm", (12,), codename="bookworm", distro="debian"
    )
    slim = parse_tag("bookworm-slim", repository="library/debian")
    assert slim is not None and (slim.release, slim.suffix) == ((12,), "slim")
    jammy = parse_tag("jammy", repository="docker.io/library/ubuntu")
    assert jammy is not None and jammy.release == (22, 4) and jammy.precision == 2
    dated = parse_tag("jammy-20240227", repository="ubuntu")
    assert dated is not None and dated.build == (20240227, 0) and dated.suffix == ""
    dated_slim = parse_tag("bookworm-20240311-slim", repository="debian")
    assert dated_slim is not None and dated_slim.build == (20240311, 0)
    assert dated_slim.suffix == "slim"
    # sid (unstable) and the rolling names have no number.
    for tag in ("sid", "unstable", "stable", "oldstable", "testing", "latest"):
        assert parse_tag(tag, repository="debian") is None
    # Other images: a codename is text (node:bookworm is not node 12).
    assert parse_tag("bookworm", repository="node") is None
    py = parse_tag("3.12-slim-bookworm", repository="python")
    assert py is not None and py.suffix == "slim-bookworm" and py.codename is None
    assert parse_tag("bookworm", repository="bitnami/debian") is None


def test_codename_tables() -> None:
    assert DEBIAN_CODENAMES["bookworm"] == "12" and DEBIAN_CODENAMES["trixie"] == "13"
    assert DEBIAN_CODENAMES["buzz"] == "1.1" and DEBIAN_CODENAMES["woody"] == "3"
    assert DEBIAN_CODENAMES["forky"] == "14" and DEBIAN_CODENAMES["duke"] == "15"
    assert DEBIAN_CODENAMES["sid"] == "unstable"
    assert UBUNTU_CODENAMES["trusty"] == "14.04" and UBUNTU_CODENAMES["xenial"] == "16.04"
    assert UBUNTU_CODENAMES["bionic"] == "18.04" and UBUNTU_CODENAMES["focal"] == "20.04"
    assert UBUNTU_CODENAMES["jammy"] == "22.04" and UBUNTU_CODENAMES["noble"] == "24.04"
    assert UBUNTU_CODENAMES["oracular"] == "24.10" and UBUNTU_CODENAMES["plucky"] == "25.04"
    assert UBUNTU_CODENAMES["questing"] == "25.10" and UBUNTU_CODENAMES["resolute"] == "26.04"


@pytest.mark.parametrize(
    ("repository", "distro"),
    [("debian", "debian"), ("library/debian", "debian"), ("debian:bookworm", "debian"),
     ("arm64v8/debian", "debian"), ("public.ecr.aws/docker/library/debian", "debian"),
     ("mirror.gcr.io/library/ubuntu:22.04", "ubuntu"), ("ubuntu", "ubuntu"),
     ("bitnami/debian", None), ("python", None), ("", None), (None, None)],
)
def test_distro_of(repository: str | None, distro: str | None) -> None:
    assert distro_of(repository) == distro


# --- ordering ------------------------------------------------------------------------------------


def _v(tag: str, repository: str | None = None) -> DockerVersion:
    v = parse_tag(tag, repository=repository)
    assert v is not None
    return v


def test_numeric_comparison() -> None:
    assert compare(_v("1.10"), _v("1.9")) > 0
    assert compare(_v("1.2.10"), _v("1.2.9")) > 0
    assert compare(_v("18.04"), _v("18.4")) == 0
    assert compare(_v("1.24.1"), _v("1.24")) > 0  # issue 5: the patch is newer than its line
    assert compare(_v("1.24"), _v("1.24.0")) > 0  # the floating tag ranks above its twin


def test_sorts_like_renovate() -> None:
    # Renovate's docker versioning test "sorts unstable".
    tags = ["3.7.0", "3.7-alpine", "3.7.0b1", "3.7.0b5", "3.8.0b1-alpine", "3.8.0-alpine",
            "3.8.2", "3.8.0"]
    ordered = sorted((_v(t) for t in tags), key=functools.cmp_to_key(compare))
    assert [v.tag for v in ordered] == ["3.7.0b1", "3.7.0b5", "3.7.0", "3.7-alpine",
                                        "3.8.0b1-alpine", "3.8.0-alpine", "3.8.0", "3.8.2"]


def test_prereleases_in_natural_order() -> None:
    assert compare(_v("1.0.0-rc10"), _v("1.0.0-rc9")) > 0
    assert compare(_v("1.0.0-beta1"), _v("1.0.0-alpha3")) > 0
    assert compare(_v("1.0.0"), _v("1.0.0-rc9")) > 0


# --- tracks --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "candidate", "same"),
    [
        ("1.24-alpine", "1.24.1-alpine", True),
        ("1.24-alpine", "1.25-alpine", True),
        ("1.24-alpine", "1.25.0-alpine", False),  # longer, but not an extension of 1.24
        ("1.24-alpine", "1.25", False),
        ("1.24-alpine", "1.25-alpine3.19", False),
        ("1.24.1-alpine", "1.24-alpine", False),  # precision never drops
        ("3.7.0", "3.7.0b1", True),  # pre-release is not the track (Renovate's isCompatible)
        ("3.7.0-alpine", "3.8.0b1-alpine", True),
        ("3.7.0-alpine", "3.8.2", False),
        ("3.7.0", "3.7-alpine", False),
        ("v1.2.3", "1.2.4", True),
        ("latest", "1.25", False),
        ("1.25", "latest", False),
    ],
)
def test_is_same_track(current: str, candidate: str, same: bool) -> None:
    assert is_same_track(current, candidate) is same


def test_same_track_codenames() -> None:
    assert is_same_track("bookworm", "12", repository="debian")
    assert is_same_track("12", "trixie", repository="debian")
    assert is_same_track("bookworm-slim", "13-slim", repository="debian")
    assert not is_same_track("bookworm-slim", "trixie", repository="debian")
    assert is_same_track("jammy", "22.04", repository="ubuntu")
    assert not is_same_track("jammy", "jammy-20240227", repository="ubuntu")  # dated: own track
    assert is_same_track("jammy-20240227", "noble-20240423", repository="ubuntu")
    assert not is_same_track("bookworm", "12")  # no repository: `bookworm` is not a version


# --- newer tags ----------------------------------------------------------------------------------


def test_issue_example() -> None:
    tags = ["1.24-alpine", "1.24.1-alpine", "1.25-alpine", "1.25.0-alpine", "1.24.1",
            "1.25", "1.25-alpine3.19", "1.23-alpine", "latest", "alpine"]
    assert newer_tags("1.24-alpine", tags) == ["1.25-alpine", "1.24.1-alpine"]


NGINX = ["1.24", "1.25", "1.25.3", "1.25.4", "1.26", "1.27.0", "1.25-alpine", "1.25.3-alpine",
         "1.25.3-alpine3.18", "1.25.4-alpine3.18", "1.26.0-alpine3.18", "1.25.5-alpine3.19",
         "mainline", "stable", "stable-alpine", "mainline-alpine", "alpine", "latest"]


def test_nginx() -> None:
    assert newer_tags("1.25", NGINX) == ["1.26", "1.25.4", "1.25.3"]
    assert newer_tags("1.25.3", NGINX) == ["1.27.0", "1.25.4"]
    assert newer_tags("1.25-alpine", NGINX) == ["1.25.3-alpine"]
    assert newer_tags("1.25.3-alpine3.18", NGINX) == ["1.26.0-alpine3.18", "1.25.4-alpine3.18"]
    for floating in ("mainline", "stable-alpine", "latest"):
        assert newer_tags(floating, NGINX) == []
        assert newest_in_track(floating, NGINX) is None


NODE = ["18", "20", "20.11", "20.11.1", "21", "22", "20-slim", "22-slim", "20-bookworm-slim",
        "22-bookworm-slim", "22-bullseye-slim", "lts", "lts-slim", "bookworm", "current"]


def test_node() -> None:
    assert newer_tags("20", NODE) == ["22", "21", "20.11.1", "20.11"]
    assert newer_tags("20.11", NODE) == ["20.11.1"]
    assert newer_tags("20-slim", NODE) == ["22-slim"]
    assert newer_tags("20-bookworm-slim", NODE) == ["22-bookworm-slim"]
    assert newer_tags("lts", NODE) == []
    # node:bookworm is not node 12, even though it names a Debian release.
    assert newer_tags("bookworm", NODE, repository="node") == []


def test_python_suffix_with_codename() -> None:
    tags = ["3.12-slim-bookworm", "3.12.2-slim-bookworm", "3.13-slim-bookworm", "3.13-slim-trixie",
            "3.13-slim", "3.13", "3.14.0rc1-slim-bookworm", "3.14-rc-slim-bookworm"]
    assert newer_tags("3.12-slim-bookworm", tags, repository="python") == [
        "3.13-slim-bookworm", "3.12.2-slim-bookworm"]


def test_postgres() -> None:
    tags = ["15", "16", "16.1", "16.2", "17", "16-alpine", "16.2-alpine", "17-alpine",
            "16-alpine3.19", "16-bookworm", "17rc1", "17-rc1"]
    assert newer_tags("16", tags) == ["17", "16.2", "16.1"]
    assert newer_tags("16.1", tags) == ["16.2"]
    assert newer_tags("16-alpine", tags) == ["17-alpine", "16.2-alpine"]
    assert newest_in_track("16", tags) == "17"
    assert newest_in_track("17", tags) is None


DEBIAN = ["11", "12", "12.5", "13", "14", "bullseye", "bookworm", "trixie", "forky", "sid",
          "unstable", "stable", "testing", "bookworm-slim", "trixie-slim", "12-slim", "13-slim",
          "12.5-slim", "stable-slim", "bookworm-20240311", "bookworm-20240408",
          "trixie-20250908", "bookworm-20240311-slim", "trixie-20250908-slim", "latest"]


def test_debian_codenames() -> None:
    day = date(2025, 10, 1)  # trixie released (2025-08-09); forky (14) not yet

    def newer(tag: str) -> list[str]:
        return newer_tags(tag, DEBIAN, repository="debian", as_of=day)

    assert newer("bookworm") == ["trixie", "13", "12.5"]
    assert newer("12") == ["13", "trixie", "12.5"]
    assert newer("12.5") == []  # 13 has fewer parts: precision is kept
    assert newer("bookworm-slim") == ["trixie-slim", "13-slim", "12.5-slim"]
    assert newer("bookworm-20240311") == ["trixie-20250908", "bookworm-20240408"]
    assert newer("bookworm-20240311-slim") == ["trixie-20250908-slim"]
    assert newer("trixie") == []  # forky and 14 are not released: unstable
    assert newer("sid") == [] and newer("stable") == []
    # Without the repository, codenames are not versions.
    assert newer_tags("bookworm", DEBIAN) == []
    assert newer_tags("12", DEBIAN) == ["14", "13", "12.5"]


def test_debian_release_rules_follow_the_date() -> None:
    # Once bullseye is past its LTS end (2026-08-31) it is no longer offered to buster.
    before = newer_tags("buster", DEBIAN, repository="debian", as_of=date(2025, 10, 1))
    after = newer_tags("buster", DEBIAN, repository="debian", as_of=date(2026, 10, 1))
    assert before == ["trixie", "13", "bookworm", "12", "bullseye", "11"]
    assert after == ["trixie", "13", "bookworm", "12"]
    assert not is_stable(_v("forky", "debian"), date(2026, 10, 1))
    assert is_stable(_v("16", "debian"), date(2026, 10, 1))  # beyond the table: docker rules


UBUNTU = ["20.04", "focal", "22.04", "jammy", "22.10", "kinetic", "23.04", "lunar", "23.10",
          "24.04", "noble", "24.10", "oracular", "25.04", "plucky", "25.10", "questing", "26.04",
          "resolute", "jammy-20240227", "jammy-20240427", "noble-20240423", "latest", "rolling",
          "devel"]


def test_ubuntu_codenames_lts_only() -> None:
    def newer(tag: str, day: date) -> list[str]:
        return newer_tags(tag, UBUNTU, repository="ubuntu", as_of=day)

    mid_2025 = date(2025, 6, 1)  # resolute (26.04) not yet released
    assert newer("jammy", mid_2025) == ["noble", "24.04"]
    assert newer("22.04", mid_2025) == ["24.04", "noble"]
    assert newer("24.04", mid_2025) == []
    assert newer("jammy", date(2026, 6, 1)) == ["resolute", "26.04", "noble", "24.04"]
    # An interim release is unstable: it is offered the next LTS only.
    assert newer("23.10", mid_2025) == ["24.04", "noble"]
    assert newer("jammy-20240227", mid_2025) == ["noble-20240423", "jammy-20240427"]
    assert newer("latest", mid_2025) == []
    assert newest_in_track("jammy", UBUNTU, repository="ubuntu", as_of=mid_2025) == "noble"


def test_v_prefixed_tags() -> None:
    tags = ["v1.2.3", "v1.2.4", "1.2.4", "v1.3.0", "v1.10.0", "v1.3", "v2.0.0-rc1", "v1.2.5-alpine"]
    assert newer_tags("v1.2.3", tags) == ["v1.10.0", "v1.3.0", "v1.2.4", "1.2.4"]
    assert newer_tags("1.2.3", tags) == ["v1.10.0", "v1.3.0", "1.2.4", "v1.2.4"]


def test_numeric_not_lexical() -> None:
    tags = ["1.8", "1.9", "1.10", "1.11", "1.9.1", "1.100"]
    assert newer_tags("1.9", tags) == ["1.100", "1.11", "1.10", "1.9.1"]
    assert newest_in_track("1.9", tags) == "1.100"


def test_prereleases_skipped_for_a_stable_tag() -> None:
    tags = ["1.25.0", "1.25.1", "1.26.0-rc1", "1.26.0rc2", "1.25.2-beta", "1.26.0b1-alpine",
            "1.27.0-alpha1", "1.26.0-SNAPSHOT"]
    assert newer_tags("1.25.0", tags) == ["1.25.1"]


def test_prerelease_current_gets_stable_and_its_own_prereleases() -> None:
    tags = ["1.26.0-rc1", "1.26.0-rc2", "1.26.0rc10", "1.26.0", "1.26.1-rc1", "1.25.9",
            "1.26.0-rc2-alpine"]
    assert newer_tags("1.26.0-rc1", tags) == ["1.26.0", "1.26.0rc10", "1.26.0-rc2"]
    assert newer_tags("3.7.0b1", ["3.7.0b5", "3.7.0", "3.8.0b1", "3.8.0"]) == [
        "3.8.0", "3.7.0", "3.7.0b5"]


def test_limit_and_duplicates() -> None:
    tags = ["1.1", "1.2", "1.3", "1.4", "1.4", "1.0"]
    assert newer_tags("1.1", tags) == ["1.4", "1.3", "1.2"]
    assert newer_tags("1.1", tags, limit=2) == ["1.4", "1.3"]
    assert newer_tags("1.1", tags, limit=0) == []
    assert newer_tags("1.1", iter(tags), limit=1) == ["1.4"]
    with pytest.raises(ValueError, match="limit"):
        newer_tags("1.1", tags, limit=-1)


def test_accepts_parsed_versions() -> None:
    cur = _v("bookworm", "debian")
    assert newer_tags(cur, ["trixie", "13"], repository="debian", as_of=date(2025, 10, 1)) == [
        "trixie", "13"]
    assert is_same_track(cur, _v("12", "debian"))


def test_latest_has_no_track() -> None:
    assert newer_tags("latest", ["1.0", "2.0", "latest"]) == []
    assert newest_in_track("latest", ["1.0", "2.0"]) is None


# --- abandonment ---------------------------------------------------------------------------------


def test_abandonment_threshold() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert ABANDONMENT_THRESHOLD_DAYS == 365
    assert is_abandoned(now - timedelta(days=400), now)
    assert not is_abandoned(now - timedelta(days=300), now)
    assert not is_abandoned(now - timedelta(days=365), now)  # strictly older than the threshold
    assert is_abandoned(now - timedelta(days=11), now, threshold_days=10)
    # None disables the check, which is Renovate's default.
    assert not is_abandoned(now - timedelta(days=400), now, threshold_days=None)
    assert not is_abandoned(None, now)
    # Naive datetimes are UTC; dates are midnight UTC.
    assert is_abandoned(datetime(2024, 1, 1), now)
    assert is_abandoned(date(2024, 1, 1), date(2026, 1, 1))
    with pytest.raises(ValueError, match="threshold_days"):
        is_abandoned(now, now, threshold_days=-1)
