"""The Docker Engine collector: images, their history, containers, their mounts and what each
running container changed in its filesystem, through the `docker` SDK.

One bulk listing of images and one of containers, then the inspects (and `history`, `diff`) in
parallel. `DOCKER_HOST`, unix sockets, tcp with TLS (`DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`) and
ssh work as in the docker CLI, because the SDK reads the same settings.

Environment variable values are never stored: `image_env` keeps names and whether each looks like a
secret. A URL is shown without any password it carries.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import docker
import docker.errors
import docker.tls
import requests

from auditlib.errors import SourceUnavailableError
from auditlib.identity import normalize_digest, normalize_reference
from auditlib.rows import Output, Row
from auditlib.sources._engine_http import EngineApi, EngineGetError, SocketApi, engine_api
from auditlib.sources.image_config import image_record
from auditlib.sources.record import Collection, Record, canonical

FORMAT = "docker-engine"
DEFAULT_URL = "unix:///var/run/docker.sock"
DIFF_KINDS: dict[Any, str] = {0: "changed", 1: "added", 2: "deleted"}
"""`docker diff` kinds (the API's `Kind` numbers)."""

Progress = Callable[[str], None]


def safe_url(url: str) -> str:
    """Return `url` without a password in it (`ssh://user:pw@host` -> `ssh://user@host`)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def how_to_fix(url: str, error: BaseException) -> str:
    """Return why the engine at `url` could not be reached and what to do, from `error`."""
    text = str(error).lower()
    if "permission denied" in text:
        return (
            "permission denied; run as a user in the `docker` group (or root), or point "
            "--engine/DOCKER_HOST at an engine you may use"
        )
    if "no such file" in text or "filenotfound" in text:
        return "no such socket; is dockerd running? start it, or set --engine/DOCKER_HOST"
    if "connection refused" in text:
        return "connection refused; is dockerd listening there? check --engine/DOCKER_HOST"
    if "ssl" in text or "certificate" in text or "tls" in text:
        return (
            "TLS failed; check DOCKER_CERT_PATH and DOCKER_TLS_VERIFY "
            f"({type(error).__name__})"
        )
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{first[:200]}; check --engine/DOCKER_HOST"


_MIN_API = "1.24"
"""The oldest Engine API the SDK speaks; the engine's own version is used once it answers."""


def _keep_engine_ca(client: docker.DockerClient) -> None:
    """Make the engine's own CA (DOCKER_CERT_PATH/ca.pem) win over REQUESTS_CA_BUNDLE.

    `requests` lets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE replace a session's `verify` on every
    request, so with either set (as on many corporate machines) the SDK checks a TLS engine
    against the system bundle and fails where the docker CLI succeeds. The environment's proxies
    are kept.
    """
    session = client.api
    if isinstance(session.verify, str):
        base = str(session.base_url).replace("tcp://", "https://")
        session.proxies = requests.utils.get_environ_proxies(base)
        session.trust_env = False


def connect(
    url: str | None = None,
    *,
    timeout: int = 60,
    tls: docker.tls.TLSConfig | None = None,
    use_ssh_client: bool = False,
) -> tuple[docker.DockerClient, str]:
    """Open a client to the engine at `url` (else `DOCKER_HOST`, else the default socket) and
    check that it answers; with `tls` (a context's or an inventory's certificates) rather than
    the environment's, and ssh through the `ssh` client with `use_ssh_client`.

    Returns:
        The client and the engine's URL, without any password.

    Raises:
        SourceUnavailableError: naming the engine and how to fix it, when it cannot be reached.
    """
    shown = safe_url(url or os.environ.get("DOCKER_HOST") or DEFAULT_URL)
    try:
        # A fixed version first: "auto" would ask the engine before the CA fix below.
        client = (
            docker.DockerClient(base_url=url, timeout=timeout, version=_MIN_API,
                                tls=tls or False, use_ssh_client=use_ssh_client)
            if url
            else docker.from_env(timeout=timeout, version=_MIN_API)
        )
        _keep_engine_ca(client)
        client.api._version = str(client.api.version(api_version=False)["ApiVersion"])
    except (docker.errors.DockerException, requests.RequestException, OSError) as e:
        raise SourceUnavailableError(
            f"cannot connect to the Docker Engine at {shown}: {how_to_fix(shown, e)}"
        ) from None
    return client, shown


def open_api(
    url: str | None, client: docker.DockerClient | None = None, *, timeout: float = 60
) -> tuple[EngineApi, str, str]:
    """Return the way to make GETs to the engine, its URL without password, and the API version.

    A unix socket is spoken to directly (see `auditlib.sources._engine_http`); tcp, TLS and ssh
    go through the docker SDK, which reads DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as
    the docker CLI does, and once it has connected, the GETs of plain tcp (no TLS, no proxy) are
    made directly too.

    Raises:
        SourceUnavailableError: naming the engine and how to fix it, when it cannot be reached.
    """
    if client is not None:
        return engine_api(client), safe_url(url or str(client.api.base_url)), client.api.api_version
    effective = url or os.environ.get("DOCKER_HOST") or DEFAULT_URL
    if effective.startswith("unix://"):
        unix = SocketApi(effective.removeprefix("unix://"), timeout=timeout)
        try:
            version = unix.ping()
        except (OSError, EngineGetError, http.client.HTTPException) as e:
            raise SourceUnavailableError(
                f"cannot connect to the Docker Engine at {effective}: {how_to_fix(effective, e)}"
            ) from None
        return unix, effective, version or "unknown"
    client, shown = connect(url, timeout=max(1, int(timeout)))
    return engine_api(client), shown, str(client.api.api_version)


def _iso(seconds: Any) -> str | None:
    if type(seconds) is not int or seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _time(value: Any) -> str | None:
    # The engine writes `0001-01-01T00:00:00Z` for "never".
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    return value


def _oci_config(inspect: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    """Return an image inspect (and its history, newest first) in the OCI config form."""
    steps = [
        {
            "created": _iso(h.get("Created")),
            "created_by": h.get("CreatedBy"),
            "comment": h.get("Comment") or None,
            # The engine's history has no empty-layer flag; a step of size 0 made no layer.
            "empty_layer": h.get("Size") == 0,
        }
        for h in reversed(history)
    ]
    return {
        "architecture": inspect.get("Architecture"),
        "os": inspect.get("Os"),
        "created": inspect.get("Created"),
        "config": inspect.get("Config") or {},
        "rootfs": {"diff_ids": (inspect.get("RootFS") or {}).get("Layers") or []},
        "history": steps,
    }


def image_from_inspect(
    inspect: dict[str, Any],
    history: list[dict[str, Any]],
    *,
    source: str,
    host: str,
    api_version: str,
) -> Record:
    """Return the record of one image from the engine's inspect and history answers.

    Raises:
        ValueError: if the inspect has no image id.
    """
    image_id = normalize_digest(inspect.get("Id"))
    if image_id is None:
        raise ValueError(f"image inspect without an Id: {str(inspect.get('Id'))[:80]}")
    tags = [t for t in inspect.get("RepoTags") or [] if isinstance(t, str) and t != "<none>:<none>"]
    digests = [d for d in inspect.get("RepoDigests") or [] if isinstance(d, str)]
    return image_record(
        _oci_config(inspect, history),
        image_id=image_id,
        fmt=FORMAT,
        version=api_version,
        source=source,
        host=host,
        reference=tags[0] if tags else None,
        tags=tags,
        repo_digests=digests,
        size_bytes=inspect.get("Size") if type(inspect.get("Size")) is int else None,
        history_sizes=[h.get("Size") for h in reversed(history)],
    )


def _image_ref(given: Any, image_id: str | None) -> str | None:
    if not isinstance(given, str) or not given:
        return None
    bare = given.removeprefix("sha256:")
    if image_id and image_id.removeprefix("sha256:").startswith(bare) and len(bare) >= 12:
        return None  # started by image id
    return normalize_reference(given)


def container_from_inspect(
    inspect: dict[str, Any],
    changes: list[dict[str, Any]] | None,
    *,
    source: str,
    host: str,
    api_version: str,
) -> Record:
    """Return the record of one container from its inspect and `diff` answers.

    Raises:
        ValueError: if the inspect has no container id.
    """
    cid = inspect.get("Id")
    if not isinstance(cid, str) or not cid:
        raise ValueError("container inspect without an Id")
    cfg = inspect.get("Config") or {}
    hostcfg = inspect.get("HostConfig") or {}
    state = inspect.get("State") or {}
    image_id = normalize_digest(inspect.get("Image"))
    out = Output(source)
    out.scan.format_version = api_version
    out.scan.tool = "docker"
    name = str(inspect.get("Name") or "").lstrip("/")
    out.scan.target = name or cid
    out.scan.target_type = "container"
    common = {"host": host, "container_id": cid}
    out.add(
        "containers",
        {
            **common,
            "name": name,
            "image_id": image_id,
            "image_ref": _image_ref(cfg.get("Image"), image_id),
            "image_ref_raw": cfg.get("Image"),
            "state": state.get("Status"),
            "created_at": _time(inspect.get("Created")),
            "started_at": _time(state.get("StartedAt")),
            "finished_at": None if state.get("Running") else _time(state.get("FinishedAt")),
            "user": cfg.get("User") if isinstance(cfg.get("User"), str) else "",
            "restart_policy": (hostcfg.get("RestartPolicy") or {}).get("Name") or "no",
            "is_privileged": hostcfg.get("Privileged") is True,
            "is_read_only": hostcfg.get("ReadonlyRootfs") is True,
            "network_mode": hostcfg.get("NetworkMode"),
        },
    )
    mounts: list[Row] = [
        {
            **common,
            "mount_type": m.get("Type"),
            "destination": m.get("Destination"),
            "mount_source": m.get("Name") if m.get("Type") == "volume" else m.get("Source"),
            "is_read_write": m.get("RW") is True,
        }
        for m in inspect.get("Mounts") or []
        if isinstance(m, dict)
    ]
    out.extend("container_mounts", mounts)
    out.extend(
        "container_changes",
        [
            {**common, "path": c["Path"], "kind": DIFF_KINDS.get(c.get("Kind"), "changed")}
            for c in changes or []
            if isinstance(c, dict) and isinstance(c.get("Path"), str)
        ],
    )
    # The payload leaves out what changes on every inspect of a running container.
    stable = {k: v for k, v in inspect.items() if k not in ("State", "Config", "HostConfig")}
    stable["Env"] = None
    payload = canonical(
        {"host": host, "inspect": stable, "state": state.get("Status"),
         "started": state.get("StartedAt"), "changes": changes or []}
    )
    return Record(out, FORMAT, api_version, payload)


def collect_engine(
    url: str | None = None,
    *,
    containers: bool = True,
    diff: bool = True,
    client: docker.DockerClient | None = None,
    progress: Progress | None = None,
    timeout: float = 60,
) -> Collection:
    """Collect the images and containers of one Docker Engine.

    Args:
        url: the engine (`unix:///...`, `tcp://host:2376`, `ssh://user@host`); None reads
            `DOCKER_HOST` (and `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`) as the docker CLI does.
        containers: whether to collect containers too.
        diff: whether to record what each running container changed (`docker diff`).
        client: an open client to use instead of connecting.
        progress: called with each image or container id once it has been read.
        timeout: seconds the engine may stay silent on a connection before it has failed.

    Returns:
        One collection: a record per image and per container; an image or container that
        vanished or failed between the listing and its inspect is an error naming it.

    Raises:
        SourceUnavailableError: when the engine cannot be reached at all.
    """
    api, shown, api_version = open_api(url, client, timeout=timeout)
    listing = api.get_many(["/images/json", "/containers/json?all=1" if containers else "/_ping"])
    for answer in listing:
        if isinstance(answer, Exception):
            raise SourceUnavailableError(
                f"cannot list the Docker Engine at {shown}: {how_to_fix(shown, answer)}"
            )
    image_list = [i for i in listing[0] if isinstance(i, dict) and i.get("Id")]
    container_list = (
        [c for c in listing[1] if isinstance(c, dict) and c.get("Id")] if containers else []
    )
    image_ids = [str(i["Id"]) for i in image_list]
    container_ids = [str(c["Id"]) for c in container_list]
    # Diffed: the containers the listing saw running (`docker diff` of a stopped one says
    # nothing of what runs).
    diffed = [str(c["Id"]) for c in container_list if c.get("State") == "running"] if diff else []
    paths = [
        "/info", *(p for i in image_ids for p in (f"/images/{i}/json", f"/images/{i}/history")),
    ]
    results: list[Record | str] = []
    with ThreadPoolExecutor(1, thread_name_prefix="engine-containers") as background:
        # The containers (their `diff`s are slow: each walks a container's filesystem) are read
        # on connections of their own while the images' answers stream in and are turned into
        # records one by one.
        containers_read = background.submit(
            api.get_many,
            [*(f"/containers/{c}/json" for c in container_ids),
             *(f"/containers/{c}/changes" for c in diffed)],
        )
        answers = api.stream(paths)
        info = next(answers)
        host = str(info.get("Name") or shown) if isinstance(info, dict) else shown
        for iid in image_ids:
            inspect, history = next(answers), next(answers)
            results.append(_image_or_error(inspect, history, iid, shown, host, api_version))
            if progress:
                progress(iid)
        for _ in answers:  # none left; ends the stream (and closes its connection)
            pass
        container_answers = containers_read.result()
    inspects = container_answers[: len(container_ids)]
    changes = dict(zip(diffed, container_answers[len(container_ids):], strict=True))
    for cid, inspect in zip(container_ids, inspects, strict=True):
        results.append(
            _container_or_error(inspect, changes.get(cid), cid, shown, host, api_version)
        )
        if progress:
            progress(cid)
    col = Collection(shown, FORMAT)
    for r in results:
        if isinstance(r, Record):
            col.records.append(r)
        else:
            col.error(r)
    return col


def _image_or_error(
    inspect: Any, history: Any, iid: str, shown: str, host: str, api_version: str
) -> Record | str:
    for answer in (inspect, history):
        if isinstance(answer, Exception):
            return f"{shown}: image {iid[:19]}: {_first_line(answer)}"
    try:
        return image_from_inspect(
            inspect, history if isinstance(history, list) else [], source=shown, host=host,
            api_version=api_version,
        )
    except (ValueError, TypeError, AttributeError) as e:
        return f"{shown}: image {iid[:19]}: unexpected answer: {_first_line(e)}"


def _container_or_error(
    inspect: Any, changes: Any, cid: str, shown: str, host: str, api_version: str
) -> Record | str:
    for answer in (inspect, changes):
        if isinstance(answer, Exception):
            return f"{shown}: container {cid[:12]}: {_first_line(answer)}"
    try:
        return container_from_inspect(
            inspect, changes if isinstance(changes, list) else None, source=shown, host=host,
            api_version=api_version,
        )
    except (ValueError, TypeError, AttributeError) as e:
        return f"{shown}: container {cid[:12]}: unexpected answer: {_first_line(e)}"


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__
