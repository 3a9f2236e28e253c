"""Ingest benchmark (design.md section 8): auditlib.load against orjson, format by format, on
documents shaped as the real tools write them.

    python benchmarks/ingest.py [--images N] [--fleet DIR] [--repeat R]

Makes (or reuses) a fleet of N images: per image a Trivy 0.76 JSON report and a Syft 1.18 JSON
SBOM from `auditlib.demo` (synthetic, shaped field for field and in proportion as the corpus's real
Debian bookworm documents: 56 owned files per package, about 7 licences per Debian package, every
field Trivy writes on packages and vulnerabilities), and one copy per image of the corpus's real
Grype, CycloneDX and SPDX documents of real images (`corpus_fleet`). Then it prints:

  per format    `auditlib.load` of the format's documents, with one worker and with its default
                workers, against `orjson.loads` of the same bytes (each in a fresh process,
                imports excluded, median of R runs, wall and CPU time); goal <= 0.5x for every
                format;
  stages        where the time goes: per format, the CPU time of decoding the top level,
                parsing (typed decode and rows) and building the tables, against orjson's;
  floor         what the goal leaves once a load has read, hashed and decoded its files: per
                format, the CPU time of the read, the sha256 and the leanest typed decode
                against orjson's, and the microseconds per record left for rows and tables
                (`ingest_floor.py`; printed only when asked: `--sections floor`);
  first load    `auditlib.load(one Trivy report of about 1 MB)` in a fresh process that has
                imported numpy, pandas and auditlib, as an analyst's notebook has (median of 5);
                goal < 0.1 s for that call, with the imports printed beside it;
  fleet         the design's figure on the Trivy and Syft documents together: orjson, orjson +
                `pandas.json_normalize`, `auditlib.load` (default workers and one worker), peak
                RSS; goals auditlib <= 0.5x orjson, peak RSS < 2048 MB.

It always runs to the end and exits 0: a goal it misses is a FAIL line, not an error. A goal is
never passed on auditlib rows that are missing or on files that gave an error.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_fleet import CORPUS, CORPUS_FORMATS, write_corpus_copies  # noqa: E402

GOAL_RATIO = 0.5
GOAL_RSS_MB = 2048.0
GOAL_FIRST_LOAD_S = 0.1
FILES_PER_PACKAGE = 56
"""Owned files per package: the corpus's Syft SBOM of Debian bookworm lists 4,962 for 88."""
STAGE_DOCS = 50
"""The stages are timed on a format's first this many documents (three times each, in memory)..."""
STAGE_BYTES = 200_000_000
"""... or on fewer, as many as fit in this many bytes (at least one)."""
FIRST_LOAD_SIZE = 1_000_000
"""The first-load figure reads the fleet's Trivy report nearest this size."""
MARKER = ".bench-fleet.json"
"""Written in a folder this script generated, with the parameters it was generated with."""
LAYOUT = 2
"""Version of the fleet's layout (2: `trivy/`, `syft/`, `derived/<format>/`)."""
APPROACHES = ("orjson", "normalize", "auditlib", "auditlib1")
LABELS = {"orjson": "(a) orjson.loads", "normalize": "(b) orjson + json_normalize",
          "auditlib": "(c) auditlib.load", "auditlib1": "(d) auditlib.load(workers=1)"}


def _documents(folders: list[Path]) -> list[Path]:
    """Return the JSON documents under `folders` (hidden files and folders left out), sorted."""
    out: list[Path] = []
    for folder in folders:
        out += sorted(p for p in folder.rglob("*.json")
                      if not any(part.startswith(".") for part in p.relative_to(folder).parts))
    return out


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # bytes on macOS


