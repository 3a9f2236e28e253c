"""Ingest benchmark (design.md section 8): auditlib.load against orjson and pandas.json_normalize.

    python benchmarks/ingest.py [--images N] [--fleet DIR]

Makes (or reuses) a synthetic fleet of N images, a Trivy JSON report and a Syft JSON SBOM each,
then times three approaches over the same files, each in a fresh subprocess so that peak memory is
per approach:

  (a) orjson      read every file and `orjson.loads` it (the baseline: decoding alone);
  (b) normalize   `orjson.loads` + `pandas.json_normalize` into a vulnerability table (Trivy
                  `Results[].Vulnerabilities`) and a package table (Trivy `Results[].Packages`
                  and Syft `artifacts`);
  (c) auditlib    `auditlib.load(fleet)`.

It prints seconds, MB/s, rows, rows/s and peak RSS of each, the ratios, and PASS/FAIL for the
goals (auditlib at most 0.5x orjson's time, peak RSS under 2048 MB). It always runs to the end and
exits 0: a goal it misses is a FAIL line, not an error. A goal is never passed on auditlib rows
that are missing (an unfinished parser gives 0 rows, and the output says so).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

GOAL_RATIO = 0.5
GOAL_RSS_MB = 2048.0
MARKER = ".bench-fleet.json"
"""Written in a folder this script generated, with the parameters it was generated with."""
APPROACHES = ("orjson", "normalize", "auditlib", "auditlib1")
LABELS = {"orjson": "(a) orjson.loads", "normalize": "(b) orjson + json_normalize",
          "auditlib": "(c) auditlib.load", "auditlib1": "(d) auditlib.load(workers=1)"}


def _documents(fleet: Path) -> list[Path]:
    """Return the JSON documents of the fleet (hidden files and folders left out), sorted."""
    return sorted(p for p in fleet.rglob("*.json")
                  if not any(part.startswith(".") for part in p.relative_to(fleet).parts))


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # bytes on macOS


# --- children: each runs in its own process and prints one RESULT line --------------------------

def _child_orjson(fleet: Path) -> dict[str, Any]:
    import orjson

    for path in _documents(fleet):
        orjson.loads(path.read_bytes())
    return {"rows": {}}


def _child_normalize(fleet: Path) -> dict[str, Any]:
    import orjson
    import pandas as pd

    vulns: list[pd.DataFrame] = []
    trivy_pkgs: list[pd.DataFrame] = []
    syft_pkgs: list[pd.DataFrame] = []
    for path in _documents(fleet):
        doc = orjson.loads(path.read_bytes())
        if not isinstance(doc, dict):
            continue
        for result in doc.get("Results") or []:
            for key, out in (("Vulnerabilities", vulns), ("Packages", trivy_pkgs)):
                if result.get(key):
                    out.append(pd.json_normalize(result[key]).assign(
                        Target=result.get("Target"), source=str(path)))
        if doc.get("artifacts"):
            syft_pkgs.append(pd.json_normalize(doc["artifacts"]).assign(source=str(path)))
    vuln_table = pd.concat(vulns, ignore_index=True) if vulns else pd.DataFrame()
    pkg_frames = trivy_pkgs + syft_pkgs
    pkg_table = pd.concat(pkg_frames, ignore_index=True) if pkg_frames else pd.DataFrame()
    return {"rows": {"vulnerabilities": len(vuln_table), "packages": len(pkg_table),
                     "trivy_packages": sum(map(len, trivy_pkgs)),
                     "syft_artifacts": sum(map(len, syft_pkgs))}}


def _tree_rss_mb(root: int) -> float:
    """Return the summed RSS of process `root` and all its descendants (from /proc), in MB."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return sum(rss.get(p, 0) for p in tree) / 1024 / 1024


def _child_auditlib(fleet: Path, workers: int | None = None) -> dict[str, Any]:
    import threading

    import auditlib

    # auditlib reads a large fleet on several worker processes: sample the memory of the whole
    # process tree, so the figure is what the machine needs, not just this process.
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], _tree_rss_mb(os.getpid()))

    from auditlib.ingest.documents import find_files
    from auditlib.ingest.fanout import auto_workers

    used = auto_workers(list(find_files(fleet))) if workers is None else workers
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    data = auditlib.load(fleet, workers=workers)
    done.set()
    sampler.join()
    errors = data.load_errors[data.load_errors["level"] == "error"]
    first = str(errors["reason"].iloc[0]) if len(errors) else None
    return {"rows": {name: len(df) for name, df in data.tables().items()},
            "errors": len(errors), "first_error": first, "tree_peak_rss_mb": peak[0],
            "workers": used}


