"""Registry credentials as the Docker CLI keeps them: `config.json`, credential helpers and stores.

The lookup follows docker/cli `config/configfile` and `config/credentials`: a per-host helper in
`credHelpers` wins, then the default store `credsStore`, then the inline `auths` entry (base64
`auth`, or `username`/`password`, and `identitytoken`). A helper is the program
`docker-credential-<name>`, run as `docker-credential-<name> get` with the server URL on stdin; it
answers `{"Username": ..., "Secret": ...}`, and the username `<token>` means the secret is an
identity (refresh) token. Docker Hub's credentials live under `https://index.docker.io/v1/`.

Secrets never leave `Credentials`: its repr hides them, and no error message of this module
carries a username, password, token or helper output that could hold one.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from auditlib.errors import AuditlibError

DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
"""The key Docker Hub's credentials are stored under, in `auths` and in credential helpers."""

_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
_TOKEN_USERNAME = "<token>"
_HELPER_TIMEOUT = 60.0
_NOT_FOUND = "credentials not found"

Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]
"""What runs a credential helper: `subprocess.run`, or a fake of it in tests."""


class CredentialsError(AuditlibError):
    """Credentials could not be read: a bad `config.json`, or a helper missing or failing."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """Credentials for one registry. The repr shows the username and where they came from only."""

    username: str
    """The user name; empty when only an identity token is known."""
    password: str = field(default="", repr=False)
    """The password or access token, for basic auth and for token requests."""
    identity_token: str = field(default="", repr=False)
    """An identity (OAuth2 refresh) token, exchanged at the registry's token endpoint."""
    origin: str = ""
    """Where they were found: `config.json`, or `docker-credential-<helper>`."""

    def __repr__(self) -> str:
        """Return the repr without any secret."""
        kinds = [k for k, v in (("password", self.password), ("token", self.identity_token)) if v]
        return (
            f"Credentials(username={self.username!r}, secrets={'+'.join(kinds) or 'none'}, "
            f"origin={self.origin!r})"
        )

    def secrets(self) -> list[str]:
        """Return the secret values (for scrubbing text that must not contain them)."""
        return [s for s in (self.password, self.identity_token) if s]


def default_config_path() -> Path:
    """Return the path of the Docker CLI's config: `$DOCKER_CONFIG/config.json` or
    `~/.docker/config.json`.
    """
    base = os.environ.get("DOCKER_CONFIG")
    return (Path(base) if base else Path.home() / ".docker") / "config.json"


def server_key(host: str) -> str:
    """Return the key a registry's credentials are stored under: the Hub URL for Docker Hub
    (any of its aliases), else the host (`ghcr.io`, `127.0.0.1:5000`).
    """
    h = _hostname(host)
    return DOCKER_HUB_SERVER if h in _HUB_ALIASES else h


def _hostname(key: str) -> str:
    """Return the host of a `config.json` key, as docker's `ConvertToHostname` does."""
    k = key.strip()
    for scheme in ("http://", "https://"):
        if k.lower().startswith(scheme):
            k = k[len(scheme):]
            break
    return k.split("/", 1)[0].lower()


def read_config(path: Path | None = None) -> dict[str, Any]:
    """Return the decoded Docker config, or an empty one when the file does not exist.

    Raises:
        CredentialsError: the file exists but cannot be read or is not a JSON object.
    """
    path = path or default_config_path()
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise CredentialsError(f"{path}: cannot read docker config ({e.strerror})") from None
    except orjson.JSONDecodeError:
        raise CredentialsError(f"{path}: docker config is not valid JSON") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{path}: docker config is not a JSON object")
    return data


def _lookup(mapping: Mapping[str, Any], key: str) -> Any:
    """Return the value of `mapping` for a server key: the exact key first, then any key naming
    the same host (`https://ghcr.io` for `ghcr.io`; any Hub alias for Docker Hub).
    """
    if key in mapping:
        return mapping[key]
    want = _HUB_ALIASES if key == DOCKER_HUB_SERVER else {key}
    return next((v for k, v in mapping.items() if _hostname(k) in want), None)


