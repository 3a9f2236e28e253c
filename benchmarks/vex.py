"""VEX benchmark (issue 16): match VEX statements to a fleet's findings.

    python benchmarks/vex.py [--images 1000] [--per-image 20] [--runs 3] [--fleet DIR]

Makes (or reuses) the synthetic fleet of the policy benchmark (`auditlib.demo.write_fleet`: a
Trivy report and a Syft SBOM per image, about 300 vulnerabilities each), loads it, and adds
`--per-image` OpenVEX-shaped statements per image (`vex_statements` rows: half about the image by
its reference with the package as subcomponent, half about the package's purl alone), plus as
many that match nothing. It times, median of the runs and in the same process:

* the baseline: `fleet.findings.fixable_findings` (the fixable findings and their SLA clock,
  which every face reads);
* `fleet.vex.match_vex` (what the statements say of the findings), and the findings less the
  settled ones: reading the rows of the findings kept in one engine with the settled left out,
  against reading them all from the same engine (what leaving them out costs);

and prints both, and the ratio of VEX to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))


def _median(fn: Any, runs: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--per-image", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="Print match_vex's profile.")
    ap.add_argument("--fleet", type=Path, default=None,
                    help="A fleet folder made by the policy benchmark, to reuse.")
    args = ap.parse_args()

    import pandas as pd

    import auditlib
    from auditlib.demo import write_fleet
    from auditlib.engine import engine_or_frames
    from auditlib.fleet.findings import Fixable, fixable_findings
    from auditlib.fleet.vex import match_vex
    from auditlib.fleet.view import FleetView
    from auditlib.tables import VEX_STATEMENTS, frame

    fleet = args.fleet or REPO / "benchmarks" / f".fleet-policy-{args.images}"
    if not (fleet / ".complete").exists():
        t0 = time.perf_counter()
        write_fleet(fleet, images=args.images, files_per_image=50)
        (fleet / ".complete").write_text("ok\n")
        print(f"made a synthetic fleet of {args.images} images ({time.perf_counter() - t0:.1f} s)")
    data = auditlib.load(fleet)
    as_of = pd.Timestamp("2026-12-01", tz="UTC")
    view = FleetView(data, as_of)
    refs = view.references
    v = data.vulnerabilities.dropna(subset=["image_id", "purl"])
    picked = v.groupby("image_id", observed=True).head(args.per_image)
    rows: dict[str, list[Any]] = {c: [] for c in
                                  ("statement_index", "vuln_id", "status", "justification",
                                   "product", "product_purl", "product_ref",
                                   "subcomponent_purl", "author", "statement_at", "scan_id",
                                   "source", "source_format")}
    for n, r in enumerate(picked.itertuples(index=False)):
        ref = next(iter(refs.get(str(r.image_id), [])), None)
        by_image = n % 2 == 0 and ref is not None
        for unmatched in (False, True):
            rows["statement_index"].append(2 * n + unmatched)
            rows["vuln_id"].append("CVE-2099-0001" if unmatched else str(r.vuln_id))
            rows["status"].append("not_affected")
            rows["justification"].append("vulnerable_code_not_in_execute_path")
            rows["product"].append(ref if by_image else str(r.purl))
            rows["product_purl"].append(None if by_image else str(r.purl))
            rows["product_ref"].append(ref.split("@", 1)[0] if by_image and ref else None)
            rows["subcomponent_purl"].append(str(r.purl) if by_image else None)
            rows["author"].append("benchmark")
            rows["statement_at"].append("2026-11-01T00:00:00Z")
            rows["scan_id"].append("sha256:" + "b" * 64)
            rows["source"].append("benchmark.openvex.json")
            rows["source_format"].append("openvex-json@0.2.0")
    st = frame(VEX_STATEMENTS, rows, len(rows["vuln_id"]))
    data = replace(data, vex_statements=st)
    print(f"{len(data.scans):,} documents, {len(data.vulnerabilities):,} vulnerability rows, "
          f"{len(st):,} VEX statements ({len(st) // 2:,} about a finding)")

    base, fixable = _median(lambda: fixable_findings(data, as_of).rows(), args.runs)
    took, match = _median(lambda: match_vex(data, refs, as_of), args.runs)
    if args.profile:
        import cProfile
        import pstats
        cProfile.runctx("match_vex(data, refs, as_of)", globals(), locals(), "/tmp/vex.prof")
        pstats.Stats("/tmp/vex.prof").sort_stats("tottime").print_stats(12)
    # The findings less the settled: the findings kept in one engine (untimed), their rows read
    # without and with the settled ones left out (`aggregates.finding_clocks`), so the figure
    # is what leaving them out costs, not a recomputation of every finding.
    engine = engine_or_frames(None, data)
    fixable_findings(engine, as_of)
    whole, _ = _median(lambda: Fixable(engine).rows(), args.runs)
    fixable_findings(engine, as_of, settled=match.settled())
    settled, kept = _median(lambda: Fixable(engine).rows(), args.runs)
    print(f"baseline fixable_findings: {base:.2f} s ({len(fixable):,} fixable findings)")
    print(f"match_vex: {took:.2f} s ({len(match.applied):,} findings spoken about, "
          f"{len(match.unmatched):,} statements unmatched); the findings less the settled: "
          f"{settled:.3f} s against {whole:.3f} s for all of them, kept in the same engine "
          f"({len(fixable) - len(kept):,} fixable findings settled)")
    print(f"ratio VEX / baseline: {took / base:.2f}")


if __name__ == "__main__":
    main()
