"""A real registry for the integration tests: Debian's `docker-registry` (distribution 2.8).

`start_registry(workdir)` starts `docker-registry serve CONFIG` on 127.0.0.1 on a free port, with
its storage in `workdir`, optionally behind htpasswd basic auth (bcrypt, `htpasswd -Bbn`); it waits
until `/v2/` answers and stops the registry when the context ends. The fixtures `registry_server`
and `auth_registry_server` (tests/integration/conftest.py, so every integration test has them
without an import) do that once per test module. Where the binaries are missing they skip with
one line, and fail under CI=true (`conftest.require_tool`).

A registry on 127.0.0.1 is an insecure registry to Docker by default, so `docker push
127.0.0.1:PORT/name:tag` works over plain HTTP (after `docker login` for the auth one).

`Pusher` uploads blobs (monolithic: POST then PUT `?digest=`) and manifests through the HTTP API,
and whole single-platform images (`Pusher.image`: config, layers, manifest).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urljoin

import requests

from tests.integration.conftest import require_tool

REGISTRY_BINARY = "docker-registry"
INSTALL_HINT = "apt-get install docker-registry"
HTPASSWD_HINT = "apt-get install apache2-utils"
START_TIMEOUT = 30.0

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass(frozen=True)
class RunningRegistry:
    """A registry started by `start_registry`."""

    host: str
    """`127.0.0.1:PORT`: the registry name in references (`127.0.0.1:PORT/team/app:1`)."""
    root: Path
    """Its storage folder."""
    username: str | None = None
    """The user of its htpasswd file, for the auth registry."""
    password: str | None = field(default=None, repr=False)
    """That user's password."""
    log_path: Path | None = None
    """Where the registry writes its log."""

    @property
    def url(self) -> str:
        """Return `http://127.0.0.1:PORT`."""
        return f"http://{self.host}"

    @property
    def auth(self) -> tuple[str, str] | None:
        """Return `(username, password)` for requests, or None without auth."""
        return (self.username, self.password) if self.username and self.password else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(root: Path, port: int, htpasswd: Path | None, address: str = "127.0.0.1") -> str:
    auth = (
        f"auth:\n  htpasswd:\n    realm: auditlib-test\n    path: {htpasswd}\n" if htpasswd else ""
    )
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  cache:\n    blobdescriptor: inmemory\n"  # as the registry image's own config.yml
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {address}:{port}\n  secret: {secrets.token_hex(16)}\n"
        f"{auth}"
    )


def _wait(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> bool:
    """Return whether `/v2/` answered before the timeout; False when the process ended."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            resp = requests.get(f"{url}/v2/", timeout=1)
            if resp.status_code in (200, 401):
                return True
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise RuntimeError(
        f"docker-registry did not answer {url}/v2/ within {START_TIMEOUT:g} s; log:\n"
        + log_path.read_text(errors="replace")[-2000:]
    )


@contextlib.contextmanager
def start_registry(
    workdir: Path, *, username: str | None = None, password: str | None = None,
    address: str = "127.0.0.1", port: int | None = None, wrap: Sequence[str] = (),
) -> Iterator[RunningRegistry]:
    """Start a registry on `address` with storage in `workdir`; stop it when the context ends.

    With `username` and `password`, the registry asks for them (htpasswd, bcrypt). `address`,
    `port` (a free one when None) and `wrap` (put before the command: `nsenter --net=...`) start
    it elsewhere, as the fleet benchmark does in a network namespace of its own.

    Yields:
        The running registry.

    Raises:
        RuntimeError: it did not start (the message carries the end of its log).
    """
    binary = require_tool(REGISTRY_BINARY, INSTALL_HINT)
    workdir.mkdir(parents=True, exist_ok=True)
    htpasswd = None
    if username is not None and password is not None:
        tool = require_tool("htpasswd", HTPASSWD_HINT)
        line = subprocess.run(
            [str(tool), "-Bbn", username, password], capture_output=True, check=True
        ).stdout
        htpasswd = workdir / "htpasswd"
        htpasswd.write_bytes(line)
    log_path = workdir / "registry.log"
    for _ in range(1 if port else 5):  # a free port can be taken between probe and bind
        bound = port or _free_port()
        config = workdir / "config.yml"
        config.write_text(_config(workdir, bound, htpasswd, address))
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [*wrap, str(binary), "serve", str(config)], stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        try:
            if not _wait(proc, f"http://{address}:{bound}", log_path):
                continue
            yield RunningRegistry(
                f"{address}:{bound}", workdir, username, password, log_path=log_path
            )
            return
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    raise RuntimeError(
        "docker-registry exited at start; log:\n" + log_path.read_text(errors="replace")[-2000:]
    )


def digest_of(data: bytes) -> str:
    """Return `sha256:` and the hex digest of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Return JSON bytes with sorted keys and no spaces (stable digests)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class Pushed(NamedTuple):
    """An image pushed by `Pusher.image`."""

    manifest: str
    """The manifest's digest."""
    image_id: str
    """The config's digest (the image id)."""
    layer_size: int
    """The bytes of its layers, added up."""
    manifest_size: int
    """The manifest's length in bytes."""


class Pusher:
    """Uploads blobs and manifests to a running registry through its HTTP API."""

    def __init__(self, registry: RunningRegistry) -> None:
        """Make a pusher, authenticating as the registry's user when it has one."""
        self.registry = registry
        self.session = requests.Session()
        self.session.auth = registry.auth

    def blob(self, repo: str, data: bytes, media_type: str) -> dict[str, Any]:
        """Upload `data` (monolithic upload) and return its descriptor."""
        digest = digest_of(data)
        base = self.registry.url
        start = self.session.post(f"{base}/v2/{repo}/blobs/uploads/", timeout=30)
        assert start.status_code == 202, (start.status_code, start.text)
        location = urljoin(f"{base}/", start.headers["Location"])
        sep = "&" if "?" in location else "?"
        put = self.session.put(
            f"{location}{sep}digest={digest}", data=data, timeout=30,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert put.status_code == 201, (put.status_code, put.text)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def manifest(self, repo: str, reference: str, body: dict[str, Any]) -> tuple[str, bytes]:
        """Put manifest or index `body` under `reference` (a tag or its digest); return its digest
        and bytes.
        """
        data = canonical_json(body)
        resp = self.session.put(
            f"{self.registry.url}/v2/{repo}/manifests/{reference}", data=data, timeout=30,
            headers={"Content-Type": body["mediaType"]},
        )
        assert resp.status_code == 201, (resp.status_code, resp.text)
        digest = digest_of(data)
        assert resp.headers.get("Docker-Content-Digest") == digest
        return digest, data

    def image(
        self, repo: str, tag: str | None, config: dict[str, Any], layers: Sequence[bytes],
        *, docker: bool = False,
    ) -> Pushed:
        """Push one single-platform image: `config` (as canonical JSON), `layers` (bytes as
        given) and a manifest naming them, under `tag`, or by its digest alone when `tag` is None;
        OCI media types, or Docker v2 ones with `docker`.

        Returns:
            The manifest's digest, the image id, the layers' size and the manifest's size.
        """
        cfg = self.blob(repo, canonical_json(config), DOCKER_CONFIG if docker else OCI_CONFIG)
        lays = [self.blob(repo, layer, DOCKER_LAYER if docker else OCI_LAYER) for layer in layers]
        body = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
                "config": cfg, "layers": lays}
        digest, data = self.manifest(repo, tag or digest_of(canonical_json(body)), body)
        return Pushed(digest, cfg["digest"], sum(map(len, layers)), len(data))
