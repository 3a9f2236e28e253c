"""fixable-vulns-sla: pass, fail, warn and no-data, the SLA clocks, and the parameters."""

from __future__ import annotations

from typing import Any

import pandas as pd

from auditlib.data import AuditData
from auditlib.fleet.findings import fixable_findings
from auditlib.fleet.view import FleetView
from auditlib.policy import evaluate
from auditlib.policy.config import build_policy
from auditlib.policy.rules.vulns import RULES, _fixable_sla
from tests.policy.builders import AS_OF, days_ago, image_id, make_data

A, B, C, D = image_id(1), image_id(2), image_id(3), image_id(4)
RULE = "fixable-vulns-sla"


def _results(data: AuditData, **params: Any) -> dict[str, tuple[str, str]]:
    policy = build_policy({"rules": {RULE: params}} if params else None, RULES, "test")
    r = evaluate(data, policy, as_of=AS_OF).results
    r = r[r["rule"] == RULE]
    return {str(i): (str(s), str(e)) for i, s, e in zip(r["image_id"], r["status"], r["evidence"],
                                                      strict=True)}


def _vuln(image: str, vid: str, severity: str = "high", fixed: bool = True, scan: str = "s1",
          **kw: Any) -> dict[str, Any]:
    return {"image_id": image, "scan_id": scan, "target": "t", "vuln_id": vid,
            "pkg_name": kw.pop("pkg", "openssl"), "pkg_version": kw.pop("version", "3.0.1"),
            "severity": severity, "fix_state": "fixed" if fixed else "not-fixed",
            "fixed_version": "3.0.2" if fixed else None, **kw}


def _scan(image: str, scan: str = "s1", fmt: str = "grype-json", **more: Any) -> dict[str, Any]:
    return {"image_id": image, "scan_id": scan, "format": fmt, **more}


def test_fail_lists_the_worst_and_counts_by_severity() -> None:
    data = make_data(scans=[_scan(A)], vulnerabilities=[
        _vuln(A, "CVE-2024-1", "high", fix_available_at=days_ago(45)),
        _vuln(A, "CVE-2024-2", "critical", pkg="zlib", published_at=days_ago(100)),
        _vuln(A, "CVE-2024-3", "medium", fix_available_at=days_ago(10)),  # within SLA
        _vuln(A, "CVE-2024-4", "critical", fixed=False, published_at=days_ago(900)),  # no fix
    ])
    status, evidence = _results(data)[A]
    assert status == "fail"
    assert evidence.startswith("2 fixable vulnerabilities over the SLA (critical 1, high 1): ")
    # The worst (most days over its SLA) first; each says which clock it used.
    assert evidence.index("CVE-2024-2") < evidence.index("CVE-2024-1")
    assert ("CVE-2024-1 in openssl 3.0.1 (high, fixed in 3.0.2) fixable for 45 days since its "
            f"fix date ({days_ago(45)[:10]}), SLA 30") in evidence
    assert ("CVE-2024-2 in zlib 3.0.1 (critical, fixed in 3.0.2) fixable for 100 days since its "
            f"publication ({days_ago(100)[:10]}), SLA 7") in evidence
    assert "CVE-2024-3" not in evidence and "CVE-2024-4" not in evidence


def test_fix_date_wins_over_publication() -> None:
    data = make_data(scans=[_scan(A)], vulnerabilities=[
        _vuln(A, "CVE-1", "high", fix_available_at=days_ago(5), published_at=days_ago(400)),
    ])
    status, evidence = _results(data)[A]
    assert status == "pass"
    assert "fixable for 5 days since its fix date" in evidence and "SLA 30" in evidence


def test_warn_when_the_sla_is_mostly_used() -> None:
    data = make_data(scans=[_scan(A), _scan(B, "s2")], vulnerabilities=[
        _vuln(A, "CVE-1", "high", fix_available_at=days_ago(25)),  # 25/30 >= 0.75
        _vuln(B, "CVE-2", "high", scan="s2", fix_available_at=days_ago(20)),  # 20/30 < 0.75
    ])
    results = _results(data)
    status, evidence = results[A]
    assert status == "warn"
    assert evidence.startswith("none over the SLA, but 1 fixable vulnerability used at least 75%")
    assert "CVE-1" in evidence and "25 days" in evidence
    assert results[B][0] == "pass"
    assert _results(data, warn_ratio=0.5)[B][0] == "warn"


def test_fixable_with_no_date_warns() -> None:
    data = make_data(scans=[_scan(A)], vulnerabilities=[_vuln(A, "CVE-9", "critical")])
    status, evidence = _results(data)[A]
    assert status == "warn"
    assert "CVE-9 in openssl 3.0.1 (critical, fixed in 3.0.2) fixable since an unknown date" \
        in evidence


