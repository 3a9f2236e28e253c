"""Streaming ingest benchmark (issue 15): peak memory of `auditlib ingest` is flat in the number of
documents, and its speed against orjson is that of the ingest held in memory.

    python benchmarks/stream.py [--images 1000 2000 ...] [--batch-mb 512] [--work DIR]

For each fleet size it makes a fleet with `auditlib.demo.write_fleet` (a Trivy 0.76 report and a
Syft 1.18 SBOM per image, shaped as `benchmarks/ingest.py`'s: 300 vulnerabilities and 400 packages
per image on average, 20 owned files per package) and runs, each in a fresh process:

  orjson      `orjson.loads` of every document (the baseline of the design's ratio);
  streamed    `ingest_paths(store, [fleet], stream=True)`: batches of --batch-mb written to the
              snapshot as they are read;
  in memory   `ingest_paths(store, [fleet], stream=False)`: every table held, then written.

It prints wall time, the ratio to orjson and the peak RSS of the process tree (worker processes
included, sampled ten times a second) of each. The goal: streamed peak RSS under 1.5 GB and about
the same at every fleet size. It always exits 0; a goal missed is a FAIL line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import _tree_rss_mb  # noqa: E402

GOAL_RSS_MB = 1536.0


def child(kind: str, fleet: Path, store: Path, batch_mb: int) -> dict[str, Any]:
    """Run one approach in this process and return its figures."""
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], _tree_rss_mb(os.getpid()))

    sampler = threading.Thread(target=sample, daemon=True)
    rows: dict[str, int] = {}
    if kind == "orjson":
        import orjson

        sampler.start()
        start = time.perf_counter()
        for p in sorted(fleet.rglob("*.json")):
            orjson.loads(p.read_bytes())
    else:
        from auditlib.ingest import stream
        from auditlib.ingest.steps import ingest_paths

        stream.BATCH_BYTES = batch_mb * 1024**2
        sampler.start()
        start = time.perf_counter()
        ing = ingest_paths(store, [fleet], stream=kind == "streamed")
        rows = ing.rows or {n: len(df) for n, df in ing.data.tables().items()}
        if ing.errors:
            rows["errors"] = len(ing.errors)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    return {"wall": wall, "rss": peak[0], "rows": rows}


def _spawn(kind: str, fleet: Path, store: Path, batch_mb: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, "--fleet", str(fleet),
                           "--store", str(store), "--batch-mb", str(batch_mb)],
                          capture_output=True, text=True, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            out: dict[str, Any] = json.loads(line[7:])
            return out
    return {"failed": proc.stderr.strip().splitlines()[-1:] or ["no output"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, nargs="+", default=[1000, 2000])
    ap.add_argument("--batch-mb", type=int, default=512)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--no-memory-baseline", action="store_true",
                    help="leave out the ingest held in memory")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--fleet", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--store", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.fleet, args.store, args.batch_mb)))
        return 0
    from auditlib.demo import write_fleet

    work = args.work or Path(tempfile.mkdtemp(prefix="auditlib-stream-"))
    kinds = ["orjson", "streamed"] + ([] if args.no_memory_baseline else ["in memory"])
    print(f"batches of {args.batch_mb} MB; peak RSS of the process tree, workers included")
    print(f"{'images':>7} {'MB':>7} | " + " | ".join(f"{k:>22}" for k in kinds))
    streamed_rss = []
    try:
        for n in args.images:
            fleet = work / f"fleet-{n}"
            if not fleet.is_dir():
                write_fleet(fleet, images=n)
            size = sum(p.stat().st_size for p in fleet.rglob("*.json"))
            res = {}
            for k in kinds:
                store = work / f"store-{n}-{k.replace(' ', '-')}"
                shutil.rmtree(store, ignore_errors=True)
                res[k] = _spawn(k, fleet, store, args.batch_mb)
                shutil.rmtree(store, ignore_errors=True)
            base = res["orjson"].get("wall")
            cells = []
            for k in kinds:
                r = res[k]
                if "failed" in r:
                    cells.append(f"FAILED {r['failed']}")
                    continue
                ratio = f" {r['wall'] / base:4.2f}x" if base and k != "orjson" else "      "
                cells.append(f"{r['wall']:6.1f} s{ratio} {r['rss']:6.0f} MB")
            print(f"{n:>7} {size / 1e6:7.0f} | " + " | ".join(f"{c:>22}" for c in cells))
            if "failed" not in res["streamed"]:
                streamed_rss.append(res["streamed"]["rss"])
                rows = res["streamed"]["rows"]
                print(f"{'':>17} streamed rows: {rows.get('vulnerabilities', 0):,} "
                      f"vulnerabilities, {rows.get('packages', 0):,} packages"
                      + (f", {rows['errors']} ERRORS" if rows.get("errors") else ""))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if streamed_rss:
        ok = max(streamed_rss) < GOAL_RSS_MB
        print(f"{'PASS' if ok else 'FAIL'}: streamed peak RSS {max(streamed_rss):.0f} MB "
              f"(goal < {GOAL_RSS_MB:.0f} MB); from the smallest fleet to the largest it changed "
              f"by {max(streamed_rss) / min(streamed_rss):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
