"""Grype JSON: every grype-json corpus file, DefectDojo's expectations of them, and bad inputs.

A `vulnerabilities` row is one match keyed by document, target, package name + version + path and
vulnerability id; Grype lists no packages of its own, so no `packages` rows are expected.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from tests.conftest import CORPUS, CorpusLoader, _corpus_missing
from tests.samples import DELETE, one_row, set_path

DIR = "grype-json"

# file: rows, tool_version, target_type, target, image_id prefix (None: no image), os_family,
# os_version. Counts are the `matches` of each file (check-all-fields: 6 matches, two identical).
CORPUS_FILES: dict[str, tuple[int, str | None, str, str, str | None, str | None, str | None]] = {
    "dd-grype-0.7.0-debian-zero-matches.json": (
        0, "0.7.0", "container_image", "busybox:latest", "sha256:22667f53", "busybox", "1.32.1"),
    "dd-grype-0.7.0-debian-327-matches.json": (
        327, "0.7.0", "container_image", "defectdojo/defectdojo-django:1.13.1", "sha256:6132ee54",
        "debian", "10"),
    "dd-grype-0.24.0-directory-javascript.json": (
        9, "0.24.0", "filesystem", '"."', None, None, None),
    "dd-grype-0.28.0-check-all-fields.json": (
        5, "0.28.0", "container_image", "vulnerable-image:latest", "sha256:ce9898fd", "debian",
        "10"),
    "dd-grype-0.75.0-fix-available.json": (
        1, "0.75.0", "container_image", "REDACTED", None, "ubuntu", "20.04"),
    "dd-grype-0.75.0-fix-not-available.json": (
        1, "0.75.0", "container_image", "REDACTED", None, "ubuntu", "20.04"),
    "dd-grype-0.94.0-epss.json": (
        15, "0.94.0", "container_image", "busybox:1.32.1", "sha256:388056c9", "busybox", "1.32.1"),
    "dd-grype-0.96.0-image-35-matches.json": (
        35, "0.96.0", "container_image", "quay.io/cloudservices/xjoin-kafka-connect-strimzi:latest",
        "sha256:7998b642", "redhat", "8.7"),
    "grype-0.61.1-chainguard-ruby-filtered.json": (
        3, "0.61.1", "container_image", "cgr.dev/chainguard/ruby:latest-3.0", "sha256:2f88265c",
        "wolfi", "20221118"),
    "grype-0.66.0-keycloak-filtered.json": (
        6, "0.66.0", "container_image",
        "docker.io/keycloak/keycloak:21.0.2@sha256:"
        "347a0d748d05a050dc64b92de2246d2240db6eb38afbc17c3c08d0acb0db1b50",
        "sha256:8cf8fd2b", "redhat", "9.1"),
    # The HEAD presenter golden says `[not provided]` for its version and "" for its time.
    "grype-head-presenter-image-mockdata.json": (
        2, None, "container_image", "user-input", "sha256:ab5608d6", "centos", "8.0"),
}


def _load(corpus: type[CorpusLoader], name: str) -> auditlib.AuditData:
    data = corpus.load(f"{DIR}/{name}")
    assert data.load_errors.empty, data.load_errors["reason"].tolist()
    return data


def _vulns(corpus: type[CorpusLoader], name: str) -> pd.DataFrame:
    return _load(corpus, name).vulnerabilities




# --- every corpus file ---------------------------------------------------------------------------


@pytest.mark.corpus
def test_every_grype_corpus_file_is_covered() -> None:
    if not CORPUS.is_dir():
        _corpus_missing()
    on_disk = {p.name for p in (CORPUS / DIR).iterdir()}
    with (CORPUS / "MANIFEST.tsv").open() as f:
        listed = {r["file"].split("/", 1)[1] for r in csv.DictReader(f, delimiter="\t")
                  if r["format"] == DIR}
    assert on_disk == listed == set(CORPUS_FILES)


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(CORPUS_FILES))
def test_corpus_file(corpus: type[CorpusLoader], name: str) -> None:
    rows, tool_version, target_type, target, image_id, os_family, os_version = CORPUS_FILES[name]
    data = _load(corpus, name)
    assert data.packages.empty  # Grype lists only matched packages: no package inventory
    scan = data.scans.iloc[0]
    assert len(data.scans) == 1
    assert scan["tool"] == "grype" and scan["format"] == "grype-json"
    assert (scan["tool_version"] if pd.notna(scan["tool_version"]) else None) == tool_version
    assert scan["target_type"] == target_type and scan["target"] == target
    v = data.vulnerabilities
    assert len(v) == rows
    assert (v["target"] == target).all()
    assert v["vuln_id"].notna().all() and v["pkg_name"].notna().all()
    assert v["pkg_version"].notna().all()
    assert v["fix_state"].isin(["fixed", "not-fixed", "wont-fix", "unknown"]).all()
    assert v["title"].isna().all()  # Grype has no titles
    if image_id is None:
        assert pd.isna(scan["image_id"])
    else:
        assert scan["image_id"].startswith(image_id)
        assert (v["image_id"] == scan["image_id"]).all()
    if os_family is None:
        assert pd.isna(scan["os_family"])
    else:
        assert (scan["os_family"], scan["os_version"]) == (os_family, os_version)


# --- DefectDojo's expectations (MANIFEST.tsv peer_expectation) -----------------------------------


@pytest.mark.corpus
def test_dd_zero_matches(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "dd-grype-0.7.0-debian-zero-matches.json")
    assert data.vulnerabilities.empty
    img = data.images.iloc[0]
    assert img["image_ref"] == "docker.io/library/busybox:latest"
    assert img["layer_count"] == 1 and img["size_bytes"] == 1231733
    assert img["user"] == ""  # no USER in the config: root


@pytest.mark.corpus
def test_dd_grype_07_327_matches(corpus: type[CorpusLoader]) -> None:
    v = _vulns(corpus, "dd-grype-0.7.0-debian-327-matches.json")
    assert len(v) == 327
    r = one_row(v, vuln_id="CVE-2011-3389")
    assert (r["severity"], r["pkg_name"], r["pkg_version"]) == (
        "medium", "libgnutls30", "3.6.7-4+deb10u5")
    assert r["pkg_path"] == "/var/lib/dpkg/status" and r["package_type"] == "deb"
    assert r["layer_diff_id"].startswith("sha256:3c0ac088")
    # Grype 0.7 wrote cvssV2/cvssV3, fixedInVersion and links, and no namespace or KEV data.
    assert (r["cvss_score"], r["cvss_vector"], r["cvss_version"]) == (
        4.3, "AV:N/AC:M/Au:N/C:P/I:N/A:N", "2.0")
    assert r["primary_url"] == "https://security-tracker.debian.org/tracker/CVE-2011-3389"
    assert pd.isna(r["data_source"]) and pd.isna(r["is_known_exploited"])
    assert v["fix_state"].value_counts().to_dict() == {"unknown": 299, "fixed": 28}
    fixed = v[v["fix_state"] == "fixed"]
    assert fixed["fixed_version"].notna().all() and fixed["status"].isna().all()
    # cvssV3 is preferred to cvssV2 when both are given.
    assert set(v["cvss_version"].dropna()) == {"2.0", "3.0", "3.1"}
    assert v["cvss_version"].isna().sum() == 13  # 11 matches without cvssV2, 2 with neither


@pytest.mark.corpus
def test_dd_grype_024_directory(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "dd-grype-0.24.0-directory-javascript.json")
    assert data.images.empty
    v = data.vulnerabilities
    r = one_row(v, vuln_id="CVE-1999-1338")
    assert (r["severity"], r["pkg_name"], r["pkg_version"]) == ("medium", "delegate", "3.2.0")
    assert (r["package_type"], r["pkg_path"]) == ("npm", "components/yarn.lock")
    assert r["description"].startswith("Delegate proxy 5.9.3")
    # DefectDojo also finds "javascript-matcher" in its description: it writes matchDetails there.
    # auditlib keeps the vulnerability's own text, and the matcher in its own column.
    assert r["matchers"] == "javascript-matcher" and pd.isna(r["match_types"])  # 0.24: no type
    assert (r["cvss_score"], r["cvss_version"], r["cvss_source"]) == (5.0, "2.0", "nvd")
    assert r["data_source"] == "nvd" and r["fix_state"] == "unknown" and r["status"] == "unknown"
    ghsa = one_row(v, vuln_id="GHSA-8v27-2fg9-7h62")
    assert (ghsa["severity_source"], ghsa["data_source"]) == ("ghsa", "github:npm")
    assert pd.isna(ghsa["cvss_score"]) and ghsa["fix_state"] == "not-fixed"


@pytest.mark.corpus
def test_dd_check_all_fields(corpus: type[CorpusLoader]) -> None:
    v = _vulns(corpus, "dd-grype-0.28.0-check-all-fields.json")
    # DefectDojo dedupes the 6 matches to 5 findings by vulnerability id. auditlib keys rows by
    # document, target, package name+version+path and vulnerability id: the two GHSA matches are
    # identical on that key too, so they merge into one row with occurrence_count 2 (DefectDojo's
    # nb_occurences 2); the two CVE-2021-33574 matches are different packages and stay two rows.
    assert len(v) == 5
    assert list(v["vuln_id"]) == [
        "CVE-2004-0971", "CVE-2021-32626", "CVE-2021-33574", "CVE-2021-33574",
        "GHSA-v6rh-hp5x-86rv"]
    assert list(v["occurrence_count"]) == [1, 1, 1, 1, 2]

    krb = one_row(v, vuln_id="CVE-2004-0971")
    # DefectDojo: Info; auditlib keeps Grype's word, negligible. DefectDojo reads only CVSS v3
    # (none here); auditlib takes the related NVD record's v2 score when the debian record has none.
    assert (krb["pkg_name"], krb["pkg_version"], krb["severity"]) == (
        "libgssapi-krb5-2", "1.17-3+deb10u3", "negligible")
    assert (krb["cvss_version"], krb["cvss_score"], krb["cvss_source"]) == ("2.0", 2.1, "nvd")
    assert krb["description"].startswith("The krb5-send-pr script")  # the related NVD record's
    assert (krb["fix_state"], krb["status"]) == ("not-fixed", "not-fixed")
    assert (krb["data_source"], krb["severity_source"]) == ("debian:10", "debian")

    redis = one_row(v, vuln_id="CVE-2021-32626")
    assert (redis["pkg_name"], redis["severity"]) == ("redis", "high")
    assert redis["cvss_vector"] == "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"
    assert redis["cvss_score"] == 8.8 and redis["package_type"] == "pypi"
    assert (redis["fix_state"], redis["fixed_version"]) == ("wont-fix", "fix_1, fix_2")

    libc = v[v["vuln_id"] == "CVE-2021-33574"]
    assert list(libc["pkg_name"]) == ["libc-bin", "libc6"]
    assert (libc["severity"] == "critical").all()
    assert (libc["cvss_vector"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").all()

    django = one_row(v, vuln_id="GHSA-v6rh-hp5x-86rv")
    assert (django["pkg_name"], django["pkg_version"], django["severity"]) == (
        "Django", "3.2.9", "high")
    assert django["cvss_vector"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L"  # CVE-2021-44420
    assert (django["fix_state"], django["fixed_version"]) == ("fixed", "3.2.10")
    assert django["description"].startswith("Potential bypass")  # its own, not the NVD one
    assert django["primary_url"] == "https://github.com/advisories/GHSA-v6rh-hp5x-86rv"


@pytest.mark.corpus
@pytest.mark.parametrize(("name", "fix_state", "fixed_version"), [
    ("dd-grype-0.75.0-fix-available.json", "fixed", "1.2.3"),  # DefectDojo fix_available True
    ("dd-grype-0.75.0-fix-not-available.json", "unknown", None),  # fix_available False
])
def test_dd_fix_available(
    corpus: type[CorpusLoader], name: str, fix_state: str, fixed_version: str | None
) -> None:
    data = _load(corpus, name)
    r = data.vulnerabilities.iloc[0]
    assert (r["vuln_id"], r["pkg_name"], r["severity"]) == ("CVE-2009-3882", "java", "high")
    assert r["fix_state"] == fix_state and r["status"] == fix_state
    assert (r["fixed_version"] if pd.notna(r["fixed_version"]) else None) == fixed_version
    # userInput and repoDigests are "REDACTED": no reference, no repo digest, and the imageID is
    # not a digest (redacted too), so there is no images row.
    scan = data.scans.iloc[0]
    assert pd.isna(scan["image_ref"]) and pd.isna(scan["repo_digest"]) and data.images.empty


@pytest.mark.corpus
def test_dd_epss_values_in_order(corpus: type[CorpusLoader]) -> None:
    v = _vulns(corpus, "dd-grype-0.94.0-epss.json")
    got = list(zip(v["vuln_id"], v["epss_score"], v["epss_percentile"], strict=True))
    expected = [
        ("CVE-2022-28391", 0.0719, 0.91123), ("CVE-2021-28831", 0.00878, 0.74313),
        ("CVE-2022-48174", 0.00451, 0.62761), ("CVE-2021-42380", 0.00277, 0.50908),
        ("CVE-2021-42381", 0.00197, 0.42221), ("CVE-2021-42382", 0.00197, 0.42221),
        ("CVE-2021-42386", 0.00183, 0.40722), ("CVE-2021-42385", 0.0018, 0.40314),
        ("CVE-2021-42378", 0.00145, 0.35906), ("CVE-2021-42379", 0.00145, 0.35906),
        ("CVE-2021-42384", 0.00145, 0.35906), ("CVE-2021-42374", 0.00077, 0.23977),
        ("CVE-2021-42376", 0.00028, 0.06078), ("CVE-2024-58251", 0.0002, 0.0361),
        ("CVE-2025-46394", 0.00017, 0.02652),
    ]
    assert [g[0] for g in got] == [e[0] for e in expected]
    assert [g[1:] for g in got] == [pytest.approx(e[1:]) for e in expected]
    assert one_row(v, vuln_id="CVE-2022-28391")["risk_score"] == pytest.approx(5.620183)
    # Grype 0.94 writes knownExploited only when the CVE is in KEV: none of these is.
    assert (~v["is_known_exploited"]).all()
    fixed = one_row(v, vuln_id="CVE-2021-42376")
    assert (fixed["fix_state"], fixed["fixed_version"]) == ("fixed", "1.34.0")
    # `fix.state` "" with no versions: Grype did not say.
    assert one_row(v, vuln_id="CVE-2022-28391")["fix_state"] == "unknown"


@pytest.mark.corpus
def test_dd_image_35_matches(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "dd-grype-0.96.0-image-35-matches.json")
    assert len(data.vulnerabilities) == 35
    img = data.images.iloc[0]
    assert img["image_ref"] == "quay.io/cloudservices/xjoin-kafka-connect-strimzi:latest"
    assert img["repo_digest"].startswith("sha256:97e6d5ae")
    assert (img["os"], img["architecture"], img["layer_count"]) == ("linux", "amd64", 18)
    assert img["size_bytes"] == 600089566 and img["user"] == "1001"
    assert len(data.image_labels) == 21
    r = one_row(data.vulnerabilities, vuln_id="CVE-2017-6519")
    assert (r["fix_state"], r["severity"], r["cvss_source"]) == ("wont-fix", "low", "redhat")
    assert r["data_source"] == "redhat:distro:redhat:8"


# --- grype's own snapshots -----------------------------------------------------------------------


@pytest.mark.corpus
def test_grype_chainguard_ruby(corpus: type[CorpusLoader]) -> None:
    v = _vulns(corpus, "grype-0.61.1-chainguard-ruby-filtered.json")
    assert list(zip(v["vuln_id"], v["pkg_name"], v["package_type"], strict=True)) == [
        ("CVE-2023-28755", "ruby-3.0", "apk"), ("CVE-2023-28755", "uri", "gem"),
        ("GHSA-hv5j-3h9f-99c2", "uri", "gem")]
    assert list(v["fixed_version"].astype("string").fillna("")) == ["3.0.6-r0", "", "0.10.2"]
    assert list(v["severity_source"]) == ["wolfi", "nvd", "ghsa"]
    assert (v["cvss_score"] == 7.5).all()


@pytest.mark.corpus
def test_grype_keycloak(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "grype-0.66.0-keycloak-filtered.json")
    v = data.vulnerabilities
    assert (v["vuln_id"] == "CVE-2020-12413").all()
    assert list(v["pkg_name"]) == [
        "nspr", "nss", "nss-softokn", "nss-softokn-freebl", "nss-sysinit", "nss-util"]
    assert (v["fix_state"] == "wont-fix").all() and (v["severity"] == "low").all()
    assert (v["cvss_score"] == 5.9).all() and (v["cvss_source"] == "redhat").all()
    img = data.images.iloc[0]
    # userInput pins a repo digest; repoDigests agree. manifestDigest (the daemon's) is not used.
    assert img["repo_digest"] == (
        "sha256:347a0d748d05a050dc64b92de2246d2240db6eb38afbc17c3c08d0acb0db1b50")
    assert len(data.image_labels) == 27  # from the embedded image config (no target.labels in 0.66)


@pytest.mark.corpus
def test_grype_head_presenter_newest_fields(corpus: type[CorpusLoader]) -> None:
    data = _load(corpus, "grype-head-presenter-image-mockdata.json")
    scan = data.scans.iloc[0]
    assert pd.isna(scan["tool_version"]) and pd.isna(scan["generated_at"])
    assert scan["format_version"] == "unknown"  # the snapshot writes "[not provided]"
    v = data.vulnerabilities
    one, two = one_row(v, vuln_id="CVE-1999-0001"), one_row(v, vuln_id="CVE-1999-0002")
    assert (one["package_type"], pd.isna(one["purl"])) == ("rpm", True)  # no purl: artifact.type
    assert (two["package_type"], two["purl"]) == ("deb", "pkg:deb/package-2@2.2.2")
    assert (one["fixed_version"], one["fix_state"]) == ("1.2.1, 2.1.3, 3.4.0", "fixed")
    assert two["fix_state"] == "unknown" and pd.isna(two["status"])
    assert (one["epss_score"], one["epss_percentile"]) == (0.03, 0.42)
    assert (one["is_known_exploited"], two["is_known_exploited"]) == (False, True)
    assert (one["risk_score"], two["risk_score"]) == (1.68, pytest.approx(96.25))
    assert (one["cvss_score"], one["cvss_source"]) == (8.2, "nvd")
    assert pd.isna(one["primary_url"]) and pd.isna(one["description"])


# --- hand-written documents ----------------------------------------------------------------------

_LAYER = "sha256:" + "a" * 64
_IMAGE_ID = "sha256:" + "b" * 64
_REPO_DIGEST = "sha256:" + "c" * 64


def _match(vid: str = "CVE-2024-0001", name: str = "openssl", version: str = "3.0.1",
           **vuln: Any) -> dict[str, Any]:
    return {
        "vulnerability": {
            "id": vid, "severity": "High", "namespace": "debian:distro:debian:12",
            "dataSource": f"https://security-tracker.debian.org/tracker/{vid}", "urls": [],
            "cvss": [], "fix": {"versions": [], "state": "not-fixed"}, "advisories": [], **vuln,
        },
        "relatedVulnerabilities": [],
        "matchDetails": [{"type": "exact-direct-match", "matcher": "dpkg-matcher"}],
        "artifact": {
            "id": "x", "name": name, "version": version, "type": "deb",
            "locations": [{"path": "/var/lib/dpkg/status", "layerID": _LAYER}],
            "purl": f"pkg:deb/debian/{name}@{version}", "metadataType": "DpkgMetadata",
            "metadata": {"source": "openssl", "files": [{"path": "/x", "digest": {"a": 1}}]},
        },
    }


def _report(matches: Any, version: str = "0.104.0", **top: Any) -> dict[str, Any]:
    return {
        "matches": matches,
        "source": {"type": "image", "target": {
            "userInput": "registry:alpine:3.18", "imageID": _IMAGE_ID,
            "manifestDigest": "sha256:" + "d" * 64,
            "repoDigests": [f"alpine@{_REPO_DIGEST}"], "tags": ["alpine:3.18"],
            "imageSize": 1000, "layers": [{"digest": _LAYER}], "os": "linux",
            "architecture": "amd64", "labels": {"maintainer": "me"}}},
        "distro": {"name": "debian", "version": "12", "idLike": []},
        "descriptor": {"name": "grype", "version": version, "timestamp": "2025-10-01T10:00:00Z"},
        **top,
    }


def _write(tmp_path: Path, doc: dict[str, Any]) -> auditlib.AuditData:
    path = tmp_path / "grype.json"
    path.write_text(json.dumps(doc))
    return auditlib.load(path)



# (case, dotted path, new value, level (None: no error), locator, words in the reason, rows)
BAD_INPUTS = [
    ("matches-not-a-list", "matches", "none", "error", None, "`$.matches`", 0),
    ("matches-an-object", "matches", {}, "error", None, "`$.matches`", 0),
    ("descriptor-a-string", "descriptor", "grype", "error", None, "`$.descriptor`", 0),
    ("target-a-number", "source.target", 5, "error", None, "`$.source.target`", 0),
    ("alerts-not-a-list", "alertsByPackage", "eol", "error", None, "`$.alertsByPackage`", 0),
    ("version-a-number", "matches.1.artifact.version", 2, "warning", "$.matches[1]",
     "`$.matches[1].artifact.version`", 1),
    ("no-vulnerability-id", "matches.1.vulnerability.id", DELETE, "warning", "$.matches[1]",
     "`$.matches[1].vulnerability`", 1),
    ("score-a-string", "matches.0.vulnerability.cvss",
     [{"version": "3.1", "vector": "CVSS:3.1/AV:N", "metrics": {"baseScore": "high"}}],
     "warning", "$.matches[0]", "`$.matches[0].vulnerability.cvss[0].metrics.baseScore`", 1),
    ("config-not-base64", "source.target.config", "%%% not base64", "warning",
     "$.source.target.config", "image config ignored", 2),
    # Grype wrote `null` for no matches before it preallocated the list: not an error.
    ("matches-null", "matches", None, None, None, "", 0),
]


@pytest.mark.parametrize(
    ("path", "value", "level", "locator", "words", "rows"),
    [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input(tmp_path: Path, path: str, value: Any, level: str | None,
                   locator: str | None, words: str, rows: int) -> None:
    doc = set_path(_report([_match("CVE-2024-0001"), _match("CVE-2024-0002")]), path, value)
    data = _write(tmp_path, doc)
    errors = data.load_errors
    assert len(data.vulnerabilities) == rows
    if level is None:
        assert errors.empty, errors["reason"].tolist()
        assert len(data.scans) == 1
        return
    assert len(errors) == 1, errors["reason"].tolist()
    err = errors.iloc[0]
    assert err["level"] == level and err["format"].startswith("grype-json")
    assert (err["locator"] if pd.notna(err["locator"]) else None) == locator
    assert words in err["reason"]
    if level == "error":
        assert str(tmp_path / "grype.json") in err["reason"] and data.scans.empty


def test_newest_fields(tmp_path: Path) -> None:
    fixed = _match(
        "CVE-2024-0001", fix={"versions": ["3.0.2", "3.1.0"], "state": "fixed", "available": [
            {"version": "3.1.0", "date": "2024-05-02", "kind": "advisory"},
            {"version": "3.0.2", "date": "2024-03-01", "kind": "first-observed-record"}]},
        cvss=[{"source": "nvd@nist.gov", "type": "Primary", "version": "3.1",
               "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
               "metrics": {"baseScore": 9.8}, "vendorMetadata": {}}],
        knownExploited=[{"cve": "CVE-2024-0001", "knownRansomwareCampaignUse": "Known"}],
        epss=[{"cve": "CVE-2024-0001", "epss": 0.9, "percentile": 0.99, "date": "2025-01-01"}],
        risk=99.5)
    ignored = {**_match("CVE-2024-9999"), "appliedIgnoreRules": [{"namespace": "debian"}]}
    alerts = [{"package": {"name": "openssl"}, "alerts": [
        {"type": "distro-eol", "message": "debian 12 is EOL", "metadata": {"name": "debian"}}]}]
    data = _write(tmp_path, _report(
        [fixed, _match("CVE-2024-0002")], ignoredMatches=[ignored], alertsByPackage=alerts))
    assert data.load_errors.empty
    v = data.vulnerabilities
    assert list(v["vuln_id"]) == ["CVE-2024-0001", "CVE-2024-0002"]  # ignoredMatches: no rows
    r = v.iloc[0]
    assert r["fix_available_at"] == pd.Timestamp("2024-03-01", tz="UTC")
    assert (r["fixed_version"], r["fix_state"]) == ("3.0.2, 3.1.0", "fixed")
    assert (r["cvss_score"], r["cvss_source"], r["cvss_version"]) == (9.8, "nvd", "3.1")
    assert (r["epss_score"], r["epss_percentile"], r["risk_score"]) == (0.9, 0.99, 99.5)
    assert r["is_known_exploited"] == True  # noqa: E712
    assert (r["pkg_path"], r["layer_diff_id"], r["package_type"]) == (
        "/var/lib/dpkg/status", _LAYER, "deb")
    assert (r["severity_source"], r["data_source"]) == ("debian", "debian:distro:debian:12")
    # A 0.104 report writes knownExploited only when listed: absent means not in KEV.
    assert v.iloc[1]["is_known_exploited"] == False  # noqa: E712
    scan = data.scans.iloc[0]
    assert scan["is_os_eol"] == True  # noqa: E712
    assert scan["generated_at"] == pd.Timestamp("2025-10-01T10:00:00Z")
    assert scan["image_ref"] == "docker.io/library/alpine:3.18"  # `registry:` scheme dropped
    assert scan["repo_digest"] == _REPO_DIGEST and scan["image_id"] == _IMAGE_ID
    img = data.images.iloc[0]
    assert (img["is_os_eol"], img["layer_count"], img["os_family"]) == (True, 1, "debian")
    assert data.image_labels["label"].tolist() == ["maintainer"]


@pytest.mark.parametrize(("version", "vuln", "related", "expected"), [
    ("0.70.0", {}, {}, None),  # before KEV data: not said
    ("0.90.0", {}, {}, False),  # KEV-aware Grype omits an empty list
    ("0.70.0", {"knownExploited": []}, {}, False),
    ("0.70.0", {}, {"knownExploited": [{"cve": "CVE-2024-0001"}]}, True),
], ids=["old-absent", "new-absent", "said-empty", "related-listed"])
def test_known_exploited(tmp_path: Path, version: str, vuln: dict[str, Any],
                         related: dict[str, Any], expected: bool | None) -> None:
    m = _match(**vuln)
    m["relatedVulnerabilities"] = [{"id": "CVE-2024-0001", "namespace": "nvd:cpe", **related}]
    r = _write(tmp_path, _report([m], version=version)).vulnerabilities.iloc[0]
    got = r["is_known_exploited"]
    assert (None if pd.isna(got) else bool(got)) is expected


def test_related_record_fallbacks(tmp_path: Path) -> None:
    # A GHSA match whose EPSS and CVSS are on the related CVE record (DefectDojo's "epss problem").
    m = _match("GHSA-4374-p667-p6c8", namespace="github:language:go", dataSource="")
    m["vulnerability"]["urls"] = ["https://github.com/advisories/GHSA-4374-p667-p6c8"]
    m["relatedVulnerabilities"] = [{
        "id": "CVE-2024-1", "namespace": "nvd:cpe", "description": "from nvd",
        "cvss": [{"source": "nvd@nist.gov", "version": "3.1", "vector": "CVSS:3.1/AV:N",
                  "metrics": {"baseScore": 7.5}}],
        "epss": [{"cve": "CVE-2024-1", "epss": 0.00163, "percentile": 0.37957}]}]
    r = _write(tmp_path, _report([m])).vulnerabilities.iloc[0]
    assert (r["epss_score"], r["epss_percentile"]) == (0.00163, 0.37957)
    assert (r["cvss_score"], r["cvss_source"], r["description"]) == (7.5, "nvd", "from nvd")
    assert r["primary_url"] == "https://github.com/advisories/GHSA-4374-p667-p6c8"
    assert r["severity_source"] == "ghsa"


def test_alerts_without_eol_say_not_eol(tmp_path: Path) -> None:
    alerts = [{"package": {"name": "x"}, "alerts": [{"type": "distro-disabled", "message": "m"}]}]
    scan = _write(tmp_path, _report([], alertsByPackage=alerts)).scans.iloc[0]
    assert scan["is_os_eol"] == False  # noqa: E712


@pytest.mark.parametrize(("source", "target_type", "target"), [
    ({"type": "directory", "target": "/src"}, "filesystem", "/src"),
    ({"type": "dir", "target": "."}, "filesystem", "."),
    ({"type": "file", "target": "app.jar"}, "filesystem", "app.jar"),
    ({"type": "sbom-file", "target": "sbom.json"}, "sbom", "sbom.json"),
    ({"type": "purl", "target": "pkg:npm/a@1"}, "unknown", "pkg:npm/a@1"),
    (None, "unknown", None),
])
def test_source_types(tmp_path: Path, source: dict[str, Any] | None, target_type: str,
                      target: str | None) -> None:
    data = _write(tmp_path, _report([_match()], source=source))
    assert data.load_errors.empty and data.images.empty
    scan = data.scans.iloc[0]
    assert scan["target_type"] == target_type
    assert (scan["target"] if pd.notna(scan["target"]) else None) == target
    v = data.vulnerabilities.iloc[0]
    assert (v["target"] if pd.notna(v["target"]) else None) == target