def test_pass_counts_and_no_fixable() -> None:
    data = make_data(
        scans=[_scan(A), _scan(B, "s2"), _scan(C, "s3"),
               _scan(D, "s4", "trivy-json", vulnerability_scan=True)],
        vulnerabilities=[
            _vuln(A, "CVE-1", "low", fix_available_at=days_ago(3)),
            _vuln(A, "CVE-2", "medium", pkg="zlib", fix_available_at=days_ago(30)),
            _vuln(B, "CVE-3", "high", scan="s2", fixed=False, published_at=days_ago(500)),
            _vuln(B, "CVE-4", "negligible", scan="s2", published_at=days_ago(500)),
        ],
        packages=[{"image_id": D, "scan_id": "s4", "package_id": "p", "name": "zlib"}],
    )
    results = _results(data)
    status, evidence = results[A]
    assert status == "pass"
    assert evidence.startswith("2 fixable vulnerabilities, all within the SLA (the closest to "
                               "it: CVE-2 in zlib")
    status, evidence = results[B]
    assert status == "pass"
    assert evidence == ("no fixable vulnerability with an SLA among 2 vulnerabilities found; "
                        "1 more fixable of severities with no SLA")
    # A Grype scan, and a Trivy scan whose vulnerability scanner ran, found nothing: a pass.
    assert results[C] == ("pass", "no fixable vulnerabilities: the scan found none")
    assert results[D] == ("pass", "no fixable vulnerabilities: the scan found none")


def test_no_data_without_a_vulnerability_scan() -> None:
    data = make_data(
        images=[{"image_id": A, "host": "h"}],
        scans=[_scan(B, "s2", "syft-json"), _scan(C, "s3", "trivy-json"), _scan(D, "s4")],
        packages=[{"image_id": B, "scan_id": "s2", "package_id": "p", "name": "zlib"}],
    )
    results = _results(data)
    for image in (A, B, C):  # collected only; an SBOM; Trivy without packages (secrets only)
        status, evidence = results[image]
        assert status == "no-data" and "no vulnerability scan" in evidence
    assert results[D][0] == "pass"


def test_findings_of_several_scanners_count_once() -> None:
    data = make_data(scans=[_scan(A), _scan(A, "s2", "trivy-json")], vulnerabilities=[
        _vuln(A, "CVE-1", "high", published_at=days_ago(60)),
        _vuln(A, "CVE-1", "high", scan="s2", published_at=days_ago(60), pkg_path="/a"),
        _vuln(A, "CVE-1", "high", scan="s2", published_at=days_ago(60), pkg_path="/b"),
        # The earliest fix date any scanner gives wins.
        _vuln(A, "CVE-1", "high", scan="s1", fix_available_at=days_ago(40), target="u"),
    ])
    status, evidence = _results(data)[A]
    assert status == "fail"
    assert evidence.startswith("1 fixable vulnerability over the SLA (high 1): ")
    assert "fixable for 40 days since its fix date" in evidence


def test_sla_days_override() -> None:
    data = make_data(scans=[_scan(A)], vulnerabilities=[
        _vuln(A, "CVE-1", "high", fix_available_at=days_ago(45)),
        _vuln(A, "CVE-2", "low", fix_available_at=days_ago(400)),
    ])
    assert _results(data)[A][0] == "fail"
    status, evidence = _results(data, sla_days={"critical": 7, "high": 90})[A]
    assert status == "pass"  # no SLA for low any more; high: 45 of 90 days
    assert "1 more fixable of severities with no SLA" in evidence
    status, evidence = _results(data, sla_days={"high": 44})[A]
    assert status == "fail" and "SLA 44" in evidence and "CVE-2" not in evidence


def test_the_evidence_lists_five_and_counts_the_rest() -> None:
    vulns = [_vuln(A, f"CVE-{n}", "critical", pkg=f"p{n}", fix_available_at=days_ago(10 + n))
             for n in range(8)]
    status, evidence = _results(make_data(scans=[_scan(A)], vulnerabilities=vulns))[A]
    assert status == "fail" and evidence.startswith("8 fixable vulnerabilities over the SLA")
    assert evidence.endswith("; and 3 more") and "CVE-7" in evidence and "CVE-0" not in evidence


def test_first_seen_fixed_is_the_second_clock() -> None:
    data = make_data(scans=[_scan(A)], vulnerabilities=[
        _vuln(A, "CVE-1", "high", published_at=days_ago(300)),
        _vuln(A, "CVE-2", "high", pkg="zlib", published_at=days_ago(300),
              fix_available_at=days_ago(2)),
    ])
    seen = pd.DataFrame({"image_id": [A, A], "vuln_id": ["CVE-1", "CVE-2"],
                         "pkg_name": ["openssl", "zlib"], "pkg_version": ["3.0.1", "3.0.1"],
                         "first_seen_fixed_at": [pd.Timestamp(days_ago(12)),
                                                 pd.Timestamp(days_ago(50))]})
    found = fixable_findings(data, AS_OF, seen).rows().set_index("vuln_id")
    assert found.loc["CVE-1", "clock"] == "seen" and found.loc["CVE-1", "days"] == 12
    assert found.loc["CVE-2", "clock"] == "fix" and found.loc["CVE-2", "days"] == 2
    without = fixable_findings(data, AS_OF).rows().set_index("vuln_id")
    assert without.loc["CVE-1", "clock"] == "published" and without.loc["CVE-1", "days"] == 300
    assert _results(data)[A][0] == "fail"  # 300 days since publication
    (verdict,) = _fixable_sla(FleetView(data, AS_OF, first_seen_fixed=seen), RULES[0].defaults())
    assert verdict.status == "pass"
    assert "since the snapshot that saw the fix appear" in verdict.evidence


def test_rule_declaration() -> None:
    (rule,) = RULES
    assert rule.slug == RULE and rule.points == 20 and rule.severity == "critical"
    assert rule.defaults() == {"sla_days": {"critical": 7, "high": 30, "medium": 90, "low": 120},
                               "warn_ratio": 0.75}
    assert rule.scout and rule.others and rule.needs and "scan" in rule.no_data
