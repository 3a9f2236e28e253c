"""Where a face's memory goes outside DuckDB (issue 15): `auditlib check --store S --format json`
done step by step in this process, printing after each step the resident size, the step's own
peak (Linux's high-water mark, reset before each step) and the largest pandas frames the
assessment then holds, column by column with their dtypes.

    python benchmarks/assess_memory.py --store PATH [--as-of 2026-12-01] [--top 12]

Steps: the store's small tables and the engine (`read_state`), the view (`assess_data`), the
policy (`evaluation`), the staleness table, the summary, check's JSON (`write_json`, to
nowhere).
Held frames are found by walking the assessment, its view, its tables and its evaluation
(cached properties included); a frame reachable twice is counted once. DuckDB's own buffers are
in the resident size but in no frame: the difference is what the engine (and the allocator)
hold.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd

GB = 1024**3


def uptime() -> str:
    """Return what `uptime` prints (the load of the shared machine)."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _status(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024 / GB
    return float("nan")


def _reset_peak() -> bool:
    try:  # Linux >= 4.0: 5 resets the high-water mark of the resident size
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _frames(obj: Any, path: str, seen: set[int], out: list[tuple[str, pd.DataFrame]],
            depth: int = 0) -> None:
    if depth > 4 or id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, pd.DataFrame):
        out.append((path, obj))
        return
    if isinstance(obj, pd.Series):
        out.append((path, obj.to_frame()))
        return
    if isinstance(obj, dict):
        for k, v in list(obj.items())[:50]:
            if isinstance(v, pd.DataFrame | pd.Series | dict) or hasattr(v, "__dict__"):
                _frames(v, f"{path}[{k!r}]", seen, out, depth + 1)
        return
    tables = getattr(obj, "tables", None)
    if callable(tables) and type(obj).__name__ == "AuditData":  # slots: its frames by name
        for k, v in tables().items():
            _frames(v, f"{path}.{k}", seen, out, depth + 1)
        return
    attrs = getattr(obj, "__dict__", None)
    if attrs is None or type(obj).__module__.split(".")[0] not in ("auditlib",):
        return
    for k, v in attrs.items():
        _frames(v, f"{path}.{k}", seen, out, depth + 1)


def held(a: Any, top: int) -> list[str]:
    """Return lines naming the `top` largest frames `a` holds, with their largest columns."""
    found: list[tuple[str, pd.DataFrame]] = []
    _frames(a, "a", set(), found)
    sized = []
    for path, df in found:
        cols = df.memory_usage(deep=True, index=True)
        sized.append((int(cols.sum()), path, df, cols))
    sized.sort(key=lambda s: -s[0])
    total = sum(s[0] for s in sized)
    lines = [f"    frames held: {len(sized)}, {total / GB:.2f} GB"]
    for size, path, df, cols in sized[:top]:
        lines.append(f"    {size / GB:6.3f} GB  {path}  {len(df):,} rows x {df.shape[1]} columns")
        for c, n in cols.sort_values(ascending=False).head(4).items():
            dtype = "index" if c == "Index" else str(df[c].dtype)
            lines.append(f"               {n / GB:6.3f} GB  {c} ({dtype})")
    return lines


class _Counted(io.TextIOBase):
    """A text stream that counts what it passes on."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.n = inner, 0

    def write(self, s: str) -> int:
        self.n += len(s)
        return int(self.inner.write(s))


def main() -> None:
    """Run check's steps on a store and print each one's memory."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--as-of", default="2026-12-01")
    p.add_argument("--top", type=int, default=10)
    args = p.parse_args()

    from auditlib.assess.assessment import assess_data, read_state
    from auditlib.engine.history import history_clock
    from auditlib.policy.config import load_policy
    from auditlib.policy.output import write_json
    from auditlib.store.manifest import usable_snapshots

    print(f"# {uptime()}")
    print(f"check's steps on {args.store} (as of {args.as_of}):")
    box: dict[str, Any] = {}

    def read() -> None:
        scan = usable_snapshots(args.store)
        data, _, eng = read_state(args.store)
        seen = history_clock(args.store, eng) if len(scan.snapshots) > 1 else None
        box["a"] = assess_data(data, as_of=args.as_of, policy=load_policy(None),
                               first_seen_fixed=seen, engine=eng)

    def text() -> None:  # as check writes it (`write_json`), to a file nobody keeps
        a = box["a"]
        with open(os.devnull, "w", encoding="utf-8") as sink:
            counted = _Counted(sink)
            write_json(a.evaluation, counted, {"assessment": a.summary()})
        box["json_mb"] = counted.n / 1e6

    steps = [("read_state + assess_data", read),
             ("evaluation", lambda: box["a"].evaluation),
             ("staleness", lambda: box["a"].staleness),
             ("summary", lambda: box["a"].summary()),
             ("check's JSON", text)]
    peaks: list[float] = []
    for name, step in steps:
        _reset_peak()
        t0 = time.perf_counter()
        step()
        dt = time.perf_counter() - t0
        peaks.append(_status("VmHWM"))
        print(f"  {name:26s} {dt:7.1f} s   step peak {peaks[-1]:5.2f} GB   "
              f"resident after {_status('VmRSS'):5.2f} GB")
        for line in held(box["a"], args.top if name in ("staleness", "check's JSON") else 3):
            print(line)
    print(f"  JSON {box['json_mb']:.1f} MB; peak of the process {max(peaks):.2f} GB "
          f"(the largest step's)")
    print(f"# {uptime()}")


if __name__ == "__main__":
    main()
