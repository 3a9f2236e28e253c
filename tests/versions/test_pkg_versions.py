"""Versions as their distribution writes them (`auditlib.normalize.pkg_versions`)."""

from __future__ import annotations

import pytest

from auditlib.normalize.pkg_versions import (
    distro_version,
    distro_versions,
    join_evr,
    purl_epoch,
    version_scheme,
)


@pytest.mark.parametrize(("version", "release", "epoch", "expected"), [
    ("2.38.1", "5+deb12u3", 1, "1:2.38.1-5+deb12u3"),  # Trivy's bsdutils, as dpkg-query writes it
    ("5.2.15", "2+b13", None, "5.2.15-2+b13"),
    ("5.2.15", "2+b13", 0, "5.2.15-2+b13"),           # epoch 0 is left out
    ("6.2.1+dfsg1", "1.1", "2", "2:6.2.1+dfsg1-1.1"),  # SBOM properties give text
    ("0.7", "21.el8_9.1", "0", "0.7-21.el8_9.1"),
    ("3.134", None, None, "3.134"),
    ("3.134", "", 0, "3.134"),
    (None, "1", 1, None),
    ("", None, None, None),
])
def test_join_evr(version: str | None, release: str | None, epoch: int | str | None,
                  expected: str | None) -> None:
    assert join_evr(version, release, epoch) == expected


@pytest.mark.parametrize(("version", "ptype", "purl", "expected"), [
    ("0:0.7-21.el8_9.1", "rpm", None, "0.7-21.el8_9.1"),   # Grype's fix: rpm -q shows no 0:
    ("00:1.0-1", "rpm", None, "1.0-1"),
    ("32:9.11.36-5.el8_7.2", "rpm", None, "32:9.11.36-5.el8_7.2"),
    ("0:1.0-1", "debian", None, "1.0-1"),                 # dpkg shows no epoch 0 either
    # Trivy 0.48 CycloneDX: the epoch only in the purl.
    ("2.37.2-4ubuntu3", "deb",
     "pkg:deb/ubuntu/bsdutils@2.37.2-4ubuntu3?arch=amd64&distro=ubuntu-22.04&epoch=1",
     "1:2.37.2-4ubuntu3"),
    ("1:2.38.1-5+deb12u3", "deb",
     "pkg:deb/debian/bsdutils@2.38.1-5%2Bdeb12u3?arch=amd64&epoch=1", "1:2.38.1-5+deb12u3"),
    ("1.0-1", "rpm", "pkg:rpm/x@1.0-1?epoch=0", "1.0-1"),
    ("1.1.1c-r0", "apk", None, "1.1.1c-r0"),             # apk has no epoch
    ("0:1.0", "npm", None, "0:1.0"),                      # other ecosystems: as written
    ("", "deb", None, None),
    (None, "deb", None, None),
])
def test_distro_version(version: str | None, ptype: str, purl: str | None,
                        expected: str | None) -> None:
    assert distro_version(version, ptype, purl) == expected


def test_distro_versions_and_purl_epoch() -> None:
    assert distro_versions("0:0.7-21.el8_9.1, 0:0.7-21.el8", "rpm") == (
        "0.7-21.el8_9.1, 0.7-21.el8")
    assert distro_versions("11.0.14, 10.1.49", "maven") == "11.0.14, 10.1.49"
    assert distro_versions("", "rpm") is None
    assert purl_epoch("pkg:rpm/rhel/bind@9.11?arch=x86_64&epoch=32&distro=rhel-8.7") == "32"
    assert purl_epoch("pkg:deb/debian/apt@2.6.1?arch=amd64") is None
    assert purl_epoch(None) is None


def test_version_scheme() -> None:
    assert [version_scheme(t) for t in ("deb", "Debian", "redhat", "alpine", "java-archive",
                                        "go-module", "python", "generic", None)] == [
        "deb", "deb", "rpm", "apk", "maven", "golang", "pypi", None, None]
