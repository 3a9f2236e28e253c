"""The docker CLI's contexts, read from its own store: `$DOCKER_CONFIG/contexts` (default
`~/.docker/contexts`).

Each context is `meta/<sha256 of its name>/meta.json` (`{"Name": ..., "Endpoints": {"docker":
{"Host": ..., "SkipTLSVerify": ...}}}`), and its TLS files are `tls/<sha256 of its name>/docker/`
(`ca.pem`, `cert.pem`, `key.pem`), as docker/cli's `context/store` writes them. The context named
`default` is not stored: it is DOCKER_HOST, else the local socket.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from auditlib.errors import AuditlibError
from auditlib.normalize.redact import redact
from auditlib.sources.engine_endpoint import EngineEndpoint, EngineTls

DEFAULT_CONTEXT = "default"
"""The context docker names `default`: DOCKER_HOST, else the local socket (never stored)."""


class ContextError(AuditlibError):
    """A docker context is missing from the store, or its metadata cannot be read."""


def contexts_dir(docker_config: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder of the context store: `<docker_config>/contexts`, else
    `$DOCKER_CONFIG/contexts`, else `~/.docker/contexts`."""
    base = docker_config or os.environ.get("DOCKER_CONFIG")
    return (Path(base) if base else Path.home() / ".docker") / "contexts"


def context_id(name: str) -> str:
    """Return the folder name docker stores context `name` under (the sha256 of its name)."""
    return hashlib.sha256(name.encode()).hexdigest()


def _endpoint(meta: Path, store: Path) -> EngineEndpoint:
    try:
        doc = json.loads(meta.read_bytes())
        name = doc["Name"]
        docker_ep = (doc.get("Endpoints") or {}).get("docker") or {}
        host = docker_ep.get("Host")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ContextError(f"{meta}: not a docker context's metadata: {redact(str(e))[:200]}"
                           ) from None
    if not isinstance(name, str) or not isinstance(host, str) or not host:
        raise ContextError(f"{meta}: docker context without a docker endpoint Host")
    tls_dir = store / "tls" / meta.parent.name / "docker"
    files = {n: tls_dir / f"{n}.pem" for n in ("ca", "cert", "key")}
    skip = docker_ep.get("SkipTLSVerify") is True
    tls = None
    if any(f.is_file() for f in files.values()) or skip:
        tls = EngineTls(
            **{n: (f if f.is_file() else None) for n, f in files.items()}, verify=not skip
        )
    return EngineEndpoint(host, tls=tls, name=name)


def load_contexts(
    docker_config: str | os.PathLike[str] | None = None,
) -> tuple[list[EngineEndpoint], list[ContextError]]:
    """Read every context of the store, each metadata file once.

    Returns:
        The contexts that could be read, sorted by name (`default` is not stored, so not among
        them), and an error naming the file of each that could not (the others are kept).
    """
    store = contexts_dir(docker_config)
    metas = sorted((store / "meta").glob("*/meta.json")) if (store / "meta").is_dir() else []
    found: list[EngineEndpoint] = []
    errors: list[ContextError] = []
    for meta in metas:
        try:
            found.append(_endpoint(meta, store))
        except ContextError as e:
            errors.append(e)
    return sorted(found, key=lambda e: e.name or ""), errors


def list_contexts(docker_config: str | os.PathLike[str] | None = None) -> list[EngineEndpoint]:
    """Return every context of the store, sorted by name (`default` is not stored, so not
    among them).

    Raises:
        ContextError: naming the file, when a context's metadata cannot be read.
    """
    found, errors = load_contexts(docker_config)
    if errors:
        raise errors[0]
    return found


def find_context(
    name: str, docker_config: str | os.PathLike[str] | None = None
) -> EngineEndpoint | None:
    """Return the endpoint of context `name`; None for `default` (DOCKER_HOST, else the local
    socket, as the docker CLI takes it).

    Raises:
        ContextError: naming the store, when there is no such context or it cannot be read.
    """
    if name == DEFAULT_CONTEXT:
        return None
    store = contexts_dir(docker_config)
    meta = store / "meta" / context_id(name) / "meta.json"
    if not meta.is_file():
        known = [e.name for e in load_contexts(docker_config)[0]]  # a damaged one is not news here
        raise ContextError(
            f"docker context {name!r}: not in the context store {store} (known: "
            f"{', '.join(repr(k) for k in known) or 'none'}, and 'default')"
        )
    return _endpoint(meta, store)


__all__ = [
    "DEFAULT_CONTEXT", "ContextError", "context_id", "contexts_dir", "find_context",
    "list_contexts", "load_contexts",
]
