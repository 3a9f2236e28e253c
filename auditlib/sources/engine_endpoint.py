"""Where a Docker Engine is and how to speak to it: its URL and, for tcp, its TLS files, as an
inventory file or a docker context gives them (`EngineEndpoint`), and the client opened on it.

An endpoint's `shown` name never carries a password (`ssh://user:pw@host` shows as
`ssh://user@host`); its repr shows no more.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import docker.tls

from auditlib.errors import SourceUnavailableError
from auditlib.sources.engine import connect, safe_url


@dataclass(frozen=True, slots=True)
class EngineTls:
    """The TLS files of a tcp engine (the layout of DOCKER_CERT_PATH and of a context's `tls`)."""

    ca: Path | None = None
    """The CA that signed the engine's certificate; None: the system's CAs."""
    cert: Path | None = None
    """The client certificate (mutual TLS); with `key`."""
    key: Path | None = None
    """The client certificate's key."""
    verify: bool = True
    """Whether the engine's certificate is checked (a context's `SkipTLSVerify` turns it off)."""


@dataclass(frozen=True, slots=True)
class EngineEndpoint:
    """One Docker Engine to collect."""

    url: str
    """`unix:///...`, `tcp://host:2376`, `ssh://user@host`."""
    tls: EngineTls | None = None
    """TLS settings for tcp; None: plain, or the environment's (DOCKER_TLS_VERIFY)."""
    name: str | None = None
    """The docker context it came from, if any."""

    @property
    def shown(self) -> str:
        """Return how the endpoint is named to the user: the URL without password (and the
        context's name)."""
        url = safe_url(self.url)
        return f"{url} (context {self.name})" if self.name else url

    def __repr__(self) -> str:
        """Return the repr without any password of the URL."""
        return f"EngineEndpoint({self.shown!r}, tls={self.tls is not None})"

    def client(self, timeout: float = 60) -> docker.DockerClient:
        """Open a client on the endpoint and check that the engine answers (`engine.connect`).

        ssh goes through the `ssh` client when it is installed (as the docker CLI does: its
        config, agent and known hosts), else through paramiko.

        Raises:
            SourceUnavailableError: naming the endpoint and how to fix it, when a TLS file is
                missing or the engine cannot be reached.
        """
        tls: docker.tls.TLSConfig | None = None
        if self.tls is not None:
            for f in (self.tls.ca, self.tls.cert, self.tls.key):
                if f is not None and not f.is_file():
                    raise SourceUnavailableError(
                        f"cannot connect to the Docker Engine at {self.shown}: TLS file {f} "
                        "is missing"
                    )
            pair = (
                (str(self.tls.cert), str(self.tls.key))
                if self.tls.cert is not None and self.tls.key is not None
                else None
            )
            try:
                tls = docker.tls.TLSConfig(
                    client_cert=pair, verify=self.tls.verify,
                    ca_cert=str(self.tls.ca) if self.tls.ca is not None else None,
                )
            except docker.errors.DockerException as e:
                raise SourceUnavailableError(
                    f"cannot connect to the Docker Engine at {self.shown}: {e}"
                ) from None
        try:
            client, _ = connect(
                self.url, timeout=max(1, int(timeout)), tls=tls,
                use_ssh_client=self.url.startswith("ssh://") and shutil.which("ssh") is not None,
            )
        except SourceUnavailableError as e:
            why = str(e).replace(safe_url(self.url), self.shown, 1)
            raise SourceUnavailableError(why) from None
        return client


__all__ = ["EngineEndpoint", "EngineTls"]
