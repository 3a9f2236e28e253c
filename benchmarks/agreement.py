"""Scanner agreement benchmark (issue 16): compare two scanners over a fleet.

    python benchmarks/agreement.py [--images 1000] [--vulns 300] [--runs 3]

Builds in memory a synthetic two-scanner fleet (the tables, not documents; nothing here is real
data): per image `--vulns` vulnerability rows from a "trivy" document and the same findings from
a "grype" document, of which 10% are left out, 5% get another severity, 5% another fixed
version, and 10% are reported as a GHSA whose CVE is in `vulnerability_aliases`. It times
`scanner_agreement` (median of the runs) and, as the baseline measured in the same run on the
same tables, `fixable_findings` (the one finding definition every page already computes), and
prints the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))


def fleet(images: int, vulns: int, seed: int = 16) -> object:
    """Return `AuditData` of the synthetic two-scanner fleet (module docstring)."""
    from auditlib.data import AuditData
    from auditlib.tables import SCANS, VULNERABILITIES, VULNERABILITY_ALIASES, frame

    rng = np.random.default_rng(seed)
    sev = np.array(["low", "medium", "high", "critical"])
    image_ids = [f"sha256:{i:064x}" for i in range(images)]
    scan_rows: dict[str, list[object]] = {"scan_id": [], "tool": [], "format": [],
                                          "image_id": [], "vulnerability_scan": []}
    cols: dict[str, list[object]] = {c: [] for c in (
        "scan_id", "image_id", "vuln_id", "pkg_name", "pkg_version", "purl", "package_type",
        "severity", "fix_state", "fixed_version", "target")}
    aliases: dict[str, list[object]] = {"scan_id": [], "image_id": [], "vuln_id": [],
                                        "alias": []}
    for n, iid in enumerate(image_ids):
        pkgs = rng.integers(0, 400, vulns)
        cves = rng.integers(2000, 9999, vulns)
        sevs = sev[rng.integers(0, 4, vulns)]
        for tool in ("trivy", "grype"):
            sid = f"sha256:{tool}{n:058x}"
            for k, v in (("scan_id", sid), ("tool", tool), ("format", f"{tool}-json"),
                         ("image_id", iid), ("vulnerability_scan", True)):
                scan_rows[k].append(v)
            keep = rng.random(vulns) > (0.1 if tool == "grype" else 0.0)
            for j in np.flatnonzero(keep):
                vid = f"CVE-2024-{cves[j]}"
                s = sevs[j]
                fix = f"1.{pkgs[j]}.1-r1"
                if tool == "grype":
                    r = rng.random()
                    if r < 0.05:
                        s = sev[(list(sev).index(s) + 1) % 4]
                    elif r < 0.10:
                        fix = f"1.{pkgs[j]}.2-r0"
                    elif r < 0.20:
                        ghsa = f"GHSA-{cves[j]:04d}-{j:04d}-abcd"
                        for k, v in (("scan_id", sid), ("image_id", iid), ("vuln_id", ghsa),
                                     ("alias", vid)):
                            aliases[k].append(v)
                        vid = ghsa
                name = f"pkg{pkgs[j]}"
                for k, v in (("scan_id", sid), ("image_id", iid), ("vuln_id", vid),
                             ("pkg_name", name), ("pkg_version", f"1.{pkgs[j]}.0-r0"),
                             ("purl", f"pkg:apk/alpine/{name}@1.{pkgs[j]}.0-r0"),
                             ("package_type", "apk"), ("severity", s), ("fix_state", "fixed"),
                             ("fixed_version", fix), ("target", "image")):
                    cols[k].append(v)
    return replace(
        AuditData(),
        scans=frame(SCANS, scan_rows, len(scan_rows["scan_id"])),
        vulnerabilities=frame(VULNERABILITIES, cols, len(cols["scan_id"])),
        vulnerability_aliases=frame(VULNERABILITY_ALIASES, aliases, len(aliases["scan_id"])),
    )


def _median(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--vulns", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from auditlib.fleet.agreement_summary import agreement_of
    from auditlib.fleet.findings import fixable_findings

    t0 = time.perf_counter()
    data = fleet(args.images, args.vulns)
    rows = len(data.vulnerabilities)  # type: ignore[attr-defined]
    print(f"synthetic fleet (not real data): {args.images:,} images, {rows:,} vulnerability rows "
          f"of two scanners, made in {time.perf_counter() - t0:.1f} s")
    as_of = pd.Timestamp("2026-12-01", tz="UTC")
    base = _median(lambda: fixable_findings(data, as_of).rows(), args.runs)  # type: ignore[arg-type]
    agree = _median(lambda: agreement_of(data), args.runs)  # type: ignore[arg-type]
    ag = agreement_of(data)  # type: ignore[arg-type]
    print(f"fixable_findings (baseline): {base:.2f} s")
    print(f"scanner_agreement:           {agree:.2f} s  ({len(ag.table):,} findings compared)")
    print(f"ratio agreement / baseline:  {agree / base:.1f}x")
    print(ag.sentences()[0])


if __name__ == "__main__":
    main()
