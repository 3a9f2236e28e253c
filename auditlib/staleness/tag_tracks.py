"""Tag tracks: which tags of a repository are newer versions of a tag, by Renovate's docker rules.

Renovate's docker versioning (`lib/modules/versioning/docker/index.ts` in renovatebot/renovate) is
followed, with the departures listed at the end.

Parsing (`parse_tag`):
  * A tag that looks like a commit hash (`^[a-f0-9]{7,40}$`, not all digits) is not a version.
  * One leading `v` is dropped; the rest is split at the first `-`. The part before it must be
    `^\\d+(\\.\\d+)*\\w*$`: the numbers are the release (`1.24` -> (1, 24)), letters glued to them
    are a pre-release (`3.7.0b1`). Everything after the first `-` is the suffix (`alpine`,
    `alpine3.18`, `slim-bookworm`, `jdk17`). `latest`, `stable`, `mainline`, `lts`, `edge`,
    `bookworm` or `sha-1a2b3c4` are not versions.
  * For the official `debian` and `ubuntu` images only (`repository=`; Renovate switches those to
    its `debian` and `ubuntu` versionings), a codename stands for its version: `bookworm` is 12,
    `jammy` is 22.04, `bookworm-slim` is 12 with the suffix `slim`, and the dated builds
    `jammy-20240227` and `bookworm-20240311-slim` carry their date as a build number. For any
    other image a codename is just text: python's `3.12-slim-bookworm` has the suffix
    `slim-bookworm`, and node's `bookworm` is not a version (it would otherwise read as node 12).

Tracks (`is_same_track`): a candidate is in the current tag's track when
  * its suffix is exactly the same (`1.24-alpine` never moves to `1.25` nor `1.25-alpine3.19`),
  * both or neither are dated codename builds, and
  * it has the same number of release parts (`1.24` -> `1.25`), or more parts that begin with all
    of the current ones (`1.24` -> `1.24.1`; `1.24` does not take `1.25.0`, `1.25` stands for it).

Newer (`newer_tags`): releases are compared as numbers, padded with zeros (`1.10` > `1.9`,
`1.24.1` > `1.24`); at equal padded numbers the shorter tag ranks higher (`1.24` > `1.24.0`, a
floating tag covers its pinned twin, as Renovate ranks them), then the build date, then a stable
tag above a pre-release, pre-releases in natural order (`rc2` < `rc10`). Tags with equal versions
(`13` and `trixie`, `v1.2` and `1.2`) are listed in the current tag's form first.

Stability: a pre-release (`3.7.0b1`, and also `1.26.0-rc1`, `2.0-beta2-alpine`) is unstable. For
`debian`, a release not yet out or past its LTS end is unstable; for `ubuntu`, only released LTS
versions (even year, `.04`) are stable, as Renovate's debian and ubuntu versionings decide. A
stable current tag is offered stable tags only; an unstable one is offered stable tags and
unstable tags of its own major.minor.patch (Renovate's `ignoreUnstable` filter).

Departures from Renovate, and why:
  * Renovate's `isCompatible` requires the same number of parts and ranks `10.1` above `10.1.2`,
    so it never offers `1.24` -> `1.24.1`. Issue 5 asks for `1.24-alpine` -> `1.24.1-alpine` and
    `1.25-alpine`, so a tag also tracks the longer tags that extend it (and only those).
  * Renovate reads `1.26.0-rc1` as the suffix `rc1`, a track of its own. Here a first suffix part
    that names a pre-release (`alpha`, `beta`, `rc`, `pre`, `preview`, `dev`, `snapshot`,
    `nightly`, `canary`, `ea`, optionally numbered) is a pre-release of the track instead.
  * Pre-releases compare in natural order (Renovate's docker versioning compares them as plain
    strings, so `b10` < `b5`).
  * Debian's `stable`/`oldstable`/`oldoldstable`, `testing`, `sid`/`unstable` are floating names
    with no fixed number, so they are not versions here (Renovate maps the first three by date).
  * Versions newer than the bundled release table (below) fall back to the plain docker rules, so
    a release after the table's date is still offered.

The release table is distro-info-data 0.58+deb12u6 (`/usr/share/distro-info/*.csv`, the source of
Renovate's `data/debian-distro-info.json` and `data/ubuntu-distro-info.json`), with Renovate's
Debian numbering (`woody` is 3, `etch` 4).

Abandonment (`is_abandoned`) is Renovate's `abandonmentThreshold`: a package whose most recent
release is older than the threshold is flagged `isAbandoned`. Renovate's option defaults to null
(no check); its `abandonments:recommended` preset, part of `config:best-practices`, sets "1 year".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from auditlib.identity import parse_reference
from auditlib.normalize.times import utc_day, utc_time

Distro = Literal["debian", "ubuntu"]

ABANDONMENT_THRESHOLD_DAYS: int = 365
"""Days since a repository's newest tag after which it looks abandoned.

