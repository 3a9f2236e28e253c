"""Sources that never answer, without the real parts: a unix socket and a registry port that
accept connections and say nothing are each one error line at their deadline, while a Dockerfile
beside them is read; the collections keep the order the sources were named in; the progress bar
gets one line per source."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress, TextColumn

from auditlib.cli.fleet import SourceBars
from auditlib.ingest.collect import CollectRequest, collections
from tests.silent import silent_servers


@pytest.fixture
def silent(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A unix socket and a TCP port of 127.0.0.1 that accept and never answer."""
    with silent_servers(tmp_path / "silent.sock") as servers:
        yield servers


def test_silent_sources_are_one_line_each_and_the_rest_is_read(
    silent: tuple[Path, int], tmp_path: Path
) -> None:
    sock, port = silent
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox:1.36\nUSER 1000\n")
    registry = f"127.0.0.1:{port}/team/app"
    req = CollectRequest(engines=[f"unix://{sock}"], registries=[registry],
                         dockerfiles=[str(dockerfile)], deadline=1.0)
    t0 = time.monotonic()
    cols = collections(req)
    took = time.monotonic() - t0
    assert [c.format for c in cols] == ["docker-engine", "oci-registry", "dockerfile"]
    engine, reg, df = cols
    assert df.records and not df.errors
    assert not engine.records and len(engine.errors) == 1
    assert engine.errors[0].startswith(f"unix://{sock}: no answer within 1 s")
    assert not reg.records and len(reg.errors) == 1 and "\n" not in reg.errors[0]
    assert registry in reg.errors[0] and "source_deadline" in reg.errors[0], reg.errors
    assert took < 10, f"silent sources held the run {took:.1f} s"


def test_the_progress_bar_has_a_line_per_source(tmp_path: Path) -> None:
    files = []
    for i in range(3):
        f = tmp_path / f"Dockerfile.{i}"
        f.write_text(f"FROM busybox:1.{i}\n")
        files.append(str(f))
    missing = str(tmp_path / "nope" / "Dockerfile")
    with Progress(TextColumn("{task.description}", markup=False),
                  console=Console(file=io.StringIO())) as bar:
        collections(CollectRequest(dockerfiles=[*files, missing]), progress=SourceBars(bar))
        lines = sorted(str(t.description) for t in bar.tasks)
    assert lines == sorted([*(f"{f}: read" for f in files), f"{missing}: failed"])
