"""Whether an installed version is below a fixed one, by the order of the package's ecosystem.

Distribution packages follow their package manager's order, ported here: dpkg's (`deb`), rpm's
(`rpm`) and apk-tools' (`apk`); each port is checked against the real tool in the tests. Language
ecosystems use maintained libraries: PyPA's `packaging` for PEP 440 (`pypi`), `semver` for strict
SemVer 2.0 (`npm`, `cargo`, `golang`, a leading `v` allowed), and aboutcode's `univers` for Maven's
ComparableVersion (`maven`), RubyGems (`gem`) and NuGet (`nuget`). `univers` also offers Debian,
RPM and Alpine orders; they are not used: its Debian order tells `1.2` from `1.02` (dpkg does not),
and its Alpine order is Gentoo's, which refuses `_git`, `_svn`, `_cvs`, `_hg` and `~hash`.

Nothing is guessed: a version the ecosystem's rules do not accept, or an ecosystem with no known
order, gives None.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from auditlib.normalize.pkg_versions import version_scheme
from auditlib.versions import apk, deb, rpm

_DISTRO: dict[str, Callable[[str, str], int | None]] = {
    "deb": deb.compare, "rpm": rpm.compare, "apk": apk.compare}

# Characters a fixed version may not start with: a range or constraint (`< 2.0`, `~> 5.2`, `[1.0,`),
# which is not one version. A leading `>=` is read as the version it names.
_OPERATORS = tuple("<>=!~^[(*")


def _semver(a: str, b: str) -> int | None:
    import semver

    try:
        va = semver.Version.parse(a.removeprefix("v"))
        vb = semver.Version.parse(b.removeprefix("v"))
    except (ValueError, TypeError):
        return None
    return int(va.compare(vb))


def _pep440(a: str, b: str) -> int | None:
    from packaging.version import InvalidVersion, Version

    try:
        va, vb = Version(a), Version(b)
    except InvalidVersion:
        return None
    return (va > vb) - (va < vb)


def _maven(text: str) -> Any:
    from univers import maven

    return maven.Version(text)


def _gem(text: str) -> Any:
    from univers import gem

    if not gem.GemVersion.is_correct(text):
        raise ValueError(f"{text!r} is not a RubyGems version")
    return gem.GemVersion(text)


def _nuget(text: str) -> Any:
    from univers import nuget

    try:
        return nuget.Version.from_string(text)
    except nuget.InvalidNuGetVersion as e:  # not a ValueError: it once failed the whole file
        raise ValueError(str(e)) from e


def _univers(build: Callable[[str], Any]) -> Callable[[str, str], int | None]:
    """Return the order of univers's version class whose value `build` makes.

    The values are built as `univers.versions.MavenVersion`, `RubygemsVersion` and
    `NugetVersion` build theirs (blanks removed, a leading `v` dropped, the same validity check)
    and compared as those classes compare them, by value; only the one module of the ecosystem
    is imported (`univers.versions` imports every scheme and `attrs`, 40 ms, on a first load).
    """
    def cmp(a: str, b: str) -> int | None:
        try:
            va = build("".join(a.split()).lstrip("vV"))
            vb = build("".join(b.split()).lstrip("vV"))
            return int((va > vb) - (va < vb))
        except (ValueError, TypeError):
            return None

    return cmp


_LANGUAGE: dict[str, Callable[[str, str], int | None]] = {
    "npm": _semver, "cargo": _semver, "golang": _semver, "pypi": _pep440,
    "maven": _univers(_maven), "gem": _univers(_gem), "nuget": _univers(_nuget),
}

SCHEMES: tuple[str, ...] = (*_DISTRO, *_LANGUAGE)
"""The version orders known here (named by purl type)."""


@lru_cache(maxsize=131072)
def compare(ecosystem: str | None, a: str | None, b: str | None) -> int | None:
    """Compare two versions of one package by its ecosystem's order.

    Args:
        ecosystem: a scheme of `SCHEMES` or any package type `version_scheme` knows (`debian`,
            `jar`, `java-archive`, `go-module`, ...).
        a: a version, as its distribution writes it (`auditlib.normalize.pkg_versions`).
        b: another version.

    Returns:
        -1, 0 or 1 as `a` is below, equal to or above `b`; None when the ecosystem has no known
        order or either version is not one by its rules.
    """
    scheme = version_scheme(ecosystem)
    if scheme is None or not a or not b:
        return None
    cmp = _DISTRO.get(scheme) or _LANGUAGE.get(scheme)
    if cmp is None:
        return None
    a, b = a.strip(), b.strip()
    # No ecosystem's version holds a blank; a constraint is not a version.
    if (a.startswith(_OPERATORS) or b.startswith(_OPERATORS) or len(a.split()) != 1
            or len(b.split()) != 1):
        return None
    return cmp(a, b)


def is_below(ecosystem: str | None, installed: str | None, fixed: str | None) -> bool | None:
    """Return whether `installed` is below `fixed` (so the fix is not installed).

    Returns:
        True or False; None when they cannot be compared (see `compare`).
    """
    rc = compare(ecosystem, installed, fixed)
    return None if rc is None else rc < 0


def fixed_versions(text: str | None) -> list[str]:
    """Return the versions of a fixed-version cell (`1.2-3`, `11.0.14, 10.1.49`, `>= 4.17.11`).

    Each entry is one version; a leading `>=` is dropped (`>=4.17.11`, as old Trivy wrote it,
    names the fix 4.17.11). Anything else that is not a version is kept as written, so that
    `compare` refuses it.
    """
    out = []
    for part in (text or "").split(","):
        part = part.strip()
        if part.startswith(">="):
            part = part[2:].strip()
        if part:
            out.append(part)
    return out


def fix_contradicted(ecosystem: str | None, installed: str | None,
                     fixed: str | None) -> bool | None:
    """Return whether a scanner that says `fixed` contradicts itself: the installed version is
    not below any of the fixed versions it names.

    Args:
        ecosystem: the package type.
        installed: the installed version.
        fixed: the fixed-version cell (one version or several, comma-separated: one per branch).

    Returns:
        True when every fixed version compares and none is above `installed`; False when one is
        above it (that fix is not installed); None when there is no fixed version or the versions
        cannot all be compared.
    """
    verdicts = [is_below(ecosystem, installed, f) for f in fixed_versions(fixed)]
    if not verdicts:
        return None
    if any(verdicts):
        return False
    return True if all(v is False for v in verdicts) else None
