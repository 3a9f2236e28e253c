"""Report benchmark (issue 6): each report notebook on the 1,000-image demo fleet.

    python benchmarks/report.py [--images 1000] [--out DIR]

Reuses the policy benchmark's fleet (`benchmarks/.fleet-policy-1000`) when it is there, else
writes one (`auditlib.demo.write_fleet`, 50 owned files per image: the reports do not read
them); ingests it once into `benchmarks/.fleet-report-store-<N>`; then runs `auditlib report`'s
runner for the compliance and staleness notebooks and prints, for each, the papermill execution
time (kernel start included), the HTML export time and the page size. Goal (design.md section
8): under 60 s and under 10 MB each.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

GOAL_SECONDS = 60.0
GOAL_MB = 10.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=None,
                    help="where the pages go (default: a temporary folder)")
    args = ap.parse_args()

    import auditlib
    from auditlib.demo import write_fleet
    from auditlib.reports import new_run_dir, run_report
    from auditlib.store import list_snapshots, write_snapshot

    fleet = REPO / "benchmarks" / f".fleet-policy-{args.images}"
    if not (fleet / ".complete").exists():
        t0 = time.perf_counter()
        write_fleet(fleet, images=args.images, files_per_image=50)
        (fleet / ".complete").write_text("ok\n")
        print(f"made a synthetic fleet of {args.images} images in {fleet} "
              f"({time.perf_counter() - t0:.1f} s)")
    store = REPO / "benchmarks" / f".fleet-report-store-{args.images}"
    if not list_snapshots(store):
        t0 = time.perf_counter()
        data = auditlib.load(fleet)
        write_snapshot(store, data, sources=[str(fleet)])
        print(f"ingested {len(data.vulnerabilities):,} vulnerabilities, "
              f"{len(data.packages):,} packages into {store} ({time.perf_counter() - t0:.1f} s)")
    out = args.out or Path(tempfile.mkdtemp(prefix="auditlib-bench-report-"))
    folder = new_run_dir(out)
    print(f"{'report':<12}{'execute s':>10}{'export s':>10}{'total s':>9}{'HTML MB':>9}"
          f"{'figures':>9}  goal (< {GOAL_SECONDS:.0f} s, < {GOAL_MB:.0f} MB)")
    failed = False
    for name in ("compliance", "staleness"):
        run = run_report(name, store=store, run_dir=folder)
        total = run.seconds_execute + run.seconds_export
        mb = run.html_bytes / 1e6
        ok = run.ok and total < GOAL_SECONDS and mb < GOAL_MB
        failed |= not ok
        verdict = "PASS" if ok else f"FAIL{' (' + str(run.error) + ')' if run.error else ''}"
        print(f"{name:<12}{run.seconds_execute:>10.1f}{run.seconds_export:>10.1f}{total:>9.1f}"
              f"{mb:>9.2f}{run.figures:>9}  {verdict}")
    print(f"pages in {folder}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
