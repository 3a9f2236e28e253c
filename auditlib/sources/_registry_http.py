"""HTTP for the registry client: one error type, origins and the plain-HTTP rule, bounded reads,
deadlines, retries and backoff.

`Transport.fetch` sends one request and returns its `Reply` with the body already read, never more
of it than the limit the caller names (`RegistryLimits`): for a success, a body over the limit is
an error; for an error answer, it is cut (only its code and message are wanted); and that holds
whatever `Content-Length` says, chunked or endless. Each request has a total deadline
(`request_deadline`, connect to last byte, redirects included): a watchdog shuts the connection's
socket when it passes, so a registry that drips its status line, headers or body one byte at a
time is cut there, however often a byte comes. The caller's `Budget` (a repository's time,
`source_deadline`, and bytes, `max_source_bytes`) bounds a request too: no attempt starts, no
retry waits and no read goes past it.

Connection errors and timeouts and 5xx are retried with exponential backoff, 429 after the
`Retry-After` the registry asks for (seconds or an HTTP date) up to a cap. Redirects are followed
here (requests would read a redirect's whole body), up to `max_redirects`, and `Authorization`
goes only to the origin (scheme, host and port) of the first URL. Plain HTTP to a host that is not
loopback is refused unless insecure registries are allowed, and so is a URL with credentials in it.

Everything that goes wrong becomes a `RegistryError` whose message names the subject (registry,
repository, tag) and the reason in a few words: never a header or a request URL, and of a
response body only the registry's own error code and message, passed through `redact` and cut
at a word boundary (a cut never leaves part of an encoded credential).
"""

from __future__ import annotations

import functools
import heapq
import http.client
import ipaddress
import itertools
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from auditlib.errors import AuditlibError
from auditlib.normalize.redact import REDACTED, redact
from auditlib.sources._registry_conn import DEFAULT_PORTS, Answer, Connections, origin
from auditlib.sources._registry_limits import RegistryLimits

if TYPE_CHECKING:
    from requests.sessions import _Settings

log = logging.getLogger("auditlib.sources.registry")

RETRY_STATUSES = frozenset({500, 502, 503, 504})
"""Statuses retried with backoff, as transient server errors."""
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
"""Statuses whose `Location` is followed (GET only)."""
_CHUNK = 64 * 1024


class RegistryError(AuditlibError):
    """A registry could not be read: unreachable, TLS, authentication, not found, bad content,
    or a limit reached."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        """Make the error; `status` is the HTTP status that caused it, when there was one."""
        super().__init__(message)
        self.status = status


class SourceLimitError(RegistryError):
    """The caller's `Budget` is spent (a repository's `source_deadline` passed, or its
    `max_source_bytes` were read): nothing more is read for it."""


class Budget:
    """What one repository may still spend, shared by the threads that read it: time
    (`source_deadline`), counted while its clock runs (`start`, `stop`: not while it waits for
    other repositories), and bytes read from the registry (`max_source_bytes`)."""

    def __init__(self, limits: RegistryLimits, *, running: bool = True) -> None:
        """Make the budget of one repository; its clock runs from now unless not `running`."""
        self.limits = limits
        self._left = limits.source_deadline
        self._end: float | None = None
        self._bytes = 0
        self._lock = threading.Lock()
        if running:
            self.start()

    def start(self) -> None:
        """Run the clock (if stopped)."""
        with self._lock:
            if self._end is None:
                self._end = time.monotonic() + self._left

    def stop(self) -> None:
        """Stop the clock, keeping the time left."""
        with self._lock:
            if self._end is not None:
                self._left = max(0.0, self._end - time.monotonic())
                self._end = None

    @property
    def deadline(self) -> float | None:
        """When the time is up (a `time.monotonic()` time), while the clock runs."""
        return self._end

    def spend(self, size: int) -> bool:
        """Count `size` bytes read; return whether the bytes are still within the limit."""
        with self._lock:
            self._bytes += size
            return self._bytes <= self.limits.max_source_bytes

    def spent(self) -> str | None:
        """Return why nothing more may be read (time up, or bytes), or None."""
        if self._bytes > self.limits.max_source_bytes:
            return self.bytes_words()
        end = self._end
        if end is not None and time.monotonic() >= end:
            return f"{self.time_words()} passed"
        return None

    def time_words(self) -> str:
        """Return `the 600 s per-repository deadline (source_deadline)`."""
        return f"the {self.limits.source_deadline:g} s per-repository deadline (source_deadline)"

    def bytes_words(self) -> str:
        """Return `more than 268,435,456 bytes were read for it (max_source_bytes)`."""
        limit = self.limits.max_source_bytes
        return f"more than {limit:,} bytes were read for it (max_source_bytes)"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed requests are retried (never past the caller's budget)."""

    retries: int = 3
    """Retries after the first attempt (connection errors, timeouts, 5xx, 429)."""
    backoff: float = 0.5
    """First wait in seconds; doubled on each retry."""
    backoff_max: float = 8.0
    """Longest wait between two attempts, in seconds."""
    max_retry_after: float = 60.0
    """Longest `Retry-After` honoured on a 429; a registry asking for more fails at once."""


