"""Versions read from the real tool outputs in ../shared/corpus: one package, one version, whichever
tool reported it, and installed and fixed versions that compare.

The `*-debian-bookworm-image*` files describe one image (a debootstrap minbase bookworm): Syft
writes each package's version as dpkg does, and Trivy JSON gives `Version`, `Release` and `Epoch`
apart; joined, the two agree on all 88 packages (before, 76 of Trivy's versions were wrong).
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

import auditlib
from auditlib.engine.aggregates import FIXABLE_ROW
from auditlib.versions import is_below
from tests.conftest import CorpusLoader
from tests.samples import one_row

pytestmark = pytest.mark.corpus

BOOKWORM = {
    "trivy-json": "trivy-json/trivy-0.76.0-licenses-pkgs-debian-bookworm-image.json",
    "trivy-cyclonedx": "cyclonedx-json/trivy-0.76.0-cdx-debian-bookworm-image.json",
    "trivy-spdx": "spdx-json/trivy-0.76.0-spdx-debian-bookworm-image.json",
    "syft-json": "syft-json/syft-1.18.1-schema-16-debian-bookworm-image.json",
    "syft-cyclonedx": "cyclonedx-json/syft-1.18.1-cdx-debian-bookworm-image.json",
    "syft-spdx": "spdx-json/syft-1.18.1-spdx-debian-bookworm-image.json",
}

_CACHE: dict[str, auditlib.AuditData] = {}


def _load(corpus: type[CorpusLoader], path: str) -> auditlib.AuditData:
    if path not in _CACHE:
        _CACHE[path] = corpus.load(path)
    return _CACHE[path]


def _debs(data: auditlib.AuditData, column: str = "version") -> set[tuple[str, str]]:
    p = data.packages[data.packages["package_type"] == "deb"]
    return set(zip(p["name"].astype(str), p[column].astype(str), strict=True))


def test_every_tool_gives_the_bookworm_packages_the_same_versions(
        corpus: type[CorpusLoader]) -> None:
    found = {tool: _debs(_load(corpus, path)) for tool, path in BOOKWORM.items()}
    syft = found["syft-json"]
    assert len(syft) == 88
    assert {tool: len(pkgs ^ syft) for tool, pkgs in found.items()} == dict.fromkeys(found, 0)


@pytest.mark.parametrize(("name", "version", "source_version"), [
    ("bash", "5.2.15-2+b13", "5.2.15-2"),                    # Release 2+b13, a binNMU
    ("bsdutils", "1:2.38.1-5+deb12u3", "2.38.1-5+deb12u3"),  # Epoch 1; util-linux has none
    ("libgmp10", "2:6.2.1+dfsg1-1.1", "2:6.2.1+dfsg1-1.1"),  # SrcEpoch 2
    ("adduser", "3.134", "3.134"),                           # a native package: no release
])
def test_trivy_json_joins_version_release_and_epoch(corpus: type[CorpusLoader], name: str,
                                                    version: str, source_version: str) -> None:
    trivy = _load(corpus, BOOKWORM["trivy-json"])
    row = one_row(trivy.packages, name=name)
    assert (row["version"], row["source_version"]) == (version, source_version)
    # Its licence rows carry the same version.
    lic = trivy.package_licenses[trivy.package_licenses["package_name"] == name]
    assert set(lic["package_version"].astype(str)) == {version}
    syft = one_row(_load(corpus, BOOKWORM["syft-json"]).packages, name=name)
    assert (syft["version"], syft["source_version"]) == (version, source_version)


def test_trivy_source_versions_agree_with_syft(corpus: type[CorpusLoader]) -> None:
    syft = _debs(_load(corpus, BOOKWORM["syft-json"]), "source_version")
    for tool in ("trivy-json", "trivy-cyclonedx", "trivy-spdx"):
        assert _debs(_load(corpus, BOOKWORM[tool]), "source_version") == syft, tool


def test_an_epoch_only_in_the_purl_is_put_in_the_version(corpus: type[CorpusLoader]) -> None:
    # Trivy 0.48's CycloneDX wrote `2.37.2-4ubuntu3` and kept the epoch in the purl (`epoch=1`).
    p = _load(corpus, "cyclonedx-json/dd-cdx-1.5-trivy-0.48.1-issue9277.json").packages
    row = one_row(p, name="bsdutils")
    assert "epoch=1" in row["purl"]
    assert (row["version"], row["source_version"]) == ("1:2.37.2-4ubuntu3", "2.37.2-4ubuntu3")
    assert one_row(p, name="diffutils")["source_version"] == "1:3.8-0ubuntu2"  # SrcEpoch


def test_rpm_versions_from_grype_leave_out_epoch_0(corpus: type[CorpusLoader]) -> None:
    v = _load(corpus, "grype-json/dd-grype-0.96.0-image-35-matches.json").vulnerabilities
    avahi = v[v["pkg_name"] == "avahi-libs"]
    assert set(avahi["pkg_version"].astype(str)) == {"0.7-20.el8"}
    # Grype writes `0:0.7-21.el8_9.1`; rpm -q (and Trivy) write no 0 epoch.
    assert set(avahi["fixed_version"].dropna().astype(str)) == {"0.7-21.el8_9.1", "0.7-21.el8"}
    bind = v[(v["pkg_name"] == "bind-libs") & v["fixed_version"].notna()]
    assert set(bind["fixed_version"].astype(str)) == {
        "32:9.11.36-8.el8_8.2", "32:9.11.36-8.el8_8.1", "32:9.11.36-11.el8_9", "32:9.11.36-8.el8"}
    assert set(bind["pkg_version"].astype(str)) == {"32:9.11.36-5.el8_7.2"}
    assert not v["fixed_version"].dropna().astype(str).str.match(r"0+:").any()


@pytest.mark.parametrize(("path", "pkg_name", "installed", "fixed"), [
    ("trivy-json/trivy-golden-centos-7-image.json", "openssl-libs", "1:1.0.2k-16.el7",
     "1:1.0.2k-19.el7"),
    ("trivy-json/trivy-golden-debian-buster-image.json", "libidn2-0", "2.0.5-1",
     "2.0.5-1+deb10u1"),
    ("trivy-json/trivy-golden-ubuntu-1804-image.json", "e2fsprogs", "1.44.1-1ubuntu1.1",
     "1.44.1-1ubuntu1.2"),
    ("trivy-json/trivy-golden-alpine-310-image.json", "libcrypto1.1", "1.1.1c-r0", "1.1.1d-r0"),
    ("grype-json/grype-0.61.1-chainguard-ruby-filtered.json", "ruby-3.0", "3.0.4-r1", "3.0.6-r0"),
    ("grype-json/dd-grype-0.96.0-image-35-matches.json", "avahi-libs", "0.7-20.el8",
     "0.7-21.el8_9.1"),
])
def test_installed_is_below_fixed_in_the_goldens(corpus: type[CorpusLoader], path: str,
                                                 pkg_name: str, installed: str,
                                                 fixed: str) -> None:
    v = _load(corpus, path).vulnerabilities
    rows = v[(v["pkg_name"] == pkg_name) & (v["fixed_version"] == fixed)]
    assert len(rows) and set(rows["pkg_version"].astype(str)) == {installed}
    assert rows["fix_contradicted"].eq(False).all()
    assert is_below(str(rows.iloc[0]["package_type"]), installed, fixed)


@pytest.mark.parametrize("path", [
    "trivy-json/trivy-golden-centos-7-image.json",
    "trivy-json/trivy-golden-debian-buster-image.json",
    "trivy-json/trivy-golden-ubuntu-1804-image.json",
    "trivy-json/trivy-golden-alpine-310-image.json",
    "trivy-json/dd-schema2-alpine-jar-5vulns.json",
    "trivy-json/dd-trivy-0.69.1-cvssv4-jar.json",
    "trivy-json/trivy-golden-npm-fs-list-all-pkgs.json",
    "grype-json/grype-0.61.1-chainguard-ruby-filtered.json",
])
def test_scanners_agree_with_themselves_on_every_fixed_row(corpus: type[CorpusLoader],
                                                          path: str) -> None:
    v = _load(corpus, path).vulnerabilities
    fixed = v[v["fix_state"] == "fixed"]
    assert len(fixed) and fixed["fix_contradicted"].eq(False).all()
    assert v.loc[v["fix_state"] != "fixed", "fix_contradicted"].isna().all()


def test_a_wrong_match_is_flagged_and_not_fixable(corpus: type[CorpusLoader]) -> None:
    v = _load(corpus, "grype-json/dd-grype-0.96.0-image-35-matches.json").vulnerabilities
    # Grype matched a ZooKeeper CVE (fixed in 3.7.2, an NVD CPE match) on cups-libs
    # 1:2.2.6-50.el8: by rpm's order the installed version is above the fix (epoch 1).
    flagged = v[v["fix_contradicted"].eq(True)]
    assert flagged[["vuln_id", "pkg_name", "pkg_version", "fixed_version", "data_source"]
                   ].astype(str).values.tolist() == [
        ["CVE-2023-44981", "cups-libs", "1:2.2.6-50.el8", "3.7.2", "nvd:cpe"]]
    fixed = v["fix_state"] == "fixed"
    assert v.loc[fixed, "fix_contradicted"].notna().all()  # rpm and Maven: every fix compares
    assert sum(fixable(v)) == fixed.sum() - 1
    assert not any(fixable(flagged))


def fixable(v: pd.DataFrame) -> list[bool]:
    """Return which rows of `v` are fixable: the engine's one definition (`FIXABLE_ROW`)."""
    con = duckdb.connect()
    con.register("frame", v[["fix_state", "fix_contradicted"]].astype({"fix_state": "string"}))
    out = con.sql(f"SELECT COALESCE({FIXABLE_ROW}, FALSE) AS f FROM frame").df()
    con.close()
    return out["f"].astype(bool).tolist()


def test_fixable_keeps_the_scanners_word_when_nothing_compared() -> None:
    v = pd.DataFrame({"fix_state": pd.Categorical(["fixed", "not-fixed", None]),
                      "fix_contradicted": pd.array([pd.NA, pd.NA, pd.NA], dtype="boolean")})
    assert fixable(v) == [True, False, False]
