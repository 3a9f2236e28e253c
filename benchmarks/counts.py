"""Per-image counts in one pass (issue 15): the vulnerability and package counts
(`auditlib.engine.aggregates.VULNERABILITY_COUNTS`, `PACKAGE_COUNTS`) against the two passes
they were (the rows per image, and the distinct keys per image, joined: `TWO_PASSES` below, the
baseline), on DuckDB over a store's current state, in the same run, alternately.

    python benchmarks/counts.py STORE [--repeat 2] [--memory-limit 3GB]

Prints each query's best seconds, the ratio of the baseline to the one pass, and whether both
give the same rows.

With `--keyed` (h28b) it compares instead the one pass grouped by the image id (`BY_ID`
below, the baseline: the text before h28b) with the one pass grouped by the image's number
(the aggregates now: `aggregates.KEYS_TABLE`, made once first and timed apart), wall and CPU
seconds (the process's); the ratios count the keys' time in.
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


def by_id(table: str, key: list[str], rows: str, distinct: str) -> str:
    """Return the baseline of `--keyed`: the one pass grouped by the image id (main at
    aef11ce)."""
    return f"""
SELECT image_id, CAST(SUM(n) AS BIGINT) AS {rows}, COUNT(*) AS {distinct}
FROM (SELECT image_id, COUNT(*) AS n
      FROM {table} WHERE image_id IS NOT NULL GROUP BY image_id, {', '.join(key)}) k
GROUP BY image_id
ORDER BY image_id
"""


BY_ID = {
    "vulnerability_counts": by_id("vulnerabilities", ["vuln_id", "pkg_name", "pkg_version"],
                                  "vulnerability_rows", "findings"),
    "package_counts": by_id("packages", ["name", "version", "package_type"],
                            "package_rows", "packages"),
}


def keyed(store: Path, repeat: int, memory_limit: str | None) -> None:
    """Print `--keyed`: each count by id and by number, each in an engine of its own."""
    from auditlib.engine import StoreTables
    from auditlib.engine.aggregates import (
        PACKAGE_COUNTS,
        VULNERABILITY_COUNTS,
        ensure_image_keys,
    )
    from auditlib.engine.duck import DuckDBEngine
    from auditlib.store.current import read_current

    data = read_current(str(store), tables=["scans"])
    tables = StoreTables.of(str(store), data.scans)
    now = {"vulnerability_counts": VULNERABILITY_COUNTS, "package_counts": PACKAGE_COUNTS}
    best: dict[tuple[str, str], tuple[float, float]] = {}
    got: dict[tuple[str, str], object] = {}
    for _ in range(repeat):
        for label in ("by id", "keys", "by number"):
            engine = DuckDBEngine(tables, memory_limit=memory_limit)
            try:
                if label == "by number":
                    ensure_image_keys(engine)
                names = ["image_keys"] if label == "keys" else list(now)
                for name in names:
                    w, c = time.perf_counter(), time.process_time()
                    if label == "keys":
                        ensure_image_keys(engine)
                    else:
                        out = engine.sql((BY_ID if label == "by id" else now)[name])
                        got[(label, name)] = out.astype({"image_id": str}).astype(
                            {k: "int64" for k in out.columns if k != "image_id"})
                    took = (time.perf_counter() - w, time.process_time() - c)
                    if took[0] < best.get((label, name), (float("inf"), 0.0))[0]:
                        best[(label, name)] = took
                    print(f"  {label:9s} {name:22s} wall {took[0]:6.2f} s  cpu {took[1]:6.2f} s",
                          flush=True)
            finally:
                engine.close()
    keys = best[("keys", "image_keys")]
    print(f"keys (made once, read by both)  wall {keys[0]:6.2f} s  cpu {keys[1]:6.2f} s")
    total = {"by id": [0.0, 0.0], "by number": [keys[0], keys[1]]}
    for name in now:
        a, b = best[("by id", name)], best[("by number", name)]
        for label, t in (("by id", a), ("by number", b)):
            total[label][0] += t[0]
            total[label][1] += t[1]
        equal = got[("by id", name)].equals(got[("by number", name)])  # type: ignore[attr-defined]
        print(f"{name:22s} by id wall {a[0]:6.2f} s cpu {a[1]:6.2f} s   by number wall "
              f"{b[0]:6.2f} s cpu {b[1]:6.2f} s   ratio wall {a[0] / b[0]:.2f}x cpu "
              f"{a[1] / b[1]:.2f}x   equal rows: {equal}", flush=True)
    i, n = total["by id"], total["by number"]
    print(f"both, keys included    by id wall {i[0]:6.2f} s cpu {i[1]:6.2f} s   by number wall "
          f"{n[0]:6.2f} s cpu {n[1]:6.2f} s   ratio wall {i[0] / n[0]:.2f}x cpu {i[1] / n[1]:.2f}x")


def main() -> None:
    from auditlib.engine import StoreTables
    from auditlib.engine.aggregates import (
        PACKAGE_COUNTS,
        VULNERABILITY_COUNTS,
        ensure_image_keys,
    )
    from auditlib.engine.duck import DuckDBEngine
    from auditlib.store.current import read_current

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", type=Path)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--keyed", action="store_true",
                    help="by image id (main) against by image number (h28b); the memory limit "
                         "is the engine's own unless --memory-limit is given")
    args = ap.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    if args.keyed:
        limit = None if "--memory-limit" not in sys.argv else args.memory_limit
        keyed(args.store, args.repeat, limit)
        print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        return
    data = read_current(str(args.store), tables=["scans"])
    engine = DuckDBEngine(StoreTables.of(str(args.store), data.scans),
                          memory_limit=args.memory_limit)
    t0 = time.perf_counter()
    ensure_image_keys(engine)  # what the one pass reads: its time is added to each one pass
    keys_s = time.perf_counter() - t0
    print(f"image_keys (made once, added to each one pass below) {keys_s:6.1f} s", flush=True)
    one = {"vulnerability_counts": VULNERABILITY_COUNTS, "package_counts": PACKAGE_COUNTS}
    for name, query in one.items():
        best = {"two passes": float("inf"), "one pass": float("inf")}
        got = {}
        for _ in range(args.repeat):
            for label, sql in (("two passes", TWO_PASSES[name]), ("one pass", query)):
                t0 = time.perf_counter()
                out = engine.sql(sql)
                took = time.perf_counter() - t0 + (keys_s if label == "one pass" else 0.0)
                best[label] = min(best[label], took)
                got[label] = out.astype({"image_id": str}).astype(
                    {c: "int64" for c in out.columns if c != "image_id"})
        equal = got["two passes"].equals(got["one pass"])
        print(f"{name:22s} two passes {best['two passes']:6.1f} s   one pass "
              f"{best['one pass']:6.1f} s   ratio {best['two passes'] / best['one pass']:.2f}x"
              f"   {len(got['one pass']):,} images   equal rows: {equal}", flush=True)
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
