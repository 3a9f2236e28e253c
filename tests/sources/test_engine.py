"""The Docker Engine collector on canned API answers (the shapes Docker Engine API 1.41 returns);
the real engine is in tests/integration/test_engine_real.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import pytest

from auditlib.errors import SourceUnavailableError
from auditlib.ingest.collect import to_audit_data
from auditlib.normalize.redact import redact
from auditlib.normalize.secret_env import check_env
from auditlib.sources.engine import (
    connect,
    container_from_inspect,
    how_to_fix,
    image_from_inspect,
    safe_url,
)

IMAGE_ID = "sha256:" + "ab" * 32
LAYER = "sha256:" + "cd" * 32
TOKEN = "ghp_" + "abcdefghijklmnopqrstuvwxyzABCDEF0123"

INSPECT: dict[str, Any] = {
    "Id": IMAGE_ID,
    "RepoTags": ["team/app:1.0", "registry.test:5000/team/app:1.0"],
    "RepoDigests": ["registry.test:5000/team/app@sha256:" + "ef" * 32],
    "Created": "2026-11-01T10:00:00.123456789Z",
    "Architecture": "amd64",
    "Os": "linux",
    "Size": 4242,
    "Config": {
        "User": "app",
        "Env": ["PATH=/usr/bin", "DB_PASSWORD=hunter2", f"NOTE={TOKEN}", "PASSWORD_FILE=/x"],
        "Labels": {"org.opencontainers.image.source": "https://example.test/app"},
        "ExposedPorts": {"443/tcp": {}, "80/tcp": {}},
        "Volumes": {"/data": {}},
        "Healthcheck": {"Test": ["CMD-SHELL", "true"]},
        "Entrypoint": ["/entry.sh"],
        "Cmd": ["serve", "--port", "80"],
    },
    "RootFS": {"Type": "layers", "Layers": [LAYER]},
}
HISTORY: list[dict[str, Any]] = [  # newest first, as the engine answers
    {"Id": IMAGE_ID, "Created": 1761991200, "CreatedBy": "/bin/sh -c #(nop)  USER app",
     "Size": 0, "Comment": ""},
    {"Id": "<missing>", "Created": 1761991100,
     "CreatedBy": "/bin/sh -c #(nop)  ENV DB_PASSWORD=hunter2", "Size": 0, "Comment": ""},
    {"Id": "<missing>", "Created": 1761991000, "CreatedBy": "/bin/sh -c #(nop) ADD file:x in /",
     "Size": 4242, "Comment": ""},
]

CONTAINER: dict[str, Any] = {
    "Id": "c" * 64,
    "Name": "/web",
    "Created": "2026-11-02T00:00:00Z",
    "Image": IMAGE_ID,
    "Config": {"Image": "wordpress", "User": "", "Env": ["WORDPRESS_DB_PASSWORD=pw"]},
    "State": {"Status": "running", "Running": True, "StartedAt": "2026-11-02T00:00:01Z",
              "FinishedAt": "0001-01-01T00:00:00Z"},
    "HostConfig": {"RestartPolicy": {"Name": "always"}, "Privileged": True,
                   "ReadonlyRootfs": False, "NetworkMode": "bridge"},
    "Mounts": [
        {"Type": "volume", "Name": "wp-data", "Source": "/var/lib/docker/volumes/wp-data/_data",
         "Destination": "/var/www/html", "RW": True},
        {"Type": "bind", "Source": "/etc/site.conf", "Destination": "/etc/site.conf", "RW": False},
    ],
}
DIFF = [{"Path": "/etc", "Kind": 0}, {"Path": "/etc/php.ini", "Kind": 1},
        {"Path": "/tmp/x", "Kind": 2}]


def _image() -> Any:
    rec = image_from_inspect(INSPECT, HISTORY, source="unix:///s", host="h1", api_version="1.41")
    return to_audit_data([_col(rec)])


def _col(*records: Any) -> Any:
    from auditlib.sources.record import Collection

    return Collection("unix:///s", "docker-engine", list(records))


def test_image_row_from_inspect() -> None:
    data = _image()
    row = data.images.iloc[0]
    assert row["image_id"] == IMAGE_ID and row["host"] == "h1"
    assert row["user"] == "app" and row["size_bytes"] == 4242 and row["layer_count"] == 1
    assert row["exposed_ports"] == "443/tcp,80/tcp" and row["volumes"] == "/data"
    assert row["has_healthcheck"] and row["entrypoint"] == "/entry.sh serve --port 80"
    assert row["created_at"] == pd.Timestamp("2026-11-01T10:00:00.123456789Z")
    assert row["source_format"] == "docker-engine@1.41"
    refs = set(data.image_tags["reference"])
    assert refs == {
        "docker.io/team/app:1.0", "registry.test:5000/team/app:1.0",
        "registry.test:5000/team/app@sha256:" + "ef" * 32,
    }
    assert data.scans.iloc[0]["target_type"] == "container_image"


def test_history_is_oldest_first_with_sizes_and_redacted() -> None:
    h = _image().image_history.sort_values("step_index")
    assert h["size_bytes"].tolist() == [4242, 0, 0]
    assert h["is_empty_layer"].tolist() == [False, True, True]
    assert h["created_by"].iloc[1] == "/bin/sh -c #(nop)  ENV DB_PASSWORD=<redacted>"
    assert h["created_at"].iloc[0] == pd.Timestamp(1761991000, unit="s", tz="UTC")


def test_env_names_only() -> None:
    data = _image()
    env = data.image_env.set_index("name")
    assert env.loc["DB_PASSWORD", "looks_secret"] and env.loc["NOTE", "looks_secret"]
    assert env.loc["NOTE", "secret_reason"] == "value:github-pat"
    assert not env.loc["PATH", "looks_secret"] and not env.loc["PASSWORD_FILE", "looks_secret"]
    for df in data.tables().values():
        text = df.astype(str).to_csv()
        assert "hunter2" not in text and TOKEN not in text


def test_defaults_when_config_is_sparse() -> None:
    sparse = {"Id": IMAGE_ID, "Config": {}, "RootFS": {}}
    rec = image_from_inspect(sparse, [], source="s", host="h", api_version="1.41")
    row = to_audit_data([_col(rec)]).images.iloc[0]
    assert row["user"] == "" and row["layer_count"] == 0
    assert pd.notna(row["has_healthcheck"]) and not row["has_healthcheck"]
    with pytest.raises(ValueError, match="without an Id"):
        image_from_inspect({"Config": {}}, [], source="s", host="h", api_version="1.41")


def test_container_rows() -> None:
    rec = container_from_inspect(CONTAINER, DIFF, source="unix:///s", host="h1",
                                 api_version="1.41")
    data = to_audit_data([_col(rec)])
    c = data.containers.iloc[0]
    assert c["name"] == "web" and c["image_id"] == IMAGE_ID
    assert c["image_ref"] == "docker.io/library/wordpress:latest"
    assert c["image_ref_raw"] == "wordpress" and c["state"] == "running"
    assert c["restart_policy"] == "always" and c["is_privileged"] and not c["is_read_only"]
    assert pd.isna(c["finished_at"]) and c["user"] == ""
    mounts = data.container_mounts.set_index("destination")
    assert mounts.loc["/var/www/html", "mount_source"] == "wp-data"
    assert not mounts.loc["/etc/site.conf", "is_read_write"]
    kinds = dict(zip(data.container_changes["path"], data.container_changes["kind"], strict=True))
    assert kinds == {"/etc": "changed", "/etc/php.ini": "added", "/tmp/x": "deleted"}
    assert "pw" not in data.containers.astype(str).to_csv()
    assert data.images.empty  # a container says nothing of its image's config


def test_container_started_by_id_has_no_reference() -> None:
    by_id = copy.deepcopy(CONTAINER)
    by_id["Config"]["Image"] = IMAGE_ID.removeprefix("sha256:")[:12]
    rec = container_from_inspect(by_id, None, source="s", host="h", api_version="1.41")
    assert pd.isna(to_audit_data([_col(rec)]).containers.iloc[0]["image_ref"])


def test_container_scan_id_ignores_state_noise() -> None:
    a = container_from_inspect(CONTAINER, DIFF, source="s", host="h", api_version="1.41")
    noisy = copy.deepcopy(CONTAINER)
    noisy["State"]["Health"] = {"FailingStreak": 3}
    b = container_from_inspect(noisy, DIFF, source="s", host="h", api_version="1.41")
    assert a.payload == b.payload
    c = container_from_inspect(CONTAINER, [*DIFF, {"Path": "/new", "Kind": 1}], source="s",
                               host="h", api_version="1.41")
    assert c.payload != a.payload


def test_safe_url_drops_passwords() -> None:
    assert safe_url("ssh://ops:pw@build-1:22") == "ssh://ops@build-1:22"
    assert safe_url("tcp://10.0.0.1:2376") == "tcp://10.0.0.1:2376"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("('Connection aborted.', PermissionError(13, 'Permission denied'))", "docker` group"),
        ("('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))",
         "is dockerd running"),
        ("Connection refused", "connection refused"),
        ("[SSL: CERTIFICATE_VERIFY_FAILED]", "DOCKER_CERT_PATH"),
    ],
)
def test_how_to_fix(error: str, expected: str) -> None:
    assert expected in how_to_fix("unix:///x", Exception(error))


def test_connect_to_missing_socket_names_it(tmp_path: Any) -> None:
    with pytest.raises(SourceUnavailableError, match=r"at unix://.*no.sock: no such socket"):
        connect(f"unix://{tmp_path}/no.sock", timeout=5)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("DB_PASSWORD", "hunter2", "name:DB_PASSWORD"),
        ("DB_PASSWORD", "", None),
        ("DB_PASSWORD", "changeme", None),
        ("DB_PASSWORD", "${FROM_RUNTIME}", None),
        ("POSTGRES_PASSWORD_FILE", "/run/secrets/pg", None),
        ("NOTE", "AKIAABCDEFGHIJKLMNOP", "value:aws-access-key-id"),
        ("DATABASE_URL", "postgres://app:pw@db/app", "value:url-with-password"),
        ("PATH", "/usr/bin", None),
    ],
)
def test_check_env(name: str, value: str, reason: str | None) -> None:
    assert check_env(name, value) == reason


def test_redact() -> None:
    text = f'|2 TOKEN=abc GITHUB="x" /bin/sh -c echo {TOKEN} && LOG=1'
    out = redact(text)
    assert "TOKEN=<redacted>" in out and TOKEN not in out and "LOG=1" in out