def _cpu() -> float:
    """Return the CPU seconds of this process (all its threads) and its waited-for children."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


# --- children: each runs in its own process and prints one RESULT line --------------------------

def _child_orjson(folders: list[Path]) -> Callable[[], dict[str, Any]]:
    import orjson

    def run() -> dict[str, Any]:
        for path in _documents(folders):
            orjson.loads(path.read_bytes())
        return {"rows": {}}
    return run


def _child_normalize(folders: list[Path]) -> Callable[[], dict[str, Any]]:
    import orjson
    import pandas as pd

    def run() -> dict[str, Any]:
        vulns: list[pd.DataFrame] = []
        trivy_pkgs: list[pd.DataFrame] = []
        syft_pkgs: list[pd.DataFrame] = []
        for path in _documents(folders):
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
    return run


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


def _child_auditlib(folders: list[Path], workers: int | None = None, *, rss: bool = True
                    ) -> Callable[[], dict[str, Any]]:
    """Return the run of `auditlib.load`; with `rss`, sampling the process tree's memory (a
    thread that reads /proc ten times a second: the fleet table's peak RSS, not free of cost)."""
    import threading

    import auditlib
    from auditlib.ingest.documents import find_files
    from auditlib.ingest.fanout import auto_workers

    def run() -> dict[str, Any]:
        # auditlib reads a large fleet on several worker processes: sample the memory of the
        # whole process tree, so the figure is what the machine needs, not just this process.
        peak = [0.0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                peak[0] = max(peak[0], _tree_rss_mb(os.getpid()))

        used = auto_workers(list(find_files(*folders))) if workers is None else workers
        sampler = threading.Thread(target=sample, daemon=True)
        if rss:
            sampler.start()
        data = auditlib.load(*folders, workers=workers)
        done.set()
        if rss:
            sampler.join()
        errors = data.load_errors[data.load_errors["level"] == "error"]
        first = str(errors["reason"].iloc[0]) if len(errors) else None
        return {"rows": {name: len(df) for name, df in data.tables().items()},
                "errors": len(errors), "first_error": first, "tree_peak_rss_mb": peak[0],
                "workers": used}
    return run


def _stage_documents(folders: list[Path]) -> list[Path]:
    """Return the documents the stages and the floor are timed on: the first `STAGE_DOCS`, or
    as many as fit in `STAGE_BYTES` (at least one)."""
    paths: list[Path] = []
    total = 0
    for path in _documents(folders)[:STAGE_DOCS]:
        if paths and total + path.stat().st_size > STAGE_BYTES:
            break
        paths.append(path)
        total += path.stat().st_size
    return paths


def _child_stages(folders: list[Path]) -> Callable[[], dict[str, Any]]:
    """Return a run that times, in this process and on CPU time (best of 3), each stage of
    `auditlib.load` on the documents against `orjson.loads` of their bytes: decoding the top
    level, parsing (the parser's typed decode and its rows), and turning the rows into tables."""
    from datetime import UTC, datetime

    import orjson
    from ingest_floor import best_cpu

    from auditlib.ingest.accumulate import Accumulator
    from auditlib.ingest.documents import decode_document, read_file
    from auditlib.ingest.reader import ingest_output
    from auditlib.parsers import parse_document

    raws = [read_file(p) for p in _stage_documents(folders)]
    # Each stage is timed by `best_cpu`, the cyclic collector paused, as `auditlib.load` reads
    # (`reader.load_files`):
    # with it running, every stage that keeps what it made (and orjson's objects) pays for
    # collections that rescan all of it, which load does not; that once doubled orjson's figure.

    def orjson_each() -> None:
        for r in raws:  # each document's objects dropped before the next, as load drops them
            orjson.loads(r.data)

    def run() -> dict[str, Any]:
        docs = [decode_document(r) for r in raws]
        outs = [parse_document(d) for d in docs]

        def tables() -> None:
            acc = Accumulator(datetime.now(UTC))
            for (parser, version, out), raw in zip(outs, raws, strict=True):
                ingest_output(acc, out, parser.format_id, version, raw.scan_id, raw.size)
            acc.build()

        return {"rows": {}, "stages": {
            "orjson": best_cpu(orjson_each),
            "decode": best_cpu(lambda: [decode_document(r) for r in raws]),
            "parse": best_cpu(lambda: [parse_document(d) for d in docs]),
            "tables": best_cpu(tables)}}
    return run


CHILDREN: dict[str, Callable[[list[Path]], Callable[[], dict[str, Any]]]] = {
    "stages": _child_stages,
    "orjson": _child_orjson, "normalize": _child_normalize, "auditlib": _child_auditlib,
    "auditlib1": lambda folders: _child_auditlib(folders, workers=1),
    "load": lambda folders: _child_auditlib(folders, rss=False),
    "load1": lambda folders: _child_auditlib(folders, workers=1, rss=False)}
"""The fleet table's approaches, and `load`/`load1`: auditlib without sampling memory."""


def run_child(name: str, folders: list[Path]) -> None:
    """Run approach `name` over `folders` and print `RESULT <json>`: wall and CPU seconds (its
    imports done before the clock starts), bytes, rows, peak RSS."""
    nbytes = sum(p.stat().st_size for p in _documents(folders))
    run = CHILDREN[name](folders)  # imports what the approach needs
    cpu, start = _cpu(), time.perf_counter()
    out = run()
    out.update(seconds=time.perf_counter() - start, cpu=_cpu() - cpu, bytes=nbytes)
    # The larger of this process's own peak and the sampled peak of its whole process tree.
    out["peak_rss_mb"] = max(_peak_rss_mb(), out.pop("tree_peak_rss_mb", 0.0))
    print("RESULT " + json.dumps(out), flush=True)


_FIRST_LOAD = """\
import sys, time
t0 = time.perf_counter()
import numpy, pandas
t1 = time.perf_counter()
import auditlib
t2 = time.perf_counter()
c2 = time.process_time()
data = auditlib.load(sys.argv[1], workers=1)
t3 = time.perf_counter()
c3 = time.process_time()
errors = int((data.load_errors["level"] == "error").sum())
print("RESULT", t3 - t0, t1 - t0, t2 - t1, t3 - t2, len(data.vulnerabilities), errors, c3 - c2)
"""
"""Timed from its first statement: the interpreter's own start (and `site`) is not counted;
numpy and pandas are imported first only to say how much of `import auditlib` they are."""


# --- parent ---------------------------------------------------------------------------------------

def _params(args: argparse.Namespace) -> dict[str, Any]:
    return {"layout": LAYOUT, "images": args.images, "seed": args.seed, "vulns": args.vulns,
            "packages": args.packages, "files": args.packages * args.files_per_package,
            "corpus": [f.source for f in CORPUS_FORMATS]}


def _fleet_ready(fleet: Path, params: dict[str, Any]) -> bool | None:
    """Return True if `fleet` holds the wanted fleet, False if it must be (re)made, None if it is
    a folder this script did not make (it is then used as it is)."""
    marker = fleet / MARKER
    if marker.is_file():
        try:
            return bool(json.loads(marker.read_text()) == params)
        except ValueError:
            return False
    if fleet.is_dir() and any(fleet.iterdir()):
        return None
    return False


def ensure_fleet(fleet: Path, params: dict[str, Any], regenerate: bool) -> str:
    """Make the fleet in `fleet` unless it is already there; return what was done, to report."""
    state = _fleet_ready(fleet, params)
    if state is None:
        return "an existing folder, used as it is (not made by this script)"
    if state and not regenerate:
        return "cached"
    from auditlib.demo import write_fleet

    for sub in ("trivy", "syft", "derived"):  # only ever in a folder this script made (or empty)
        shutil.rmtree(fleet / sub, ignore_errors=True)
    (fleet / MARKER).unlink(missing_ok=True)
    start = time.perf_counter()
    info = write_fleet(fleet, images=params["images"], seed=params["seed"],
                       vulns_per_image=params["vulns"], packages_per_image=params["packages"],
                       files_per_image=params["files"])
    total = info.total_bytes
    if CORPUS.is_dir():
        for fmt in CORPUS_FORMATS:
            total += write_corpus_copies(fleet / "derived" / fmt.folder, fmt, params["images"])
    (fleet / MARKER).write_text(json.dumps(params))
    (fleet / ".gitignore").write_text("*\n")
    return f"generated in {time.perf_counter() - start:.1f} s ({total / 1e6:,.1f} MB)"


def _spawn(name: str, folders: list[Path]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", name,
                           "--docs", *map(str, folders)],
                          capture_output=True, text=True, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[7:])
            return result
    tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
    return {"failed": f"exit code {proc.returncode}: {tail or 'no output'}"}


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _median_result(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the first finished run with the median wall and CPU seconds of all that finished."""
    done = [r for r in runs if "seconds" in r]
    if not done:
        return runs[0]
    out = dict(done[0])
    out["seconds"] = statistics.median(r["seconds"] for r in done)
    out["cpu"] = statistics.median(r["cpu"] for r in done)
    out["runs"] = len(done)
    return out


def _formats(fleet: Path) -> list[tuple[str, Path]]:
    out = [("trivy-json (Trivy 0.76, demo)", fleet / "trivy"),
           ("syft-json (Syft 1.18, demo)", fleet / "syft")]
    out += [(f.label, fleet / "derived" / f.folder) for f in CORPUS_FORMATS
            if (fleet / "derived" / f.folder).is_dir()]
    return out


def _missing(res: dict[str, Any], want: tuple[str, ...]) -> str:
    """Return why auditlib's figure cannot count (did not finish, rows missing, errors), or ''."""
    if "rows" not in res:
        return "auditlib did not finish: " + str(res.get("failed", "?"))[:160]
    why = [f"0 {t} rows" for t in want if not res["rows"].get(t)]
    if res.get("errors"):
        why.append(f"{res['errors']} files gave an error, e.g. {str(res['first_error'])[:120]!r}")
    return "; ".join(why)


_WANT = {"trivy": ("vulnerabilities", "packages"), "syft": ("packages",),
         "grype": ("vulnerabilities",)}


def per_format(fleet: Path, repeat: int) -> list[str]:
    """Time each format and print its lines; return the formats that missed the goal."""
    from auditlib.ingest.documents import find_files
    from auditlib.ingest.fanout import auto_workers

    print(f"per format: auditlib.load against orjson.loads of the same bytes; each run in a fresh "
          f"process, imports done before the clock starts; median of {repeat} runs")
    print(f"{'format':<32}{'docs':>6}{'MB':>9}{'orjson s':>10}{'workers':>9}{'auditlib s':>12}"
          f"{'ratio':>7}{'cpu ratio':>11}  goal <= {GOAL_RATIO}x")
    failed: list[str] = []
    for label, folder in _formats(fleet):
        docs = _documents([folder])
        default = auto_workers(list(find_files(folder)))
        runs: dict[str, list[dict[str, Any]]] = {"orjson": [], "load1": [], "load": []}
        for _ in range(repeat):  # interleaved, so that a busy moment hits every approach alike
            for name in runs:
                if name == "load" and default == 1:
                    continue  # the default is one worker here: the same run as workers=1
                runs[name].append(_spawn(name, [folder]))
        base = _median_result(runs["orjson"])
        lines = [(1, _median_result(runs["load1"]))]
        if default > 1:
            lines.append((default, _median_result(runs["load"])))
        nbytes = sum(p.stat().st_size for p in docs)
        want = next((w for k, w in _WANT.items() if folder.name.startswith(k)), ("packages",))
        for workers, res in lines:
            head = f"{label:<32}{len(docs):>6}{nbytes / 1e6:>9.1f}"
            missing = _missing(res, want)
            if "seconds" not in base or missing:
                print(f"{head}{'':>10}{workers:>9}  FAIL ({missing or 'orjson did not finish'})")
                failed.append(label)
                continue
            ratio = res["seconds"] / base["seconds"]
            cpu_ratio = res["cpu"] / base["cpu"] if base["cpu"] > 0 else float("nan")
            verdict = "PASS" if ratio <= GOAL_RATIO else "FAIL"
            if verdict == "FAIL" and label not in failed:
                failed.append(label)
            print(f"{head}{base['seconds']:>10.2f}{workers:>9}{res['seconds']:>12.2f}"
                  f"{ratio:>7.2f}{cpu_ratio:>11.2f}  {verdict}")
    print(f"GOAL every format <= {GOAL_RATIO}x orjson: "
          + ("PASS" if not failed else f"FAIL ({', '.join(failed)})"))
    return failed


def stages(fleet: Path) -> None:
    """Print, per format, the CPU time of each stage of a load against orjson's (where it goes)."""
    print("where the time goes: CPU seconds of each stage of auditlib.load (workers=1) against "
          f"orjson.loads of the same bytes, in one process, on each format's first {STAGE_DOCS} "
          f"documents (or as many as fit in {STAGE_BYTES / 1e6:.0f} MB), best of 3; a load is the "
          "sum of the stages plus reading and hashing the files")
    print(f"{'format':<32}{'orjson s':>10}{'decode':>9}{'parse':>9}{'tables':>9}{'sum':>9}"
          "  (ratios to orjson; parse = the parser's typed decode and its rows)")
    for label, folder in _formats(fleet):
        res = _spawn("stages", [folder])
        st = res.get("stages")
        if not st:
            print(f"{label:<32}  did not finish: {str(res.get('failed', '?'))[:120]}")
            continue
        base = st["orjson"] or float("nan")
        parts = [st[k] / base for k in ("decode", "parse", "tables")]
        print(f"{label:<32}{st['orjson']:>10.3f}" + "".join(f"{r:>8.2f}x" for r in parts)
              + f"{sum(parts):>8.2f}x")


def floor(fleet: Path) -> None:
    """Print, per format, the floor under a load and what the goal leaves per record
    (`ingest_floor.py`), on the same documents as the stages."""
    from ingest_floor import HEADER, floor_line

    print("the floor: CPU seconds of reading, hashing (sha256) and the leanest typed decode "
          "(msgspec, a record's key fields only) against orjson.loads of the same bytes, in one "
          f"process, on each format's first {STAGE_DOCS} documents (or as many as fit in "
          f"{STAGE_BYTES / 1e6:.0f} MB), best of 3; wall = read + the longer of hash and decode "
          f"(hashed on another core), cpu = their sum; us/record = what the goal ({GOAL_RATIO}x "
          "orjson's time) leaves a record's rows and tables after the wall floor")
    print(HEADER)
    for label, folder in _formats(fleet):
        paths = _stage_documents([folder])
        if paths:
            print(floor_line(label, paths, GOAL_RATIO))


def first_load(fleet: Path, runs: int = 5) -> None:
    """Time the first `auditlib.load(one ~1 MB Trivy report)` in fresh processes (the goal),
    and the imports of numpy, pandas and auditlib before it (printed beside it)."""
    trivy = _documents([fleet / "trivy"])
    if not trivy:
        print("first load: FAIL (no Trivy report in the fleet)")
        return
    path = min(trivy, key=lambda p: abs(p.stat().st_size - FIRST_LOAD_SIZE))
    results = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", _FIRST_LOAD, str(path)],
                              capture_output=True, text=True, check=False)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            print(f"first load: FAIL (exit code {proc.returncode}: {tail})")
            return
        results.append([float(x) for x in line.split()[1:]])
    total, deps, own, load, vulns, errors, cpu = (statistics.median(r[i] for r in results)
                                                  for i in range(7))
    print(f"first load: `auditlib.load(<{path.stat().st_size / 1e6:.2f} MB Trivy report>, "
          f"workers=1)`, the first call in a fresh process that has imported numpy, pandas and "
          f"auditlib (as an analyst's notebook has), median of {runs}: {load:.3f} s "
          f"(CPU {cpu:.3f} s, all threads; {vulns:,.0f} vulnerabilities); before it, import "
          f"numpy+pandas {deps:.3f} s + import auditlib {own:.3f} s (interpreter start "
          f"excluded): {total:.3f} s from the first statement")
    verdict = "PASS" if load < GOAL_FIRST_LOAD_S and not errors else "FAIL"
    note = f"; {errors:.0f} errors" if errors else ""
    print(f"GOAL first load (the load call) < {GOAL_FIRST_LOAD_S} s: {verdict} ({load:.3f} s; "
          f"with the imports {total:.3f} s{note})")


