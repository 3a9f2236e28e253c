"""The inventory file (`auditlib collect --sources FILE`): a fleet named in one place, in YAML.

```yaml
deadline: 300                  # seconds each source may take (default 600)
workers: 32                    # sources read at once
engines:
  - unix:///var/run/docker.sock
  - url: tcp://build1.example:2376
    tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem}   # or cert_path: certs/
    deadline: 60
  - url: ssh://ops@build2.example
contexts: [prod, staging]      # from the docker CLI's context store
all_contexts: false
registries:
  - 127.0.0.1:5000/team/app
  - repo: ghcr.io/org/api
    deadline: 120
registry_credentials:          # instead of the docker config's, for these registries
  ghcr.io: {username: bot, password: ...}
docker_config: ~/.docker/config.json
archives: [images/app.tar]
dockerfiles: [app/Dockerfile=ghcr.io/org/app:1.2]
```

Relative paths are read from the file's folder. A file that does not parse or does not fit this
shape is an error naming the file and the place (never the text there, which could hold a
password); the credentials it holds reach no message, table or log (passwords in engine URLs are
cut by `safe_url`, and registry credentials are masked wherever the registry collector writes).
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import yaml

from auditlib.errors import ParameterError
from auditlib.ingest.collect import DEFAULT_DEADLINE, CollectRequest
from auditlib.ingest.source_pool import DEFAULT_WORKERS
from auditlib.normalize.redact import redact
from auditlib.sources.docker_credentials import Credentials
from auditlib.sources.engine_endpoint import EngineEndpoint, EngineTls


class _Tls(msgspec.Struct, forbid_unknown_fields=True):
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool = True


class _Engine(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    tls: _Tls | None = None
    cert_path: str | None = None
    deadline: float | None = None


class _Registry(msgspec.Struct, forbid_unknown_fields=True):
    repo: str
    deadline: float | None = None


class _Login(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: str = ""


class _Path(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    deadline: float | None = None


class _Inventory(msgspec.Struct, forbid_unknown_fields=True):
    deadline: float | None = DEFAULT_DEADLINE
    workers: int = DEFAULT_WORKERS
    engines: list[str | _Engine] = msgspec.field(default_factory=list)
    contexts: list[str] = msgspec.field(default_factory=list)
    all_contexts: bool = False
    registries: list[str | _Registry] = msgspec.field(default_factory=list)
    registry_credentials: dict[str, _Login] = msgspec.field(default_factory=dict)
    docker_config: str | None = None
    insecure_registries: bool = False
    platform: str = "linux/amd64"
    archives: list[str | _Path] = msgspec.field(default_factory=list)
    dockerfiles: list[str | _Path] = msgspec.field(default_factory=list)


def _positive(value: float | int | None, what: str, path: Path) -> None:
    if value is not None and not value > 0:
        raise ParameterError(f"{path}: {what} must be positive, not {value}")


def _engine(e: str | _Engine, base: Path, path: Path) -> tuple[str | EngineEndpoint, float | None]:
    if isinstance(e, str):
        return e, None
    if e.tls is not None and e.cert_path is not None:
        raise ParameterError(f"{path}: engine {EngineEndpoint(e.url).shown}: give tls or "
                             "cert_path, not both")
    tls = None
    if e.cert_path is not None:
        folder = base / os.path.expanduser(e.cert_path)
        tls = EngineTls(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    elif e.tls is not None:
        def at(p: str | None) -> Path | None:
            return base / os.path.expanduser(p) if p is not None else None

        tls = EngineTls(at(e.tls.ca), at(e.tls.cert), at(e.tls.key), verify=e.tls.verify)
    return EngineEndpoint(e.url, tls=tls), e.deadline


def read_inventory(path: str | os.PathLike[str]) -> CollectRequest:
    """Read an inventory file into what to collect.

    Returns:
        The request: its engines, contexts, registries, archives and Dockerfiles, with their
        deadlines (`CollectRequest.deadlines`, by the text that names each source).

    Raises:
        ParameterError: naming the file and why, when it cannot be read, is not YAML, or does
            not fit the inventory's shape (the place is named, the text there is not shown).
    """
    file = Path(path)
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as e:
        raise ParameterError(f"{file}: cannot read the inventory: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ParameterError(f"{file}: the inventory is not UTF-8 text") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or type(e).__name__
        raise ParameterError(f"{file}: not YAML{where}: {redact(str(problem))}") from None
    try:
        inv = msgspec.convert(doc if doc is not None else {}, _Inventory)
    except msgspec.ValidationError as e:
        # msgspec names the place (`$.engines[1].url`) and the expected type, never the value.
        raise ParameterError(f"{file}: not an inventory: {redact(str(e))}") from None
    _positive(inv.deadline, "deadline", file)
    _positive(inv.workers, "workers", file)
    base = file.parent
    req = CollectRequest(
        contexts=list(inv.contexts), all_contexts=inv.all_contexts, platform=inv.platform,
        insecure_registries=inv.insecure_registries, deadline=inv.deadline,
        workers=inv.workers,
        docker_config=(str(base / os.path.expanduser(inv.docker_config))
                       if inv.docker_config else None),
        registry_credentials={
            host: Credentials(login.username, login.password, origin=str(file))
            for host, login in inv.registry_credentials.items()
        } or None,
    )
    engines: list[str | None | EngineEndpoint] = []
    for given_engine in inv.engines:
        engine, deadline = _engine(given_engine, base, file)
        engines.append(engine)
        _positive(deadline, "an engine's deadline", file)
        if deadline is not None:
            req.deadlines[engine.url if isinstance(engine, EngineEndpoint) else engine] = deadline
    req.engines = engines
    for r in inv.registries:
        repo = r if isinstance(r, str) else r.repo
        req.registries.append(repo)
        if isinstance(r, _Registry) and r.deadline is not None:
            _positive(r.deadline, f"the deadline of {repo}", file)
            req.deadlines[repo] = r.deadline
    for items, into, refs in ((inv.archives, req.archives, False),
                              (inv.dockerfiles, req.dockerfiles, True)):
        for item in items:
            text = item if isinstance(item, str) else item.path
            local, sep, ref = text.partition("=") if refs else (text, "", "")
            given = str(base / os.path.expanduser(local)) + (sep + ref if sep else "")
            into.append(given)
            if isinstance(item, _Path) and item.deadline is not None:
                _positive(item.deadline, f"the deadline of {text}", file)
                req.deadlines[given] = item.deadline
    return req


__all__ = ["read_inventory"]
