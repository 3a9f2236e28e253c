"""How the engine collector makes its many small GETs.

The `docker` SDK opens the connection and checks it (and handles tcp with TLS and ssh), but each
of its calls costs about 1.5 ms of Python in `requests`: an inventory of 200 images is 400 calls,
six times what `docker image inspect` takes. On a unix socket (the usual case), and on tcp without
TLS and without a proxy, the collector therefore makes its GETs with `http.client` and decodes
with orjson, and sends them pipelined (HTTP/1.1: many requests written at once on a connection,
the answers read back in order; over a network, one round trip for them all), so
the engine works on them without waiting for Python between calls: `stream` writes every request
at once on one connection and yields each answer as it arrives (the caller works on one while
the engine answers the next), `get_many` spreads them over a couple of connections; elsewhere it
goes through the SDK (TLS, ssh, proxies), in threads.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import queue
import socket
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol
from urllib.parse import urlsplit

import docker
import orjson
from requests.utils import get_environ_proxies

from auditlib.errors import AuditlibError


class EngineGetError(AuditlibError):
    """A GET answered with an error status (the image or container vanished, say)."""


class EngineApi(Protocol):
    """The GETs the collector needs."""

    def get(self, path: str) -> Any:
        """Return the decoded JSON answer of `GET /v<version><path>`.

        Raises:
            EngineGetError: on an error status, with the engine's message.
            OSError: when the connection fails.
        """

    def get_many(self, paths: Sequence[str]) -> list[Any]:
        """Return the answer of each GET in order: the decoded JSON, or the `EngineGetError` /
        `OSError` that GET met (never raised).
        """

    def stream(self, paths: Sequence[str]) -> Iterator[Any]:
        """Yield the answer of each GET in order, as `get_many` gives them, each as soon as it
        has arrived."""


Where = str | tuple[str, int]
"""Where an engine listens: a unix socket's path, or a TCP (host, port) without TLS."""


