"""One `RegistryClient` per registry, shared by every repository of it that a run reads.

A client holds a registry's connections, its settled scheme (HTTPS or HTTP, learnt by one ping),
its auth challenge and tokens: making one per repository costs a TLS handshake, a ping and a
token request each time (and tens of milliseconds of CPU), so `collect` reads the repositories
of one registry, each in its own job and with its own deadline, through one client from here.
`RegistryClients` is thread-safe: two jobs asking for the same registry at once get the same
client, made once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import requests

from auditlib.sources._registry_client import RegistryClient
from auditlib.sources._registry_http import RetryPolicy, new_session
from auditlib.sources._registry_limits import RegistryLimits
from auditlib.sources.docker_credentials import Credentials, credentials_for

TAG_WORKERS = 8
"""Requests one repository has in flight by default (`collect_registry`'s `workers`: its tags
read at once)."""


def pool_size(repositories_at_once: int) -> int:
    """Return the connections to keep open per registry when `repositories_at_once` of its
    repositories are read at once, each with `TAG_WORKERS` requests in flight, so that none is
    closed after use (urllib3 warns "Connection pool is full" for each). Connections are opened
    only as needed."""
    return max(10, repositories_at_once * TAG_WORKERS)


POOL_SIZE = pool_size(32)
"""Connections kept per registry by default: 32 repositories at once (the source pool's
default, `ingest.source_pool.DEFAULT_WORKERS`; `collect` gives its own `pool_size`)."""


class RegistryClients:
    """The clients of a run, one per registry name (`ghcr.io`, `127.0.0.1:5000`), made on first
    use with the same settings; `close` closes those whose sessions it made."""

    def __init__(
        self,
        *,
        insecure: bool = False,
        docker_config: Path | None = None,
        credentials: Mapping[str, Credentials | None] | None = None,
        session: requests.Session | None = None,
        limits: RegistryLimits | None = None,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        pool_size: int = POOL_SIZE,
    ) -> None:
        """Keep the settings of the clients to make.

        Args:
            insecure: allow plain HTTP to registries that are not on a loopback address.
            docker_config: the Docker `config.json` credentials are read from (when first
                asked for by a registry); the docker CLI's default when None.
            credentials: credentials by registry name, used instead of the Docker config for
                those registries (None for anonymous).
            session: one `requests.Session` for every client (not closed by `close`); a new
                one per registry when None.
            limits: bytes, timeouts, pages of every request (`RegistryLimits()` when None;
                each repository's own deadline is its `Budget`'s, not the client's).
            retry: how transient failures are retried.
            verify: TLS verification: True, False, or the path of a CA bundle.
            pool_size: connections kept per registry, when the sessions are made here.
        """
        self._insecure = insecure
        self._config = docker_config
        self._credentials = credentials
        self._session = session
        self.limits = limits or RegistryLimits()
        self._retry = retry
        self._verify = verify
        self._pool_size = pool_size
        self._clients: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()

    def get(self, registry: str) -> RegistryClient:
        """Return the client of `registry`, made now if this is its first use (nothing is sent
        until the client's first request)."""
        with self._lock:
            client = self._clients.get(registry)
            if client is None:
                client = RegistryClient(
                    registry, credentials=self._credentials_of(registry),
                    insecure=self._insecure,
                    session=self._session or new_session(self._pool_size),
                    limits=self.limits, retry=self._retry, verify=self._verify,
                )
                self._clients[registry] = client
            return client

    def _credentials_of(
        self, registry: str
    ) -> Credentials | Callable[[], Credentials | None] | None:
        if self._credentials is not None and registry in self._credentials:
            return self._credentials[registry]
        config = self._config
        return lambda: credentials_for(registry, config_path=config)

    def close(self) -> None:
        """Close the connections of the clients made with sessions of their own."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        if self._session is None:
            for client in clients:
                client.close()

    def __enter__(self) -> RegistryClients:
        """Return itself; `close` at the end of the `with`."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the clients."""
        self.close()


__all__ = ["POOL_SIZE", "RegistryClients"]
