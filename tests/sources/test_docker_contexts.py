"""The docker CLI's context store, read as docker/cli writes it (meta/<sha256>/meta.json and
tls/<sha256>/docker/*.pem); the integration test makes one with the real `docker context
create`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from auditlib.sources.docker_contexts import (
    ContextError,
    context_id,
    contexts_dir,
    find_context,
    list_contexts,
)


def add_context(config: Path, name: str, host: str, *, skip_verify: bool = False,
                tls: tuple[str, ...] = ()) -> None:
    cid = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / cid
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({
        "Name": name, "Metadata": {"Description": "test"},
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_verify}},
    }))
    for f in tls:
        folder = config / "contexts" / "tls" / cid / "docker"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{f}.pem").write_text("-----BEGIN CERTIFICATE-----\n")


def test_contexts_are_read_with_their_tls_files(tmp_path: Path) -> None:
    add_context(tmp_path, "prod", "tcp://prod.example:2376", tls=("ca", "cert", "key"))
    add_context(tmp_path, "build", "ssh://ops@build.example")
    add_context(tmp_path, "lab", "tcp://lab.example:2376", skip_verify=True)
    found = {e.name: e for e in list_contexts(tmp_path)}
    assert sorted(found) == ["build", "lab", "prod"]
    prod = found["prod"]
    assert prod.url == "tcp://prod.example:2376"
    assert prod.tls is not None and prod.tls.verify
    tls_dir = tmp_path / "contexts" / "tls" / context_id("prod") / "docker"
    assert (prod.tls.ca, prod.tls.cert, prod.tls.key) == (
        tls_dir / "ca.pem", tls_dir / "cert.pem", tls_dir / "key.pem")
    assert found["build"].tls is None
    lab = found["lab"].tls
    assert lab is not None and not lab.verify and lab.ca is None
    assert find_context("build", tmp_path) == found["build"]


def test_docker_config_is_respected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_context(tmp_path, "x", "unix:///run/x.sock")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert contexts_dir() == tmp_path / "contexts"
    assert [e.url for e in list_contexts()] == ["unix:///run/x.sock"]


def test_default_is_docker_host_not_a_stored_context(tmp_path: Path) -> None:
    assert find_context("default", tmp_path) is None


def test_a_missing_context_names_the_store_and_the_known_ones(tmp_path: Path) -> None:
    add_context(tmp_path, "prod", "tcp://prod.example:2376")
    with pytest.raises(ContextError, match=r"'staging': not in the context store .*'prod'"):
        find_context("staging", tmp_path)


def test_a_damaged_meta_file_is_named(tmp_path: Path) -> None:
    add_context(tmp_path, "prod", "tcp://prod.example:2376")
    meta = tmp_path / "contexts" / "meta" / context_id("prod") / "meta.json"
    meta.write_text("{not json")
    with pytest.raises(ContextError, match=str(meta)):
        list_contexts(tmp_path)


def test_an_endpoint_shows_no_password(tmp_path: Path) -> None:
    add_context(tmp_path, "pw", "ssh://ops:s3cr3t-pw@host.example")
    (ep,) = list_contexts(tmp_path)
    assert "s3cr3t" not in ep.shown and "s3cr3t" not in repr(ep)
    assert ep.shown == "ssh://ops@host.example (context pw)"


def test_a_damaged_context_is_its_own_error_and_the_others_are_read(tmp_path: Path) -> None:
    from auditlib.sources.docker_contexts import load_contexts

    add_context(tmp_path, "prod", "tcp://prod.example:2376")
    add_context(tmp_path, "lab", "tcp://lab.example:2376")
    meta = tmp_path / "contexts" / "meta" / context_id("lab") / "meta.json"
    meta.write_text("{not json")
    found, errors = load_contexts(tmp_path)
    assert [e.name for e in found] == ["prod"]
    assert len(errors) == 1 and str(meta) in str(errors[0])
