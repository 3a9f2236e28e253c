"""The registry transport's lean path: its GETs on kept-alive `http.client` connections.

A registry collection is hundreds of small GETs (tag lists, manifests, configs), and through
`requests` each costs about a millisecond of CPU in preparing, merging settings, hooks, cookies
and wrapping the answer, more than reading it. `Connections` sends them straight on
`http.client` connections kept open per origin (as many as the session's pool keeps), with the
same headers, TLS settings and timeouts the session would have used: `Transport` reads the answer
and follows redirects as before. Only an origin `requests` would reach directly takes this path:
one with no proxy for it, no client certificate, no `.netrc` entry, no session auth or hooks, and
the session's own adapter (`lean_settings` says; it is decided once per origin). Every other
request goes through `requests`, unchanged.

Failures are raised as the `requests` exceptions that `requests` raises for them (with the same
text), so that `Transport` words them the same way: `SSLError`, `ConnectTimeout`, `ReadTimeout`,
`ConnectionError`, `ChunkedEncodingError`.
"""

from __future__ import annotations

import http.client
import os
import ssl
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_netrc_auth, select_proxy
from urllib3 import HTTPHeaderDict
from urllib3.exceptions import ProtocolError
from urllib3.util.wait import wait_for_read

DEFAULT_PORTS = {"https": 443, "http": 80}
"""The port of each scheme a registry is reached by, when its URL names none."""
_GONE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
"""What a kept-alive connection the server closed while idle raises at its next request."""


def origin(url: str) -> tuple[str, str, int]:
    """Return the origin of `url`: (scheme, host, port), the host lower-cased and the port made
    explicit (`https://ghcr.io/v2/` -> `("https", "ghcr.io", 443)`; -1 for a port that is not
    a number); credentials go only to their own, and idle connections are kept per origin.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme, 0)


def _failure(exc: BaseException, stage: str) -> requests.RequestException:
    """Return the exception `requests` raises, with its text, for `exc` met while `stage`
    (`connect`, `answer`: sending and reading the status and headers, `body`)."""
    if isinstance(exc, ssl.SSLError):
        return requests.exceptions.SSLError(exc)
    if isinstance(exc, TimeoutError):
        if stage == "connect":
            return requests.ConnectTimeout(f"Connection timed out. ({exc})")
        return requests.ReadTimeout(f"Read timed out. ({exc})")
    if stage == "connect":
        return requests.ConnectionError(f"Failed to establish a new connection: {exc}")
    if stage == "body":
        if isinstance(exc, http.client.HTTPException | ValueError):
            return requests.exceptions.ChunkedEncodingError(
                ProtocolError(f"Connection broken: {exc!r}", exc)
            )
        return requests.ConnectionError(ProtocolError("Connection broken", exc))
    return requests.ConnectionError(ProtocolError("Connection aborted.", exc))


@dataclass(frozen=True, slots=True)
class LeanRoute:
    """How an origin is reached on the lean path."""

    verify: bool | str
    """TLS verification as `requests` settled it: True, False, or a CA bundle path."""


class Answer:
    """An answer read from an `http.client` connection, with the parts of a
    `requests.Response` that `Transport` uses (`status_code`, `headers`, `url`, `iter_content`,
    `close`). Closing it gives the connection back when its body was read to the end."""

    def __init__(self, pool: Connections, key: tuple[str, str, int, bool | str],
                 conn: http.client.HTTPConnection, resp: http.client.HTTPResponse,
                 url: str) -> None:
        """Wrap `resp`, the answer to `url` on `conn` of `pool`'s origin `key`."""
        self._pool, self._key, self._conn, self._resp = pool, key, conn, resp
        self.status_code = resp.status
        headers = HTTPHeaderDict()
        for name, value in resp.getheaders():
            headers.add(name, value)
        self.headers: Mapping[str, str] = headers
        self.url = url

    def iter_content(self, size: int) -> Iterator[bytes]:
        """Yield the body in pieces of at most `size` bytes.

        Raises:
            requests.RequestException: as `requests` raises: `ReadTimeout` (no byte for the
                read timeout), `ChunkedEncodingError` (the body cut short or malformed),
                `SSLError`, `ConnectionError`.
        """
        while True:
            try:
                chunk = self._resp.read(size)
            except (OSError, http.client.HTTPException, ValueError) as e:
                raise _failure(e, "body") from None
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        """Give the connection back when the body was read to its end; else close it."""
        if self._resp.isclosed():
            self._pool.put(self._key, self._conn)
        else:
            self._resp.close()
            self._conn.close()