def host_name(host: str) -> str:
    """Return the host of `host[:port]` without port and brackets: `[::1]:5000` -> `::1`."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    """Return whether `host[:port]` is a loopback address: 127.0.0.0/8, ::1 or `localhost`.

    Docker treats these as insecure registries by default: plain HTTP may be used with them.
    """
    name = host_name(host).lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def origin_text(url: str) -> str:
    """Return `scheme://host[:port]` of `url`, without anything else it holds (user, path,
    query), for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme.lower()}://{redact(host)}" + (f":{port}" if port else "")


def check_url(url: str, *, subject: str, insecure: bool) -> None:
    """Refuse a URL the collector must not fetch: not http(s), with credentials in it, or plain
    HTTP to a host that is not loopback when insecure registries are not allowed.

    Raises:
        RegistryError: saying which rule and for which origin.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise RegistryError(f"{subject}: the registry gave a URL that is not http or https")
    if parts.username is not None or parts.password is not None:
        raise RegistryError(
            f"{subject}: refusing a URL with credentials in it ({origin_text(url)})"
        )
    if scheme == "http" and not insecure and not is_loopback(parts.hostname):
        raise RegistryError(
            f"{subject}: refusing plain HTTP to {origin_text(url)}, which is not a loopback "
            "address (allow insecure registries, --insecure-registry, to permit it)"
        )


@functools.lru_cache(maxsize=1024)
def _allowed(scheme: str, netloc: str, insecure: bool) -> bool:
    """Return whether `check_url` lets URLs of `scheme://netloc` through (its rules read only
    those), decided once per origin."""
    try:
        check_url(f"{scheme}://{netloc}/", subject="", insecure=insecure)
    except RegistryError:
        return False
    return True


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with each secret (4 characters or more) in it replaced by `<redacted>`."""
    for secret in secrets:
        if len(secret) >= 4 and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def shorten(text: str, limit: int) -> str:
    """Return `text` on one line, at most about `limit` characters, cut between words (so a cut
    never keeps part of a token or an encoded credential)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    cut = head.rfind(" ")
    return (head[:cut] if cut > 0 else "") + " ..."


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the wait a `Retry-After` header asks for, in seconds, or None when it is absent or
    unreadable. Accepts delta-seconds and HTTP dates; a date in the past is a zero wait.
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


_REASONS = (
    (re.compile(r"certificate verify failed: ([^(')\"]+)", re.I), "certificate verify failed: {}"),
    (re.compile(r"(wrong version number|unknown protocol|record layer failure)", re.I),
     "TLS handshake failed ({}); is it a plain HTTP registry?"),
    (re.compile(r"(hostname '[^']*' doesn't match[^(')\"]*)", re.I), "{}"),
    (re.compile(r"Connection refused", re.I), "connection refused"),
    (re.compile(r"(Name or service not known|nodename nor servname|getaddrinfo failed|"
                r"Temporary failure in name resolution|No address associated)", re.I),
     "host name not found"),
    (re.compile(r"timed? ?out", re.I), "timed out"),
    (re.compile(r"Connection reset", re.I), "connection reset"),
    (re.compile(r"RemoteDisconnected|Connection aborted", re.I), "connection closed by the server"),
)


def network_reason(exc: BaseException) -> str:
    """Return a few words saying why a request failed, from a requests/urllib3 exception."""
    text = str(exc)
    for pattern, template in _REASONS:
        m = pattern.search(text)
        if m:
            return shorten(redact(template.format(*(g.strip() for g in m.groups()))), 200)
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return type(exc).__name__


def error_detail(body: bytes) -> str:
    """Return the registry's own error code and message from an error body
    (`MANIFEST_UNKNOWN: manifest unknown`), on one line, or an empty string; not yet redacted.
    """
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    errors = decoded.get("errors") if isinstance(decoded, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return ""
    first = errors[0]
    return ": ".join(str(first.get(k)) for k in ("code", "message") if first.get(k))


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer, its body read (within the limit the request named)."""

    status: int
    """The HTTP status."""
    headers: Mapping[str, str]
    """The headers (case-insensitive)."""
    url: str
    """The URL that answered (after redirects)."""
    body: bytes = b""
    """The body; for an error status, at most `max_error_bytes` of it."""
    detail: str = ""
    """For an error status, the registry's error code and message, redacted and shortened."""

    def json(self) -> Any:
        """Return the decoded JSON body, or None when it is not JSON."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None

    def status_text(self) -> str:
        """Return `HTTP 404 MANIFEST_UNKNOWN: manifest unknown` for a failed answer."""
        return f"HTTP {self.status}" + (f" {self.detail}" if self.detail else "")


def status_text(reply: Reply) -> str:
    """Return `HTTP 404 MANIFEST_UNKNOWN: manifest unknown` for a failed answer."""
    return reply.status_text()


# -- the watchdog: a request's deadline cuts its connection ---------------------------------

_current = threading.local()
"""The `_Watch` of the request this thread is sending, for the pools to attach connections."""


def _shut(conn: Any) -> bool:
    """Shut the socket of a urllib3 connection down (a read blocked on it returns at once);
    return False when it has no socket yet."""
    sock = getattr(conn, "sock", None)
    if not isinstance(sock, socket.socket):
        return False
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the raw socket, under any TLS layer
    except OSError:
        pass
    return True


class _Watchdog:
    """One thread that fires the watches of every request at their deadlines (a timer thread
    per request cost a thread's start and wake-ups for each of a registry's many small GETs).
    Cancelled watches hold no connection; they are dropped when they reach the head of the
    queue, or all at once when they are most of it."""

    def __init__(self) -> None:
        self._queue: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._wake = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._cancelled = 0
        """Cancelled watches still queued (about: a watch may be queued more than once)."""

    def cancelled(self) -> None:
        """A watch was cancelled: when cancelled ones are most of the queue, drop them all."""
        with self._wake:
            self._cancelled += 1
            if self._cancelled > 64 and 2 * self._cancelled > len(self._queue):
                self._queue = [e for e in self._queue if not e[2].done]
                heapq.heapify(self._queue)
                self._cancelled = 0

    def schedule(self, watch: _Watch, delay: float) -> None:
        """Fire `watch` after `delay` seconds (unless it is cancelled by then)."""
        when = time.monotonic() + delay
        with self._wake:
            first = not self._queue or when < self._queue[0][0]
            heapq.heappush(self._queue, (when, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="registry-watchdog", daemon=True
                )
                self._thread.start()
            elif first:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while True:
                    if self._queue and self._queue[0][2].done:
                        heapq.heappop(self._queue)  # cancelled: nothing to fire
                        self._cancelled = max(0, self._cancelled - 1)
                        continue
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    if wait is not None and wait <= 0:
                        watch = heapq.heappop(self._queue)[2]
                        break
                    self._wake.wait(wait)
            watch.fire()


_WATCHDOG = _Watchdog()


class _Watch:
    """Cuts one request's connection when its deadline passes."""

    def __init__(self, end: float) -> None:
        self._lock = threading.Lock()
        self._conn: Any = None
        self.done = False
        """Cancelled (or the request ended): the connection is no longer the watch's."""
        self.fired = False
        _WATCHDOG.schedule(self, max(0.0, end - time.monotonic()))

    def attach(self, conn: Any) -> None:
        """Watch `conn`, the connection the request goes out on."""
        with self._lock:
            self._conn = conn

    def fire(self) -> None:
        """The deadline passed: shut the connection's socket (called by the watchdog)."""
        with self._lock:
            if self.done:
                return
            self.fired = True
            if self._conn is None or not _shut(self._conn):
                # still connecting (bounded by the connect timeout): again soon
                _WATCHDOG.schedule(self, 0.05)

    def cancel(self) -> None:
        """Stop watching: after this, the connection is never touched (it may be reused), nor
        held until the watch's deadline."""
        with self._lock:
            if self.done:
                return
            self.done = True
            self._conn = None
        _WATCHDOG.cancelled()


