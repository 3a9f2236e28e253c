"""Docker CLI credentials: `config.json` `auths`, `credHelpers`, `credsStore`, and real helper
programs (small shell scripts named `docker-credential-*` put on PATH).

Secrets used here are distinctive, and must never show in a repr or an error message.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from auditlib.sources.docker_credentials import (
    DOCKER_HUB_SERVER,
    Credentials,
    CredentialsError,
    credentials_for,
    default_config_path,
    server_key,
)

SECRET = "S3cret-Value-7781"


def _config(tmp_path: Path, body: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(body))
    return path


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on PATH for `docker-credential-*` scripts."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return folder


def _helper(folder: Path, name: str, script: str) -> Path:
    path = folder / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def test_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "d"))
    assert default_config_path() == tmp_path / "d" / "config.json"
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_config_path() == tmp_path / ".docker" / "config.json"


def test_default_path_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _config(tmp_path, {"auths": {"ghcr.io": {"auth": _b64(f"me:{SECRET}")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    got = credentials_for("ghcr.io")
    assert got is not None and got.password == SECRET


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("docker.io", DOCKER_HUB_SERVER), ("registry-1.docker.io", DOCKER_HUB_SERVER),
        ("index.docker.io", DOCKER_HUB_SERVER), ("ghcr.io", "ghcr.io"),
        ("127.0.0.1:5000", "127.0.0.1:5000"), ("GHCR.IO", "ghcr.io"),
    ],
)
def test_server_key(host: str, key: str) -> None:
    assert server_key(host) == key


@pytest.mark.parametrize(
    "key", ["ghcr.io", "https://ghcr.io", "http://ghcr.io/v2/", "https://GHCR.io/v1/"]
)
def test_auths_base64(tmp_path: Path, key: str) -> None:
    path = _config(tmp_path, {"auths": {key: {"auth": _b64(f"me:{SECRET}:with-colon")}}})
    got = credentials_for("ghcr.io", config_path=path)
    assert got == Credentials("me", f"{SECRET}:with-colon", "", origin=str(path))


def test_auths_username_password_and_identity_token(tmp_path: Path) -> None:
    path = _config(tmp_path, {"auths": {
        "a.example.com": {"username": "u", "password": SECRET},
        "b.example.com": {"identitytoken": SECRET},
        "c.example.com": {},
    }})
    assert credentials_for("a.example.com", config_path=path) == Credentials(
        "u", SECRET, "", origin=str(path)
    )
    tok = credentials_for("b.example.com", config_path=path)
    assert tok is not None and tok.identity_token == SECRET and not tok.password
    assert credentials_for("c.example.com", config_path=path) is None
    assert credentials_for("d.example.com", config_path=path) is None


@pytest.mark.parametrize("key", [DOCKER_HUB_SERVER, "index.docker.io", "docker.io"])
@pytest.mark.parametrize("host", ["docker.io", "registry-1.docker.io"])
def test_docker_hub_aliases(tmp_path: Path, key: str, host: str) -> None:
    path = _config(tmp_path, {"auths": {key: {"auth": _b64(f"hubuser:{SECRET}")}}})
    got = credentials_for(host, config_path=path)
    assert got is not None and got.username == "hubuser"


def test_missing_config_is_no_credentials(tmp_path: Path) -> None:
    assert credentials_for("ghcr.io", config_path=tmp_path / "none.json") is None


@pytest.mark.parametrize(
    ("text", "match"),
    [("{not json", "not valid JSON"), ("[1, 2]", "not a JSON object")],
)
def test_bad_config(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(CredentialsError, match=match):
        credentials_for("ghcr.io", config_path=path)


def test_bad_base64_names_host_not_value(tmp_path: Path) -> None:
    bad = "!!" + SECRET
    path = _config(tmp_path, {"auths": {"ghcr.io": {"auth": bad}}})
    with pytest.raises(CredentialsError) as err:
        credentials_for("ghcr.io", config_path=path)
    assert "ghcr.io" in str(err.value) and SECRET not in str(err.value)
    path = _config(tmp_path, {"auths": {"ghcr.io": {"auth": _b64(SECRET)}}})  # no colon
    with pytest.raises(CredentialsError) as err:
        credentials_for("ghcr.io", config_path=path)
    assert SECRET not in str(err.value)


def test_cred_helper_per_host(tmp_path: Path, helpers: Path) -> None:
    seen = tmp_path / "stdin.txt"
    _helper(helpers, "fake", f"""
