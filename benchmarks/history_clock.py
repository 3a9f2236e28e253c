"""The SLA clock over many snapshots (issue 15, cost 1): `auditlib check --store` of a store of
several snapshots, run by a baseline auditlib (the history's vulnerabilities of every snapshot
read into pandas) and by this checkout's (`auditlib.engine.history`: SQL over each file once,
joined to the fixable findings in the engine), back to back, each in its own process.

    python benchmarks/history_clock.py --store PATH [--store PATH ...]
        [--baseline /work/main/.venv/bin/auditlib] [--cap-gb 16] [--as-of 2026-06-01]
        [--only before|after] [--duckdb-memory LIMIT ...]

Prints, per store and command: seconds, peak RSS (from `wait4`'s rusage; a run whose resident
size passes `--cap-gb` is stopped and said so, with the size and time it had reached), the
ratio after/before, `uptime` before each run (the machine is shared), and whether both printed
the same JSON (the assessment's results and summary: the clock changed place, not value).
With `--duckdb-memory 2GB 1GB`, "after" runs once more per limit (`AUDITLIB_DUCKDB_MEMORY`),
each said with its CPU and whether its JSON is the uncapped run's.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AFTER = Path(sys.executable).with_name("auditlib")


def uptime() -> str:
    """Return what `uptime` prints (the load of the shared machine)."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _rss_gb(pid: int) -> float:
    """Return the resident size of process `pid` in GB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return 0.0


def run_check(exe: Path, store: Path, as_of: str, cap_gb: float, out: Path,
              memory: str = "") -> dict:
    """Run `exe check --store store` in its own process, stopped when its resident size passes
    `cap_gb` (`memory`: its AUDITLIB_DUCKDB_MEMORY, "" for DuckDB's own limit).

    Returns:
        seconds, exit status, cpu (user + system seconds), peak_gb (the child's ru_maxrss),
        stopped (the resident size, in
        GB, at which it was stopped; None when it finished).
    """
    argv = [str(exe), "check", "--store", str(store), "--format", "json", "--fail-on", "never",
            "--as-of", as_of]
    stopped: list[float] = []
    err = out.with_suffix(".err")
    actions = [(os.POSIX_SPAWN_OPEN, 1, str(out), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
               (os.POSIX_SPAWN_OPEN, 2, str(err), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    t0 = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "AUDITLIB_DUCKDB_MEMORY"}
    if memory:
        env["AUDITLIB_DUCKDB_MEMORY"] = memory
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.5):
            rss = _rss_gb(pid)
            if rss > cap_gb:
                stopped.append(rss)
                os.kill(pid, signal.SIGKILL)
                return

    threading.Thread(target=watch, daemon=True).start()
    _, status, usage = os.wait4(pid, 0)
    done.set()
    code = os.waitstatus_to_exitcode(status)
    return {"seconds": time.perf_counter() - t0, "exit": code,
            "cpu": usage.ru_utime + usage.ru_stime,
            "peak_gb": usage.ru_maxrss / 1024**2, "stopped": stopped[0] if stopped else None,
            "error": err.read_text(errors="replace").strip().splitlines()[-2:]
            if code and not stopped else []}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, action="append", required=True)
    p.add_argument("--baseline", type=Path, default=Path("/work/main/.venv/bin/auditlib"),
                   help="the auditlib command measured before (another checkout's)")
    p.add_argument("--cap-gb", type=float, default=16.0)
    p.add_argument("--as-of", default="2026-06-01")
    p.add_argument("--only", choices=("before", "after"), default=None)
    p.add_argument("--duckdb-memory", nargs="*", default=[], metavar="LIMIT",
                   help="run 'after' again under each DuckDB memory limit (2GB, 1GB)")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="auditlib-bench-clock-"))
    runs = [("before", args.baseline, ""), ("after", AFTER, "")]
    runs = [r for r in runs if args.only in (None, r[0])]
    runs += [(f"after {lim}", AFTER, lim) for lim in args.duckdb_memory]
    for store in args.store:
        snaps = sum(1 for _ in (store / "snapshots").glob("*/manifest.json"))
        print(f"{store.name}: {snaps} snapshots", flush=True)
        got: dict[str, dict] = {}
        for name, exe, memory in runs:
            print(f"  {uptime()}", flush=True)
            r = run_check(exe, store, args.as_of, args.cap_gb,
                          work / f"{store.name}-{name.replace(' ', '-')}.json", memory)
            got[name] = r
            if r["stopped"] is not None:
                print(f"  {name:6}: stopped at {r['stopped']:.2f} GB resident after "
                      f"{r['seconds']:.0f} s (cap {args.cap_gb:g} GB)", flush=True)
            else:
                same = ""
                if memory and "after" in got and not r["exit"]:
                    same = "; same JSON as uncapped: " + str(
                        (work / f"{store.name}-after.json").read_bytes()
                        == (work / f"{store.name}-{name.replace(' ', '-')}.json").read_bytes())
                print(f"  {name:6}: {r['seconds']:7.1f} s ({r['cpu']:.1f} s CPU), peak RSS "
                      f"{r['peak_gb']:5.2f} GB, exit {r['exit']} {' '.join(r['error'])}{same}",
                      flush=True)
        b, a = got.get("before"), got.get("after")
        if b and a and b["stopped"] is None and a["stopped"] is None and not b["exit"] | a["exit"]:
            same = (work / f"{store.name}-before.json").read_bytes() == (
                work / f"{store.name}-after.json").read_bytes()
            print(f"  after/before: time {a['seconds'] / b['seconds']:.2f}, peak RSS "
                  f"{a['peak_gb'] / b['peak_gb']:.2f}; same JSON: {same}", flush=True)


if __name__ == "__main__":
    main()