def _attach(conn: Any) -> Any:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.attach(conn)
    return conn


class _WatchedPool(HTTPConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _attach(super()._get_conn(timeout))


class _WatchedTLSPool(HTTPSConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _attach(super()._get_conn(timeout))


class WatchedAdapter(HTTPAdapter):
    """An `HTTPAdapter` whose connections a request's deadline can cut: `Transport` shuts the
    socket of a request that passes its deadline, wherever the request is blocked (connecting
    aside, which the connect timeout bounds). Through another adapter, the deadline is checked
    between reads only."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        """Make the pool manager, with pools that tell the watchdog their connections."""
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {  # type: ignore[assignment]
            "http": _WatchedPool, "https": _WatchedTLSPool,
        }


class RegistrySession(requests.Session):
    """A session that reads the environment's proxy and CA bundle settings once per origin
    (scheme and host), not once per request as `requests` does: it walks all of `os.environ`
    twice for each (`getproxies`, `no_proxy`), a quarter of the collector's CPU on a registry's
    small answers. The settings are the same `requests` would find, as they stood at the
    origin's first request (a run does not change its environment while it runs). Its GETs to
    an origin it reaches directly go on the lean path (`connections`, `_registry_conn`)."""

    def __init__(self, pool_maxsize: int = 10) -> None:
        super().__init__()
        self._env: dict[tuple[object, ...], _Settings] = {}
        self.adapter = WatchedAdapter(pool_connections=4, pool_maxsize=pool_maxsize)
        self.mount("https://", self.adapter)
        self.mount("http://", self.adapter)
        self.connections = Connections(self, pool_maxsize)
        """The lean path's kept-alive connections (`_registry_conn`)."""

    def close(self) -> None:
        """Close every connection, the lean path's too."""
        self.connections.close()
        super().close()

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        """Return `requests`' settings for `url`, from the cache when its origin has them."""
        if not self.trust_env or proxies or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert)
        try:
            got = self._env.get(key)
        except TypeError:  # an unhashable `verify` or `cert`: as requests does
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        if got is None:
            got = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._env[key] = got
        mine = got.copy()
        mine["proxies"] = dict(got["proxies"])
        return mine


def new_session(pool_maxsize: int = 10) -> RegistrySession:
    """Return a `requests.Session` whose connections request deadlines can cut, that reads
    the environment's proxy settings once per origin (`RegistrySession`), and whose GETs to an
    origin reached directly go on kept-alive `http.client` connections (`_registry_conn`)."""
    return RegistrySession(pool_maxsize)


# -- the transport --------------------------------------------------------------------------


class _Transient(AuditlibError):
    """An attempt failed in a way worth retrying (connection error, timeout); internal."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Cut(AuditlibError):
    """The request's deadline passed."""


_NETWORK_ERRORS = (
    requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError,
)


class Transport:
    """Sends requests through one `requests.Session`, with limits, deadlines and retries."""

    def __init__(
        self,
        session: requests.Session,
        *,
        limits: RegistryLimits | None = None,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        insecure: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Make the transport.

        Args:
            session: the session (`new_session()` lets deadlines cut blocked reads).
            limits: bytes, timeouts and deadlines.
            retry: how transient failures are retried.
            verify: TLS verification: True, False, or a CA bundle path.
            insecure: allow plain HTTP to hosts that are not loopback.
            sleep: replaces `time.sleep` between retries (tests).
        """
        self.session = session
        self.limits = limits or RegistryLimits()
        self.retry = retry or RetryPolicy()
        self.verify = verify
        self.insecure = insecure
        self.sleep = sleep
        self.secrets: Callable[[], Iterable[str]] = tuple
        """The secrets to mask in text from the server (set by the client: its credentials in
        every form, its tokens)."""

    def text(self, raw: str, limit: int = 160) -> str:
        """Return text that came from the server, fit for a message: redacted, the client's
        own secrets masked, on one line, shortened between words."""
        return shorten(scrub(redact(raw), self.secrets()), limit)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.retry.backoff_max, self.retry.backoff * (2**attempt)))

    @staticmethod
    def check_budget(subject: str, budget: Budget | None) -> None:
        """Raise `SourceLimitError` when `budget` is spent."""
        why = budget.spent() if budget is not None else None
        if why:
            raise SourceLimitError(f"{subject}: {why}")

    def fetch(
        self,
        method: str,
        url: str,
        *,
        subject: str,
        what: str,
        limit: str = "max_response_bytes",
        headers: Mapping[str, str] | None = None,
        budget: Budget | None = None,
        retry: bool = True,
        **kwargs: Any,
    ) -> Reply:
        """Send a request and read its answer, retrying transient failures.

        Args:
            method: `GET` or `POST` (only GETs follow redirects).
            url: the full URL (never with credentials in it).
            subject: what the request is about, to start error messages (`ghcr.io/org/app:1`).
            what: what the body is, for messages (`manifest`, `tag list page`).
            limit: the `RegistryLimits` field that caps a successful body.
            headers: request headers; `Authorization` goes to the origin of `url` only.
            budget: the time and bytes no attempt, wait or read may pass (the repository's).
            retry: whether transient failures are retried.
            **kwargs: passed to `requests.Session.request` (`params`, `data`).

        Returns:
            The answer, whatever its status except a retried 5xx or 429 that never got better
            (those end as errors); 3xx only when it has no `Location` or is not a GET's.

        Raises:
            SourceLimitError: `budget` is spent (before, during or between attempts).
            RegistryError: TLS failure; connection error or timeout after the retries; 5xx or
                429 after the retries; a `Retry-After` longer than the policy allows; the
                request deadline passed; a successful body over `limit`, or compressed; too many
                redirects; a URL refused (`check_url`).
        """
        attempts = self.retry.retries + 1 if retry else 1
        before = ""  # why the last attempt failed, for a budget spent by the next
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                self.check_budget(subject, budget)
                reply = self._exchange(
                    method, url, subject=subject, what=what, limit=limit,
                    headers=headers or {}, budget=budget, **kwargs,
                )
            except _Transient as e:
                if last:
                    raise RegistryError(f"{subject}: {e.message}") from None
                before = e.message
                self._pause(subject, method, url, e.message, self._backoff(attempt), budget)
                continue
            except SourceLimitError as e:
                if not before:
                    raise
                raise SourceLimitError(f"{e}, after: {before}") from None
            if reply.status == 429:
                asked = retry_after_seconds(reply.headers.get("Retry-After"))
                if asked is not None and asked > self.retry.max_retry_after:
                    raise RegistryError(
                        f"{subject}: rate limited (HTTP 429); the registry asks to wait "
                        f"{asked:.0f} s, more than the {self.retry.max_retry_after:g} s allowed",
                        status=429,
                    )
                if last:
                    raise RegistryError(
                        f"{subject}: rate limited (HTTP 429) after {attempts} attempts", status=429
                    )
                wait = asked if asked is not None else self._backoff(attempt)
                before = "HTTP 429"
                self._pause(subject, method, url, before, wait, budget)
            elif reply.status in RETRY_STATUSES:
                if last:
                    raise RegistryError(
                        f"{subject}: registry error ({reply.status_text()}) after {attempts} "
                        "attempts",
                        status=reply.status,
                    )
                before = f"HTTP {reply.status}"
                self._pause(subject, method, url, before, self._backoff(attempt), budget)
            else:
                return reply
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(
        self, subject: str, method: str, url: str, why: str, wait: float, budget: Budget | None
    ) -> None:
        """Wait before a retry, unless that would pass the budget's deadline."""
        deadline = budget.deadline if budget is not None else None
        if budget is not None and deadline is not None and time.monotonic() + wait >= deadline:
            raise SourceLimitError(
                f"{subject}: {why}; no time left to retry within {budget.time_words()}"
            )
        log.info("%s: %s %s: %s; retrying in %.1f s", subject, method, self.text(url, 300), why,
                 wait)
        self.sleep(wait)

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        subject: str,
        what: str,
        limit: str,
        headers: Mapping[str, str],
        budget: Budget | None,
        **kwargs: Any,
    ) -> Reply:
        """One attempt: send, follow redirects, read the answer, all before the request's
        deadline (or the budget's, when sooner) and within the budget's bytes."""
        end = time.monotonic() + self.limits.request_deadline
        deadline = budget.deadline if budget is not None else None
        by_caller = budget is not None and deadline is not None and deadline <= end
        if deadline is not None:
            end = min(end, deadline)
        sent = {k: v for k, v in headers.items() if k.lower() != "accept-encoding"}
        sent["Accept-Encoding"] = "identity"
        home = origin(url)
        for hop in range(self.limits.max_redirects + 1):
            parts = urlsplit(url)
            if not _allowed(parts.scheme, parts.netloc, self.insecure):
                check_url(url, subject=subject, insecure=self.insecure)  # raises, saying why
            if hop and origin(url) != home:
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            if hop:
                kwargs.pop("params", None)  # the Location is the whole URL
            watch = _Watch(end)
            resp: requests.Response | Answer | None = None
            try:
                resp = self._send(method, url, sent, end, watch, **kwargs)
                location = resp.headers.get("Location")
                if resp.status_code in REDIRECT_STATUSES and location and method == "GET":
                    url = urljoin(resp.url or url, location)
                    log.debug("%s: redirected to %s", subject, origin_text(url))
                    continue
                reply = self._read(resp, url, subject, what, limit, end, budget)
            except RegistryError:
                raise
            except (_Cut, *_NETWORK_ERRORS) as e:
                if watch.fired or time.monotonic() >= end or isinstance(e, _Cut):
                    raise self._cut(subject, budget if by_caller else None) from None
                raise self._failure(subject, e) from None
            finally:
                watch.cancel()  # first: closing may give the connection to another request
                if resp is not None:
                    resp.close()
            if watch.fired:
                raise self._cut(subject, budget if by_caller else None)
            return reply
        raise RegistryError(
            f"{subject}: more than {self.limits.max_redirects} redirects (max_redirects)"
        )

    def _send(
        self, method: str, url: str, headers: Mapping[str, str], end: float, watch: _Watch,
        **kwargs: Any,
    ) -> requests.Response | Answer:
        left = max(0.001, end - time.monotonic())
        timeout = (min(self.limits.connect_timeout, left), min(self.limits.read_timeout, left))
        session = self.session
        if method == "GET" and not kwargs and isinstance(session, RegistrySession):
            route = session.connections.route(url, self.verify, session.adapter)
            if route is not None:  # reached directly: on the lean path
                answer = session.connections.send(method, url, headers, route, timeout, watch)
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s %s -> %s", method, self.text(url, 300), answer.status_code)
                return answer
        _current.watch = watch
        try:
            resp = self.session.request(
                method, url, headers=dict(headers), timeout=timeout, verify=self.verify,
                stream=True, allow_redirects=False, **kwargs,
            )
        finally:
            _current.watch = None
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %s", method, self.text(url, 300), resp.status_code)
        return resp

    def _read(
        self, resp: requests.Response | Answer, url: str, subject: str, what: str, limit: str,
        end: float, budget: Budget | None,
    ) -> Reply:
        """Read the body of `resp`: up to `limit` for a success (more is an error), up to
        `max_error_bytes` for an error (the rest is left); every byte counts in `budget`."""
        ok = 200 <= resp.status_code < 300
        cap = int(getattr(self.limits, limit)) if ok else self.limits.max_error_bytes
        encoding = resp.headers.get("Content-Encoding", "").strip().lower()
        plain = encoding in ("", "identity")
        if ok and not plain:
            raise RegistryError(
                f"{subject}: the {what} came compressed ({self.text(encoding, 40)}), although "
                "none was asked for"
            )
        declared = resp.headers.get("Content-Length", "").strip()
        if ok and declared.isdigit() and int(declared) > cap:
            raise RegistryError(
                f"{subject}: the {what} is {int(declared):,} bytes, over the {cap:,}-byte limit "
                f"({limit})"
            )
        chunks: list[bytes] = []
        total = 0
        for chunk in resp.iter_content(_CHUNK) if plain else ():
            if time.monotonic() >= end:
                raise _Cut()
            total += len(chunk)
            if budget is not None and not budget.spend(len(chunk)):
                raise SourceLimitError(f"{subject}: {budget.bytes_words()}")
            if total > cap:
                if ok:
                    raise RegistryError(
                        f"{subject}: the {what} is over the {cap:,}-byte limit ({limit})"
                    )
                chunks.append(chunk[: len(chunk) - (total - cap)])
                break
            chunks.append(chunk)
        body = b"".join(chunks)
        detail = "" if ok else self.text(error_detail(body))
        return Reply(resp.status_code, resp.headers, resp.url or url, body, detail)

    def _cut(self, subject: str, budget: Budget | None) -> RegistryError:
        """Return the error of a request cut by its deadline, or by `budget`'s when given."""
        if budget is not None:
            return SourceLimitError(f"{subject}: {budget.time_words()} passed during a request")
        return RegistryError(
            f"{subject}: no whole answer within the {self.limits.request_deadline:g} s request "
            "deadline (request_deadline)"
        )

    def _failure(self, subject: str, exc: BaseException) -> Exception:
        """Return what a failed attempt becomes: a `RegistryError`, or `_Transient` to retry."""
        reason = network_reason(exc)
        if isinstance(exc, requests.exceptions.SSLError):
            return RegistryError(f"{subject}: TLS error: {reason}")
        if isinstance(exc, requests.ConnectTimeout):
            return _Transient(
                f"cannot connect (timed out after {self.limits.connect_timeout:g} s: "
                "connect_timeout)"
            )
        if isinstance(exc, requests.Timeout) or "Read timed out" in str(exc):
            return _Transient(
                f"no answer (nothing for {self.limits.read_timeout:g} s: read_timeout)"
            )
        if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            return _Transient(f"cannot connect ({reason})")
        if isinstance(exc, urllib3.exceptions.HTTPError | http.client.HTTPException | OSError):
            return _Transient(f"connection failed ({reason})")
        return RegistryError(f"{subject}: request failed ({reason})")
