"""Fleet benchmark (issue 15): the assessment's aggregates over a synthetic store of 100,000
images, on DuckDB (and DuckDB against Spark on 5,000), and the whole assessment's faces (check,
staleness, both reports) at the largest size they run at.

    python benchmarks/fleet100k.py [--images 100000] [--compare-images 5000]
        [--spark-master URL] [--memory-limit 3GB] [--sections ...] [--tile-only]

The synthetic store is written straight to Parquet: the demo generator (`auditlib.demo`) makes a
base fleet of `--base-images` images (Trivy reports and Syft SBOMs, about 300 vulnerabilities and
400 packages each, synthetic and marked so), ingested once into `benchmarks/.fleet-100k-base-<N>`;
DuckDB then writes N images' rows by copying the base's rows with new image ids, scan ids and
sources (an md5 of the old ones and the copy number), into ten snapshot folders, so the current
state is a join across files as in a real store (`auditlib.engine.tables`). 100,000 images are
about 30 million vulnerability and 40 million package rows (about 3 GB of Parquet; made once).

Sections (each in a fresh process, so each peak memory is its own):

* `aggregates`: every aggregate of `auditlib.engine.aggregates` on DuckDB over `--images`:
  seconds and peak RSS (goals: together under 5 minutes, under 4 GB).
* `spark`: the same on DuckDB and on Spark (`--spark-master`, default `local[*]`) over
  `--compare-images`: both times, and whether every result is equal row for row.
* `faces`: `auditlib check`, `auditlib staleness` and `auditlib report compliance|staleness`,
  each in its own process, on a real store of `--images` images (`tile_store`: every table of the
  base store's current state copied with new image ids, scan ids, sources and names, into ten
  snapshots written as the store's writer writes them; `benchmarks/.fleet-100k-store-<N>`, made
  once; `--tile-only` just writes it): seconds, peak RSS of each command and page sizes (goals:
  together under 5 minutes, under 4 GB, each page under 10 MB). Then "together (one run)":
  `auditlib run --no-scan --reports compliance,staleness` over the same store (no engine: a
  note), one process that assesses once, prints check's verdict and the staleness headline
  and writes both pages from its saved assessment; the store is reached through a folder of
  its own whose `snapshots` is a link to the store's, so the run's `last-run.json` is not
  written into the store read. Beside each command's largest single process (`wait4`), the
  peak of the sum over its process tree (the run and a notebook kernel at once), sampled.
* `findings-pandas`, `findings`: the fixable findings over `--images`, as `assess` computed them
  before (every vulnerability row into pandas, grouped there: the baseline) and in the engine
  (`FIXABLE_FINDINGS`, and the rows it selects for the upgrade rule, VEX and the agreement):
  seconds and peak RSS of each, in its own process.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

GOAL_SECONDS = 300.0
GOAL_GB = 4.0
GOAL_PAGE_MB = 10.0
SNAPSHOTS = 10
BIG = ("vulnerabilities", "packages", "package_licenses")
LICENCE_TABLES = ("package_licence_classes", "document_licences")
"""The store's licence tables (`auditlib.store.licence_tables`), tiled as the big tables are."""


