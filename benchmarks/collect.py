"""Engine collector benchmark (design.md section 8, last bullet).

    python benchmarks/collect.py [--images 200] [--containers 50] [--runs 3] [--engine URL]

Starts its own dockerd (as the integration tests do; needs root and Debian's docker.io) unless
`--engine` names one, makes N small images (`docker import` of a busybox rootfs with a few ENV,
LABEL, USER and CMD changes each, so each image has its own config) and M running containers, then
times, in the same run and alternating:

  (a) baseline   `docker image inspect` of the same N images (one CLI call);
  (c) auditlib   `collect_engine()`: the listing, every image inspect and history, every container
                 inspect and `diff`, into typed tables.

It prints the median of each over the runs, the CPU seconds auditlib's process spent collecting and
building the tables (which other load on the machine disturbs least), and the ratio
auditlib/baseline with PASS/FAIL against the goal (<= 1.5). It always exits 0 when it could run: a
missed goal is a FAIL line.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

GOAL_RATIO = 1.5


def make_fleet(url: str, images: int, containers: int) -> list[str]:
    """Make `images` images and `containers` running containers on the engine; return image ids."""
    import docker

    from tests.integration.engine import busybox_rootfs

    client = docker.DockerClient(base_url=url, timeout=300)
    rootfs = busybox_rootfs()

    def one(i: int) -> str:
        changes = [
            f"ENV APP_VERSION=1.{i} LOG_LEVEL=info",
            f'LABEL org.opencontainers.image.version="1.{i}"',
            "USER 1000" if i % 2 else "USER root", 'CMD ["sleep", "3600"]', "EXPOSE 8080",
        ]
        client.api.import_image_from_data(
            rootfs, repository=f"bench/app{i:03d}", tag=f"1.{i}", changes=changes
        )
        return str(client.images.get(f"bench/app{i:03d}:1.{i}").id)

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(one, range(images)))
    for j in range(containers):
        client.containers.run(
            f"bench/app{j:03d}:1.{j}", ["sh", "-c", "echo x > /tmp/x; sleep 3600"],
            detach=True, network_mode="none", name=f"bench{j:03d}",
        )
    client.close()
    return ids


def time_baseline(url: str, ids: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        ["docker", "-H", url, "image", "inspect", *ids],
        check=True, capture_output=True,
    )
    return time.perf_counter() - t0


def time_auditlib(url: str) -> tuple[float, dict[str, int], tuple[float, float]]:
    """Return the wall seconds of collecting the engine into tables, the rows, and the CPU
    seconds of this process collecting (`collect_engine`) and building the tables
    (`to_audit_data`): CPU time is what other load on the machine disturbs least."""
    from auditlib.ingest.collect import to_audit_data
    from auditlib.sources.engine import collect_engine

    t0, c0 = time.perf_counter(), time.process_time()
    col = collect_engine(url)
    c1 = time.process_time()
    data = to_audit_data([col])
    took, c2 = time.perf_counter() - t0, time.process_time()
    counts = {n: len(getattr(data, n)) for n in ("images", "containers", "container_changes")}
    return took, counts, (c1 - c0, c2 - c1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--containers", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--engine", help="use this engine (must be empty) instead of starting one")
    args = ap.parse_args()

    from tests.integration.engine import Engine, start_engine, stop_engine

    engine: Engine | None = None
    if args.engine:
        url = args.engine
    else:
        try:
            engine = start_engine(Path(tempfile.mkdtemp(prefix="auditlib-bench-", dir="/tmp")))
        except (RuntimeError, OSError) as e:
            print(f"cannot start dockerd (needs root and Debian's docker.io): {e}")
            return
        url = engine.url
    try:
        t0 = time.perf_counter()
        ids = make_fleet(url, args.images, args.containers)
        print(
            f"engine {url}: made {len(ids)} images and {args.containers} running containers "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        base, ours, cpu = [], [], []
        counts: dict[str, int] = {}
        time_auditlib(url)  # warm: imports, connection pool
        for _ in range(args.runs):
            base.append(time_baseline(url, ids))
            took, counts, used = time_auditlib(url)
            ours.append(took)
            cpu.append(used)
        b, a = statistics.median(base), statistics.median(ours)
        print(f"(a) docker image inspect of {len(ids)} images: {b:.3f} s (median of {args.runs})")
        print(
            f"(c) auditlib collect_engine: {a:.3f} s (median of {args.runs}); rows: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
        )
        collecting, tables = (statistics.median(u[i] for u in cpu) for i in (0, 1))
        print(f"    CPU of this process: collect_engine {collecting:.3f} s, "
              f"to_audit_data {tables:.3f} s (medians)")
        ratio = a / b
        verdict = "PASS" if ratio <= GOAL_RATIO else "FAIL"
        print(f"ratio auditlib/docker-image-inspect {ratio:.2f} ({verdict} <= {GOAL_RATIO})")
    finally:
        if engine is not None:
            stop_engine(engine)


if __name__ == "__main__":
    main()
