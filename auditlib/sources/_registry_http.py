"""HTTP for the registry client: one error type, loopback rules, retries and backoff.

`Transport.request` sends one request and retries it on connection errors, timeouts and 5xx with
exponential backoff, and on 429 after the `Retry-After` the registry asks for (seconds or an HTTP
date), up to a cap. Everything that goes wrong becomes a `RegistryError` whose message names the
subject (registry, repository, tag) and the reason in a few words: never a header, a URL with
credentials, or a response body beyond the registry's own error code and message.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from auditlib.errors import AuditlibError

log = logging.getLogger("auditlib.sources.registry")

RETRY_STATUSES = frozenset({500, 502, 503, 504})
"""Statuses retried with backoff, as transient server errors."""


class RegistryError(AuditlibError):
    """A registry could not be read: unreachable, TLS, authentication, not found, bad content."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        """Make the error; `status` is the HTTP status that caused it, when there was one."""
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed requests are retried."""

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
            return template.format(*(g.strip() for g in m.groups()))
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return type(exc).__name__


def error_detail(resp: requests.Response) -> str:
    """Return the registry's own error code and message (`MANIFEST_UNKNOWN: manifest unknown`),
    shortened to one line, or an empty string.
    """
    try:
        body = resp.json()
    except ValueError:
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return ""
    first = errors[0]
    parts = [str(first.get(k)) for k in ("code", "message") if first.get(k)]
    text = " ".join(": ".join(parts).split())
    return text[:160]


def status_text(resp: requests.Response) -> str:
    """Return `HTTP 404 MANIFEST_UNKNOWN: manifest unknown` for a failed response."""
    detail = error_detail(resp)
    return f"HTTP {resp.status_code}" + (f" {detail}" if detail else "")


class Transport:
    """Sends requests through one `requests.Session`, with timeouts and retries."""

    def __init__(
        self,
        session: requests.Session,
        *,
        timeout: float | tuple[float, float],
        retry: RetryPolicy,
        verify: bool | str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Make the transport; `sleep` is replaceable so tests do not wait."""
        self.session = session
        self.timeout = timeout
        self.retry = retry
        self.verify = verify
        self.sleep = sleep

    def _backoff(self, attempt: int) -> float:
        return float(min(self.retry.backoff_max, self.retry.backoff * (2**attempt)))

    def request(
        self,
        method: str,
        url: str,
        *,
        subject: str,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request, retrying transient failures.

        Args:
            method: `GET`, `HEAD`, `POST`.
            url: the full URL (never with credentials in it).
            subject: what the request is about, to start error messages (`ghcr.io/org/app:1`).
            headers: request headers.
            retry: whether transient failures are retried.
            **kwargs: passed to `requests.Session.request` (`params`, `data`, `stream`, ...).

        Returns:
            The response, whatever its status except a retried 5xx or 429 that never got better
            (those end as errors).

        Raises:
            RegistryError: TLS failure; connection error or timeout after the retries; 5xx or
                429 after the retries; a `Retry-After` longer than the policy allows.
        """
        attempts = self.retry.retries + 1 if retry else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                resp = self.session.request(
                    method, url, headers=dict(headers or {}), timeout=self.timeout,
                    verify=self.verify, **kwargs,
                )
            except requests.exceptions.SSLError as e:
                raise RegistryError(f"{subject}: TLS error: {network_reason(e)}") from None
            except (requests.ConnectionError, requests.Timeout) as e:
                reason = network_reason(e)
                if last:
                    raise RegistryError(f"{subject}: cannot connect ({reason})") from None
                wait = self._backoff(attempt)
                log.info("%s: %s %s: %s; retrying in %.1f s", subject, method, url, reason, wait)
                self.sleep(wait)
                continue
            log.debug("%s: %s %s -> %s", subject, method, url, resp.status_code)
            if resp.status_code == 429:
                asked = retry_after_seconds(resp.headers.get("Retry-After"))
                if asked is not None and asked > self.retry.max_retry_after:
                    resp.close()
                    raise RegistryError(
                        f"{subject}: rate limited (HTTP 429); the registry asks to wait "
                        f"{asked:.0f} s, more than the {self.retry.max_retry_after:g} s allowed",
                        status=429,
                    )
                if last:
                    resp.close()
                    raise RegistryError(
                        f"{subject}: rate limited (HTTP 429) after {attempts} attempts", status=429
                    )
                wait = asked if asked is not None else self._backoff(attempt)
            elif resp.status_code in RETRY_STATUSES:
                if last:
                    text = status_text(resp)
                    resp.close()
                    raise RegistryError(
                        f"{subject}: registry error ({text}) after {attempts} attempts",
                        status=resp.status_code,
                    )
                wait = self._backoff(attempt)
            else:
                return resp
            resp.close()
            log.info(
                "%s: %s %s: HTTP %s; retrying in %.1f s",
                subject, method, url, resp.status_code, wait,
            )
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover
