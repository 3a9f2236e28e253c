"""The licence queries of an assessment (issue 15, h28a), one by one, on a store: a baseline
auditlib's (another checkout's Python: `--baseline`) and this checkout's, back to back, each in
its own process over the same store.

    python benchmarks/licence_queries.py --store PATH [--store PATH ...]
        [--baseline /work/main/.venv/bin/python] [--only before|after]

Per store and side, in the order an assessment runs them: the kept tables of the licence classes
(`classes`: `image_classes`, `IMAGE_CLASSES`; before it, `package_classes`) and `image_licences`
(`IMAGE_LICENCES`), `LICENCES`, `LICENCES_FLAGGED`
(under the default licence rule's judgement), `LICENCES_CHECKED`, `LICENCE_CLASSES`, and the
compliance page's `LICENCE_RISKS`: wall and CPU seconds (the process's, all DuckDB threads),
the ratio after/before of each, `uptime` before each side (the machine is shared), and whether
both sides gave the same rows (a digest of each result).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

AFTER = Path(sys.executable)
QUERIES = ("classes", "image_licences", "LICENCES", "LICENCES_FLAGGED",
           "LICENCES_CHECKED", "LICENCE_CLASSES", "LICENCE_RISKS")


def uptime() -> str:
    """Return what `uptime` prints (the load of the shared machine)."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _digest(frame: Any) -> str:
    """Return a digest of a result's rows (None for a kept table, which has none to show)."""
    if frame is None:
        return "-"
    text = frame.astype(object).where(frame.notna(), None).to_csv(index=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def child(store: str) -> None:
    """Time each query of `QUERIES` on `store` with the auditlib this Python imports; print one
    JSON object: query -> [wall, cpu, digest], and `auditlib` (where it was imported from)."""
    import auditlib
    from auditlib.assess.assessment import read_state
    from auditlib.engine import aggregates as agg
    from auditlib.policy.rules import licenses as rule

    _, _, engine = read_state(store)
    params = {p.name: p.default for p in rule.LICENSE_POLICY.params}
    out: dict[str, Any] = {"auditlib": str(Path(auditlib.__file__).parent)}

    def timed(name: str, run: Callable[[], Any]) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        got = run()
        out[name] = [time.perf_counter() - wall, time.process_time() - cpu, _digest(got)]
        return got

    classes = getattr(agg, "CLASSES_TABLE", None) or agg.CLASSES_VIEW  # a baseline's name
    timed("classes", lambda: agg.ensure_licences(engine, classes))
    timed("image_licences", lambda: agg.ensure_licences(engine, agg.IMAGE_LICENCES_TABLE))
    lic = timed("LICENCES", lambda: agg.licences(engine).sort_values(
        ["license", "license_spdx", "license_class"], na_position="last", ignore_index=True))
    judged = [rule._judge(rule.text(a), rule.text(b), rule.text(c), params) for a, b, c in zip(
        lic["license"], lic["license_spdx"], lic["license_class"], strict=True)]
    flagged = lic.assign(level=[lv for lv, _ in judged], why=[w for _, w in judged])
    flagged = flagged[flagged["level"] > 0]
    timed("LICENCES_FLAGGED", lambda: agg.licences_flagged(engine, flagged, rule.SHOWN))
    timed("LICENCES_CHECKED", lambda: agg.licences_checked(engine))
    timed("LICENCE_CLASSES", lambda: agg.licence_classes(engine))
    timed("LICENCE_RISKS", lambda: agg.licence_risks(engine, 5))
    engine.close()
    print(json.dumps(out))


def side(python: Path, store: Path) -> dict[str, Any]:
    """Run `child` for `store` with `python` (its own auditlib); return what it printed."""
    proc = subprocess.run([str(python), __file__, "--child", str(store)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{python} on {store} failed:\n{proc.stderr[-2000:]}")
    got: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return got


def main() -> None:
    """Parse the arguments and print the figures of each store."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, action="append", required=False, default=[])
    p.add_argument("--baseline", type=Path, default=Path("/work/main/.venv/bin/python"),
                   help="the Python of the baseline checkout (its auditlib is imported)")
    p.add_argument("--only", choices=["before", "after"])
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child(a.child)
        return
    if not a.store:
        p.error("--store is required")
    for store in a.store:
        print(f"store {store}")
        runs: dict[str, dict[str, Any]] = {}
        for name, python in (("before", a.baseline), ("after", AFTER)):
            if a.only and a.only != name:
                continue
            print(f"  {name}: {python}   ({uptime()})", flush=True)
            runs[name] = side(python, store)
            print(f"    auditlib from {runs[name]['auditlib']}", flush=True)
        print(f"  {'query':18s} " + "  ".join(f"{n:>22s}" for n in runs)
              + ("  ratio wall  ratio cpu  same rows" if len(runs) == 2 else ""))
        for q in QUERIES:
            cells = [f"{r[q][0]:8.2f} s {r[q][1]:7.2f} s cpu" for r in runs.values()]
            line = f"  {q:18s} " + "  ".join(cells)
            if len(runs) == 2:
                b, f = runs["before"][q], runs["after"][q]
                line += (f"  {f[0] / b[0]:9.2f}x {f[1] / b[1]:9.2f}x  "
                         f"{'yes' if b[2] == f[2] else 'NO'}")
            print(line, flush=True)
        if len(runs) == 2:
            tb, ta = (sum(r[q][0] for q in QUERIES) for r in runs.values())
            cb, ca = (sum(r[q][1] for q in QUERIES) for r in runs.values())
            print(f"  {'all':18s} {tb:8.2f} s {cb:7.2f} s cpu  {ta:8.2f} s {ca:7.2f} s cpu  "
                  f"{ta / tb:9.2f}x {ca / cb:9.2f}x")


if __name__ == "__main__":
    main()
