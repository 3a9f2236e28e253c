"""A canned OCI registry for unit tests: `http.server` on 127.0.0.1 in a thread.

It serves `/v2/`, tags lists (paginated with `n`, `last` and `Link`), manifests by tag or digest
and blobs from what a test put in it, and records every request. `hooks` let a test answer a
request itself first (faults, auth); `bearer()` and `basic()` switch on token or basic auth.

It also plays the hostile registry (each a hook, for the requests a predicate picks): `echo_auth`
repeats the `Authorization` header (and what it decodes to) in its error bodies; `next_page_at`
links a tag list's next page to another server; `drip` sends an answer one byte at a time,
headers included or body only; `endless` sends a body without end (chunked, until close, or after
a `Content-Length` it does not keep); `silent` never answers; `endless_pages` paginates forever
with new tags and new links. A `Resp` with `raw` writes the connection itself; everything such a
writer does stops when the fake stops.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
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

_PATH = re.compile(
    r"^/v2/(?P<name>.+)/(?P<kind>tags/list|manifests|blobs|referrers)(?:/(?P<ref>[^/]+))?$"
)


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


class Stopped(Exception):
    """The fake is stopping: a raw writer ends."""


class Pipe:
    """The connection a raw answer writes to; every write and wait ends when the fake stops."""

    def __init__(self, out: Any, stopping: threading.Event) -> None:
        self._out = out
        self._stopping = stopping

    def write(self, data: bytes) -> None:
        """Send `data` now (raises `Stopped`, or `OSError` once the client has gone)."""
        if self._stopping.is_set():
            raise Stopped()
        self._out.write(data)
        self._out.flush()

    def wait(self, seconds: float) -> None:
        """Wait `seconds` (raises `Stopped` when the fake stops meanwhile)."""
        if self._stopping.wait(seconds):
            raise Stopped()


@dataclass
class Resp:
    """A canned answer; with `raw`, the writer sends everything itself (status line included)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    raw: Callable[[Pipe], None] | None = None


Hook = Callable[[Req], "Resp | None"]
Pick = Callable[[Req], bool]


def head(status: int = 200, headers: Mapping[str, str] | None = None) -> bytes:
    """Return the status line and headers of an HTTP/1.1 answer, ending with the blank line."""
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def is_tag_list(req: Req) -> bool:
    """Whether `req` asks for a tag list."""
    return req.path.endswith("/tags/list")


def is_manifest(req: Req) -> bool:
    """Whether `req` asks for a manifest."""
    return "/manifests/" in req.path


def is_ping(req: Req) -> bool:
    """Whether `req` is the `/v2/` check."""
    return req.path == "/v2/"


