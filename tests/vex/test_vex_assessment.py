"""VEX statements applied by the assessment, in one place every face reads: real scanner outputs
(../shared/corpus) with small OpenVEX documents written here, one case each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from auditlib.assess import assess_data
from auditlib.fleet.vex import UNMATCHED_COLUMNS, said
from tests.conftest import corpus_path

DEBIAN = "trivy-json/trivy-golden-debian-buster-image.json"
"""Trivy's golden scan of debian:buster: CVE-2019-18224 in libidn2-0 (critical, fixed) and
CVE-2019-18276 in bash (low, not fixed)."""
IMAGE = "ghcr.io/aquasecurity/trivy-test-images:debian-buster"
XJOIN = "grype-json/dd-grype-0.96.0-image-35-matches.json"
"""Grype's scan of an image with its manifest digest."""
XJOIN_DIGEST = "sha256:97e6d5aeed19f627205b218f45b284cd01ff658dd181416ab1d3e21aeb28d68e"
AS_OF = "2026-12-01"


def openvex(tmp_path: Path, *statements: dict[str, Any], name: str = "team.openvex.json",
            author: str = "Platform team", at: str = "2026-11-02T10:00:00Z") -> Path:
    doc = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": f"urn:test:{name}",
           "author": author, "timestamp": at, "version": 1, "statements": list(statements)}
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def stmt(vuln: str, product: str, status: str = "not_affected", sub: str | None = None,
         **extra: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"@id": product}
    if sub:
        p["subcomponents"] = [{"@id": sub}]
    if status == "not_affected":
        extra.setdefault("justification", "vulnerable_code_not_in_execute_path")
    return {"vulnerability": {"name": vuln}, "products": [p], "status": status, **extra}


def assessed(*paths: Path | str) -> Any:
    files = [corpus_path(p) if isinstance(p, str) else p for p in paths]
    return assess_data(auditlib.load(*files), as_of=AS_OF)


def fixable_ids(a: Any) -> list[str]:
    return sorted(a.findings["vuln_id"].astype(str))


def result(a: Any, rule: str) -> pd.Series:
    r = a.evaluation.results
    return r[r["rule"].astype(str) == rule].iloc[0]


def test_not_affected_leaves_the_sla_clock_the_score_and_the_fix_first_list(
        tmp_path: Path) -> None:
    before = assessed(DEBIAN)
    assert fixable_ids(before) == ["CVE-2019-18224"]
    assert result(before, "fixable-vulns-sla")["status"] == "fail"  # critical, years over
    assert "fixable: 1 critical" in str(before.staleness["priority_reasons"].iloc[0])
    risk_before = float(before.staleness["rebuild_priority"].iloc[0])
    vex = openvex(tmp_path, stmt("CVE-2019-18224", "pkg:oci/trivy-test-images?repository_url="
                                 "ghcr.io/aquasecurity/trivy-test-images&tag=debian-buster",
                                 sub="pkg:deb/debian/libidn2-0@2.0.5-1"))
    after = assessed(DEBIAN, vex)
    assert fixable_ids(after) == []
    ev = result(after, "fixable-vulns-sla")
    assert ev["status"] == "pass"
    assert ("1 not affected by VEX: CVE-2019-18224 in libidn2-0 2.0.5-1: not affected: "
            "vulnerable code not in execute path (statement by Platform team, "
            "2026-11-02 10:00 UTC)") in ev["evidence"]
    assert (after.evaluation.scores["score"].iloc[0]
            > before.evaluation.scores["score"].iloc[0])
    assert "fixable" not in str(after.staleness["priority_reasons"].iloc[0])
    assert float(after.staleness["rebuild_priority"].iloc[0]) == risk_before - 20
    s = after.summary()
    assert s["fixable"]["findings"] == 0 and s["fixable"]["critical"] == 0
    assert s["vex"]["findings"]["not_affected"] == 1 and s["vex"]["unmatched"] == 0