def _table_rows(name: str, res: dict[str, Any]) -> int | None:
    rows = res.get("rows") or {}
    if name == "orjson":
        return None
    return int(rows.get("vulnerabilities", 0)) + int(rows.get("packages", 0))


def fleet_table(fleet: Path) -> None:
    """Time the four approaches on the Trivy and Syft documents together; print the table,
    the ratios and the goal lines (design.md section 8)."""
    folders = [fleet / "trivy", fleet / "syft"]
    results = {}
    for name in APPROACHES:
        print(f"running {LABELS[name]} ...", flush=True)
        results[name] = _spawn(name, folders)
    docs = _documents(folders)
    sizes = {kind: [p.stat().st_size for p in docs if p.parent.name == kind]
             for kind in ("trivy", "syft")}
    print(f"fleet: {len(docs)} documents ({len(sizes['trivy'])} Trivy, {len(sizes['syft'])} "
          f"Syft), {_mb(sum(sizes['trivy']) + sum(sizes['syft']))} (Trivy "
          f"{_mb(sum(sizes['trivy']))}, Syft {_mb(sum(sizes['syft']))}); one run each")
    norm, aud = results["normalize"], results["auditlib"]
    if "rows" in norm:
        r = norm["rows"]
        print(f"rows (json_normalize): vulnerabilities {r['vulnerabilities']:,}; packages "
              f"{r['packages']:,} (Trivy {r['trivy_packages']:,} + Syft {r['syft_artifacts']:,})")
    if "rows" in aud:
        shown = ", ".join(f"{k} {v:,}" for k, v in aud["rows"].items() if v)
        print(f"rows (auditlib):       {shown}; files that gave an error: {aud['errors']}")
    print(f"{'approach':<30}{'seconds':>9}{'cpu s':>9}{'MB/s':>9}{'rows':>11}{'rows/s':>12}"
          f"{'peak RSS MB':>13}")
    for name in APPROACHES:
        res = results[name]
        if "failed" in res:
            print(f"{LABELS[name]:<30} FAILED ({res['failed']})")
            continue
        secs, rows = res["seconds"], _table_rows(name, res)
        rate = f"{rows / secs:,.0f}" if rows is not None and secs > 0 else "-"
        print(f"{LABELS[name]:<30}{secs:>9.2f}{res['cpu']:>9.2f}{res['bytes'] / 1e6 / secs:>9.1f}"
              f"{'-' if rows is None else f'{rows:,}':>11}{rate:>12}{res['peak_rss_mb']:>13.0f}")
    if "workers" in aud:
        print(f"((c) read with {aud['workers']} worker process(es) on {os.cpu_count()} cores, "
              "as auditlib.load does by default for large inputs; (d) is one process (plus "
              "threads that read and hash files); (a) and (b) use one core; auditlib's peak RSS "
              "and CPU time are of its whole process tree)")
    base, ok = results["orjson"], all("seconds" in results[n] for n in APPROACHES)
    one = results["auditlib1"]
    for label, res in (("auditlib(workers=1) / orjson:  ", one), ("auditlib / orjson:             ",
                                                                   aud),
                       ("auditlib / json_normalize:     ", None)):
        if not ok:
            print(f"ratio {label}n/a")
        elif res is None:
            print(f"ratio {label}{aud['seconds'] / norm['seconds']:.2f}")
        else:
            print(f"ratio {label}{res['seconds'] / base['seconds']:.2f} "
                  f"(cpu {res['cpu'] / base['cpu']:.2f})")
    missing = _missing(aud, ("vulnerabilities", "packages"))
    if not ok:
        print(f"GOAL fleet ingest time <= {GOAL_RATIO} x orjson: FAIL (an approach did not finish)")
    else:
        ratio = aud["seconds"] / base["seconds"]
        verdict = "PASS" if ratio <= GOAL_RATIO and not missing else "FAIL"
        note = f"; {missing}" if missing else ""
        print(f"GOAL fleet ingest time <= {GOAL_RATIO} x orjson: {verdict} "
              f"(ratio {ratio:.2f}{note})")
    if "peak_rss_mb" not in aud:
        print(f"GOAL peak RSS < {GOAL_RSS_MB:.0f} MB: FAIL (auditlib did not finish)")
    else:
        verdict = "PASS" if aud["peak_rss_mb"] < GOAL_RSS_MB and not missing else "FAIL"
        note = f"; {missing}" if missing else ""
        rss = aud["peak_rss_mb"]
        print(f"GOAL peak RSS < {GOAL_RSS_MB:.0f} MB: {verdict} ({rss:.0f} MB{note})")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, make or reuse the fleet, and print the sections asked for."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=200, help="images in the fleet (default 200)")
    ap.add_argument("--fleet", type=Path, help="fleet folder (default benchmarks/.fleet-<N>)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--vulns", type=int, default=300, help="vulnerabilities per image (about)")
    ap.add_argument("--packages", type=int, default=400, help="packages per image (about)")
    ap.add_argument("--files-per-package", type=int, default=FILES_PER_PACKAGE,
                    help=f"files each package owns, on average (default {FILES_PER_PACKAGE})")
    ap.add_argument("--repeat", type=int, default=3, help="runs per format (median; default 3)")
    ap.add_argument("--sections", default="formats,stages,first,fleet",
                    help="what to print: formats, stages, floor, first, fleet (all but floor)")
    ap.add_argument("--regenerate", action="store_true", help="make the fleet again even if cached")
    ap.add_argument("--child", choices=list(CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument("--docs", type=Path, nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        run_child(args.child, args.docs)
        return 0
    fleet: Path = args.fleet or Path(__file__).resolve().parent / f".fleet-{args.images}"
    sections = set(args.sections.split(","))
    print(f"auditlib ingest benchmark: {args.images} images (design.md section 8)", flush=True)
    how = ensure_fleet(fleet, _params(args), args.regenerate)
    if not CORPUS.is_dir():
        how += f"; no corpus at {CORPUS}: Grype, CycloneDX and SPDX left out"
    start = time.perf_counter()
    for path in _documents([fleet]):  # warm the page cache, so that no approach pays the disk
        path.read_bytes()
    print(f"fleet: {fleet} ({how}; page cache warmed in {time.perf_counter() - start:.1f} s)")
    print()
    if "formats" in sections:
        per_format(fleet, max(1, args.repeat))
        print()
    if "stages" in sections:
        stages(fleet)
        print()
    if "floor" in sections:
        floor(fleet)
        print()
    if "first" in sections:
        first_load(fleet)
        print()
    if "fleet" in sections:
        fleet_table(fleet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