Renovate's `abandonmentThreshold` ("flags packages that have not been updated within this period as
abandoned") defaults to null, which disables the check; its `abandonments:recommended` preset,
extended by `config:best-practices`, sets "1 year" (365.25 days in Renovate's duration parser).
"""

_COMMIT_HASH = re.compile(r"^[a-f0-9]{7,40}$")
_NUMERIC = re.compile(r"^[0-9]+$")
_VERSION = re.compile(r"^(?P<version>\d+(?:\.\d+)*)(?P<prerelease>\w*)$", re.ASCII)
_PRERELEASE_WORD = re.compile(
    r"^(?:alpha|beta|rc|pre|preview|dev|snapshot|nightly|canary|ea)(?:[._]?\d+)*$", re.IGNORECASE
)
_DATED = re.compile(r"^(?P<date>\d{8})(?:\.(?P<n>\d{1,2}))?$", re.ASCII)
_NATURAL = re.compile(r"(\d+)", re.ASCII)

# Architecture namespaces of the official images, which Renovate strips like `library/`.
_OFFICIAL_NAMESPACES = frozenset({
    "library", "amd64", "arm32v5", "arm32v6", "arm32v7", "arm64", "arm64v8", "i386", "mips64le",
    "ppc64le", "riscv64", "s390x", "windows-amd64",
})


@dataclass(frozen=True, slots=True)
class _Release:
    version: tuple[int, ...]
    series: str
    released: date | None
    eol: date | None = None
    eol_lts: date | None = None


def _d(text: str) -> date:
    return date.fromisoformat(text)


_DEBIAN: tuple[_Release, ...] = (
    _Release((1, 1), "buzz", _d("1996-06-17"), _d("1997-06-05")),
    _Release((1, 2), "rex", _d("1996-12-12"), _d("1998-06-05")),
    _Release((1, 3), "bo", _d("1997-06-05"), _d("1999-03-09")),
    _Release((2,), "hamm", _d("1998-07-24"), _d("2000-03-09")),
    _Release((2, 1), "slink", _d("1999-03-09"), _d("2000-10-30")),
    _Release((2, 2), "potato", _d("2000-08-15"), _d("2003-06-30")),
    _Release((3,), "woody", _d("2002-07-19"), _d("2006-06-30")),
    _Release((3, 1), "sarge", _d("2005-06-06"), _d("2008-03-31")),
    _Release((4,), "etch", _d("2007-04-08"), _d("2010-02-15")),
    _Release((5,), "lenny", _d("2009-02-14"), _d("2012-02-06")),
    _Release((6,), "squeeze", _d("2011-02-06"), _d("2014-05-31"), _d("2016-02-29")),
    _Release((7,), "wheezy", _d("2013-05-04"), _d("2016-04-25"), _d("2018-05-31")),
    _Release((8,), "jessie", _d("2015-04-26"), _d("2018-06-17"), _d("2020-06-30")),
    _Release((9,), "stretch", _d("2017-06-17"), _d("2020-07-18"), _d("2022-06-30")),
    _Release((10,), "buster", _d("2019-07-06"), _d("2022-09-10"), _d("2024-06-30")),
    _Release((11,), "bullseye", _d("2021-08-14"), _d("2024-08-14"), _d("2026-08-31")),
    _Release((12,), "bookworm", _d("2023-06-10"), _d("2026-07-11"), _d("2028-06-30")),
    _Release((13,), "trixie", _d("2025-08-09"), _d("2028-08-09"), _d("2030-06-30")),
    _Release((14,), "forky", None),
    _Release((15,), "duke", None),
)

_UBUNTU: tuple[_Release, ...] = tuple(
    _Release((int(v.split(".")[0]), int(v.split(".")[1])), s, _d(r))
    for v, s, r in (
        ("4.10", "warty", "2004-10-20"), ("5.04", "hoary", "2005-04-08"),
        ("5.10", "breezy", "2005-10-12"), ("6.06", "dapper", "2006-06-01"),
        ("6.10", "edgy", "2006-10-26"), ("7.04", "feisty", "2007-04-19"),
        ("7.10", "gutsy", "2007-10-18"), ("8.04", "hardy", "2008-04-24"),
        ("8.10", "intrepid", "2008-10-30"), ("9.04", "jaunty", "2009-04-23"),
        ("9.10", "karmic", "2009-10-29"), ("10.04", "lucid", "2010-04-29"),
        ("10.10", "maverick", "2010-10-10"), ("11.04", "natty", "2011-04-28"),
        ("11.10", "oneiric", "2011-10-13"), ("12.04", "precise", "2012-04-26"),
        ("12.10", "quantal", "2012-10-18"), ("13.04", "raring", "2013-04-25"),
        ("13.10", "saucy", "2013-10-17"), ("14.04", "trusty", "2014-04-17"),
        ("14.10", "utopic", "2014-10-23"), ("15.04", "vivid", "2015-04-23"),
        ("15.10", "wily", "2015-10-22"), ("16.04", "xenial", "2016-04-21"),
        ("16.10", "yakkety", "2016-10-13"), ("17.04", "zesty", "2017-04-13"),
        ("17.10", "artful", "2017-10-19"), ("18.04", "bionic", "2018-04-26"),
        ("18.10", "cosmic", "2018-10-18"), ("19.04", "disco", "2019-04-18"),
        ("19.10", "eoan", "2019-10-17"), ("20.04", "focal", "2020-04-23"),
        ("20.10", "groovy", "2020-10-22"), ("21.04", "hirsute", "2021-04-22"),
        ("21.10", "impish", "2021-10-14"), ("22.04", "jammy", "2022-04-21"),
        ("22.10", "kinetic", "2022-10-20"), ("23.04", "lunar", "2023-04-20"),
        ("23.10", "mantic", "2023-10-12"), ("24.04", "noble", "2024-04-25"),
        ("24.10", "oracular", "2024-10-10"), ("25.04", "plucky", "2025-04-17"),
        ("25.10", "questing", "2025-10-09"), ("26.04", "resolute", "2026-04-23"),
    )
)

_TABLES: dict[Distro, tuple[_Release, ...]] = {"debian": _DEBIAN, "ubuntu": _UBUNTU}

DEBIAN_CODENAMES: dict[str, str] = {
    **{r.series: ".".join(map(str, r.version)) for r in _DEBIAN},
    "sid": "unstable",
}
"""Debian codename -> version (`bookworm` -> `12`); `sid` is `unstable`, which has no number."""

UBUNTU_CODENAMES: dict[str, str] = {r.series: f"{r.version[0]}.{r.version[1]:02d}" for r in _UBUNTU}
"""Ubuntu codename -> version (`jammy` -> `22.04`)."""


@dataclass(frozen=True, slots=True)
class DockerVersion:
    """A tag read as a version by Renovate's docker rules."""

    tag: str
    """The tag as given: `1.25.3-alpine3.18`."""
    release: tuple[int, ...]
    """The numbers: (1, 25, 3). A codename gives its version's: `jammy` -> (22, 4)."""
    prerelease: str = ""
    """`b1` for `3.7.0b1`, `rc1` for `1.26.0-rc1`; empty for a stable tag."""
    suffix: str = ""
    """The compatibility part after the first `-`: `alpine3.18`, `slim-bookworm`; may be empty."""
    v_prefix: bool = False
    """Whether the tag began with `v` (`v1.2.3`)."""
    codename: str | None = None
    """The Debian or Ubuntu codename the tag named (`bookworm`), for those images only."""
    distro: Distro | None = None
    """`debian` or `ubuntu` when the tag is of that official image (their release rules apply)."""
    build: tuple[int, int] | None = None
    """For a dated codename build (`jammy-20240227.1`): (20240227, 1)."""

    @property
    def precision(self) -> int:
        """Return the number of release parts: 2 for `1.24`, 3 for `1.24.1`."""
        return len(self.release)

    @property
    def track(self) -> tuple[str, int, bool]:
        """Return (suffix, precision, dated): tags with equal keys are in each other's track.

        `is_same_track` also admits longer tags that extend the current one (`1.24` -> `1.24.1`).
        """
        return (self.suffix, self.precision, self.build is not None)


def distro_of(repository: str | None) -> Distro | None:
    """Return `debian` or `ubuntu` when `repository` is that official image, else None.

    `debian`, `library/debian`, `docker.io/library/ubuntu:22.04`, `arm64v8/debian` and mirrors such
    as `public.ecr.aws/docker/library/debian` count; `bitnami/debian` does not (Renovate applies
    its debian and ubuntu versionings to the official images only).
    """
    if not repository:
        return None
    ref = parse_reference(repository)
    path = ref.repository if ref is not None else repository.split("@")[0]
    parts = path.lower().split("/")
    name = parts[-1].split(":")[0]
    if name not in _TABLES or (len(parts) > 1 and parts[-2] not in _OFFICIAL_NAMESPACES):
        return None
    return "debian" if name == "debian" else "ubuntu"


def parse_tag(tag: str, *, repository: str | None = None) -> DockerVersion | None:
    """Read a tag as a version, by Renovate's docker rules (see the module docstring).

    Args:
        tag: the tag (`1.25-alpine`, `v1.2.3`, `bookworm-slim`).
        repository: the image's repository; codenames are understood only when it is the official
            `debian` or `ubuntu` image.

    Returns:
        The version, or None when the tag is not one (`latest`, `stable-alpine`, a commit hash,
        `sid`, or a codename of an image other than debian and ubuntu).
    """
    if not tag:
        return None
    distro = distro_of(repository)
    if distro is not None:
        named = _parse_codename(tag, distro)
        if named is not None:
            return named
    if _COMMIT_HASH.match(tag) and not _NUMERIC.match(tag):
        return None
    v_prefix = tag.startswith("v")
    prefix, *pieces = (tag[1:] if v_prefix else tag).split("-")
    m = _VERSION.match(prefix)
    if m is None:
        return None
    release = tuple(int(p) for p in m["version"].split("."))
    prerelease = m["prerelease"]
    if not prerelease and pieces and _PRERELEASE_WORD.match(pieces[0]):
        prerelease, pieces = pieces[0], pieces[1:]
    return DockerVersion(tag, release, prerelease, "-".join(pieces), v_prefix, None, distro)


def _parse_codename(tag: str, distro: Distro) -> DockerVersion | None:
    first, *rest = tag.split("-")
    found = next((r for r in _TABLES[distro] if r.series == first), None)
    if found is None:
        return None
    build: tuple[int, int] | None = None
    if rest and (m := _DATED.match(rest[0])):
        build = (int(m["date"]), int(m["n"] or 0))
        rest = rest[1:]
    return DockerVersion(tag, found.version, "", "-".join(rest), False, first, distro, build)


def _coerce(value: str | DockerVersion, repository: str | None) -> DockerVersion | None:
    return value if isinstance(value, DockerVersion) else parse_tag(value, repository=repository)


def is_same_track(
    current: str | DockerVersion, candidate: str | DockerVersion, *, repository: str | None = None
) -> bool:
    """Return whether `candidate` is in the track of `current` (the rule is not symmetric).

    Same suffix, both or neither dated codename builds, and either the same number of release
    parts or more parts beginning with all of the current ones: `1.24-alpine` tracks
    `1.25-alpine` and `1.24.1-alpine`, not `1.25.0-alpine`, `1.25`, or `1.25-alpine3.19`.
    Pre-release and stability are not part of the track (`newer_tags` filters them). Returns False
    when either tag is not a version. `repository` is as for `parse_tag`.
    """
    cur, cand = _coerce(current, repository), _coerce(candidate, repository)
    if cur is None or cand is None:
        return False
    if cand.suffix != cur.suffix or (cand.build is None) != (cur.build is None):
        return False
    if cand.precision == cur.precision:
        return True
    return cand.precision > cur.precision and cand.release[: cur.precision] == cur.release


def _natural(text: str) -> tuple[tuple[int, int, str], ...]:
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part.lower())
        for part in _NATURAL.split(text)
        if part
    )