def test_under_investigation_is_said_and_changes_nothing(tmp_path: Path) -> None:
    vex = openvex(tmp_path, stmt("CVE-2019-18224", IMAGE, "under_investigation"))
    a = assessed(DEBIAN, vex)
    assert fixable_ids(a) == ["CVE-2019-18224"]
    ev = result(a, "fixable-vulns-sla")
    assert ev["status"] == "fail"
    assert "1 under investigation by VEX: CVE-2019-18224 in libidn2-0" in ev["evidence"]
    assert a.summary()["vex"]["findings"]["under_investigation"] == 1


def test_fixed_settles_the_finding(tmp_path: Path) -> None:
    vex = openvex(tmp_path, stmt("CVE-2019-18224", "pkg:deb/debian/libidn2-0@2.0.5-1", "fixed",
                                 action_statement="backported in 2.0.5-1+deb10u1"))
    a = assessed(DEBIAN, vex)
    assert fixable_ids(a) == []
    assert a.vex.applied["vex_status"].tolist() == ["fixed"]


def test_a_package_product_applies_in_every_image_and_versions_must_agree(
        tmp_path: Path) -> None:
    same = openvex(tmp_path, stmt("CVE-2019-18224", "pkg:deb/debian/libidn2-0@2.0.5-1"),
                   name="same.json")
    other = openvex(tmp_path, stmt("CVE-2019-18224", "pkg:deb/debian/libidn2-0@2.0.9-1"),
                    name="other.json")
    assert fixable_ids(assessed(DEBIAN, same)) == []
    a = assessed(DEBIAN, other)
    assert fixable_ids(a) == ["CVE-2019-18224"]
    assert len(a.vex.unmatched) == 1


def test_unmatched_statements_have_one_shape_with_or_without_statements(
        tmp_path: Path) -> None:
    vex = openvex(tmp_path, stmt("CVE-2019-18224", IMAGE, sub="pkg:deb/debian/bash"))
    some, none = assessed(DEBIAN, vex).vex, assessed(DEBIAN).vex
    assert none.statements == 0 and none.unmatched.empty
    assert list(none.unmatched.columns) == list(some.unmatched.columns) == UNMATCHED_COLUMNS
    assert list(none.applied.columns) == list(some.applied.columns)


def test_a_subcomponent_must_be_the_findings_package(tmp_path: Path) -> None:
    vex = openvex(tmp_path, stmt("CVE-2019-18224", IMAGE, sub="pkg:deb/debian/bash"))
    a = assessed(DEBIAN, vex)
    assert fixable_ids(a) == ["CVE-2019-18224"]
    assert a.vex.unmatched["vuln_id"].astype(str).tolist() == ["CVE-2019-18224"]


def test_the_statement_matches_through_its_aliases(tmp_path: Path) -> None:
    s = stmt("GHSA-0000-test-0001", IMAGE)
    s["vulnerability"]["aliases"] = ["CVE-2019-18224"]
    a = assessed(DEBIAN, openvex(tmp_path, s))
    assert fixable_ids(a) == []
    assert a.vex.applied["vuln_id"].tolist() == ["CVE-2019-18224"]  # the finding's own id


def test_a_digest_product_names_the_image_by_its_manifest(tmp_path: Path) -> None:
    hit = openvex(tmp_path, stmt("CVE-2021-3468", f"pkg:oci/xjoin-kafka-connect-strimzi@"
                                 f"{XJOIN_DIGEST.replace(':', '%3A')}"), name="hit.json")
    miss = openvex(tmp_path, stmt("CVE-2021-3468", "sha256:" + "0" * 64), name="miss.json")
    a = assessed(XJOIN, hit)
    assert "CVE-2021-3468" not in fixable_ids(a)
    assert a.summary()["vex"]["findings"]["not_affected"] == 1
    b = assessed(XJOIN, miss)
    assert "CVE-2021-3468" in fixable_ids(b) and len(b.vex.unmatched) == 1


