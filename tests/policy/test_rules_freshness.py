"""recent-rebuild, base-image-current, scan-coverage, supported-os: pass, fail, warn and no-data."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest

from auditlib.data import AuditData
from auditlib.eol import EolTable
from auditlib.policy import evaluate
from auditlib.policy.config import build_policy
from auditlib.policy.rules import freshness
from tests.conftest import CorpusLoader
from tests.policy.builders import AS_OF, days_ago, image_id, make_data

A, B, C, D, E, F, G = (image_id(n) for n in range(1, 8))
# Base images with ids that differ in their first 19 characters (evidence shortens them).
D, E, F = ("sha256:" + c * 64 for c in "def")
OLD, NEW = "sha256:" + "0d" * 32, "sha256:" + "9e" * 32
DEBIAN = "docker.io/library/debian:12"


def _results(data: AuditData, rule: str, **params: Any) -> dict[str, tuple[str, str]]:
    policy = build_policy({"rules": {rule: params}}, freshness.RULES, "test")
    # The bundled end-of-life table, not a user's cached one: the verdicts below rely on it.
    evaluation = evaluate(data, policy, as_of=AS_OF, eol_table=EolTable.bundled())
    assert evaluation.errors == []  # a rule that raised gives no-data: that is not a pass
    r = evaluation.results
    r = r[r["rule"] == rule]
    return {str(i): (str(s), str(e))
            for i, s, e in zip(r["image_id"], r["status"], r["evidence"], strict=True)}


def _result(data: AuditData, rule: str, image: str, **params: Any) -> tuple[str, str]:
    return _results(data, rule, **params)[image]


def _layers(image: str, *diff_ids: str) -> list[dict[str, Any]]:
    return [{"image_id": image, "layer_index": n, "diff_id": f"sha256:{d}"}
            for n, d in enumerate(diff_ids)]


def _labels(image: str, name: str, digest: str | None = None) -> list[dict[str, Any]]:
    rows = [{"image_id": image, "label": "org.opencontainers.image.base.name", "value": name}]
    if digest:
        rows.append({"image_id": image, "label": "org.opencontainers.image.base.digest",
                     "value": digest})
    return rows


def _registry(tag: str, digest: str, image: str, created: str) -> dict[str, Any]:
    return {"registry": "docker.io", "repository": "library/debian", "tag": tag,
            "manifest_digest": digest, "platform_manifest_digest": digest, "image_id": image,
            "platform": "linux/amd64", "created_at": created}


def test_rules_are_declared_in_order() -> None:
    assert [r.slug for r in freshness.RULES] == ["recent-rebuild", "base-image-current",
                                                "scan-coverage", "supported-os"]
    for r in freshness.RULES:
        assert r.rationale and r.no_data and r.scout and r.others and r.needs
        assert all(p.meaning for p in r.params)
    assert [(r.points, r.severity) for r in freshness.RULES] == [
        (10, "medium"), (10, "high"), (15, "high"), (10, "high")]


# -- recent-rebuild ---------------------------------------------------------------------------


def test_recent_rebuild() -> None:
    data = make_data(images=[
        {"image_id": A, "host": "h", "created_at": days_ago(2)},
        {"image_id": B, "host": "h", "created_at": days_ago(10)},
        {"image_id": C, "host": "h", "created_at": days_ago(40)},
        {"image_id": D, "host": "h", "created_at": "1970-01-01T00:00:00Z"},
        {"image_id": E, "host": "h", "created_at": "1980-01-01T00:00:01Z"},
        {"image_id": F, "host": "h"},
    ])
    got = _results(data, "recent-rebuild")
    assert got[A] == ("pass", "built 2026-11-27 (2 days ago)")
    assert got[B][0] == "warn" and "2026-11-19 (10 days ago)" in got[B][1]
    assert got[C] == ("fail", "built 2026-10-20 (40 days ago): older than 30 days")
    for i in (D, E, F):
        assert got[i][0] == "no-data"
    assert "reproducible" in got[D][1] and "1980" in got[D][1]
    got = _results(data, "recent-rebuild", warn_days=1, fail_days=5)
    assert got[A][0] == "warn" and got[B][0] == "fail"


# -- base-image-current -----------------------------------------------------------------------


def test_base_image_current_by_digest_against_the_registry() -> None:
    data = make_data(
        images=[{"image_id": A, "host": "h"}, {"image_id": B, "host": "h"},
                {"image_id": C, "host": "h"}],
        image_labels=[*_labels(A, "debian:12", OLD), *_labels(B, "debian:12", NEW),
                      *_labels(C, "debian:11", OLD)],
        registry_tags=[_registry("12", NEW, G, days_ago(9))],
    )
    status, evidence = _result(data, "base-image-current", A)
    assert status == "fail"
    assert evidence.startswith(f"the base tag {DEBIAN} now points at {NEW[:19]} (created "
                               "2026-11-20 (9 days ago), per the registry); this image was "
                               f"built on {OLD[:19]} (by the base.digest label)")
    assert NEW not in evidence and OLD not in evidence
    status, evidence = _result(data, "base-image-current", B)
    assert status == "pass" and NEW[:19] in evidence
    # debian:11 was not collected: what the tag points at now is unknown.
    status, evidence = _result(data, "base-image-current", C)
    assert status == "no-data" and "auditlib collect --registry" in evidence


def test_base_image_current_by_layers() -> None:
    # A is built on D (layers l1, l2), tagged debian:12 on the engine; the registry's debian:12
    # is now E (new layers): A is stale. B is built on F, which the registry still serves.
    data = make_data(
        images=[{"image_id": i, "host": "h", "created_at": days_ago(d), "os": "linux",
                 "architecture": "amd64"} for i, d in ((A, 1), (B, 1), (D, 20), (E, 3), (F, 20))],
        image_tags=[{"image_id": D, "reference": DEBIAN},
                    {"image_id": F, "reference": "docker.io/library/debian:bookworm"}],
        image_layers=[*_layers(A, "l1", "l2", "a"), *_layers(D, "l1", "l2"),
                      *_layers(E, "n1", "n2"), *_layers(B, "f1", "b"), *_layers(F, "f1")],
        registry_tags=[_registry("12", NEW, E, days_ago(3)),
                       _registry("bookworm", OLD, F, days_ago(20))],
    )
    status, evidence = _result(data, "base-image-current", A)
    assert status == "fail" and f"now points at {NEW[:19]}" in evidence
    assert f"built on {D[:19]} (by its layers)" in evidence and E[:19] not in evidence
    status, evidence = _result(data, "base-image-current", B)
    assert status == "pass" and "docker.io/library/debian:bookworm" in evidence


def test_base_image_current_from_an_engine_tag() -> None:
    # No registry: the engine's debian:12 is E now (A was built FROM debian:12 on D's layers).
    rows: dict[str, list[dict[str, Any]]] = {
        "images": [{"image_id": i, "host": "h", "created_at": days_ago(d)}
                   for i, d in ((A, 1), (D, 20), (E, 3))],
        "image_layers": [*_layers(A, "l1", "a"), *_layers(D, "l1"), *_layers(E, "n1")],
        "dockerfiles": [{"path": "Dockerfile", "context_image_ref": "docker.io/team/app:1",
                         "final_base_ref": DEBIAN}],
    }
    data = make_data(**rows, image_tags=[{"image_id": A, "reference": "docker.io/team/app:1"},
                                         {"image_id": E, "reference": DEBIAN}])
    status, evidence = _result(data, "base-image-current", A)
    assert status == "fail" and "per an engine" in evidence
    assert f"now points at {E[:19]}" in evidence and f"built on {D[:19]}" in evidence
    data = make_data(**rows, image_tags=[{"image_id": A, "reference": "docker.io/team/app:1"},
                                         {"image_id": D, "reference": DEBIAN}])
    assert _result(data, "base-image-current", A)[0] == "pass"


def test_base_image_current_other_platform_is_not_a_move() -> None:
    # An arm64 image built on D; the registry row is the amd64 image of the same tag: its other
    # id and digest prove nothing.
    data = make_data(
        images=[{"image_id": i, "host": "h", "created_at": days_ago(d), "os": "linux",
                 "architecture": "arm64"} for i, d in ((A, 1), (D, 20))],
        image_tags=[{"image_id": D, "reference": DEBIAN}],
        image_layers=[*_layers(A, "l1", "a"), *_layers(D, "l1")],
        registry_tags=[_registry("12", NEW, G, days_ago(3))],
    )
    assert _result(data, "base-image-current", A)[0] == "no-data"


def test_base_image_current_no_data_without_a_base() -> None:
    data = make_data(images=[{"image_id": A, "host": "h"}],
                     registry_tags=[_registry("12", NEW, G, days_ago(3))])
    assert _result(data, "base-image-current", A)[0] == "no-data"


# -- scan-coverage ----------------------------------------------------------------------------


def _doc(sid: str, image: str | None, fmt: str, age: float, **more: Any) -> dict[str, Any]:
    return {"scan_id": sid, "image_id": image, "format": fmt, "generated_at": days_ago(age),
            **more}


def test_scan_coverage() -> None:
    data = make_data(
        images=[{"image_id": E, "host": "h"}],
        scans=[
            _doc("s1", A, "grype-json", 1), _doc("s2", A, "syft-json", 2),
            _doc("s3", B, "trivy-json", 1, vulnerability_scan=True),
            _doc("s4", C, "syft-json", 3),
            _doc("s5", D, "grype-json", 10), _doc("s6", D, "cyclonedx-json", 1),
            _doc("s7", F, "cyclonedx-json", 1), _doc("s8", F, "trivy-json", 1),
        ],
        packages=[{"scan_id": s, "image_id": i, "package_id": "p", "name": "zlib"}
                  for s, i in (("s2", A), ("s3", B), ("s4", C), ("s6", D))],
    )
    got = _results(data, "scan-coverage")
    assert got[A] == ("pass", "newest vulnerability scan: grype-json of 2026-11-28 (1 day ago); "
                              "newest SBOM: syft-json of 2026-11-27 (2 days ago)")
    assert got[B][0] == "pass"  # Trivy whose vulnerability scanner ran, with packages: both
    assert got[C] == ("fail", "no vulnerability scan of this image; newest SBOM: syft-json of "
                              "2026-11-26 (3 days ago)")
    assert got[D] == ("warn", "newest vulnerability scan: grype-json of 2026-11-19 (10 days ago), "
                              "older than 7 days; newest SBOM: cyclonedx-json of 2026-11-28 "
                              "(1 day ago)")
    assert got[E] == ("fail", "no vulnerability scan and no SBOM of this image")
    # An SBOM with no packages, and a Trivy document that listed none, are not SBOMs; a Trivy
    # run without its vulnerability scanner (licences, secrets) is no vulnerability scan.
    assert got[F][0] == "fail" and got[F][1].startswith("no vulnerability scan and no SBOM")
    assert "no-data" not in {s for s, _ in got.values()}
    assert _result(data, "scan-coverage", D, max_age_days=30)[0] == "pass"


def test_scan_coverage_vulnerability_rows_and_documents_without_image_id() -> None:
    data = make_data(
        scans=[{"scan_id": "s1", "image_id": None, "format": "sarif", "collected_at": days_ago(2)},
               _doc("s2", A, "spdx-json", 1)],
        vulnerabilities=[{"scan_id": "s1", "image_id": A, "vuln_id": "CVE-1", "pkg_name": "z"}],
        packages=[{"scan_id": "s2", "image_id": A, "package_id": "p", "name": "z"}],
    )
    # The SARIF document gives no time: its scan time is unknown, not the time it was read.
    assert _result(data, "scan-coverage", A) == (
        "no-data", "newest vulnerability scan: sarif, undated; newest SBOM: spdx-json of "
                   "2026-11-28 (1 day ago)")


def test_scan_coverage_undated_documents_are_of_unknown_age() -> None:
    undated = {"generated_at": None}
    data = make_data(
        scans=[
            # A: only undated, read 2 days ago: its age is unknown.
            _doc("a1", A, "grype-json", 1), _doc("a2", A, "syft-json", 0, **undated,
                                                  collected_at=days_ago(2)),
            # B: undated, read 30 days ago: at least 30 days old.
            _doc("b1", B, "grype-json", 1), _doc("b2", B, "syft-json", 0, **undated,
                                                  collected_at=days_ago(30)),
            # C: a dated SBOM of 10 days and an undated one read yesterday: unknown.
            _doc("c1", C, "grype-json", 1), _doc("c2", C, "spdx-json", 10),
            _doc("c3", C, "syft-json", 0, **undated, collected_at=days_ago(1)),
            # D: a dated SBOM of 1 day beside an undated one: the dated one is fresh.
            _doc("d1", D, "grype-json", 1), _doc("d2", D, "spdx-json", 1),
            _doc("d3", D, "syft-json", 0, **undated, collected_at=days_ago(1)),
        ],
        packages=[{"scan_id": s, "image_id": i, "package_id": "p", "name": "zlib"}
                  for s, i in (("a2", A), ("b2", B), ("c2", C), ("c3", C), ("d2", D),
                               ("d3", D))],
    )
    got = _results(data, "scan-coverage")
    assert got[A] == ("no-data", "newest vulnerability scan: grype-json of 2026-11-28 (1 day "
                                 "ago); newest SBOM: syft-json, undated")
    assert got[B] == ("warn", "newest vulnerability scan: grype-json of 2026-11-28 (1 day ago); "
                              "newest SBOM: syft-json, undated, read 2026-10-30 (30 days ago): "
                              "older than 7 days")
    assert got[C] == ("no-data", "newest vulnerability scan: grype-json of 2026-11-28 (1 day "
                                 "ago); newest SBOM: syft-json, undated (newest dated: spdx-json "
                                 "of 2026-11-19 (10 days ago), older than 7 days)")
    assert got[D][0] == "pass" and "spdx-json of 2026-11-28" in got[D][1]


def test_scan_coverage_says_why_a_scanner_made_no_vulnerability_scan() -> None:
    # Trivy without its vulnerability database, as `auditlib scan` recorded it.
    data = make_data(
        scans=[_doc("s1", A, "trivy-json", 1, tool="trivy", vulnerability_scan=False,
                    scanners_run="packages,license,secret,misconfig", scanners_skipped="vuln",
                    scanners_skipped_reason="no vulnerability database (offline)")],
        packages=[{"scan_id": "s1", "image_id": A, "package_id": "p", "name": "zlib"}],
    )
    assert _result(data, "scan-coverage", A) == (
        "fail", "no vulnerability scan of this image (trivy: no vulnerability database "
                "(offline)); newest SBOM: trivy-json of 2026-11-28 (1 day ago)")


@pytest.mark.corpus
def test_an_sbom_without_a_time_is_undated(corpus: type[CorpusLoader]) -> None:
    # Syft 0.12.7 wrote no timestamp: the scan time is unknown, never the time of ingest.
    data = corpus.load("syft-json/syft-0.12.7-schema-1.0.1-ubuntu-pruned.json")
    (scan,) = data.scans.to_dict("records")
    assert pd.isna(scan["generated_at"]) and pd.notna(scan["collected_at"])
    image = str(scan["image_id"])
    for as_of in (AS_OF, pd.Timestamp.now(tz="UTC")):
        policy = build_policy({"rules": {"scan-coverage": {}}}, freshness.RULES, "test")
        r = evaluate(data, policy, as_of=as_of, eol_table=EolTable.bundled()).results
        (evidence,) = r.loc[(r["rule"] == "scan-coverage") & (r["image_id"] == image),
                            "evidence"].tolist()
        assert evidence == "no vulnerability scan of this image; newest SBOM: syft-json, undated"
        assert not re.search(r"\d{4}-\d\d-\d\d|days? ago", evidence)


# -- supported-os -----------------------------------------------------------------------------


def test_supported_os() -> None:
    # As of 2026-11-29, by the bundled table: Debian 9 ended 2020-07-18, Debian 12's security
    # support 2026-06-10, Alpine 3.22 ends 2027-05-01, Ubuntu 18.04 ended 2023-05-31.
    data = make_data(
        images=[
            {"image_id": A, "os_family": "debian", "os_version": "9", "is_os_eol": True,
             "source_format": "trivy-json@2"},
            # A scan from before the end of support said "supported": the dated table decides.
            {"image_id": B, "os_family": "debian", "os_version": "12", "is_os_eol": False,
             "source_format": "trivy-json@2"},
            {"image_id": C, "host": "h", "os_family": "alpine", "os_version": "3.22"},
            {"image_id": D, "host": "h", "os_family": "ubuntu", "os_version": "18.04"},
            # A release the table lacks: the scanner decides.
            {"image_id": E, "os_family": "wolfi", "os_version": "20230201", "is_os_eol": True,
             "source_format": "grype-json@0.80"},
            # No OS at all: unknown, never supported.
            {"image_id": F, "host": "h"},
        ],
        scans=[{"image_id": D, "is_os_eol": True, "format": "grype-json",
                "source_format": "grype-json@0.80"}],
    )
    got = _results(data, "supported-os")
    assert got[A][0] == "fail" and "security support ended 2020-07-18" in got[A][1]
    assert "Trivy agrees" in got[A][1]
    assert got[B][0] == "fail" and "ended 2026-06-10" in got[B][1]
    assert "Trivy said it was not past its end of life when it scanned: the table decides" in (
        got[B][1])
    assert got[C][0] == "pass" and "ends 2027-05-01" in got[C][1]
    assert got[D][0] == "fail" and "Grype agrees" in got[D][1]
    assert got[E] == ("fail", "past its end of life, no more security fixes: Grype says wolfi "
                              "20230201 is past its end of life (the end-of-life table has no "
                              "date for it)")
    assert got[F][0] == "no-data" and "no source names the OS" in got[F][1]
    # Within `warn_days` of the end: a warning.
    soon = _results(data, "supported-os", warn_days=200)
    assert soon[C][0] == "warn" and "within 200 days" in soon[C][1]
    # The extended end (Debian LTS until 2028-06-10) when the policy says so.
    extended = _results(data, "supported-os", support="extended")
    assert extended[B][0] == "pass" and "LTS support ends 2028-06-10" in extended[B][1]
