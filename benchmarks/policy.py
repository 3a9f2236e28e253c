"""Policy benchmark (issue 4): evaluate the default policy on a fleet of 1,000 images.

    python benchmarks/policy.py [--images 1000] [--runs 3]

Makes (or reuses) a synthetic fleet (`auditlib.demo.write_fleet`: a Trivy report and a Syft SBOM
per image, about 300 vulnerabilities and 400 packages each; few owned files, which the policy does
not read), loads it, and times `evaluate()` with every default rule, median of the runs. Goal:
under 5 s. It prints the time per rule too, so a slow rule shows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

GOAL_SECONDS = 5.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fleet", type=Path, default=None)
    args = ap.parse_args()

    import auditlib
    from auditlib.demo import write_fleet
    from auditlib.policy import evaluate, load_policy
    from auditlib.policy.config import build_policy
    from auditlib.policy.rules import RULES

    fleet = args.fleet or REPO / "benchmarks" / f".fleet-policy-{args.images}"
    marker = fleet / ".complete"
    if not marker.exists():
        t0 = time.perf_counter()
        write_fleet(fleet, images=args.images, files_per_image=50)
        marker.write_text("ok\n")
        print(f"made a synthetic fleet of {args.images} images in {fleet} "
              f"({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    data = auditlib.load(fleet)
    print(f"loaded {len(data.scans):,} documents, {len(data.vulnerabilities):,} vulnerabilities, "
          f"{len(data.packages):,} packages in {time.perf_counter() - t0:.1f} s")
    policy = load_policy(None)
    evaluate(data, policy)  # warm: imports
    times = []
    ev = None
    for _ in range(args.runs):
        t0 = time.perf_counter()
        ev = evaluate(data, policy)
        times.append(time.perf_counter() - t0)
    assert ev is not None
    took = statistics.median(times)
    print(f"evaluate: {len(ev.scores):,} images x {len(policy.enabled())} rules = "
          f"{len(ev.results):,} results in {took:.2f} s (median of {args.runs})")
    per_rule = []
    for rule in RULES:
        one = build_policy({"rules": {r.slug: {"enabled": r.slug == rule.slug} for r in RULES}},
                           RULES, rule.slug)
        t0 = time.perf_counter()
        evaluate(data, one)
        per_rule.append((time.perf_counter() - t0, rule.slug))
    print("per rule (each alone, with the shared setup): " + ", ".join(
        f"{slug} {t:.2f} s" for t, slug in sorted(per_rule, reverse=True)))
    verdict = "PASS" if took < GOAL_SECONDS else "FAIL"
    print(f"GOAL evaluate 1,000 images in under {GOAL_SECONDS:.0f} s: {verdict} ({took:.2f} s)")


if __name__ == "__main__":
    main()
