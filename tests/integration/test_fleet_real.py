"""A fleet collected at once against the real engine: a context store made by the real `docker
context create` (one context reachable, one not), an inventory file naming the engine over mutual
TLS and a source that accepts connections and never answers. The others are collected, each
failure is one line naming its source, and reading the sources at once gives the same tables as
reading them one after the other.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from auditlib.cli.main import main
from auditlib.ingest.collect import CollectRequest, collections, to_audit_data
from auditlib.sources.engine_endpoint import EngineEndpoint, EngineTls
from auditlib.store import read_latest
from tests.integration.engine import Engine, busybox_rootfs, import_image
from tests.silent import silent_servers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine(docker_engine: Engine) -> Iterator[Engine]:
    """The session's engine with two images of its own (a container runs one), removed again
    at the end (other tests count the engine's containers)."""
    rootfs = busybox_rootfs()
    refs = [f"fleet/app{i}:1.{i}" for i in (1, 2)]
    for i, ref in enumerate(refs):
        import_image(docker_engine, rootfs, ref, f"ENV N={i}", 'CMD ["sleep", "3600"]')
    docker_engine.docker("run", "-d", "--network", "none", "--name", "fleet-c1",
                         refs[0], "sh", "-c", "echo x > /tmp/x; sleep 3600")
    yield docker_engine
    docker_engine.docker("rm", "-f", "fleet-c1")
    docker_engine.docker("rmi", *refs)


@pytest.fixture
def silent_socket(tmp_path: Path) -> Iterator[Path]:
    """A unix socket that accepts every connection and never says a word."""
    with silent_servers(tmp_path / "silent.sock") as (path, _port):
        yield path


@pytest.mark.slow
def test_contexts_inventory_and_a_silent_source(engine: Engine, silent_socket: Path,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "docker-config"
    env = {**os.environ, "DOCKER_CONFIG": str(config)}
    for name, host in (("lab", engine.url), ("gone", f"unix://{tmp_path}/gone.sock")):
        subprocess.run(["docker", "context", "create", name, "--docker", f"host={host}"],
                       env=env, check=True, capture_output=True)
    engines = [f"  - url: unix://{silent_socket}\n    deadline: 2\n"]
    if engine.tls_url is not None and engine.cert_path is not None:
        engines.append(f"  - url: {engine.tls_url}\n    cert_path: {engine.cert_path}\n")
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text("deadline: 60\nengines:\n" + "".join(engines)
                         + "contexts: [gone]\n")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    store = tmp_path / "store"
    t0 = time.monotonic()
    result = CliRunner().invoke(main, ["collect", "--sources", str(inventory), "--context", "lab",
                                       "--store", str(store), "--quiet"])
    took = time.monotonic() - t0
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, result.stderr
    silent = next(line for line in errors if str(silent_socket) in line)
    assert "no answer within 2 s" in silent
    gone = next(line for line in errors if "context gone" in line)
    assert "no such socket" in gone
    assert took < 30, f"the silent source held the others up: {took:.1f} s"
    data = read_latest(store)
    expected = {engine.url, *([engine.tls_url] if engine.tls_url else [])}
    assert set(data.images["source"]) == expected
    for source in expected:
        assert (data.images["source"] == source).sum() >= 2, source
    assert (data.containers["name"] == "fleet-c1").any()


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    text = df.astype(str)
    return text.sort_values(list(text.columns)).reset_index(drop=True)


def test_at_once_gives_what_one_after_the_other_gives(engine: Engine, tmp_path: Path) -> None:
    sources: list[str | None | EngineEndpoint] = [engine.url]
    if engine.tls_url is not None and engine.cert_path is not None:
        c = engine.cert_path
        sources.append(EngineEndpoint(engine.tls_url,
                                      tls=EngineTls(c / "ca.pem", c / "cert.pem", c / "key.pem")))
    missing = f"unix://{tmp_path}/missing.sock"
    at = datetime(2026, 12, 1, tzinfo=UTC)

    def tables(workers: int) -> tuple[list[str], dict[str, pd.DataFrame]]:
        req = CollectRequest(engines=[*sources, missing], workers=workers)
        data = to_audit_data(collections(req), collected_at=at)
        frames = {n: _sorted(getattr(data, n)) for n in
                  ("images", "image_tags", "image_history", "image_layers", "containers",
                   "container_changes", "load_errors")}
        return [f.path for f in data.files], frames

    order_one, one = tables(1)
    order_all, every = tables(4)
    assert order_one == order_all == [
        engine.url, *(s.url for s in sources[1:] if isinstance(s, EngineEndpoint)), missing]
    for name, frame in one.items():
        pd.testing.assert_frame_equal(frame, every[name], obj=name)
    assert len(one["images"]) >= 2 * len(sources)
