"""A standalone Spark cluster on 127.0.0.1 for a test session: one master and two workers,
started with the `spark-class` pyspark ships (Java 17 needed), stopped at the end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_SECONDS = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spark_home() -> Path:
    """Return the Spark pyspark ships (raises ImportError without pyspark)."""
    import pyspark  # noqa: PLC0415 (an optional extra)

    return Path(pyspark.__file__).parent


def _alive_workers(ui: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=2) as r:
            return int(json.loads(r.read()).get("aliveworkers", 0))
    except (OSError, ValueError):
        return 0


@contextmanager
def spark_cluster(work: Path, workers: int = 2) -> Iterator[str]:
    """Start a master and `workers` workers (one core, 1 GB each) on 127.0.0.1; yield the master
    URL once every worker has registered.

    Raises:
        RuntimeError: if they are not up within `START_SECONDS` (their logs' tails say why).
    """
    home = spark_home()
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_LOG_DIR": str(work / "logs"), "SPARK_NO_DAEMONIZE": "1"}
    port, ui = _free_port(), _free_port()
    master = f"spark://127.0.0.1:{port}"
    cls = str(home / "bin" / "spark-class")
    work.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []

    def start(name: str, *args: str) -> None:
        log = work / f"{name}.log"
        logs.append(log)
        procs.append(subprocess.Popen([cls, *args], env=env, stdout=log.open("wb"),
                                      stderr=subprocess.STDOUT, start_new_session=True))

    try:
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
              "--port", str(port), "--webui-port", str(ui))
        for i in range(workers):
            start(f"worker{i}", "org.apache.spark.deploy.worker.Worker", master,
                  "--host", "127.0.0.1", "--cores", "1", "--memory", "1g",
                  "--webui-port", str(_free_port()), "--work-dir", str(work / f"w{i}"))
        deadline = time.monotonic() + START_SECONDS
        while _alive_workers(ui) < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                tails = "; ".join(f"{log.name}: " + " | ".join(
                    log.read_text(errors="replace").splitlines()[-3:]) for log in logs)
                raise RuntimeError(f"the Spark cluster did not start in {START_SECONDS:.0f} s: "
                                   f"{tails}")
            time.sleep(0.5)
        yield master
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