def peak_gb() -> float:
    """Return this process's peak RSS, in GB (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def base_store(images: int) -> Path:
    """Return the base store: the demo fleet of `images` images, ingested (made once)."""
    from auditlib.demo import write_fleet
    from auditlib.ingest.steps import ingest_paths
    from auditlib.store import list_snapshots

    root = REPO / "benchmarks" / f".fleet-100k-base-{images}"
    store = root / "store"
    if not list_snapshots(store):
        t0 = time.perf_counter()
        write_fleet(root / "fleet", images=images, files_per_image=10)
        ingest_paths(store, [root / "fleet"])
        print(f"made the base store of {images} demo images in {store} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return store


def tiled(images: int, base_images: int) -> Path:
    """Return the folder of `images` images' big tables and state, written straight to Parquet
    from the base store's rows (made once): `<snapshot>/<table>.parquet`, `state.parquet`,
    `scan_images.parquet`."""
    import duckdb

    from auditlib.engine.tables import scan_images
    from auditlib.store import read_current
    from auditlib.store.write import snapshot_tables

    out = REPO / "benchmarks" / f".fleet-100k-{images}"
    if (out / ".complete").exists():
        return out
    store = base_store(base_images)
    data = read_current(store)
    frames = snapshot_tables(data)  # the licence tables too (store files, not in `data`)
    copies = -(-images // base_images)
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    scans = scan_images(data.scans)
    sources = data.scans[["source"]].dropna().drop_duplicates().astype(str)
    con.register("base_scan_images", scans)
    con.register("base_sources", sources)

    def new(col: str) -> str:
        return f"'sha256:' || md5({col} || '#' || k) || md5('#' || k || {col})"

    per = -(-copies // SNAPSHOTS)
    for s in range(SNAPSHOTS):
        sid = f"20261201T000000{s:06d}Z-{s:06x}"
        folder = out / sid
        folder.mkdir(parents=True, exist_ok=True)
        lo, hi = s * per, min(copies, (s + 1) * per)
        for t in (*BIG, *LICENCE_TABLES):
            df = frames[t]
            con.register("base", df.astype({c: "string" for c in df.columns
                                            if str(df[c].dtype) == "category"}))
            cols = ", ".join(
                new("image_id") + " AS image_id" if c == "image_id"
                else "scan_id || '#' || k AS scan_id" if c == "scan_id"
                else "source || '#' || k AS source" if c == "source" else c
                for c in df.columns)
            con.execute(f"COPY (SELECT {cols} FROM base, range({lo}, {hi}) r(k)) TO "
                        f"'{folder / (t + '.parquet')}' (FORMAT parquet)")
        con.execute(f"COPY (SELECT source || '#' || k AS source, '{sid}' AS snapshot_id "
                    f"FROM base_sources, range({lo}, {hi}) r(k)) TO "
                    f"'{folder / 'state.parquet'}' (FORMAT parquet)")
        con.execute(f"COPY (SELECT scan_id || '#' || k AS scan_id, {new('image_id')} AS image_id "
                    f"FROM base_scan_images, range({lo}, {hi}) r(k)) TO "
                    f"'{folder / 'scan_images.parquet'}' (FORMAT parquet)")
    (out / ".complete").write_text("ok\n")
    rows = {t: con.sql(f"SELECT count(*) FROM read_parquet('{out}/*/{t}.parquet')").fetchall()[0]
            for t in (*BIG, *LICENCE_TABLES)}
    print(f"wrote {copies * base_images:,} images straight to Parquet in {out} "
          f"({time.perf_counter() - t0:.0f} s): "
          + ", ".join(f"{(r or (0,))[0]:,} {t}" for t, r in rows.items()), flush=True)
    return out


REF_COLUMNS = ("image_ref", "reference", "base_ref", "product_ref", "signed_reference")
"""Columns holding an image reference: a copy's repository gets the suffix `-c<copy>`."""
REPO_COLUMNS = ("repository", "base_repository")
"""Columns holding a repository path: the same suffix."""


def _copy_expr(column: str, dtype: str) -> str:
    """Return the DuckDB expression of `column` in copy `k` of the base's rows (`tile_store`).

    Image ids and scan ids become new `sha256:` digests (an md5 of the old one and the copy
    number, twice), sources get `#<copy>`; references and repositories get `-c<copy>` after the
    repository (references without a registry port, as the demo's are), so copies are distinct
    images by name too and each copy's repositories hold only its own tags. Every other column
    is the base's.
    """
    q = f'"{column}"'
    if column in ("image_id", "scan_id"):
        return (f"CASE WHEN {q} IS NULL THEN NULL ELSE 'sha256:' || md5({q} || '#' || k) "
                f"|| md5('#' || k || {q}) END")
    if column == "source":
        return f"{q} || '#' || k"
    if column in REPO_COLUMNS:
        return f"{q} || '-c' || k"
    if column in REF_COLUMNS:
        head = f"regexp_extract({q}, '^[^:@]+')"
        return f"{head} || '-c' || k || substr({q}, length({head}) + 1)"
    return q