def _from_entry(entry: Mapping[str, Any], path: Path, host: str) -> Credentials | None:
    """Return the credentials of an inline `auths` entry, or None when it holds none."""
    username = entry.get("username") if isinstance(entry.get("username"), str) else ""
    password = entry.get("password") if isinstance(entry.get("password"), str) else ""
    token = entry.get("identitytoken") if isinstance(entry.get("identitytoken"), str) else ""
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialsError(
                f"{path}: the `auth` entry for {host} is not base64 of `user:password`"
            ) from None
        if ":" not in decoded:
            raise CredentialsError(
                f"{path}: the `auth` entry for {host} is not base64 of `user:password`"
            )
        username, password = decoded.split(":", 1)
    if not (username or password or token):
        return None
    return Credentials(str(username), str(password), str(token), origin=str(path))


def run_helper(
    helper: str, server: str, *, runner: Runner | None = None, timeout: float = _HELPER_TIMEOUT
) -> Credentials | None:
    """Ask credential helper `docker-credential-<helper>` for the credentials of `server`.

    Returns:
        The credentials, or None when the helper has none for that server.

    Raises:
        CredentialsError: the helper is not installed, fails, times out or answers garbage. The
            message names the helper and the server, never its output (which could hold a secret).
    """
    program = f"docker-credential-{helper}"
    if runner is None:
        runner = subprocess.run
        if shutil.which(program) is None:
            raise CredentialsError(
                f"credential helper {program} (for {server}) is not installed or not on PATH"
            )
    try:
        done = runner(
            [program, "get"], input=server.encode(), capture_output=True, timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise CredentialsError(
            f"credential helper {program} (for {server}) is not installed or not on PATH"
        ) from None
    except subprocess.TimeoutExpired:
        raise CredentialsError(
            f"credential helper {program} (for {server}) did not answer in {timeout:g} s"
        ) from None
    except OSError as e:
        raise CredentialsError(
            f"credential helper {program} (for {server}) could not run ({e.strerror})"
        ) from None
    out = (done.stdout or b"").decode("utf-8", "replace")
    if done.returncode != 0:
        said = f"{out}\n{(done.stderr or b'').decode('utf-8', 'replace')}".lower()
        if _NOT_FOUND in said:
            return None
        raise CredentialsError(
            f"credential helper {program} (for {server}) failed with exit status "
            f"{done.returncode}"
        )
    try:
        reply = orjson.loads(out)
    except orjson.JSONDecodeError:
        reply = None
    if not isinstance(reply, dict) or not isinstance(reply.get("Secret"), str):
        raise CredentialsError(
            f"credential helper {program} (for {server}) answered something that is not "
            "credentials JSON"
        )
    username = reply.get("Username") if isinstance(reply.get("Username"), str) else ""
    secret: str = reply["Secret"]
    if not secret and not username:
        return None
    if username == _TOKEN_USERNAME:
        return Credentials("", "", secret, origin=program)
    return Credentials(str(username), secret, "", origin=program)


def credentials_for(
    host: str, *, config_path: Path | None = None, runner: Runner | None = None
) -> Credentials | None:
    """Return the credentials the Docker CLI would use for registry `host`, or None.

    Args:
        host: the registry (`ghcr.io`, `127.0.0.1:5000`, `docker.io` or another Hub alias).
        config_path: the `config.json` to read; `default_config_path()` when None.
        runner: runs credential helpers (`subprocess.run` when None).

    Returns:
        The credentials, or None when the config has none for that host (or does not exist).

    Raises:
        CredentialsError: the config cannot be read, or the helper it names is missing or fails.
    """
    path = config_path or default_config_path()
    config = read_config(path)
    key = server_key(host)
    helpers = config.get("credHelpers")
    helper = _lookup(helpers, key) if isinstance(helpers, Mapping) else None
    if isinstance(helper, str) and helper:
        # A per-host helper is authoritative, as in the Docker CLI.
        return run_helper(helper, key, runner=runner)
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        found = run_helper(store, key, runner=runner)
        if found is not None:
            return found
        # The store has none: an inline entry (written by hand, or before the store) still counts.
    auths = config.get("auths")
    entry = _lookup(auths, key) if isinstance(auths, Mapping) else None
    return _from_entry(entry, path, key) if isinstance(entry, Mapping) else None
