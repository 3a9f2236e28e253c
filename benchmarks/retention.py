"""Retention benchmark (issue 15): a year of daily snapshots of a fleet, then `prune --keep 90d`.

    python benchmarks/retention.py [--images 1000] [--days 365] [--change 0.03] [--keep 90d]

Makes a synthetic fleet with `auditlib.demo.write_fleet` (a Trivy report and a Syft SBOM per
image, as `benchmarks/ingest.py` does; Syft's owned-files list is left out: it is parsed but never
stored) and reads it once with `auditlib.load`. Day 0 is a snapshot of every document; on each
following day a share `--change` of the documents changes (a rebuild: a new scan id, and about 5%
of its vulnerabilities fixed), and the day's snapshot holds the changed documents' rows and carries
every other document over from the snapshot holding it, as `auditlib ingest` does for unchanged
files. Then it prints:

  one snapshot    the size of day 0's table files (the whole fleet once);
  the changes     the size of the table files of the snapshots `--keep` keeps (their own rows)
                  and of their manifests (which list every carried document);
  before / after  the store's size before and after `prune`, and prune's time;
  reads           whether the current state, and the state as of the oldest kept snapshot, read
                  the same after prune as before (every row of every table, by an
                  order-independent hash);
  goal            after <= 2 x one snapshot + the changes.

It always runs to the end and exits 0: a goal it misses is a FAIL line, not an error.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

import auditlib  # noqa: E402
from auditlib.data import AuditData  # noqa: E402
from auditlib.demo import write_fleet  # noqa: E402
from auditlib.store import list_snapshots, parse_duration, prune, read_current  # noqa: E402
from auditlib.store.manifest import Carried  # noqa: E402
from auditlib.store.read import filter_sources  # noqa: E402
from auditlib.store.write import write_snapshot  # noqa: E402

DAY0 = datetime(2025, 1, 1, tzinfo=UTC)


def _size(folder: Path, suffix: str | None = None) -> int:
    """Return the bytes of the files under `folder` (those ending in `suffix`, if given)."""
    return sum(p.stat().st_size for p in folder.rglob("*")
               if p.is_file() and (suffix is None or p.name.endswith(suffix)))


def _fingerprint(data: AuditData) -> dict[str, tuple[int, int]]:
    """Return rows and an order-independent hash of every row, per table."""
    out = {}
    for name, df in data.tables().items():
        h = pd.util.hash_pandas_object(df, index=False).to_numpy(dtype=np.uint64)
        out[name] = (len(df), int(h.sum(dtype=np.uint64)))
    return out


def _changed(base: AuditData, sources: list[str], day: int, rng: np.random.Generator
             ) -> AuditData:
    """Return the rows of `sources` as rebuilt on `day`: a new scan id, ~5% of the
    vulnerabilities fixed."""
    data = filter_sources(AuditData(**base.tables()), (), sources)
    data.files = [f for f in base.files if f.path in set(sources)]
    for name, df in data.tables().items():
        if len(df):
            df = df.copy()
            df["scan_id"] = ("sha256:" + f"{day:08x}") + df["scan_id"].astype(str).str[15:]
            df["collected_at"] = pd.Timestamp(DAY0 + timedelta(days=day))
            setattr(data, name, df)
    v = data.vulnerabilities
    data.vulnerabilities = v[rng.random(len(v)) >= 0.05].reset_index(drop=True)
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--change", type=float, default=0.03, help="share of documents changed a day")
    ap.add_argument("--keep", default="90d")
    ap.add_argument("--work", type=Path, default=None, help="folder to work in (default: a "
                    "temporary one, removed at the end)")
    args = ap.parse_args(argv)
    keep = parse_duration(args.keep)
    work = args.work or Path(tempfile.mkdtemp(prefix="auditlib-retention-"))
    try:
        fleet, store = work / "fleet", work / "store"
        shutil.rmtree(store, ignore_errors=True)
        t0 = time.perf_counter()
        write_fleet(fleet, images=args.images, files_per_image=0)
        base = auditlib.load(fleet)
        sources = sorted(set(base.scans["source"].astype(str)))
        print(f"fleet: {args.images:,} images, {len(sources):,} documents, "
              f"{len(base.vulnerabilities):,} vulnerabilities, {len(base.packages):,} packages "
              f"(made and read in {time.perf_counter() - t0:.0f} s)")
        scan_of = dict(zip(base.scans["source"].astype(str), base.scans["scan_id"].astype(str),
                           strict=True))
        t0 = time.perf_counter()
        day0 = write_snapshot(store, base, sources=[str(fleet)], created_at=DAY0)
        holder = dict.fromkeys(sources, day0.name)
        rng, pick = np.random.default_rng(7), random.Random(7)
        per_day = max(1, round(args.change * len(sources)))
        own: dict[str, int] = {}
        manifests: dict[str, int] = {}
        for day in range(1, args.days):
            chosen = pick.sample(sources, per_day)
            data = _changed(base, chosen, day, rng)
            new_scans = dict(zip(data.scans["source"].astype(str),
                                 data.scans["scan_id"].astype(str), strict=True))
            carried = [Carried(s, scan_of[s], holder[s]) for s in sources if s not in new_scans]
            snap = write_snapshot(store, data, sources=[str(fleet)], carried=carried,
                                  created_at=DAY0 + timedelta(days=day))
            own[snap.name] = _size(snap, ".parquet")
            manifests[snap.name] = _size(snap, ".json")
            for s, sid in new_scans.items():
                holder[s], scan_of[s] = snap.name, sid
        print(f"{args.days} daily snapshots, {per_day} documents changed a day "
              f"({args.change:.0%}), written in {time.perf_counter() - t0:.0f} s")
        one = _size(day0, ".parquet")
        now = DAY0 + timedelta(days=args.days - 1, hours=1)
        cutoff = now - keep
        snaps = list_snapshots(store)
        kept = [s for s in snaps if pd.Timestamp(auditlib_time(s)) >= cutoff]
        changes = sum(own.get(s.name, 0) for s in kept)
        kept_manifests = sum(manifests.get(s.name, 0) for s in kept)
        before_size = _size(store)
        before = _fingerprint(read_current(store))
        before_as_of = _fingerprint(read_current(store, as_of=kept[0]))
        t0 = time.perf_counter()
        done = prune(store, keep, now=now)
        took = time.perf_counter() - t0
        after_size = _size(store)
        same = _fingerprint(read_current(store)) == before
        same_as_of = _fingerprint(read_current(store, as_of=kept[0])) == before_as_of
        mb = 1e6
        print(f"one snapshot's tables:   {one / mb:9.1f} MB")
        print(f"the changes ({len(kept)} kept snapshots): {changes / mb:9.1f} MB of tables, "
              f"{kept_manifests / mb:.1f} MB of manifests")
        print(f"store before prune:      {before_size / mb:9.1f} MB ({len(snaps)} snapshots)")
        print(f"store after prune --keep {args.keep}: {after_size / mb:9.1f} MB "
              f"({len(list_snapshots(store))} snapshots; {len(done.deleted)} deleted, "
              f"{len(done.redirected)} redirected) in {took:.1f} s")
        goal = 2 * one + changes + kept_manifests
        print(f"reads the same after prune: current state {'yes' if same else 'NO'}, as of the "
              f"oldest kept snapshot {'yes' if same_as_of else 'NO'}")
        ok = after_size <= goal and same and same_as_of
        print(f"{'PASS' if ok else 'FAIL'}: after {after_size / mb:.1f} MB <= 2 x one snapshot + "
              f"the changes = {goal / mb:.1f} MB ({after_size / goal:.2f} of it)")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def auditlib_time(snapshot: Path) -> datetime:
    """Return when a snapshot was written, from its id (`YYYYmmddTHHMMSSffffffZ-xxxxxx`)."""
    return datetime.strptime(snapshot.name.split("-")[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)


if __name__ == "__main__":
    raise SystemExit(main())