def anything(req: Req) -> bool:
    """Every request."""
    return True


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

    def __init__(self, address: str = "127.0.0.1", keep_alive: bool = False) -> None:
        """Make it (not yet listening) on `address` (any 127.0.0.0/8 address), on a free port;
        `keep_alive` answers in HTTP/1.1 and keeps each connection open for the next request
        (default HTTP/1.0: one request per connection). `connections` counts those accepted."""
        self.keep_alive = keep_alive
        self.connections = 0
        self._counting = threading.Lock()
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.requests: list[Req] = []
        self.hooks: list[Hook] = []
        self.page_links = True
        self.stopping = threading.Event()
        self._address = address
        self._server = ThreadingHTTPServer((address, 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def host(self) -> str:
        """Return `127.0.0.1:PORT` (its address and port)."""
        return f"{self._address}:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """Return `http://127.0.0.1:PORT`."""
        return f"http://{self.host}"

    def __enter__(self) -> FakeRegistry:
        """Start serving."""
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving (raw writers stop too)."""
        self.stopping.set()
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

    # -- the hostile registry ---------------------------------------------------------------

    def echo_auth(self, pick: Pick | None = None, status: int = 403) -> None:
        """Answer the picked requests (by default every `/v2/...` one) that carry
        `Authorization` with `status` and an error body that repeats the header, its value
        alone, and what a Basic value decodes to (`user:password`), as a careless registry or
        proxy might."""

        chosen = pick or (lambda req: req.path.startswith("/v2/"))

        def hook(req: Req) -> Resp | None:
            if not (req.auth and chosen(req)):
                return None
            scheme, _, value = req.auth.partition(" ")
            plain = ""
            if scheme.lower() == "basic":
                plain = base64.b64decode(value).decode(errors="replace")
            message = f"denied for {req.auth} (credential {value}, user {plain})"
            body = dumps({"errors": [{"code": "DENIED", "message": message}]})
            return Resp(status, body, {"Content-Type": "application/json",
                                       "X-Echo": req.auth})

        self.hooks.append(hook)

    def next_page_at(self, other: str) -> None:
        """Answer the first tag list page with one tag and a `next` link to `other`
        (`http://127.0.0.2:PORT`), a server that is not this one."""

        def hook(req: Req) -> Resp | None:
            if not is_tag_list(req):
                return None
            name = req.path.removeprefix("/v2/").removesuffix("/tags/list")
            link = f'<{other}/v2/{name}/tags/list?n=1&last=a>; rel="next"'
            return Resp(200, dumps({"name": name, "tags": ["a"]}), {"Link": link})

        self.hooks.append(hook)

    def drip(
        self, pick: Pick, body: bytes = b"{}", *, every: float = 0.2, headers_too: bool = True
    ) -> None:
        """Answer the picked requests one byte every `every` seconds: the whole answer
        (status line and headers too), or the body only after headers sent at once."""
        top = head(200, {"Content-Type": "application/json",
                         "Content-Length": str(len(body))})

        def write(pipe: Pipe) -> None:
            slow = top + body if headers_too else body
            if not headers_too:
                pipe.write(top)
            for i in range(len(slow)):
                pipe.write(slow[i:i + 1])
                pipe.wait(every)

        self.hooks.append(lambda req: Resp(200, raw=write) if pick(req) else None)

    def endless(self, pick: Pick, how: str = "chunked", *, status: int = 200) -> None:
        """Answer the picked requests with a body without end: `chunked` (chunks forever),
        `close` (no length: until the connection closes, which it never does), `lie` (a
        `Content-Length` of 64 bytes, then more bytes forever) or `huge` (a declared length of
        1 TB, and the bytes to go with it)."""
        chunk = b'"x' + b"y" * (64 * 1024 - 2)
        headers = {"Content-Type": "application/json"}
        if how == "chunked":
            headers["Transfer-Encoding"] = "chunked"
        elif how == "lie":
            headers["Content-Length"] = "64"
        elif how == "huge":
            headers["Content-Length"] = str(10**12)
        elif how == "close":
            headers["Connection"] = "close"
        else:
            raise ValueError(how)

        def write(pipe: Pipe) -> None:
            pipe.write(head(status, headers) + (b"" if how == "chunked" else b'{"tags": ['))
            while True:
                if how == "chunked":
                    pipe.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                else:
                    pipe.write(chunk)

        self.hooks.append(lambda req: Resp(status, raw=write) if pick(req) else None)

    def silent(self, pick: Pick = anything) -> None:
        """Read the picked requests and never answer (until the fake stops)."""

        def write(pipe: Pipe) -> None:
            pipe.wait(3600)

        self.hooks.append(lambda req: Resp(200, raw=write) if pick(req) else None)

    def endless_pages(self, per_page: int = 3) -> None:
        """Answer every tag list request with `per_page` new tags and a `next` link no page
        had before, forever."""
        count = itertools.count()

        def hook(req: Req) -> Resp | None:
            if not is_tag_list(req):
                return None
            n = next(count)
            name = req.path.removeprefix("/v2/").removesuffix("/tags/list")
            tags = [f"p{n}-{i}" for i in range(per_page)]
            link = f'</v2/{name}/tags/list?n={per_page}&last=p{n}>; rel="next"'
            return Resp(200, dumps({"name": name, "tags": tags}), {"Link": link})

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
            protocol_version = "HTTP/1.1" if fake.keep_alive else "HTTP/1.0"

            def setup(self) -> None:
                super().setup()
                with fake._counting:
                    fake.connections += 1

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
                if resp.raw is not None:
                    self.close_connection = True
                    try:
                        resp.raw(Pipe(self.wfile, fake.stopping))
                    except (Stopped, OSError):
                        pass
                    return
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