def tile_store(base: Path, out: Path, copies: int, snapshots: int = SNAPSHOTS) -> Path:
    """Write a store of `copies` copies of the base store's current state into `out`: every
    table with rows, each copy's ids, sources and names new (`_copy_expr`), the copies spread
    over `snapshots` snapshots written as auditlib's writer writes them (`SnapshotFolder`, each
    table's Arrow schema, the manifest of `auditlib.store.write.manifest` listing each copied
    source's file entry), so `read_current`, `assess(store)` and the commands read it.

    Returns:
        `out`.

    Raises:
        StoreError: if the base store cannot be read or `out` cannot be written.
        ValueError: if `out` already has snapshots.
    """
    from datetime import UTC, datetime, timedelta

    import duckdb
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from auditlib.store import list_snapshots, read_current
    from auditlib.store.current import current_sources
    from auditlib.store.layout import table_file_name
    from auditlib.store.manifest import snapshot_infos
    from auditlib.store.write import SnapshotFolder, arrow_schema, manifest, snapshot_tables
    from auditlib.tables import TABLES_BY_NAME

    if list_snapshots(out):
        raise ValueError(f"{out}: already has snapshots; tile into a new folder")
    data = read_current(base)
    tables = {n: df for n, df in snapshot_tables(data).items() if len(df)}
    held = current_sources(base)
    entries = {path: entry for info in snapshot_infos(base)
               for path, entry in (info.files or {}).items()
               if path in held and held[path].snapshot_id == info.snapshot_id}
    given = sorted({g for s in held.values() for g in s.given})
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    for name, df in tables.items():
        con.register(f"base_{name}", df.astype({c: "string" for c in df.columns
                                                if str(df[c].dtype) == "category"}))
    con.register("base_files", pd.DataFrame(
        {"path": list(entries), "scan_id": [e.get("scan_id") for e in entries.values()],
         "entry": [json.dumps(e) for e in entries.values()]}, dtype="string"))
    at0 = datetime(2026, 12, 1, tzinfo=UTC)
    per = -(-copies // snapshots)
    for s in range(snapshots):
        lo, hi = s * per, min(copies, (s + 1) * per)
        if lo >= hi:
            break
        at = at0 + timedelta(seconds=s)
        snap = SnapshotFolder(out, at)
        rows: dict[str, int] = {}
        try:
            for name in tables:
                table = TABLES_BY_NAME[name]
                schema = arrow_schema(table)
                cols = ", ".join(f"{_copy_expr(c.name, c.dtype)} AS \"{c.name}\""
                                 for c in table.columns)
                reader = con.sql(f"SELECT {cols} FROM base_{name}, range({lo}, {hi}) r(k)"
                                 ).to_arrow_reader(1_000_000)
                n = 0
                with pq.ParquetWriter(snap.file(table_file_name(name)), schema) as w:
                    for batch in reader:
                        w.write_table(pa.Table.from_batches([batch]).cast(schema))
                        n += batch.num_rows
                rows[name] = n
            listed = con.sql(
                f"SELECT path || '#' || k AS path, {_copy_expr('scan_id', 'string')} AS scan_id,"
                f" entry FROM base_files, range({lo}, {hi}) r(k)").fetchall()
        except BaseException:
            snap.abort()
            raise
        manifest_files = []
        for path, scan_id, entry in listed:
            e = json.loads(entry)
            e["path"] = path
            if e.get("scan_id") is not None:
                e["scan_id"] = scan_id
            manifest_files.append(e)
        snap.commit(manifest(snap.snapshot_id, at, manifest_files,
                             {t: rows.get(t, 0) for t in TABLES_BY_NAME},
                             [f"{g}#{lo}-{hi - 1}" for g in given]))
    return out


def fleet_store(images: int, base_images: int, snapshots: int = SNAPSHOTS) -> Path:
    """Return the store of `images` images tiled from the base store into `snapshots`
    snapshots (`tile_store`; made once)."""
    suffix = "" if snapshots == SNAPSHOTS else f"-s{snapshots}"
    out = REPO / "benchmarks" / f".fleet-100k-store-{images}{suffix}"
    if (out / ".complete").exists():
        return out
    if out.exists():
        shutil.rmtree(out)  # a tiling that did not finish
    base = base_store(base_images)
    t0 = time.perf_counter()
    tile_store(base, out, -(-images // base_images), snapshots)
    (out / ".complete").write_text("ok\n")
    print(f"tiled a store of {images:,} images from {base_images} in {out} "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def tables_of(folder: Path):  # type: ignore[no-untyped-def]
    """Return the `StoreTables` of a tiled folder (a folder tiled before the licence tables has
    none: the engine derives them from the big tables, as for a store written before them)."""
    import pandas as pd

    from auditlib.engine import StoreTables
    from auditlib.store import TableFile

    snaps = sorted(p for p in folder.iterdir() if p.is_dir())
    state = pd.concat([pd.read_parquet(s / "state.parquet") for s in snaps], ignore_index=True)
    scans = pd.concat([pd.read_parquet(s / "scan_images.parquet") for s in snaps],
                      ignore_index=True)
    files = {t: [TableFile(str(s / f"{t}.parquet"), s.name, frozenset()) for s in snaps
                 if (s / f"{t}.parquet").exists()]
             for t in (*BIG, *LICENCE_TABLES)}
    underived = frozenset(s.name for s in snaps
                          if not (s / f"{LICENCE_TABLES[0]}.parquet").exists())
    return StoreTables(str(folder), files, state.astype("string"), scans.astype(str),
                       underived=underived)


def run_aggregates(engine) -> tuple[dict[str, float], dict]:  # type: ignore[no-untyped-def]
    """Return seconds per aggregate and the results."""
    from auditlib.engine.aggregates import AGGREGATES

    seconds, results = {}, {}
    for name, aggregate in AGGREGATES.items():
        t0 = time.perf_counter()
        results[name] = aggregate(engine)
        seconds[name] = time.perf_counter() - t0
    return seconds, results


def section_aggregates(args: argparse.Namespace) -> dict:
    from auditlib.engine.duck import DuckDBEngine

    folder = args.tiled or tiled(args.images, args.base_images)
    t0 = time.perf_counter()
    engine = DuckDBEngine(tables_of(folder), memory_limit=args.memory_limit)
    seconds, results = run_aggregates(engine)
    total = time.perf_counter() - t0
    counts = results["vulnerability_counts"]
    return {"images": int(len(counts)), "vulnerabilities": int(counts["vulnerability_rows"].sum()),
            "packages": int(results["package_counts"]["package_rows"].sum()),
            "seconds": seconds, "total": total, "peak_gb": peak_gb()}


def section_spark(args: argparse.Namespace) -> dict:
    from auditlib.engine import open_engine
    from auditlib.engine.spark import stop_spark

    tables = tables_of(tiled(args.compare_images, args.base_images))
    t0 = time.perf_counter()
    duck_s, duck = run_aggregates(open_engine("duckdb", tables))
    duck_total = time.perf_counter() - t0
    t0 = time.perf_counter()
    spark_engine = open_engine("spark", tables, spark_master=args.spark_master)
    start = time.perf_counter() - t0
    spark_s, spark = run_aggregates(spark_engine)
    spark_total = time.perf_counter() - t0
    stop_spark()
    equal = {n: bool(duck[n].equals(spark[n])) for n in duck}
    return {"duckdb": duck_s, "spark": spark_s, "duckdb_total": duck_total,
            "spark_start": start, "spark_total": spark_total, "equal": equal}


def run_face(argv: list[str], stdout: Path) -> dict:
    """Run one `auditlib` command in its own process (its output to `stdout`, its standard
    error beside it).

    The process is started by `posix_spawn` (no copy of this process's memory, whose resident
    size a forked child would otherwise inherit as its starting peak) and reaped by `wait4`.

    Returns:
        seconds, exit status, the last lines of standard error when it failed, and peak RSS in
        GB: the largest resident size of the command's process or of any process it waited for
        (a report's notebook kernel), from the rusage `wait4` gives for that child alone.
    """
    import os

    exe = str(Path(sys.executable).with_name("auditlib"))
    stderr = stdout.with_suffix(".err")
    actions = [(os.POSIX_SPAWN_OPEN, 1, str(stdout), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
               (os.POSIX_SPAWN_OPEN, 2, str(stderr), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    t0 = time.perf_counter()
    pid = os.posix_spawn(exe, [exe, *argv], os.environ, file_actions=actions)
    tree = TreeRss(pid)
    tree.start()
    _, status, usage = os.wait4(pid, 0)
    tree.stop()
    code = os.waitstatus_to_exitcode(status)
    return {"seconds": time.perf_counter() - t0, "exit": code,
            "peak_gb": usage.ru_maxrss / 1024**2, "tree_gb": tree.peak / 1024**3,
            "error": stderr.read_text(errors="replace").strip().splitlines()[-3:] if code else []}


class TreeRss:
    """The peak of the summed resident size of a process and its descendants, sampled from
    /proc every `every` seconds in a thread (a lower bound: a peak between samples is missed)."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        import threading

        self.pid, self.every, self.peak = pid, every, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2:].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        out, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo += children.get(p, [])
        return out

    def _run(self) -> None:
        import os

        page = os.sysconf("SC_PAGE_SIZE")
        while not self._done.wait(self.every):
            total = 0
            for p in self._tree():
                try:
                    total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
                except (OSError, ValueError, IndexError):
                    continue
            self.peak = max(self.peak, total)


def section_faces(args: argparse.Namespace) -> dict:
    """The four faces on the tiled store of `--images` images (or `--assess-store`), each an
    `auditlib` command in its own process: check, staleness, the compliance page and the
    staleness page (none with `--together-only`); then the run as one (`together`)."""
    import pyarrow.parquet as pq

    from auditlib.store.current import current_files

    store = args.assess_store or fleet_store(args.images, args.base_images, args.snapshots)
    files = current_files(store, ("vulnerabilities", "packages"))
    rows = {t: sum(pq.read_metadata(f.path).num_rows for f in fs) for t, fs in files.items()}
    work = Path(tempfile.mkdtemp(prefix="auditlib-bench-faces-"))
    out: dict = {"store": str(store), "rows": rows, "faces": {}}
    faces = {
        "check": ["check", "--store", str(store), "--format", "json", "--fail-on", "never"],
        "staleness": ["staleness", "--store", str(store), "--format", "json"],
        "compliance page": ["report", "compliance", "--store", str(store), "--out",
                            str(work / "compliance"), "--quiet"],
        "staleness page": ["report", "staleness", "--store", str(store), "--out",
                           str(work / "staleness"), "--quiet"],
    }
    for name, argv in ({} if args.together_only else faces).items():
        r = run_face(argv, work / f"{name.replace(' ', '-')}.out")
        if name.endswith("page"):
            report = name.split()[0]
            pages = sorted((work / report).glob(f"run-*/{report}.html"))
            r["mb"] = pages[-1].stat().st_size / 1e6 if pages else None
        out["faces"][name] = r
        print(f"  {name}: {r['seconds']:.1f} s, exit {r['exit']}", file=sys.stderr, flush=True)
    out["together"] = together(store, work)
    shutil.rmtree(work, ignore_errors=True)
    return out


def together(store: Path, work: Path) -> dict:
    """`auditlib run --no-scan --reports compliance,staleness` over `store` as one process:
    seconds, peaks, page sizes, and whether it printed check's verdict (`policy: ...`) and the
    staleness headline (`fix first:`). The store is read through `work/store`, whose only entry
    is a link to its snapshots (the run writes `last-run.json` there, not into `store`)."""
    view = work / "store"
    view.mkdir()
    (view / "snapshots").symlink_to(Path(store).resolve() / "snapshots")
    argv = ["run", "--store", str(view), "--no-scan", "--engine",
            f"unix://{work}/no-engine.sock", "--reports", "compliance,staleness", "--out",
            str(work / "together"), "--fail-on", "never", "--quiet"]
    stdout = work / "together.out"
    r = run_face(argv, stdout)
    printed = stdout.read_text(errors="replace")
    r["verdict"] = "; policy: " in printed
    r["headline"] = "\nfix first:" in printed
    for report in ("compliance", "staleness"):
        pages = sorted((work / "together").glob(f"run-*/{report}.html"))
        r[f"{report}_mb"] = pages[-1].stat().st_size / 1e6 if pages else None
        r[f"{report}_anew"] = bool(pages) and "assessed anew" in pages[-1].read_text(
            errors="replace")
    print(f"  together (one run): {r['seconds']:.1f} s, exit {r['exit']}", file=sys.stderr,
          flush=True)
    return r


FINDING_KEY = ["image_id", "vuln_id", "pkg_name", "pkg_version"]


def section_findings_pandas(args: argparse.Namespace) -> dict:
    """The baseline: what `assess` did before the fixable findings ran in the engine (every
    vulnerability row of the current state into pandas, then grouped there). Only the columns
    the grouping reads are read, as categoricals: a lower bound of the old cost (`read_current`
    read every column; all of them as pandas reads them took over 15 GB at 20,000 images)."""
    import pandas as pd
    import pyarrow.parquet as pq

    from auditlib.normalize.severity import SEVERITY_DTYPE

    cols = [*FINDING_KEY, "fix_state", "fix_contradicted", "severity", "fixed_version",
            "fix_available_at", "layer_diff_id", "published_at", "is_known_exploited",
            "epss_score", "purl"]
    folder = args.tiled or tiled(args.images, args.base_images)
    t0 = time.perf_counter()
    v = pd.concat([pq.read_table(s / "vulnerabilities.parquet", columns=cols).to_pandas(
                       strings_to_categorical=True)
                   for s in sorted(p for p in folder.iterdir() if p.is_dir())],
                  ignore_index=True)
    v = v.astype(dict.fromkeys(FINDING_KEY, "category"))
    for c in ("fixed_version", "layer_diff_id", "purl"):  # ordered by text: `min` is the least
        cat = v[c].astype("category")
        v[c] = cat.cat.reorder_categories(sorted(cat.cat.categories), ordered=True)
    v["severity"] = v["severity"].astype(SEVERITY_DTYPE)
    read = time.perf_counter() - t0
    fix = ((v["fix_state"].astype("string") == "fixed").fillna(False).to_numpy(bool)
           & ~v["fix_contradicted"].astype("boolean").fillna(False).to_numpy(bool)
           & v["image_id"].notna().to_numpy(bool))
    g = v[fix].groupby(FINDING_KEY, dropna=False, sort=False, observed=True).agg(
        severity=("severity", "max"), fixed_version=("fixed_version", "min"),
        fix_at=("fix_available_at", "min"), layer_diff_id=("layer_diff_id", "min"),
        published_at=("published_at", "min"), known_exploited=("is_known_exploited", "max"),
        epss=("epss_score", "max"), purl=("purl", "min"))
    return {"rows": len(v), "findings": len(g), "read": read,
            "seconds": time.perf_counter() - t0, "peak_gb": peak_gb()}


def section_findings(args: argparse.Namespace) -> dict:
    """The engine: the fixable findings (`FIXABLE_FINDINGS`) and the rows it selects for the
    upgrade rule, VEX matching (100 ids) and the scanner agreement (1% of the images)."""
    from auditlib.engine.aggregates import FINDINGS_TABLE, FIXABLE_FINDINGS
    from auditlib.engine.duck import DuckDBEngine
    from auditlib.engine.selections import agreement_rows, upgrade_fixable, vex_rows
    from auditlib.policy.rules.upgrades import OS_PACKAGE_TYPES

    folder = args.tiled or tiled(args.images, args.base_images)
    engine = DuckDBEngine(tables_of(folder), memory_limit=args.memory_limit)
    out: dict = {"seconds": {}}
    t0 = time.perf_counter()
    # The findings as the assessment keeps them (`fleet.findings.fixable_findings`): a table in
    # the engine, never brought to pandas; the ids and images picked there too.
    engine.define(FINDINGS_TABLE, FIXABLE_FINDINGS, keep=True)
    out["seconds"]["fixable_findings"] = time.perf_counter() - t0
    out["findings"] = int(engine.sql(f"SELECT COUNT(*) AS n FROM {FINDINGS_TABLE}")["n"].iloc[0])
    ids = engine.sql(f"SELECT DISTINCT vuln_id FROM {FINDINGS_TABLE} WHERE vuln_id IS NOT NULL "
                     "ORDER BY vuln_id LIMIT 100")["vuln_id"].astype(str).tolist()
    images = engine.sql(f"SELECT DISTINCT image_id FROM {FINDINGS_TABLE} ORDER BY image_id"
                        )["image_id"].astype(str).tolist()[:: 100]
    for name, run in (("upgrade_fixable", lambda: upgrade_fixable(engine, OS_PACKAGE_TYPES, 5)),
                      ("vex_rows", lambda: vex_rows(engine, ids, [])),
                      ("agreement_rows", lambda: agreement_rows(engine, images))):
        t1 = time.perf_counter()
        out[f"{name}_rows"] = len(run())
        out["seconds"][name] = time.perf_counter() - t1
    out["total"] = time.perf_counter() - t0
    out["peak_gb"] = peak_gb()
    return out


SECTIONS = {"aggregates": section_aggregates, "spark": section_spark, "faces": section_faces,
            "findings-pandas": section_findings_pandas, "findings": section_findings}


def report(name: str, r: dict, args: argparse.Namespace) -> None:
    if name == "aggregates":
        ok = r["total"] < GOAL_SECONDS and r["peak_gb"] < GOAL_GB
        print(f"aggregates on DuckDB, {r['images']:,} images ({r['vulnerabilities']:,} "
              f"vulnerabilities, {r['packages']:,} packages), memory limit {args.memory_limit}:")
        for n, s in r["seconds"].items():
            print(f"  {n:<22}{s:>8.1f} s")
        print(f"  {'total':<22}{r['total']:>8.1f} s   peak RSS {r['peak_gb']:.2f} GB   "
              f"goal < {GOAL_SECONDS:.0f} s, < {GOAL_GB:.0f} GB: {'PASS' if ok else 'FAIL'}")
    elif name == "spark":
        print(f"DuckDB against Spark ({args.spark_master}), {args.compare_images:,} images:")
        for n in r["duckdb"]:
            print(f"  {n:<22}duckdb {r['duckdb'][n]:>7.1f} s   spark {r['spark'][n]:>7.1f} s   "
                  f"{'equal' if r['equal'][n] else 'DIFFERENT'}")
        print(f"  {'total':<22}duckdb {r['duckdb_total']:>7.1f} s   spark {r['spark_total']:>7.1f}"
              f" s (of which {r['spark_start']:.1f} s starting the session)   "
              f"{'all equal' if all(r['equal'].values()) else 'NOT EQUAL'}")
    elif name == "findings-pandas":
        print(f"fixable findings in pandas (before), {args.images:,} images: {r['rows']:,} "
              f"vulnerability rows read in {r['read']:.1f} s, {r['findings']:,} findings, "
              f"{r['seconds']:.1f} s in all, peak RSS {r['peak_gb']:.2f} GB")
    elif name == "findings":
        print(f"fixable findings and row selections on DuckDB, {args.images:,} images, memory "
              f"limit {args.memory_limit}: {r['findings']:,} findings")
        for n, s in r["seconds"].items():
            rows = f"   {r[n + '_rows']:,} rows" if n + "_rows" in r else ""
            print(f"  {n:<22}{s:>8.1f} s{rows}")
        print(f"  {'total':<22}{r['total']:>8.1f} s   peak RSS {r['peak_gb']:.2f} GB")
    else:
        faces = r["faces"]
        total = sum(v["seconds"] for v in faces.values())
        peak = max((v["peak_gb"] for v in faces.values()), default=0.0)
        sized = "" if args.assess_store else f"{args.images:,} images: "
        print(f"faces on {r['store']} ({sized}"
              f"{r['rows']['vulnerabilities']:,} vulnerabilities, "
              f"{r['rows']['packages']:,} packages), each command in its own process:")
        for n, v in faces.items():
            mb = v.get("mb")
            page = "" if "mb" not in v else "   page missing" if mb is None else \
                f"   page {mb:.2f} MB (< {GOAL_PAGE_MB:.0f} MB: " \
                f"{'PASS' if mb < GOAL_PAGE_MB else 'FAIL'})"
            err = f"   FAILED: {' | '.join(v['error'])}" if v["exit"] else ""
            print(f"  {n:<18}{v['seconds']:>8.1f} s   peak RSS {v['peak_gb']:5.2f} GB"
                  f" (tree {v['tree_gb']:5.2f} GB)   exit {v['exit']}{page}{err}")
        ok = (bool(faces) and total < GOAL_SECONDS and peak < GOAL_GB
              and all(v["exit"] == 0 for v in faces.values())
              and all(v.get("mb") is not None and v["mb"] < GOAL_PAGE_MB
                      for n, v in faces.items() if "mb" in v))
        if faces:
            print(f"  {'total':<18}{total:>8.1f} s   peak RSS {peak:5.2f} GB (largest of the "
                  f"four)   goal < {GOAL_SECONDS:.0f} s, < {GOAL_GB:.0f} GB, each page < "
                  f"{GOAL_PAGE_MB:.0f} MB: {'PASS' if ok else 'FAIL'}")
        else:
            print("  (the four single faces not run: --together-only)")
        t = r["together"]
        tree = t["tree_gb"]
        pages = [t[f"{n}_mb"] for n in ("compliance", "staleness")]
        fine = (t["exit"] == 0 and t["verdict"] and t["headline"]
                and all(mb is not None and mb < GOAL_PAGE_MB for mb in pages)
                and not t["compliance_anew"] and not t["staleness_anew"])
        shown = ", ".join("missing" if mb is None else f"{mb:.2f} MB" for mb in pages)
        err = f"   FAILED: {' | '.join(t['error'])}" if t["exit"] else ""
        print(f"  {'together (one run)':<18}{t['seconds']:>8.1f} s   peak RSS "
              f"{t['peak_gb']:5.2f} GB (tree {tree:5.2f} GB)   exit {t['exit']}   pages {shown}"
              f"{err}")
        print(f"    one assessment, read back by both pages: "
              f"{'yes' if not (t['compliance_anew'] or t['staleness_anew']) else 'NO'}; "
              f"printed check's verdict: {'yes' if t['verdict'] else 'NO'}, the staleness "
              f"headline: {'yes' if t['headline'] else 'NO'}; "
              + (f"against the four separate: {t['seconds'] / total:.2f}x the time; "
                 if total else "")
              + f"goal < {GOAL_SECONDS:.0f} s, "
              f"< {GOAL_GB:.0f} GB (tree): "
              f"{'PASS' if fine and t['seconds'] < GOAL_SECONDS and tree < GOAL_GB else 'FAIL'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--compare-images", type=int, default=5_000)
    ap.add_argument("--base-images", type=int, default=100,
                    help="demo images made and ingested; the larger stores copy their rows")
    ap.add_argument("--assess-store", type=Path, default=None,
                    help="an existing store to run the faces on (read only) instead of the "
                    "tiled store of --images images")
    ap.add_argument("--spark-master", default="local[*]")
    ap.add_argument("--memory-limit", default="3GB", help="DuckDB's memory_limit")
    ap.add_argument("--tiled", type=Path, default=None,
                    help="an existing tiled folder to run the aggregates on (read only), e.g. "
                    "one tiled before the licence tables (they are then derived on read)")
    ap.add_argument("--sections", default="aggregates,spark,faces")
    ap.add_argument("--snapshots", type=int, default=SNAPSHOTS,
                    help="snapshots the tiled store's copies are spread over (with more than one, "
                    "`assess` runs the history clock over every snapshot's vulnerabilities)")
    ap.add_argument("--tile-only", action="store_true",
                    help="only write the tiled store of --images images (for `faces`)")
    ap.add_argument("--together-only", action="store_true",
                    help="faces: only the run as one (`auditlib run`, what the goal times), "
                    "not the four commands each in its own process")
    ap.add_argument("--section", help=argparse.SUPPRESS)  # one section, in a child process
    args = ap.parse_args()
    if args.tile_only:
        print(fleet_store(args.images, args.base_images, args.snapshots))
        return
    if args.section:
        print("RESULT " + json.dumps(SECTIONS[args.section](args)), flush=True)
        return
    for name in args.sections.split(","):
        cmd = [sys.executable, __file__, *sys.argv[1:], "--section", name]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        lines = p.stdout.splitlines()
        for line in lines:
            if not line.startswith("RESULT "):
                print(line)
        results = [line[7:] for line in lines if line.startswith("RESULT ")]
        if p.returncode or not results:
            print(f"{name}: FAILED after {time.perf_counter() - t0:.0f} s: "
                  + " | ".join(p.stderr.strip().splitlines()[-3:]))
            continue
        report(name, json.loads(results[0]), args)


if __name__ == "__main__":
    main()