[ "$1" = get ] || exit 3
cat > {seen}
echo '{{"ServerURL":"ghcr.io","Username":"helper-user","Secret":"{SECRET}"}}'
""")
    path = _config(tmp_path, {
        "credHelpers": {"ghcr.io": "fake"},
        "auths": {"ghcr.io": {"auth": _b64("inline:ignored")}},
    })
    got = credentials_for("ghcr.io", config_path=path)
    assert got == Credentials("helper-user", SECRET, "", origin="docker-credential-fake")
    assert seen.read_text() == "ghcr.io"


def test_cred_helper_identity_token(tmp_path: Path, helpers: Path) -> None:
    seen = tmp_path / "stdin.txt"
    _helper(helpers, "tok", f"""
cat > {seen}
echo '{{"Username":"<token>","Secret":"{SECRET}"}}'
""")
    path = _config(tmp_path, {"credHelpers": {"https://index.docker.io/v1/": "tok"}})
    got = credentials_for("docker.io", config_path=path)
    assert got is not None
    assert (got.username, got.password, got.identity_token) == ("", "", SECRET)
    assert seen.read_text() == DOCKER_HUB_SERVER


def test_creds_store_default_and_fallback(tmp_path: Path, helpers: Path) -> None:
    _helper(helpers, "store", f"""
read server
if [ "$server" = "a.example.com" ]; then
  echo '{{"Username":"store-user","Secret":"{SECRET}"}}'
else
  echo "credentials not found in native keychain"
  exit 1
fi
""")
    path = _config(tmp_path, {
        "credsStore": "store",
        "auths": {"b.example.com": {"auth": _b64("inline-user:pw")}},
    })
    a = credentials_for("a.example.com", config_path=path)
    assert a is not None and a.username == "store-user" and a.password == SECRET
    b = credentials_for("b.example.com", config_path=path)
    assert b is not None and b.username == "inline-user"
    assert credentials_for("c.example.com", config_path=path) is None


def test_per_host_helper_not_found_is_none(tmp_path: Path, helpers: Path) -> None:
    _helper(helpers, "empty", 'echo "credentials not found in native keychain"; exit 1\n')
    path = _config(tmp_path, {"credHelpers": {"ghcr.io": "empty"}})
    assert credentials_for("ghcr.io", config_path=path) is None


def test_missing_helper_is_named(tmp_path: Path, helpers: Path) -> None:
    path = _config(tmp_path, {"credHelpers": {"ghcr.io": "nosuchhelper"}})
    with pytest.raises(CredentialsError) as err:
        credentials_for("ghcr.io", config_path=path)
    assert str(err.value) == (
        "credential helper docker-credential-nosuchhelper (for ghcr.io) is not installed or not "
        "on PATH"
    )


def test_failing_helper_is_named_without_its_output(tmp_path: Path, helpers: Path) -> None:
    _helper(helpers, "broken", f'echo "oops {SECRET}"; echo "{SECRET}" >&2; exit 4\n')
    path = _config(tmp_path, {"credsStore": "broken"})
    with pytest.raises(CredentialsError) as err:
        credentials_for("ghcr.io", config_path=path)
    assert str(err.value) == (
        "credential helper docker-credential-broken (for ghcr.io) failed with exit status 4"
    )


def test_helper_garbage_is_an_error(tmp_path: Path, helpers: Path) -> None:
    _helper(helpers, "garbage", f'echo "Username={SECRET}"\n')
    path = _config(tmp_path, {"credsStore": "garbage"})
    with pytest.raises(CredentialsError, match="not credentials JSON") as err:
        credentials_for("ghcr.io", config_path=path)
    assert SECRET not in str(err.value)


def test_repr_hides_secrets() -> None:
    creds = Credentials("someone", SECRET, SECRET + "-token", origin="config.json")
    for text in (repr(creds), str(creds), f"{creds!r}", repr([creds])):
        assert SECRET not in text
    assert "someone" in repr(creds) and "password+token" in repr(creds)
    assert repr(Credentials("x")) == "Credentials(username='x', secrets=none, origin='')"