CHILDREN: dict[str, Callable[[Path], dict[str, Any]]] = {
    "orjson": _child_orjson, "normalize": _child_normalize, "auditlib": _child_auditlib,
    "auditlib1": lambda fleet: _child_auditlib(fleet, workers=1)}


def run_child(name: str, fleet: Path) -> None:
    """Run approach `name` over `fleet` and print `RESULT <json>` (seconds, bytes, rows, RSS)."""
    nbytes = sum(p.stat().st_size for p in _documents(fleet))
    start = time.perf_counter()
    out = CHILDREN[name](fleet)
    out.update(seconds=time.perf_counter() - start, bytes=nbytes)
    # The larger of this process's own peak and the sampled peak of its whole process tree.
    out["peak_rss_mb"] = max(_peak_rss_mb(), out.pop("tree_peak_rss_mb", 0.0))
    print("RESULT " + json.dumps(out), flush=True)


# --- parent ---------------------------------------------------------------------------------------

def _fleet_ready(fleet: Path, params: dict[str, int]) -> bool | None:
    """Return whether `fleet` holds the wanted fleet.

    Returns:
        True if it does, False if it must be (re)made, None if it is a folder this script did not
        make (it is then used as it is).
    """
    marker = fleet / MARKER
    if marker.is_file():
        try:
            return bool(json.loads(marker.read_text()) == params)
        except ValueError:
            return False
    if fleet.is_dir() and any(fleet.iterdir()):
        return None
    return False


def ensure_fleet(fleet: Path, params: dict[str, int], regenerate: bool) -> str:
    """Make the fleet in `fleet` unless it is already there; return what was done, to report."""
    state = _fleet_ready(fleet, params)
    if state is None:
        return "an existing folder, used as it is (not made by this script)"
    if state and not regenerate:
        return "cached"
    from auditlib.demo import write_fleet

    for sub in ("trivy", "syft"):  # only ever in a folder this script made (or an empty one)
        shutil.rmtree(fleet / sub, ignore_errors=True)
    start = time.perf_counter()
    info = write_fleet(fleet, images=params["images"], seed=params["seed"],
                       vulns_per_image=params["vulns"], packages_per_image=params["packages"],
                       files_per_image=params["files"])
    (fleet / MARKER).write_text(json.dumps(params))
    (fleet / ".gitignore").write_text("*\n")
    took = time.perf_counter() - start
    return f"generated in {took:.1f} s ({info.total_bytes / 1e6:,.1f} MB)"


def _spawn(name: str, fleet: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", name,
                           "--fleet", str(fleet)], capture_output=True, text=True, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[7:])
            return result
    tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
    return {"failed": f"exit code {proc.returncode}: {tail or 'no output'}"}


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _table_rows(name: str, res: dict[str, Any]) -> int | None:
    rows = res.get("rows") or {}
    if name == "orjson":
        return None
    return int(rows.get("vulnerabilities", 0)) + int(rows.get("packages", 0))


