"""A canned OCI registry for unit tests: `http.server` on 127.0.0.1 in a thread.

It serves `/v2/`, tags lists (paginated with `n`, `last` and `Link`), manifests by tag or digest
and blobs from what a test put in it, and records every request. `hooks` let a test answer a
request itself first (faults, auth); `bearer()` and `basic()` switch on token or basic auth.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

_PATH = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>tags/list|manifests|blobs)(?:/(?P<ref>[^/]+))?$")


def digest_of(data: bytes) -> str:
    """Return `sha256:` and the hex digest of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dumps(value: Any) -> bytes:
    """Return stable JSON bytes."""
    return json.dumps(value, sort_keys=True).encode()


@dataclass
class Req:
    """A request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""

    @property
    def auth(self) -> str:
        """Return the `Authorization` header, or an empty string."""
        return self.headers.get("authorization", "")


@dataclass
class Resp:
    """A canned answer."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Hook = Callable[[Req], "Resp | None"]


def config_for(
    arch: str = "amd64", *, created: str = "2024-05-01T10:00:00Z", user: str = "app",
    os: str = "linux", variant: str | None = None, labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return a small image config."""
    cfg: dict[str, Any] = {
        "architecture": arch, "os": os, "created": created,
        "config": {"User": user, "Env": ["PATH=/usr/bin"], "Labels": labels or {}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "ab" * 32]},
        "history": [{"created": created, "created_by": "/bin/sh -c #(nop) ADD file"}],
    }
    if variant:
        cfg["variant"] = variant
    return cfg


class FakeRegistry:
    """The fake registry; use as a context manager."""

    def __init__(self) -> None:
        """Make it (not yet listening)."""
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.requests: list[Req] = []
        self.hooks: list[Hook] = []
        self.page_links = True
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def host(self) -> str:
        """Return `127.0.0.1:PORT`."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """Return `http://127.0.0.1:PORT`."""
        return f"http://{self.host}"

    def __enter__(self) -> FakeRegistry:
        """Start serving."""
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    # -- content ----------------------------------------------------------------------------

    def blob(self, data: bytes, media_type: str = OCI_LAYER) -> dict[str, Any]:
        """Store a blob; return its descriptor."""
        digest = digest_of(data)
        self.blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def manifest(self, repo: str, tag: str | None, body: dict[str, Any]) -> str:
        """Store a manifest or index under its digest (and `tag`); return the digest."""
        data = dumps(body)
        digest = digest_of(data)
        media_type = body.get("mediaType", OCI_MANIFEST)
        self.manifests[(repo, digest)] = (media_type, data)
        if tag:
            self.manifests[(repo, tag)] = (media_type, data)
        return digest

    def image(
        self, repo: str, tag: str | None, config: dict[str, Any] | None = None, *,
        layers: tuple[bytes, ...] = (b"layer-one", b"layer-two!"), media_type: str = OCI_MANIFEST,
    ) -> tuple[str, str]:
        """Store an image (config, layers, manifest); return (manifest digest, config digest)."""
        cfg = self.blob(dumps(config or config_for()), OCI_CONFIG)
        body = {
            "schemaVersion": 2, "mediaType": media_type, "config": cfg,
            "layers": [self.blob(layer) for layer in layers],
        }
        return self.manifest(repo, tag, body), cfg["digest"]

    def tags_of(self, repo: str) -> list[str]:
        """Return the repository's tags, sorted."""
        return sorted(r for (n, r), _ in self.manifests.items() if n == repo and ":" not in r)

    # -- auth -------------------------------------------------------------------------------

    def basic(self, user: str, password: str) -> None:
        """Ask every `/v2/` request for basic auth with these credentials."""
        good = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

        def hook(req: Req) -> Resp | None:
            if req.path.startswith("/v2/") and req.auth != good:
                return Resp(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                            {"WWW-Authenticate": 'Basic realm="fake"'})
            return None

        self.hooks.append(hook)

    def bearer(
        self, *, user: str | None = None, password: str | None = None, token_key: str = "token",
        issued: list[str] | None = None,
    ) -> None:
        """Ask `/v2/` requests for bearer tokens from `/token`, which wants these basic
        credentials (anonymous when None); each token carries its scope. Tokens issued are
        appended to `issued`.
        """
        realm = f"{self.url}/token"
        good = (
            "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else ""
        )
        log = issued if issued is not None else []

        def hook(req: Req) -> Resp | None:
            if req.path == "/token":
                if good and req.auth != good:
                    return Resp(401, b'{"details":"bad credentials"}')
                scopes = req.query.get("scope", [])
                token = "tok-" + base64.urlsafe_b64encode(" ".join(scopes).encode()).decode()
                log.append(token)
                return Resp(200, dumps({token_key: token, "expires_in": 300}))
            if not req.path.startswith("/v2/"):
                return None
            m = _PATH.match(req.path)
            scope = f"repository:{m.group('name')}:pull" if m else ""
            want = "Bearer tok-" + base64.urlsafe_b64encode(scope.encode()).decode()
            if req.auth != want:
                challenge = f'Bearer realm="{realm}",service="fake"'
                if scope:
                    challenge += f',scope="{scope}"'
                return Resp(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                            {"WWW-Authenticate": challenge})
            return None

        self.hooks.append(hook)

    # -- serving ----------------------------------------------------------------------------

    def answer(self, req: Req) -> Resp:
        """Return the answer to a request: a hook's, else the registry's."""
        for hook in self.hooks:
            got = hook(req)
            if got is not None:
                return got
        if req.path == "/v2/":
            return Resp(200, b"{}")
        m = _PATH.match(req.path)
        if not m:
            return Resp(404, b"not found")
        name, kind, ref = m.group("name"), m.group("kind"), m.group("ref")
        if kind == "tags/list":
            return self._tags(name, req)
        if kind == "manifests" and ref:
            found = self.manifests.get((name, ref))
            if found is None:
                return Resp(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest '
                                 b'unknown"}]}')
            media_type, data = found
            return Resp(200, data, {"Content-Type": media_type,
                                    "Docker-Content-Digest": digest_of(data)})
        if kind == "blobs" and ref in self.blobs:
            return Resp(200, self.blobs[ref], {"Docker-Content-Digest": ref})
        return Resp(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}')

    def _tags(self, name: str, req: Req) -> Resp:
        tags = self.tags_of(name)
        if not tags:
            return Resp(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name '
                             b'not known to registry"}]}')
        last = req.query.get("last", [""])[0]
        n = int(req.query.get("n", ["100"])[0])
        rest = [t for t in tags if t > last]
        page = rest[:n]
        headers = {"Content-Type": "application/json"}
        if len(rest) > n and self.page_links:
            headers["Link"] = f'</v2/{name}/tags/list?n={n}&last={page[-1]}>; rel="next"'
        return Resp(200, dumps({"name": name, "tags": page}), headers)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Req(
                    self.command, parts.path, parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                fake.requests.append(req)
                resp = fake.answer(req)
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(resp.body)

            do_GET = do_HEAD = do_POST = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def served(fake: FakeRegistry) -> Iterator[FakeRegistry]:
    """Yield `fake` while it serves (for fixtures)."""
    with fake:
        yield fake


Answer = Callable[[requests.PreparedRequest], "requests.Response | BaseException"]


class ScriptedAdapter(BaseAdapter):
    """A requests adapter that never touches the network: `answer` gives each response (or an
    exception to raise), and the URLs asked for are recorded. For hosts that are not loopback.
    """

    def __init__(self, answer: Answer) -> None:
        """Make it."""
        super().__init__()
        self.answer = answer
        self.urls: list[str] = []

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Record the URL; return (or raise) the scripted answer."""
        self.urls.append(str(request.url))
        got = self.answer(request)
        if isinstance(got, BaseException):
            raise got
        got.url = str(request.url)
        got.request = request
        return got

    def close(self) -> None:
        """Nothing to close."""

    def mount_on(self, session: requests.Session | None = None) -> requests.Session:
        """Mount on `session` (a new one when None) for http and https; return it."""
        session = session or requests.Session()
        session.mount("https://", self)
        session.mount("http://", self)
        return session


def response(status: int, body: bytes = b"", headers: dict[str, str] | None = None
             ) -> requests.Response:
    """Return a `requests.Response` with this status, body and headers."""
    resp = requests.Response()
    resp.status_code = status
    resp._content = body
    resp._content_consumed = True  # type: ignore[attr-defined]  # as if read: no connection
    resp.headers.update(headers or {})
    return resp