def compare(a: DockerVersion, b: DockerVersion) -> int:
    """Return a negative number, 0 or a positive number as `a` is older than, equal to or newer
    than `b`.

    Releases as numbers padded with zeros, then the shorter tag higher, then the build date, then
    stable above pre-release and pre-releases in natural order, then an empty suffix above others
    (Renovate's tie-break; tags of one track share their suffix).
    """
    width = max(a.precision, b.precision)
    pa = a.release + (0,) * (width - a.precision)
    pb = b.release + (0,) * (width - b.precision)
    if pa != pb:
        return 1 if pa > pb else -1
    if a.precision != b.precision:
        return 1 if a.precision < b.precision else -1
    ba, bb = a.build or (0, 0), b.build or (0, 0)
    if ba != bb:
        return 1 if ba > bb else -1
    if a.prerelease != b.prerelease:
        if not a.prerelease or not b.prerelease:
            return 1 if not a.prerelease else -1
        na, nb = _natural(a.prerelease), _natural(b.prerelease)
        if na != nb:
            return 1 if na > nb else -1
    if a.suffix != b.suffix:
        return 1 if a.suffix < b.suffix else -1
    return 0


def _release_info(v: DockerVersion) -> _Release | None:
    if v.distro is None:
        return None
    matches = [r for r in _TABLES[v.distro] if v.release[: len(r.version)] == r.version]
    return max(matches, key=lambda r: len(r.version), default=None)