class Connections:
    """Idle `http.client` connections by origin, at most `maxsize` each; thread-safe."""

    def __init__(self, session: requests.Session, maxsize: int) -> None:
        """Keep up to `maxsize` idle connections per origin for `session`'s lean requests."""
        self._session = session
        self._maxsize = maxsize
        self._idle: dict[tuple[str, str, int, bool | str], list[http.client.HTTPConnection]] = {}
        self._routes: dict[tuple[str, str, bool | str], LeanRoute | None] = {}
        self._contexts: dict[bool | str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def route(self, url: str, verify: bool | str, adapter: object) -> LeanRoute | None:
        """Return how `url` is reached on the lean path, or None when `requests` must send it
        (a proxy, a client certificate, `.netrc` credentials, session auth or hooks, or another
        adapter than `adapter` for it); decided once per origin."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, verify)
        with self._lock:
            if key in self._routes:
                return self._routes[key]
        session = self._session
        settings = session.merge_environment_settings(url, {}, True, verify, None)
        plain = (
            select_proxy(url, settings["proxies"]) is None
            and settings["cert"] is None
            and session.auth is None
            and not any(session.hooks.values())
            and not (session.trust_env and get_netrc_auth(url))
            and session.get_adapter(url) is adapter
        )
        settled = settings["verify"]
        route = LeanRoute(True if settled is None else settled) if plain else None
        with self._lock:
            self._routes[key] = route
        return route

    def _context(self, verify: bool | str) -> ssl.SSLContext:
        with self._lock:
            context = self._contexts.get(verify)
        if context is None:
            if verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                where = DEFAULT_CA_BUNDLE_PATH if verify is True else str(verify)
                if os.path.isdir(where):
                    context = ssl.create_default_context(capath=where)
                else:
                    context = ssl.create_default_context(cafile=where)
            context.set_alpn_protocols(["http/1.1"])
            with self._lock:
                self._contexts[verify] = context
        return context

    def _take(self, key: tuple[str, str, int, bool | str]) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                conn = idle.pop()
                sock = conn.sock
                if sock is not None and not wait_for_read(sock, timeout=0.0):
                    return conn
                conn.close()  # closed by the server, or an answer nobody asked for
        return None

    def put(self, key: tuple[str, str, int, bool | str], conn: http.client.HTTPConnection) -> None:
        """Keep `conn` for the next request to its origin (closed when `maxsize` are kept)."""
        if conn.sock is None:
            conn.close()
            return
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._maxsize:
                idle.append(conn)
                return
        conn.close()

    def send(
        self, method: str, url: str, headers: Mapping[str, str], route: LeanRoute,
        timeout: tuple[float, float], watch: Any,
    ) -> Answer:
        """Send `method url` with the session's default headers under `headers`, connecting
        within `timeout[0]` and reading within `timeout[1]`; `watch.attach` is told the
        connection. Return the answer, its body not yet read.

        Raises:
            requests.exceptions.SSLError: a TLS error.
            requests.ConnectTimeout: no connection within the connect timeout.
            requests.ReadTimeout: no answer within the read timeout.
            requests.ConnectionError: the connection failed or was closed without an answer.
        """
        parts = urlsplit(url)
        scheme, host, port = origin(url)
        if port <= 0:  # as requests refuses it, before any connection
            raise requests.exceptions.InvalidURL(f"Failed to parse: {url}")
        key = (scheme, host, port, route.verify)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = CaseInsensitiveDict(self._session.headers)  # merged as requests merges them
        sent.update(headers)
        # A kept-alive connection the server closed while idle is found out only by using it:
        # then once more, on a new connection (never another idle one, which may be closed too).
        conn = self._take(key)
        while True:
            reused = conn is not None
            if conn is None:
                conn = self._new(scheme, host, port, route, timeout[0])
            watch.attach(conn)
            if not reused:
                self._connect(conn, timeout[0])
            assert conn.sock is not None
            # the socket itself: a `Connection: close` answer is read after `conn` let go of it
            watch.attach(SimpleNamespace(sock=conn.sock))
            try:
                conn.sock.settimeout(timeout[1])
                conn.request(method, path, headers=sent)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                if reused and isinstance(e, _GONE):
                    conn = None
                    continue
                raise _failure(e, "answer") from None
            return Answer(self, key, conn, resp, url)

    def _new(self, scheme: str, host: str, port: int, route: LeanRoute,
             timeout: float) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(
                host, port, timeout=timeout, context=self._context(route.verify)
            )
        return http.client.HTTPConnection(host, port, timeout=timeout)

    @staticmethod
    def _connect(conn: http.client.HTTPConnection, timeout: float) -> None:
        conn.timeout = timeout
        try:
            conn.connect()
        except OSError as e:
            conn.close()
            raise _failure(e, "connect") from None

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()