def report(fleet: Path, how: str, results: dict[str, dict[str, Any]]) -> None:
    """Print the data volume, the table of the three approaches, the ratios and the goal lines."""
    docs = _documents(fleet)
    sizes = {kind: [p.stat().st_size for p in docs if p.parent.name == kind]
             for kind in ("trivy", "syft")}
    total = sum(p.stat().st_size for p in docs)
    print(f"fleet: {fleet} ({how})")
    print(f"data:  {len(docs)} documents ({len(sizes['trivy'])} Trivy, {len(sizes['syft'])} Syft),"
          f" {_mb(total)} (Trivy {_mb(sum(sizes['trivy']))}, Syft {_mb(sum(sizes['syft']))})")
    norm, aud = results["normalize"], results["auditlib"]
    if "rows" in norm:
        r = norm["rows"]
        print(f"rows (json_normalize): vulnerabilities {r['vulnerabilities']:,}; packages "
              f"{r['packages']:,} (Trivy {r['trivy_packages']:,} + Syft {r['syft_artifacts']:,})")
    if "rows" in aud:
        shown = ", ".join(f"{k} {v:,}" for k, v in aud["rows"].items())
        print(f"rows (auditlib):       {shown}; files that gave an error: {aud['errors']}")
    print()
    print(f"{'approach':<30}{'seconds':>9}{'MB/s':>9}{'rows':>11}{'rows/s':>12}{'peak RSS MB':>13}")
    for name in APPROACHES:
        res = results[name]
        if "failed" in res:
            print(f"{LABELS[name]:<30} FAILED ({res['failed']})")
            continue
        secs, rows = res["seconds"], _table_rows(name, res)
        rate = f"{rows / secs:,.0f}" if rows is not None and secs > 0 else "-"
        print(f"{LABELS[name]:<30}{secs:>9.2f}{res['bytes'] / 1e6 / secs:>9.1f}"
              f"{'-' if rows is None else f'{rows:,}':>11}{rate:>12}{res['peak_rss_mb']:>13.0f}")
    if "workers" in aud:
        print(f"((c) read with {aud['workers']} worker process(es) on {os.cpu_count()} cores, "
              "as auditlib.load does by default for large inputs; (d) is one process (plus "
              "threads that read and hash files); (a) and (b) use one core; auditlib's peak RSS "
              "is of its whole process tree)")
    one = results.get("auditlib1", {})
    if "seconds" in one and results["orjson"].get("seconds"):
        single = one["seconds"] / results["orjson"]["seconds"]
        print(f"ratio auditlib(workers=1) / orjson: {single:.2f}")
    print()
    base, ok = results["orjson"], all("seconds" in results[n] for n in APPROACHES)
    ratio = aud["seconds"] / base["seconds"] if ok and base["seconds"] > 0 else None
    ratio_n = aud["seconds"] / norm["seconds"] if ok and norm["seconds"] > 0 else None
    print(f"ratio auditlib / orjson:         {'n/a' if ratio is None else f'{ratio:.2f}'}")
    print(f"ratio auditlib / json_normalize: {'n/a' if ratio_n is None else f'{ratio_n:.2f}'}")
    missing = _missing_rows(aud)
    if ratio is None:
        print(f"GOAL ingest time <= {GOAL_RATIO} x orjson: FAIL (an approach did not finish)")
    elif missing:
        print(f"GOAL ingest time <= {GOAL_RATIO} x orjson: FAIL "
              f"(ratio {ratio:.2f} means nothing: {missing})")
    else:
        verdict = "PASS" if ratio <= GOAL_RATIO else "FAIL"
        print(f"GOAL ingest time <= {GOAL_RATIO} x orjson: {verdict} (ratio {ratio:.2f})")
    if "peak_rss_mb" not in aud:
        print(f"GOAL peak RSS < {GOAL_RSS_MB:.0f} MB: FAIL (auditlib did not finish)")
    else:
        verdict = "PASS" if aud["peak_rss_mb"] < GOAL_RSS_MB and not missing else "FAIL"
        note = f"; {missing}" if missing else ""
        rss = aud["peak_rss_mb"]
        print(f"GOAL peak RSS < {GOAL_RSS_MB:.0f} MB: {verdict} ({rss:.0f} MB{note})")


def _missing_rows(aud: dict[str, Any]) -> str:
    """Return why auditlib's figures cannot count (rows missing, files failing), or ''."""
    if "rows" not in aud:
        return "auditlib did not finish"
    rows = aud["rows"]
    why = [f"auditlib gave 0 {t} rows" for t in ("vulnerabilities", "packages") if not rows.get(t)]
    if aud.get("errors"):
        why.append(f"{aud['errors']} files gave an error, e.g. {str(aud['first_error'])[:120]!r}")
    return "; ".join(why) + (" (parsers not implemented yet?)" if why else "")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, make or reuse the fleet, run the three approaches and print the report."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=1000, help="images in the fleet (default 1000)")
    ap.add_argument("--fleet", type=Path, help="fleet folder (default benchmarks/.fleet-<N>)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--vulns", type=int, default=300, help="vulnerabilities per image (about)")
    ap.add_argument("--packages", type=int, default=400, help="packages per image (about)")
    ap.add_argument("--files", type=int, default=8000, help="files per image (Syft's files)")
    ap.add_argument("--regenerate", action="store_true", help="make the fleet again even if cached")
    ap.add_argument("--child", choices=APPROACHES, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    fleet: Path = args.fleet or Path(__file__).resolve().parent / f".fleet-{args.images}"
    if args.child:
        run_child(args.child, fleet)
        return 0
    params = {"images": args.images, "seed": args.seed, "vulns": args.vulns,
              "packages": args.packages, "files": args.files}
    print(f"auditlib ingest benchmark: {args.images} images (design.md section 8)", flush=True)
    how = ensure_fleet(fleet, params, args.regenerate)
    start = time.perf_counter()
    for path in _documents(fleet):  # warm the page cache, so that no approach pays the disk
        path.read_bytes()
    how += f"; page cache warmed in {time.perf_counter() - start:.1f} s"
    results = {}
    for name in APPROACHES:
        print(f"running {LABELS[name]} ...", flush=True)
        results[name] = _spawn(name, fleet)
    print()
    report(fleet, how, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
