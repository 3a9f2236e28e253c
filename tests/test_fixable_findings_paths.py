"""`FIXABLE_FINDINGS` takes a finding with one fixable row as that row and groups only the
findings with several (`auditlib.engine.aggregates`): on random rows with both, and with missing
key parts, it gives what grouping every row by its texts gives."""

from __future__ import annotations

import random

import duckdb
import pytest

from auditlib.engine import aggregates as agg
from auditlib.engine.key_hash import duckdb_functions

REFERENCE = f"""
SELECT image_id, vuln_id, pkg_name, pkg_version,
       MAX(severity_rank) AS severity_rank,
       MIN(fixed_version) AS fixed_version,
       CAST(MIN(fix_available_at) AS STRING) AS fix_at,
       MIN(layer_diff_id) AS layer_diff_id,
       CAST(MIN(published_at) AS STRING) AS published_at,
       MAX(exploited) AS known_exploited,
       MAX(epss) AS epss,
       MIN(purl) AS purl
FROM ({agg._FIXABLE_ROWS}) v
GROUP BY image_id, vuln_id, pkg_name, pkg_version
"""
"""The fixable findings as they were defined before (every fixable row grouped by its texts):
the reference the two ways are checked against."""

COLUMNS = ("image_id VARCHAR, vuln_id VARCHAR, pkg_name VARCHAR, pkg_version VARCHAR, "
           "severity VARCHAR, fix_state VARCHAR, fix_contradicted BOOLEAN, fixed_version VARCHAR, "
           "fix_available_at TIMESTAMPTZ, layer_diff_id VARCHAR, published_at TIMESTAMPTZ, "
           "is_known_exploited BOOLEAN, epss_score DOUBLE, purl VARCHAR")


def _random_row(rng: random.Random) -> tuple[object, ...]:
    return (
        rng.choice(["sha256:a", "sha256:b", None]), rng.choice(["CVE-1", "CVE-2", "GHSA-3"]),
        rng.choice(["openssl", "zlib", None]), rng.choice(["1.0", "2.0", None]),
        rng.choice(["critical", "high", "low", None]),
        rng.choice(["fixed", "fixed", "affected", None]), rng.choice([True, False, None]),
        rng.choice(["1.1", "1.2", None]),
        rng.choice([None, f"2026-0{rng.randint(1, 9)}-01 00:00:00+00"]),
        rng.choice(["sha256:l1", "sha256:l2", None]),
        rng.choice([None, f"2025-0{rng.randint(1, 9)}-01 00:00:00+00"]),
        rng.choice([True, False, None]), rng.choice([0.1, 0.7, None]),
        rng.choice(["pkg:deb/openssl", None]))


def _rows(seed: int) -> list[tuple[object, ...]]:
    rng = random.Random(seed)
    rows = [_random_row(rng) for _ in range(600)]
    # a few findings with exactly one row each (fixable, never contradicted)
    rows += [(f"sha256:single{i}", "CVE-9", "curl", "8.0", "high", "fixed", False, "8.1", None,
              None, None, None, None, None) for i in range(5)]
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fixable_findings_one_row_or_grouped_equal_the_reference(seed: int) -> None:
    con = duckdb.connect()
    for statement in duckdb_functions():
        con.execute(statement)
    con.execute(f"CREATE TABLE vulnerabilities({COLUMNS})")
    con.executemany("INSERT INTO vulnerabilities VALUES (" + ", ".join("?" * 14) + ")",
                    _rows(seed))
    got = con.execute(f"SELECT * FROM ({agg.FIXABLE_FINDINGS}) ORDER BY ALL").fetchall()
    want = con.execute(f"SELECT * FROM ({REFERENCE}) ORDER BY ALL").fetchall()
    assert got == want
    per_finding = con.execute(f"""SELECT COUNT(*) AS n FROM ({agg._FIXABLE_ROWS}) v
                                  GROUP BY image_id, vuln_id, pkg_name, pkg_version""").fetchall()
    assert {1} < {n for (n,) in per_finding}  # both ways: one row, and several grouped
    assert any(r[2] is None or r[3] is None for r in got)  # a missing key part, its own value