def _day(as_of: Any) -> date:
    """Return the UTC day of `as_of` (a date, a datetime, a pandas timestamp, a string); today
    when it is None or not a time."""
    return utc_day(as_of) or datetime.now(UTC).date()


def is_stable(version: DockerVersion, as_of: date | datetime | None = None) -> bool:
    """Return whether a version is stable on `as_of` (default today, UTC; a time counts as its
    UTC day).

    A pre-release is not. For the official debian image, a release in the bundled table must be
    out and not past its LTS end (its end of life when it has no LTS date); for ubuntu, only
    released LTS versions (even year, `.04`) are. Versions not in the table follow the docker
    rules (and, for ubuntu, the LTS pattern).
    """
    if version.prerelease:
        return False
    if version.distro is None:
        return True
    day = _day(as_of)
    if version.distro == "ubuntu":
        major, minor = (version.release + (0, 0))[:2]
        if not (minor == 4 and major % 2 == 0 and major < 100):
            return False
    info = _release_info(version)
    if info is None:
        return True
    if info.released is None or info.released > day:
        return False
    if version.distro == "debian":
        end = info.eol_lts or info.eol
        return end is not None and end >= day
    return True


def _mmp(v: DockerVersion) -> tuple[int | None, ...]:
    return tuple(v.release[i] if i < v.precision else None for i in range(3))