def _open(where: Where, timeout: float) -> socket.socket:
    """Return a socket connected to `where`.

    Raises:
        OSError: when it cannot be reached.
    """
    if isinstance(where, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(where)
        except OSError:
            sock.close()
            raise
        return sock
    sock = socket.create_connection(where, timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _Connection(http.client.HTTPConnection):
    def __init__(self, where: Where, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.where = where
        self.seconds = timeout

    def connect(self) -> None:
        self.sock = _open(self.where, self.seconds)


class SocketApi:
    """GETs over a unix socket or plain TCP, one kept-alive connection per thread."""

    def __init__(self, where: Where, version: str = "", timeout: float = 60) -> None:
        """Talk to the engine at `where` (a unix socket's path, or a TCP (host, port) without
        TLS) with API `version` (`ping` sets it)."""
        self.where = where
        self.prefix = f"/v{version}" if version else ""
        self.timeout = timeout
        self._local = threading.local()

    def _connection(self) -> _Connection:
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _Connection(self.where, self.timeout)
        return conn

    def ping(self) -> str:
        """Check that the engine answers; return the API version it speaks (`Api-Version`).

        Raises:
            OSError: when the socket cannot be reached (missing, no permission, refused).
            EngineGetError: when the engine answers with an error.
        """
        conn = self._connection()
        conn.request("GET", "/_ping")
        resp = conn.getresponse()
        resp.read()
        if resp.status >= 400:
            raise EngineGetError(f"{resp.status} on /_ping")
        version = resp.getheader("Api-Version") or ""
        self.prefix = f"/v{version}" if version else ""
        return version

    def get(self, path: str) -> Any:
        """Return the decoded JSON answer of `GET path` (see `EngineApi.get`)."""
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request("GET", self.prefix + path)
                resp = conn.getresponse()
                body = resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                # A kept-alive connection the engine closed: reconnect once.
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        result = _decode(resp.status, body)
        if isinstance(result, EngineGetError):
            raise result
        return result

    def stream(self, paths: Sequence[str], connections: int = 2) -> Iterator[Any]:
        """Yield the answer of each GET in order, as each arrives (see `EngineApi.stream`).

        The GETs are dealt round-robin over `connections` new connections; on each, every
        request is written at once by a thread of its own and the answers are read back by
        another, so the engine goes from one to the next without waiting for Python (and works
        on the connections side by side) while the caller works on the answers already in.
        """
        k = max(1, min(connections, len(paths)))
        if k == 1:
            yield from self._read(paths)
            return
        queues: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in range(k)]
        for i in range(k):
            threading.Thread(target=self._read_into, args=(paths[i::k], queues[i]),
                             daemon=True, name="engine-read").start()
        for i in range(len(paths)):
            yield queues[i % k].get()

    def _read_into(self, paths: Sequence[str], answers: queue.SimpleQueue[Any]) -> None:
        """GET `paths` on one new connection, putting each answer (or the error that stopped
        the connection) into `answers`: exactly one per path."""
        for answer in self._read(paths):
            answers.put(answer)

    def _read(self, paths: Sequence[str]) -> Iterator[Any]:
        """GET `paths` on one new connection (every request written at once by a thread of its
        own); yield each answer, or the error that stopped the connection: one per path."""
        sock: socket.socket | None = None
        got = 0
        try:
            sock = _open(self.where, self.timeout)
            requests = b"".join(
                f"GET {self.prefix}{p} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
                for p in paths
            )
            threading.Thread(target=_send, args=(sock, requests), daemon=True,
                             name="engine-write").start()
            reader = sock.makefile("rb")
            for _ in paths:
                answer = _decode(*read_answer(reader))
                got += 1
                yield answer
        except Exception as e:  # noqa: BLE001 - every path gets an answer, or the reader waits
            error = e if isinstance(e, OSError) else OSError(f"engine connection broke: {e}")
            for _ in range(len(paths) - got):
                yield error
        finally:
            if sock is not None:
                sock.close()

    def get_many(self, paths: Sequence[str]) -> list[Any]:
        """Return the answer of each GET in order (see `EngineApi.get_many`)."""
        if len(paths) < 2 * PIPELINES:
            return [self._safe_get(p) for p in paths]
        # Dealt round-robin, so that slow GETs (a `diff` walks a container's filesystem) are
        # spread over the connections rather than queued on one.
        return list(self.stream(paths, PIPELINES))

    def _safe_get(self, path: str) -> Any:
        try:
            return self.get(path)
        except (EngineGetError, OSError) as e:
            return e
        except http.client.HTTPException as e:
            return OSError(f"engine connection broke: {e}")


MAX_HEADER_LINES = 100
"""Header lines of one answer; more is a broken connection."""


def read_answer(reader: io.BufferedReader) -> tuple[int, bytes]:
    """Read one HTTP/1.1 answer from `reader`: its status and body (by `Content-Length`, or
    chunked). The engine's answers need no more than this, and `http.client`'s header parsing
    (the `email` package) costs more Python than the rest of an answer together.

    Raises:
        http.client.HTTPException: on a status line, header or chunk that is not HTTP/1.1.
        OSError: when the connection fails or times out.
    """
    status_line = reader.readline(65537)
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise http.client.BadStatusLine(status_line[:100].decode(errors="replace") or "closed")
    length: int | None = None
    chunked = False
    for _ in range(MAX_HEADER_LINES):
        line = reader.readline(65537)
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise http.client.IncompleteRead(b"")
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value.strip())
        elif key == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    else:
        raise http.client.LineTooLong("header lines")
    status = int(parts[1])
    if chunked:
        body = bytearray()
        while True:
            size = int(reader.readline(1024).split(b";", 1)[0].strip() or b"x", 16)
            if size == 0:
                while reader.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return status, bytes(body)
            body += _read_exactly(reader, size)
            reader.readline(3)
    if length is None:
        # Without length or chunks an answer runs to the connection's end, which pipelining
        # cannot have: only a status without a body (204, 304) is such an answer here.
        return status, b""
    return status, _read_exactly(reader, length)


def _read_exactly(reader: io.BufferedReader, n: int) -> bytes:
    data = reader.read(n)
    if len(data) != n:
        raise http.client.IncompleteRead(data, n - len(data))
    return data


def _send(sock: socket.socket, data: bytes) -> None:
    """Write `data` on `sock`; a connection that breaks is found by its reader."""
    with contextlib.suppress(OSError):
        sock.sendall(data)


PIPELINES = 2
"""Connections the pipelined GETs of `get_many` are spread over (the engine serves each in
order)."""


def _decode(status: int, body: bytes) -> Any:
    if status >= 400:
        try:
            message = orjson.loads(body).get("message", "")
        except (orjson.JSONDecodeError, AttributeError):
            message = body[:200].decode(errors="replace")
        return EngineGetError(f"{status}: {message}")
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError as e:
        return EngineGetError(f"answer is not JSON: {e}")


class SdkApi:
    """GETs through the docker SDK (tcp, TLS, ssh)."""

    def __init__(self, client: docker.DockerClient) -> None:
        """Use `client`'s low-level API."""
        self.api = client.api

    def get(self, path: str) -> Any:
        """Return the decoded JSON answer of `GET path` (see `EngineApi.get`)."""
        try:
            resp = self.api._get(self.api._url(path))
            return self.api._result(resp, json=True)
        except docker.errors.APIError as e:
            raise EngineGetError(f"{e.status_code}: {e.explanation}") from None


    def get_many(self, paths: Sequence[str]) -> list[Any]:
        """Return the answer of each GET in order (see `EngineApi.get_many`), 4 at a time."""

        def one(path: str) -> Any:
            try:
                return self.get(path)
            except (EngineGetError, OSError) as e:
                return e
            except Exception as e:  # noqa: BLE001 - requests' errors; kept as the answer
                return OSError(f"{type(e).__name__}: {e}")

        with ThreadPoolExecutor(4, thread_name_prefix="engine") as pool:
            return list(pool.map(one, paths))

    def stream(self, paths: Sequence[str]) -> Iterator[Any]:
        """Yield the answer of each GET in order (see `EngineApi.stream`), 4 at a time."""
        yield from self.get_many(paths)


def engine_api(client: docker.DockerClient) -> EngineApi:
    """Return the fastest way to make GETs to the engine `client` is connected to."""
    adapter = getattr(client.api, "_custom_adapter", None)
    socket_path = getattr(adapter, "socket_path", None)
    base = str(client.api.base_url)
    timeout = float(getattr(client.api, "timeout", 60) or 60)
    if isinstance(socket_path, str) and base.startswith("http+docker://"):
        return SocketApi(socket_path, client.api.api_version, timeout)
    if adapter is None and base.startswith("http://") and not get_environ_proxies(base):
        # tcp:// without TLS, reached directly (through a proxy, the SDK's requests go)
        parts = urlsplit(base)
        if parts.hostname and parts.port:
            return SocketApi((parts.hostname, parts.port), client.api.api_version, timeout)
    return SdkApi(client)
