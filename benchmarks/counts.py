"""Per-image counts in one pass (issue 15): the vulnerability and package counts
(`auditlib.engine.aggregates.VULNERABILITY_COUNTS`, `PACKAGE_COUNTS`) against the two passes
they were (the rows per image, and the distinct keys per image, joined: `TWO_PASSES` below, the
baseline), on DuckDB over a store's current state, in the same run, alternately.

    python benchmarks/counts.py STORE [--repeat 2] [--memory-limit 3GB]

Prints each query's best seconds, the ratio of the baseline to the one pass, and whether both
give the same rows.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))


def two_passes(table: str, key: list[str], rows: str, distinct: str) -> str:
    """Return the baseline: the counts as two passes over `table` (rows, distinct keys)."""
    return f"""
SELECT r.image_id, r.{rows}, d.{distinct}
FROM (SELECT image_id, COUNT(*) AS {rows}
      FROM {table} WHERE image_id IS NOT NULL GROUP BY image_id) r
JOIN (SELECT image_id, COUNT(*) AS {distinct}
      FROM (SELECT DISTINCT image_id, {', '.join(key)}
            FROM {table} WHERE image_id IS NOT NULL) k
      GROUP BY image_id) d
  ON r.image_id = d.image_id
ORDER BY r.image_id
"""


TWO_PASSES = {
    "vulnerability_counts": two_passes("vulnerabilities", ["vuln_id", "pkg_name", "pkg_version"],
                                       "vulnerability_rows", "findings"),
    "package_counts": two_passes("packages", ["name", "version", "package_type"],
                                 "package_rows", "packages"),
}


def main() -> None:
    from auditlib.engine import StoreTables
    from auditlib.engine.aggregates import PACKAGE_COUNTS, VULNERABILITY_COUNTS
    from auditlib.engine.duck import DuckDBEngine
    from auditlib.store.current import read_current

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", type=Path)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--memory-limit", default="3GB")
    args = ap.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    data = read_current(str(args.store), tables=["scans"])
    engine = DuckDBEngine(StoreTables.of(str(args.store), data.scans),
                          memory_limit=args.memory_limit)
    one = {"vulnerability_counts": VULNERABILITY_COUNTS, "package_counts": PACKAGE_COUNTS}
    for name, query in one.items():
        best = {"two passes": float("inf"), "one pass": float("inf")}
        got = {}
        for _ in range(args.repeat):
            for label, sql in (("two passes", TWO_PASSES[name]), ("one pass", query)):
                t0 = time.perf_counter()
                out = engine.sql(sql)
                best[label] = min(best[label], time.perf_counter() - t0)
                got[label] = out.astype({"image_id": str}).astype(
                    {c: "int64" for c in out.columns if c != "image_id"})
        equal = got["two passes"].equals(got["one pass"])
        print(f"{name:22s} two passes {best['two passes']:6.1f} s   one pass "
              f"{best['one pass']:6.1f} s   ratio {best['two passes'] / best['one pass']:.2f}x"
              f"   {len(got['one pass']):,} images   equal rows: {equal}", flush=True)
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
