"""Notification benchmark (issue 18): what the digest of changes costs a run.

    python benchmarks/notify.py [--images 300] [--runs 3]

Makes (or reuses) a synthetic fleet (`auditlib.demo.write_fleet`: a Trivy report and a Syft SBOM
per image), writes it into a fresh store as two snapshots (the first without the Trivy reports of
a tenth of the images, so the second brings new findings), and times, in the same process,
median of the runs:

(a) the run's own assessment: `assess(store)` with its policy results, staleness, end of life and
    summary (what a run reads of it: never every finding, `Assessment.findings`);
(b) what `--notify` adds: the previous run's assessment rebuilt from the store
    (`notify.previous_assessment`) and the digest (`notify.make_digest`) against (a).

It prints both and the ratio (b)/(a). Goal: the digest costs at most one more assessment
(ratio <= 1.5).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

GOAL_RATIO = 1.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    import auditlib
    from auditlib.assess import assess
    from auditlib.demo import write_fleet
    from auditlib.notify import Previous, make_digest, previous_assessment
    from auditlib.policy import load_policy
    from auditlib.store import write_snapshot
    from auditlib.store.manifest import snapshot_infos

    fleet = REPO / "benchmarks" / f".fleet-notify-{args.images}"
    if not (fleet / ".complete").exists():
        write_fleet(fleet, images=args.images, files_per_image=20)
        (fleet / ".complete").write_text("ok\n")
    trivy = sorted((fleet / "trivy").glob("*.json"))
    held_back = set(trivy[: max(1, len(trivy) // 10)])
    store = Path(tempfile.mkdtemp(prefix="auditlib-bench-notify-"))
    try:
        first = [p for p in trivy if p not in held_back]
        write_snapshot(store, auditlib.load(*first, fleet / "syft"),
                       sources=[str(p) for p in first] + [str(fleet / "syft")])
        write_snapshot(store, auditlib.load(*sorted(held_back)),
                       sources=[str(p) for p in sorted(held_back)])
        infos = snapshot_infos(store)
        policy = load_policy(None)
        import pandas as pd

        now = pd.Timestamp.now(tz="UTC")
        prev = Previous(infos[0].snapshot_id, now - pd.Timedelta(days=7))
        own, extra = [], []
        digest = None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            a = assess(store, as_of=now, policy=policy)
            _ = (a.evaluation, a.staleness, a.eol, a.summary())
            t1 = time.perf_counter()
            before = previous_assessment(store, prev, policy, a.view.first_seen_fixed)
            digest = make_digest(before, a, previous=prev, store=str(store), page=None)
            t2 = time.perf_counter()
            own.append(t1 - t0)
            extra.append(t2 - t1)
        assert digest is not None
        a_s, b_s = statistics.median(own), statistics.median(extra)
        print(f"fleet: {args.images} images, {len(held_back)} of them first scanned in the "
              f"second snapshot")
        print(f"(a) the run's assessment: {a_s:.2f} s (median of {args.runs})")
        print(f"(b) --notify: previous assessment + digest: {b_s:.2f} s (median of {args.runs}); "
              "digest counts: " + ", ".join(f"{k} {v:,}" for k, v in digest.counts.items()))
        ratio = b_s / a_s
        verdict = "PASS" if ratio <= GOAL_RATIO else "FAIL"
        print(f"ratio (b)/(a): {ratio:.2f}")
        print(f"GOAL the digest costs at most {GOAL_RATIO}x the run's assessment: {verdict}")
    finally:
        shutil.rmtree(store, ignore_errors=True)


if __name__ == "__main__":
    main()
