"""The Docker Engine collector against a real dockerd and the fleet built on it
(tests/integration/fleet.py): the tables say what `docker image inspect` and `docker inspect` say.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from auditlib.data import AuditData
from auditlib.errors import SourceUnavailableError
from auditlib.identity import normalize_reference
from auditlib.ingest.collect import to_audit_data
from auditlib.sources._engine_http import SocketApi
from auditlib.sources.engine import collect_engine, open_api
from tests.integration.fleet import FAKE_PAT, SECRET_VALUE, Fleet

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def collected(engine_fleet: Fleet) -> AuditData:
    col = collect_engine(engine_fleet.engine.url)
    assert col.errors == []
    return to_audit_data([col])


def _inspect(fleet: Fleet, *args: str) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(fleet.engine.docker(*args))  # type: ignore[no-any-return]


def test_images_match_docker_image_inspect(engine_fleet: Fleet, collected: AuditData) -> None:
    images = collected.images.set_index("image_id")
    # Every image on the engine: the fleet's, and the untagged build stage of `multi`.
    ids = engine_fleet.engine.docker("image", "ls", "-q", "--no-trunc").split()
    assert set(engine_fleet.images.values()) < set(ids)
    expected = _inspect(engine_fleet, "image", "inspect", *set(ids))
    assert set(images.index.astype(str)) == {e["Id"] for e in expected}
    for e in expected:
        row = images.loc[e["Id"]]
        assert row["size_bytes"] == e["Size"]
        assert row["layer_count"] == len(e["RootFS"]["Layers"])
        assert row["user"] == e["Config"].get("User", "")
        assert row["architecture"] == e["Architecture"] and row["os"] == e["Os"]
        assert row["created_at"] == pd.Timestamp(e["Created"])
        layers = collected.image_layers[collected.image_layers["image_id"] == e["Id"]]
        assert layers.sort_values("layer_index")["diff_id"].astype(str).tolist() == (
            e["RootFS"]["Layers"]
        )
        tags = collected.image_tags[collected.image_tags["image_id"] == e["Id"]]
        # Other tests of the session may have tagged and pushed fleet images: compare with what
        # the engine says now.
        now = json.loads(engine_fleet.engine.docker("image", "inspect", e["Id"]))[0]
        assert sorted(tags["reference"]) == sorted(
            str(normalize_reference(t)) for t in [*now["RepoTags"], *now["RepoDigests"]]
        )


def test_image_config_details(engine_fleet: Fleet, collected: AuditData) -> None:
    images = collected.images.set_index("image_id")
    app = images.loc[engine_fleet.images["app"]]
    assert app["user"] == "1000:1000"
    assert bool(app["has_healthcheck"])
    assert app["exposed_ports"] == "8080/tcp" and app["volumes"] == "/data"
    assert images.loc[engine_fleet.images["worker"], "user"] == ""
    assert not bool(images.loc[engine_fleet.images["worker"], "has_healthcheck"])
    labels = collected.image_labels
    labels = labels[labels["image_id"] == engine_fleet.images["app"]]
    by_key = dict(zip(labels["label"], labels["value"], strict=True))
    assert by_key["org.opencontainers.image.revision"] == "0123456789abcdef"
    history = collected.image_history[
        collected.image_history["image_id"] == engine_fleet.images["app"]
    ].sort_values("step_index")
    steps = history["created_by"].astype(str).tolist()
    assert any("USER 1000:1000" in s for s in steps) and any("HEALTHCHECK" in s for s in steps)
    assert history["is_empty_layer"].any() and (~history["is_empty_layer"]).any()


def test_env_names_only_and_secrets_flagged(engine_fleet: Fleet, collected: AuditData) -> None:
    env = collected.image_env[collected.image_env["image_id"] == engine_fleet.images["leaky"]]
    flags = dict(zip(env["name"].astype(str), env["looks_secret"], strict=True))
    assert flags["DB_PASSWORD"] and flags["DEPLOY_NOTE"]
    assert not flags["API_TOKEN_FILE"] and not flags["LOG_LEVEL"]
    reasons = dict(zip(env["name"].astype(str), env["secret_reason"], strict=True))
    assert reasons["DEPLOY_NOTE"] == "value:github-pat"
    for name, df in collected.tables().items():
        text = df.astype(str).to_csv()
        assert SECRET_VALUE not in text and FAKE_PAT not in text, name


def test_containers_mounts_and_changes(engine_fleet: Fleet, collected: AuditData) -> None:
    c = collected.containers.set_index("name")
    assert set(c.index) == {"drifter", "direct", "stopped"}
    assert c.loc["drifter", "state"] == "running" and c.loc["stopped", "state"] == "exited"
    assert c.loc["drifter", "image_id"] == engine_fleet.images["app"]
    assert c.loc["direct", "image_ref"] == "docker.io/local/busybox:1.36"
    assert c.loc["direct", "image_ref_raw"] == "local/busybox:1.36"
    assert c.loc["drifter", "user"] == "0"
    assert c.loc["drifter", "restart_policy"] == "unless-stopped"
    assert pd.isna(c.loc["drifter", "finished_at"]) and pd.notna(c.loc["stopped", "finished_at"])
    mounts = collected.container_mounts
    drifter_mounts = mounts[mounts["container_id"] == engine_fleet.containers["drifter"]]
    assert drifter_mounts["destination"].tolist() == ["/data"]
    assert drifter_mounts["mount_type"].tolist() == ["volume"]
    changes = collected.container_changes
    drifted = changes[changes["container_id"] == engine_fleet.containers["drifter"]]
    kinds = dict(zip(drifted["path"], drifted["kind"].astype(str), strict=True))
    assert kinds["/etc/drift.conf"] == "added"
    # Only running containers are diffed.
    assert engine_fleet.containers["stopped"] not in set(changes["container_id"])


def test_same_state_gives_same_scan_ids(engine_fleet: Fleet, collected: AuditData) -> None:
    again = to_audit_data([collect_engine(engine_fleet.engine.url)])
    images = collected.scans[collected.scans["format"] == "docker-engine"]
    assert set(images["scan_id"]) <= set(again.scans["scan_id"])


def test_cli_collect_engine_and_dockerfiles(engine_fleet: Fleet, tmp_path: Path) -> None:
    store = tmp_path / "store"
    args = [
        sys.executable, "-m", "auditlib.cli", "collect", "--engine", engine_fleet.engine.url,
        "--dockerfile", f"{engine_fleet.dockerfiles['multi']}=team/multi:2.0",
        "--store", str(store),
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "snapshot written" in done.stdout
    from auditlib.store import read_latest

    data = read_latest(store)
    assert set(engine_fleet.images.values()) < set(data.images["image_id"])
    df = data.dockerfiles
    assert df["is_multi_stage"].tolist() == [True]
    assert df["context_image_ref"].astype(str).tolist() == ["docker.io/team/multi:2.0"]


def test_cli_collect_unreachable_engine_is_exit_2(tmp_path: Path) -> None:
    args = [
        sys.executable, "-m", "auditlib.cli", "collect", "--engine",
        f"unix://{tmp_path}/no.sock", "--store", str(tmp_path / "s"),
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1
    assert "cannot connect to the Docker Engine at unix://" in lines[0]
    assert "no such socket" in lines[0]


def test_tcp_with_mutual_tls_gives_the_same_inventory(
    engine_fleet: Fleet, collected: AuditData, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_fleet.engine
    if engine.tls_url is None or engine.cert_path is None:
        pytest.fail("the test engine was started without its TLS listener (openssl missing?)")
    # The way a user points the docker CLI at a remote engine: DOCKER_HOST, DOCKER_TLS_VERIFY,
    # DOCKER_CERT_PATH; the collector goes through the docker SDK there.
    monkeypatch.setenv("DOCKER_HOST", engine.tls_url)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(engine.cert_path))
    over_tls = to_audit_data([collect_engine()])
    assert set(over_tls.images["image_id"]) == set(collected.images["image_id"])
    assert set(over_tls.containers["container_id"]) == set(collected.containers["container_id"])
    assert set(over_tls.images["source"]) == {engine.tls_url}
    # Without the client certificate the engine refuses: one clear error, no traceback.
    monkeypatch.delenv("DOCKER_TLS_VERIFY")
    monkeypatch.delenv("DOCKER_CERT_PATH")
    with pytest.raises(SourceUnavailableError, match=f"at {engine.tls_url}: "):
        collect_engine()


def _tcp_to(socket_path: str) -> socketserver.ThreadingTCPServer:
    """Return a server on 127.0.0.1 forwarding each connection to the unix socket (an engine on
    plain tcp, as `dockerd -H tcp://...` without TLS), serving in a thread of its own."""

    class Forward(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            up.connect(socket_path)

            def copy(src: socket.socket, dst: socket.socket) -> None:
                with contextlib.suppress(OSError):
                    while data := src.recv(65536):
                        dst.sendall(data)
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)

            back = threading.Thread(target=copy, args=(up, self.request), daemon=True)
            back.start()
            copy(self.request, up)
            back.join()
            up.close()

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Forward)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_plain_tcp_is_read_directly_and_gives_the_same_inventory(
    engine_fleet: Fleet, collected: AuditData
) -> None:
    server = _tcp_to(engine_fleet.engine.url.removeprefix("unix://"))
    try:
        url = f"tcp://127.0.0.1:{server.server_address[1]}"
        api, shown, _ = open_api(url)
        assert isinstance(api, SocketApi) and shown == url  # not the SDK's 1.5 ms per GET
        over_tcp = to_audit_data([collect_engine(url)])
    finally:
        server.shutdown()
        server.server_close()
    assert set(over_tcp.images["source"]) == {url}
    for table, key in (("images", "image_id"), ("containers", "container_id"),
                       ("image_history", "image_id"), ("container_changes", "container_id")):
        ours, theirs = getattr(over_tcp, table), getattr(collected, table)
        assert len(ours) == len(theirs) > 0, table
        assert sorted(ours[key].astype(str)) == sorted(theirs[key].astype(str)), table