def test_the_latest_statement_wins_and_later_ones_are_not_yet_made(tmp_path: Path) -> None:
    old = stmt("CVE-2019-18224", IMAGE, timestamp="2026-10-01T00:00:00Z")
    new = stmt("CVE-2019-18224", IMAGE, "affected", timestamp="2026-11-20T00:00:00Z",
               action_statement="upgrade libidn2-0")
    future = stmt("CVE-2019-18224", IMAGE, timestamp="2027-01-01T00:00:00Z")
    a = assessed(DEBIAN, openvex(tmp_path, new, old, future))
    assert a.vex.applied["vex_status"].tolist() == ["affected"]
    assert fixable_ids(a) == ["CVE-2019-18224"]
    assert a.vex.statements == 2  # the 2027 statement is not made yet on the as-of date


def test_a_statement_that_matches_nothing_is_reported(tmp_path: Path) -> None:
    vex = openvex(tmp_path, stmt("CVE-2099-0001", IMAGE, justification="component_not_present"))
    a = assessed(DEBIAN, vex)
    u = a.summary()["vex"]
    assert u["unmatched"] == 1
    assert u["unmatched_shown"] == [
        f"CVE-2099-0001 in {IMAGE}: not affected: component not present (statement by "
        f"Platform team, 2026-11-02 10:00 UTC) [{vex}]"]


@pytest.mark.parametrize(("args", "text"), [
    (("not_affected", "component_not_present", None, "ACME", pd.Timestamp("2026-01-02T03:04Z")),
     "not affected: component not present (statement by ACME, 2026-01-02 03:04 UTC)"),
    (("not_affected", None, None, None, pd.NaT),
     "not affected: no justification given (statement by an unnamed author, time unknown)"),
    (("under_investigation", None, None, "ACME", pd.NaT),
     "under investigation (statement by ACME, time unknown)"),
])
def test_said(args: tuple[Any, ...], text: str) -> None:
    assert said(*args) == text


def test_check_says_what_the_statements_did(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from auditlib.cli.main import main

    vex = openvex(tmp_path, stmt("CVE-2019-18224", IMAGE),
                  stmt("CVE-2099-0001", IMAGE, justification="component_not_present"))
    store = tmp_path / "store"
    r = CliRunner().invoke(main, ["ingest", str(corpus_path(DEBIAN)), str(vex), "--store",
                                  str(store), "--quiet"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["check", "--store", str(store), "--as-of", AS_OF])
    lines = [ln for ln in r.output.splitlines() if ln.startswith("VEX:")]
    assert lines == [
        "VEX: 2 statements; findings not affected 1, fixed 0 (both out of the SLA clock, the "
        "score and the fix-first list), under investigation 0, affected 0",
        f"VEX: {IMAGE}: CVE-2019-18224 in libidn2-0 2.0.5-1: not affected: vulnerable code not "
        "in execute path (statement by Platform team, 2026-11-02 10:00 UTC)",
        "VEX: 1 statements match no finding:",
        f"VEX: unmatched: CVE-2099-0001 in {IMAGE}: not affected: component not present "
        f"(statement by Platform team, 2026-11-02 10:00 UTC) [{vex}]",
    ]


@pytest.mark.slow
def test_run_applies_the_vex_documents_it_is_given(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from auditlib.cli.main import main

    vex = openvex(tmp_path, stmt("CVE-2019-18224", IMAGE))
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", "--store", str(tmp_path / "store"), "--no-scan",
                                  "--reports", "none", "--out", str(out), "--as-of", AS_OF,
                                  "--ingest", str(corpus_path(DEBIAN)), "--vex", str(vex)])
    assert r.exit_code in (0, 1), r.output
    assert "ingested 2 files" in r.output
    (summary,) = out.glob("run-*/assessment.json")
    vex_said = json.loads(summary.read_text())["vex"]
    assert vex_said["findings"]["not_affected"] == 1
