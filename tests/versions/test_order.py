"""`auditlib.versions.is_below` and the contradiction check, per ecosystem."""

from __future__ import annotations

import pytest

from auditlib.versions import SCHEMES, compare, fix_contradicted, fixed_versions, is_below


@pytest.mark.parametrize(("ecosystem", "installed", "fixed", "below"), [
    ("deb", "1.0~rc1", "1.0", True),
    ("debian", "2.0.5-1", "2.0.5-1+deb10u1", True),     # Trivy's result type names the order too
    ("ubuntu", "1.44.1-1ubuntu1.1", "1.44.1-1ubuntu1.2", True),
    ("deb", "1:2.38.1-5+deb12u3", "2.38.1-6", False),   # the epoch wins
    ("rpm", "1.0-1.el8", "1.0-1.el8_9.1", True),
    ("centos", "1:1.0.2k-16.el7", "1:1.0.2k-19.el7", True),
    ("rpm", "32:9.11.36-5.el8_7.2", "32:9.11.36-5.el8_7.2", False),  # equal is not below
    ("apk", "1.2.3-r9", "1.2.3-r10", True),
    ("alpine", "1.1.1c-r0", "1.1.1d-r0", True),
    ("wolfi", "3.0.4-r1", "3.0.6-r0", True),
    ("maven", "9.0.109", "9.0.112", True),
    ("jar", "2.13.2.1", "2.13.2", False),               # Maven: a fourth part is newer
    ("java-archive", "1.0-rc1", "1.0", True),
    ("npm", "3.3.9", "3.4.0", True),
    ("npm", "1.0.0-rc.1", "1.0.0", True),
    ("npm", "1.0.0+build.1", "1.0.0", False),           # build metadata has no precedence
    ("go-module", "v0.0.0-20210101000000-abcdef123456", "v0.1.0", True),
    ("cargo", "0.9.9", "0.10.0", True),
    ("pip", "1.26.3", "1.26.5", True),
    ("pypi", "1.0rc1", "1.0", True),
    ("gem", "5.2.4.3", "5.2.4.10", True),
    ("nuget", "4.3.0.1", "4.3.1", True),
])
def test_is_below(ecosystem: str, installed: str, fixed: str, below: bool) -> None:
    assert is_below(ecosystem, installed, fixed) is below


@pytest.mark.parametrize(("ecosystem", "installed", "fixed"), [
    ("generic", "1.0", "2.0"),            # no known order
    ("binary", "17.0.10+7 -J-ms8m", "1.2.3"),
    (None, "1.0", "2.0"),
    ("deb", "1.0", None),
    ("deb", "", "1.0"),
    ("deb", "1.0", "abc"),                # not a Debian version
    ("npm", "1.2.3.4", "1.2.4"),          # not SemVer: never coerced
    ("npm", "1.2", "1.3.0"),
    ("pypi", "4.0.2", "fix_1"),           # not PEP 440
    ("npm", "4.17.4", ">=4.17.11"),       # a constraint is not a version
    ("gem", "5.2.4", "~> 5.2.4.3"),
    ("maven", "1.0", "[1.0,2.0)"),
])
def test_what_cannot_be_compared_is_none(ecosystem: str | None, installed: str,
                                         fixed: str | None) -> None:
    assert is_below(ecosystem, installed, fixed) is None


def test_every_scheme_orders_its_own_versions() -> None:
    samples = {"deb": ("1.0-1", "1.0-2"), "rpm": ("1.0-1", "1.0-2"), "apk": ("1.0-r1", "1.0-r2"),
               "maven": ("1.0", "1.1"), "npm": ("1.0.0", "1.1.0"), "cargo": ("1.0.0", "1.1.0"),
               "golang": ("v1.0.0", "v1.1.0"), "pypi": ("1.0", "1.1"), "gem": ("1.0", "1.1"),
               "nuget": ("1.0.0", "1.1.0")}
    assert set(samples) == set(SCHEMES)
    for scheme, (low, high) in samples.items():
        assert (compare(scheme, low, high), compare(scheme, high, low),
                compare(scheme, low, low)) == (-1, 1, 0), scheme


def test_fixed_versions_cell() -> None:
    assert fixed_versions("11.0.14, 10.1.49, 9.0.112") == ["11.0.14", "10.1.49", "9.0.112"]
    assert fixed_versions(">=4.17.11") == ["4.17.11"]  # old Trivy wrote the constraint
    assert fixed_versions(None) == [] and fixed_versions(" , ") == []


@pytest.mark.parametrize(("ecosystem", "installed", "fixed", "contradicted"), [
    # Tomcat fixed on three branches: 9.0.109 is below the 9.0 fix.
    ("jar", "9.0.109", "11.0.14, 10.1.49, 9.0.112", False),
    ("jar", "11.0.20", "11.0.14, 10.1.49, 9.0.112", True),
    # Grype's NVD match of a ZooKeeper CVE on cups-libs: the rpm epoch puts it above 3.7.2.
    ("rpm", "1:2.2.6-50.el8", "3.7.2", True),
    ("rpm", "0.7-20.el8", "0.7-21.el8_9.1", False),
    ("deb", "2.0.5-1+deb10u1", "2.0.5-1+deb10u1", True),  # the fix is what is installed
    ("npm", "4.17.4", ">=4.17.11", False),
    ("pypi", "4.0.2", "fix_1, fix_2", None),
    ("jar", "11.0.20", "11.0.14, junk version", None),   # some fixes cannot be compared
    ("deb", "1.0-1", None, None),
])
def test_fix_contradicted(ecosystem: str, installed: str, fixed: str | None,
                          contradicted: bool | None) -> None:
    assert fix_contradicted(ecosystem, installed, fixed) is contradicted


_UNIVERS_VERSIONS = ["1.0", "1.0.0", "v1.2", "V2", "1.0-SNAPSHOT", "1.0-rc1", "1.0.a10", "1.0.a9",
                     "1.0.b1", "0.9", "2.0.0-beta.1+build", "1.2.3.4", "1.0.0.RELEASE", "abc",
                     "1..2", "1.0-alpha", "1.0-sp1", "3.10", "3.2", "1.0.0-preview.1", "1_0",
                     "5.0.0.1", "1.2a", "2.0.0.pre", "10.0.0-rc.2.21480.5", "x.y", "-1"]


@pytest.mark.parametrize(("ecosystem", "kind"), [
    ("maven", "MavenVersion"), ("gem", "RubygemsVersion"), ("nuget", "NugetVersion")])
def test_univers_orders_as_its_version_classes(ecosystem: str, kind: str) -> None:
    # auditlib imports only univers's module of the ecosystem (not `univers.versions`, which
    # imports every scheme): the order must be the one univers's version class gives.
    from univers import versions

    cls = getattr(versions, kind)
    differ = []
    for a in _UNIVERS_VERSIONS:
        for b in _UNIVERS_VERSIONS:
            try:
                va, vb = cls(a), cls(b)
                want: int | None = int((va > vb) - (va < vb))
            except Exception:  # noqa: BLE001 - NuGet's refusal is no ValueError
                want = None
            if compare(ecosystem, a, b) != want:
                differ.append((a, b, want, compare(ecosystem, a, b)))
    assert differ == []


def test_a_nuget_version_without_a_digit_is_not_one() -> None:
    # univers refuses it with an exception that is no ValueError: it used to fail the file.
    assert compare("nuget", "1.0.0", "latest") is None
    assert fix_contradicted("nuget", "unknown", "1.2.3") is None