def newer_tags(
    current: str | DockerVersion,
    tags: Iterable[str],
    *,
    limit: int | None = None,
    repository: str | None = None,
    as_of: date | datetime | None = None,
) -> list[str]:
    """Return the tags newer than `current` in its track, newest first.

    Args:
        current: the tag in use (or its parsed version).
        tags: the repository's tags; duplicates, `current` itself and non-versions are ignored.
        limit: keep at most this many (None: all).
        repository: the image's repository, so that the official `debian` and `ubuntu` images
            understand codenames and their release rules (see `parse_tag`).
        as_of: the day release dates are judged on (debian and ubuntu only; default today, UTC;
            a time counts as its UTC day).

    Returns:
        The tags, newest first (equal versions in the current tag's form first, then by name).
        Empty when `current` is not a version or nothing is newer. A stable current tag gets
        stable tags only; an unstable one also gets unstable tags of its own major.minor.patch.

    Raises:
        ValueError: if `limit` is negative.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    cur = _coerce(current, repository)
    if cur is None:
        return []
    day = _day(as_of)
    stable_current = is_stable(cur, day)
    found: dict[str, DockerVersion] = {}
    for tag in tags:
        if tag in found or tag == cur.tag:
            continue
        cand = parse_tag(tag, repository=repository)
        if cand is None or not is_same_track(cur, cand) or compare(cand, cur) <= 0:
            continue
        if not is_stable(cand, day) and (stable_current or _mmp(cand) != _mmp(cur)):
            continue
        found[tag] = cand

    def form(v: DockerVersion) -> tuple[bool, bool, str]:
        return ((v.codename is None) != (cur.codename is None), v.v_prefix != cur.v_prefix, v.tag)

    ordered = sorted(found.values(), key=form)
    ordered.sort(key=functools.cmp_to_key(compare), reverse=True)
    out = [v.tag for v in ordered]
    return out if limit is None else out[:limit]


def newest_in_track(
    current: str | DockerVersion,
    tags: Iterable[str],
    *,
    repository: str | None = None,
    as_of: date | datetime | None = None,
) -> str | None:
    """Return the newest tag of `current`'s track that is newer than it, or None.

    None means `current` is the newest of its track (or is not a version). Arguments are as for
    `newer_tags`.
    """
    newer = newer_tags(current, tags, limit=1, repository=repository, as_of=as_of)
    return newer[0] if newer else None


def is_abandoned(
    newest_tag_time: datetime | date | None,
    as_of: datetime | date,
    threshold_days: float | None = ABANDONMENT_THRESHOLD_DAYS,
) -> bool:
    """Return whether a repository looks abandoned: its newest tag is older than the threshold.

    As Renovate's `abandonmentThreshold`: abandoned when `newest_tag_time + threshold < as_of`.
    Naive datetimes are taken as UTC, dates as midnight UTC.

    Args:
        newest_tag_time: when the repository's newest tag was pushed or built; None (unknown)
            gives False, as Renovate skips the check without a release timestamp.
        as_of: the moment to judge at.
        threshold_days: the threshold; None disables the check (Renovate's default) and gives
            False.

    Raises:
        ValueError: if `threshold_days` is negative.
    """
    if threshold_days is not None and threshold_days < 0:
        raise ValueError(f"threshold_days must be >= 0, not {threshold_days}")
    newest, now = utc_time(newest_tag_time), utc_time(as_of)
    if threshold_days is None or newest is None or now is None:
        return False
    return newest + timedelta(days=threshold_days) < now
