"""One client per registry across the repositories of a run (`RegistryClients`): `collect` reads
each repository in a job of its own, and they all go through one client, pinged once, with one
session; an unreachable registry fails each of its repositories with one line, and the other
registries are read."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditlib.ingest.collect import CollectRequest, collect
from auditlib.sources.docker_credentials import Credentials
from auditlib.sources.registry_clients import RegistryClients
from tests.sources.fake_registry import FakeRegistry, config_for, is_manifest, is_ping

USER, PASSWORD = "fleet-bot", "Fleet-pw-3f9a1c"


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    with FakeRegistry() as f:
        yield f


def test_the_repositories_of_a_registry_share_one_client_pinged_once(
    fake: FakeRegistry, tmp_path: Path,
) -> None:
    fake.bearer(user=USER, password=PASSWORD)
    repos = [f"team/svc{i}" for i in range(6)]
    for i, repo in enumerate(repos):
        for t in range(2):
            fake.image(repo, f"1.{t}", config_for(created=f"2026-11-0{t + 1}T00:00:00Z",
                                                  labels={"svc": str(i)}))
    req = CollectRequest(registries=[f"{fake.host}/{r}" for r in repos], workers=4,
                         registry_credentials={fake.host: Credentials(USER, PASSWORD)},
                         docker_config=str(tmp_path / "config.json"))
    data = collect(req)
    assert [f.error for f in data.files] == [None] * 6
    assert len(data.registry_tags) == 12
    assert sorted(set(data.registry_tags["repository"].astype(str))) == repos
    pings = [r for r in fake.requests if is_ping(r) and not r.auth]
    # Before: one new client per repository, so one anonymous ping each (six).
    assert len(pings) == 1, [r.path for r in fake.requests]


def test_one_client_per_registry_from_many_threads_at_once() -> None:
    with RegistryClients() as clients:
        got: list[object] = []
        start = threading.Barrier(8)

        def ask(name: str) -> None:
            start.wait()
            got.append(clients.get(name))

        threads = [threading.Thread(target=ask, args=(["a.example", "b.example"][i % 2],))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({id(c) for c in got}) == 2
        assert clients.get("a.example") in got and clients.get("a.example").registry == "a.example"


def test_an_unreachable_registry_fails_each_repository_in_one_line_and_others_are_read(
    fake: FakeRegistry,
) -> None:
    fake.image("team/app", "1", config_for())
    with socket.socket() as s:  # a port nothing listens on: refused at once
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    req = CollectRequest(registries=[f"{dead}/team/a", f"{fake.host}/team/app", f"{dead}/team/b"],
                         workers=3)
    data = collect(req)
    errors = {f.path: f.error for f in data.files}
    assert errors[f"http://{fake.host}/team/app"] is None
    failed = [e for p, e in errors.items() if dead in p]
    assert len(failed) == 2 and all(e and "\n" not in e and dead in e for e in failed), errors
    assert len(data.registry_tags) == 1


def test_many_repositories_at_once_keep_their_connections() -> None:
    # The default pool reads 32 sources at once, 8 requests each: the registry's connections are
    # kept open and used again (each request on a new connection would be one per request).
    with FakeRegistry(keep_alive=True) as fake:
        repos = [f"team/svc{i}" for i in range(20)]
        for i, repo in enumerate(repos):
            for t in range(5):
                fake.image(repo, f"1.{t}", config_for(created=f"2026-11-0{t + 1}T00:00:00Z",
                                                      labels={"svc": str(i)}))
        # Slow manifests, so that the tags of all the repositories are in flight together.
        fake.hooks.append(lambda r: time.sleep(0.2) if is_manifest(r) else None)
        data = collect(CollectRequest(registries=[f"{fake.host}/{r}" for r in repos]))
        sent, opened = len(fake.requests), fake.connections
    assert len(data.registry_tags) == 100
    assert sent > 200  # tags, manifests and configs of 100 images
    # at most one connection per request in flight (20 repositories x 8), each used again
    assert opened <= 160 and opened < sent / 2, (opened, sent)
