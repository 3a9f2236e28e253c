"""What writing a run's policy results costs (issue 15, h28c): `policy.json` and `policy.xml`.

    python benchmarks/policy_output.py [--store benchmarks/.fleet-report-store-1000] [--runs 3]

Assesses the store once (default: the 1,000-image report store, `benchmarks/report.py` makes
it), then times, median of the runs, each in wall and CPU seconds:

* `write_json` (check's JSON, what `auditlib run` writes as `policy.json`) as it is, against the
  same with every batch written by `json.dumps` (the baseline: orjson never trusted);
* `to_junit` (`policy.xml`) as it is (text), against the tree of ElementTree elements it was
  built as before (the baseline), indented and written.

Each pair must give the same text; the script says FAIL when it does not. Ratios are of the
two measured in this run.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))


def junit_tree(ev: Any) -> str:
    """Return the JUnit XML as `to_junit` made it before (main at aef11ce): a tree of
    elements, `ET.indent`, `ET.tostring`."""
    from auditlib.normalize.visible import visible

    suites = ET.Element("testsuites", name="auditlib policy", tests=str(len(ev.results)),
                        failures=str(ev.count("fail") + ev.count("warn")))
    for image_id, group in ev.results.groupby("image_id", sort=True, observed=True):
        name = visible(str(group["image_name"].iloc[0]))
        statuses = group["status"].astype(str)
        suite = ET.SubElement(
            suites, "testsuite", name=name, id=str(image_id), tests=str(len(group)),
            failures=str(int(statuses.isin(["fail", "warn"]).sum())),
            skipped=str(int((statuses == "no-data").sum())))
        for row in group.itertuples(index=False):
            case = ET.SubElement(suite, "testcase", classname=name, name=str(row.rule))
            status, evidence = str(row.status), visible(str(row.evidence))
            if status in ("fail", "warn"):
                ET.SubElement(case, "failure", type=status,
                              message=f"{row.title} ({row.severity})").text = evidence
            elif status == "no-data":
                ET.SubElement(case, "skipped", message=evidence)
            else:
                ET.SubElement(case, "system-out").text = f"{status}: {evidence}"
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def timed(f: Callable[[], str], runs: int) -> tuple[float, float, str]:
    """Return the median wall and CPU seconds of `runs` calls of `f`, and its last text."""
    walls, cpus, text = [], [], ""
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        text = f()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=REPO / "benchmarks" / ".fleet-report-store-1000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--as-of", default="2026-12-01T00:00:00+00:00")
    args = ap.parse_args()

    from auditlib.assess import assess
    from auditlib.policy import output

    if not args.store.exists():
        print(f"{args.store}: no such store (benchmarks/report.py makes the default one)")
        return
    t0 = time.perf_counter()
    ev = assess(args.store, as_of=args.as_of).evaluation
    print(f"{args.store.name}: {len(ev.scores):,} images, {len(ev.results):,} results, "
          f"assessed in {time.perf_counter() - t0:.1f} s; median of {args.runs} runs:")

    def json_text() -> str:
        buf = io.StringIO()
        output.write_json(ev, buf)
        return buf.getvalue()

    def json_dumps_only() -> str:
        alike = output._orjson_writes_alike
        output._orjson_writes_alike = lambda frame: False  # type: ignore[assignment]
        try:
            return json_text()
        finally:
            output._orjson_writes_alike = alike

    pairs = {"policy.json (write_json)": (json_dumps_only, json_text),
             "policy.xml (to_junit)": (lambda: junit_tree(ev), lambda: output.to_junit(ev))}
    for what, (before, now) in pairs.items():
        bw, bc, btext = timed(before, args.runs)
        nw, nc, ntext = timed(now, args.runs)
        same = "the same text" if btext == ntext else "FAIL: the texts differ"
        print(f"  {what}: baseline {bw:.2f} s wall, {bc:.2f} s CPU; now {nw:.2f} s wall, "
              f"{nc:.2f} s CPU; {nc / bc if bc else float('nan'):.2f}x the CPU "
              f"({len(ntext):,} characters, {same})")


if __name__ == "__main__":
    main()
