"""One `vulnerabilities` row per (document, target, vulnerability, package, place): entries of one
key are merged by the rules `auditlib.tables.MERGES` declares, whatever format wrote them twice.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from auditlib.ingest.merge import merge_duplicates
from auditlib.tables import MERGE_RULES, MERGES, TABLES_BY_NAME, Column, Table, frame, merge_rule
from tests.parsers.test_grype_json import _match, _report
from tests.samples import TRIVY, one_row


def _load(tmp_path: Path, doc: Any, name: str = "doc.json") -> auditlib.AuditData:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    data = auditlib.load(path)
    assert data.load_errors.empty, data.load_errors["reason"].tolist()
    return data


def test_grype_matches_of_one_key_merge_by_the_declared_rules(tmp_path: Path) -> None:
    # Two matchers find CVE-2024-0001 in openssl at the same place: the distro record (medium,
    # fixed in 3.0.2) and an NVD CPE match (critical, scored, exploited, no fix). A third match is
    # another package and stays its own row, after the merged one.
    distro = _match(
        "CVE-2024-0001", severity="Medium",
        fix={"versions": ["3.0.2"], "state": "fixed",
             "available": [{"version": "3.0.2", "date": "2024-03-01"}]},
        epss=[{"cve": "CVE-2024-0001", "epss": 0.1, "percentile": 0.5}])
    nvd = _match(
        "CVE-2024-0001", severity="Critical", namespace="nvd:cpe",
        dataSource="https://nvd.nist.gov/vuln/detail/CVE-2024-0001",
        fix={"versions": [], "state": "unknown"},
        cvss=[{"source": "nvd@nist.gov", "version": "3.1",
               "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
               "metrics": {"baseScore": 9.8}}],
        epss=[{"cve": "CVE-2024-0001", "epss": 0.7, "percentile": 0.98}],
        knownExploited=[{"cve": "CVE-2024-0001"}])
    nvd["matchDetails"] = [{"type": "cpe-match", "matcher": "stock-matcher"}]
    other = _match("CVE-2024-0002", name="zlib", version="1.3")
    v = _load(tmp_path, _report([distro, nvd, other])).vulnerabilities

    assert list(v["vuln_id"]) == ["CVE-2024-0001", "CVE-2024-0002"]
    r = v.iloc[0]
    assert r["occurrence_count"] == 2
    assert (r["severity"], r["severity_source"]) == ("critical", "nvd")  # highest, with it
    assert (r["fix_state"], r["status"], r["fixed_version"]) == ("fixed", "fixed", "3.0.2")
    assert r["fix_available_at"] == pd.Timestamp("2024-03-01", tz="UTC")
    assert (r["cvss_score"], r["cvss_source"], r["cvss_version"]) == (9.8, "nvd", "3.1")
    assert (r["epss_score"], r["epss_percentile"]) == (0.7, 0.98)  # highest, with it
    assert r["is_known_exploited"]
    assert r["matchers"] == "dpkg-matcher, stock-matcher"
    assert r["match_types"] == "cpe-match, exact-direct-match"
    # The primary (most severe) entry describes the record.
    assert r["data_source"] == "nvd:cpe"
    assert r["primary_url"] == "https://nvd.nist.gov/vuln/detail/CVE-2024-0001"
    assert v.iloc[1]["occurrence_count"] == 1 and v.iloc[1]["matchers"] == "dpkg-matcher"


def test_grype_fix_versions_of_merged_matches_are_united(tmp_path: Path) -> None:
    one = _match(fix={"versions": ["3.0.2"], "state": "fixed"})
    two = _match(fix={"versions": ["3.0.2", "3.1.0"], "state": "fixed"})
    two["matchDetails"] = {"matcher": "dpkg-matcher"}  # Grype 0.7 wrote one object
    r = one_row(_load(tmp_path, _report([one, two])).vulnerabilities, vuln_id="CVE-2024-0001")
    assert r["fixed_version"] == "3.0.2, 3.1.0" and r["occurrence_count"] == 2
    assert r["matchers"] == "dpkg-matcher" and r["match_types"] == "exact-direct-match"


def test_trivy_same_vulnerability_in_two_targets_is_two_rows(tmp_path: Path) -> None:
    # Another target is another place: kept. The same entry twice in one target is merged.
    doc = copy.deepcopy(TRIVY)
    result = doc["Results"][0]
    result["Vulnerabilities"].append({**result["Vulnerabilities"][0], "Severity": "CRITICAL"})
    doc["Results"].append({**copy.deepcopy(result), "Target": "usr/lib/other"})
    v = _load(tmp_path, doc).vulnerabilities
    assert list(v["target"]) == ["alpine:3.19 (alpine 3.19.1)", "usr/lib/other"]
    assert list(v["occurrence_count"]) == [2, 2]
    assert (v["severity"] == "critical").all()


def test_cyclonedx_vulnerability_listed_twice_for_one_component_is_one_row(
    tmp_path: Path,
) -> None:
    # Grype's CycloneDX output writes a vulnerability per match: two matchers, two entries.
    def entry(severity: str) -> dict[str, Any]:
        return {"id": "CVE-2024-0001", "ratings": [{"severity": severity}],
                "affects": [{"ref": "pkg-1"}]}

    bom = {
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "components": [{"type": "library", "name": "openssl", "version": "3.0.1",
                        "bom-ref": "pkg-1", "purl": "pkg:deb/debian/openssl@3.0.1"}],
        "vulnerabilities": [entry("medium"), entry("high")],
    }
    v = _load(tmp_path, bom).vulnerabilities
    assert len(v) == 1
    assert (v.iloc[0]["severity"], v.iloc[0]["occurrence_count"]) == ("high", 2)


# --- the rules themselves ------------------------------------------------------------------------


def test_every_merge_rule_is_declared_on_a_declared_column() -> None:
    kinds = {k.split(" <", 1)[0] for k in MERGE_RULES}
    for name, rules in MERGES.items():
        table = TABLES_BY_NAME[name]
        assert set(rules) <= set(table.column_names), name
        for column in table.column_names:
            rule = merge_rule(table, column)
            assert rule == "key" or rule in kinds or rule.startswith(("with ", "first of ")), rule
            if rule.startswith("with "):
                assert rule.removeprefix("with ") in table.column_names


_SEVERITIES = ["low", "medium", "critical", "critical"]  # the third entry is the primary


def _merge_one(columns: dict[str, tuple[str, list[Any]]], rules: dict[str, str]) -> dict[str, Any]:
    """Merge four entries of one key by `rules`; return the one row, missing values as None."""
    table = Table("t", "entry", ("k",), (
        Column("k", "string", "the key"),
        *(Column(name, dtype, name) for name, (dtype, _) in columns.items())))
    df = frame(table, {"k": ["k"] * 4, **{n: v for n, (_, v) in columns.items()}}, 4)
    out = merge_duplicates(df, table, {"k": "key", **rules})
    assert len(out) == 1
    return {c: None if pd.isna(v) else v for c, v in out.iloc[0].items()}


@pytest.mark.parametrize(
    ("rule", "dtype", "values", "merged"),
    [
        ("highest", "Float64", [1.0, None, 3.0, 2.0], 3.0),
        ("highest", "Float64", [None, None, None, None], None),
        ("highest", "severity", ["low", "high", "medium", "high"], "high"),
        ("earliest", "datetime", ["2024-03-01", "2024-01-01", None, "2024-02-01"],
         pd.Timestamp("2024-01-01", tz="UTC")),
        ("latest", "datetime", ["2024-03-01", "2024-01-01", None, "2024-02-01"],
         pd.Timestamp("2024-03-01", tz="UTC")),
        ("union", "category", ["2.0, 1.0", "1.0", None, "3.0"], "2.0, 1.0, 3.0"),
        ("sorted union", "category", ["b", "a, c", None, "b"], "a, b, c"),
        ("any true", "boolean", [None, False, None, None], False),
        ("any true", "boolean", [None, False, True, None], True),
        ("any true", "boolean", [None, None, None, None], None),
        ("sum", "Int64", [2, None, 1, None], 5),
        ("first of fixed, wont-fix, not-fixed, unknown", "category",
         ["unknown", "wont-fix", None, "fixed"], "fixed"),
        ("first of fixed, wont-fix, not-fixed, unknown", "category",
         ["unknown", "odd", None, "not-fixed"], "not-fixed"),
        # The primary entry is the most severe (the third); its value, else the first that has one.
        ("primary", "string", ["a", "b", "c", "d"], "c"),
        ("primary", "string", ["a", "b", None, "d"], "a"),
    ],
)
def test_merge_rule(rule: str, dtype: str, values: list[Any], merged: Any) -> None:
    columns = {"severity": ("severity", _SEVERITIES), "x": (dtype, values)}
    assert _merge_one(columns, {"severity": "highest", "x": rule})["x"] == merged


def test_with_rule_takes_the_entry_of_the_other_column() -> None:
    columns = {"severity": ("severity", ["low", "high", "high", "low"]),
               "src": ("string", ["a", "b", "c", "d"]),
               "epss": ("Float64", [0.5, None, 0.9, 0.9]),
               "pct": ("Float64", [0.1, 0.2, 0.3, 0.4])}
    rules = {"severity": "highest", "src": "with severity", "epss": "highest", "pct": "with epss"}
    row = _merge_one(columns, rules)
    assert (row["severity"], row["src"], row["epss"], row["pct"]) == ("high", "b", 0.9, 0.3)


def test_unknown_rule_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown merge rule"):
        _merge_one({"x": ("Float64", [1.0, 2.0, 3.0, 4.0])}, {"x": "average"})
