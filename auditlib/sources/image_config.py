"""An image config (the OCI / Docker image configuration JSON) turned into a `Record`: the
`images` row, tags, labels, layers, history and environment variable names.

Every collector that sees an image config (engine, registry, archive) goes through `image_record`,
so an image reads the same whatever the source. Label values, the entrypoint and history steps are
kept as the config has them here: `auditlib.tables` declares those columns `redacted`, and secrets
in them are masked where the rows enter the tables (`tables.frame`), for every source alike.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from auditlib.normalize.secret_env import check_env
from auditlib.rows import ImageInfo, Output, Row
from auditlib.sources.record import Record, canonical


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _keys(value: Any) -> str | None:
    keys = sorted(str(k) for k in _dict(value))
    return ",".join(keys) if keys else None


def _command(entrypoint: Any, cmd: Any) -> str | None:
    parts = [str(p) for p in [*_list(entrypoint), *_list(cmd)]]
    return shlex.join(parts) if parts else None


def _healthcheck(value: Any) -> bool | None:
    test = _list(_dict(value).get("Test"))
    if not test:
        return False
    return str(test[0]).upper() != "NONE"


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def env_rows(env: Any) -> list[Row]:
    """Return `image_env` rows for a config `Env` list (`NAME=value` strings): names only.

    A later entry for the same name wins, as in the engine.
    """
    by_name: dict[str, Row] = {}
    for item in _list(env):
        if not isinstance(item, str) or not item:
            continue
        name, _, value = item.partition("=")
        reason = check_env(name, value)
        by_name[name] = {"name": name, "looks_secret": reason is not None, "secret_reason": reason}
    return list(by_name.values())


def image_record(
    config: Mapping[str, Any],
    *,
    image_id: str,
    fmt: str,
    version: str,
    source: str,
    host: str | None,
    reference: str | None = None,
    tags: Sequence[str] = (),
    repo_digests: Sequence[str] = (),
    size_bytes: int | None = None,
    history_sizes: Sequence[int | None] | None = None,
    extra_rows: Mapping[str, list[Row]] | None = None,
) -> Record:
    """Return the record of one image from its config.

    Args:
        config: the image config in OCI form (`architecture`, `os`, `created`, `config`,
            `rootfs.diff_ids`, `history`), decoded; fields of the wrong type are ignored.
        image_id: the config digest (`sha256:...`).
        fmt: the collector's format id (`docker-engine`, `oci-registry`, ...).
        version: its version (the engine API version, the manifest schema, ...).
        source: the endpoint or path, without credentials.
        host: the engine, registry or archive, for the `host` column.
        reference: the reference the image was collected as, when there is one.
        tags: `repo:tag` references that name it.
        repo_digests: `repo@sha256:...` references that name it.
        size_bytes: the image size, as the source reports it.
        history_sizes: the layer size of each history step, oldest first (the engine says).
        extra_rows: more rows for other tables (registry tags), added to the same record.

    Returns:
        The record; its payload covers the config and every name given, so a moved tag gives a
        new `scan_id`.
    """
    cfg = _dict(config.get("config"))
    out = Output(source)
    out.scan.format_version = version
    out.scan.tool = fmt.split("-")[0] if fmt != "oci-layout" else "oci"
    out.scan.target = reference or (tags[0] if tags else image_id)
    out.scan.target_type = "container_image"
    out.scan.generated_at = None
    labels = {str(k): str(v) for k, v in _dict(cfg.get("Labels")).items() if v is not None}
    diff_ids = [d for d in _list(_dict(config.get("rootfs")).get("diff_ids")) if isinstance(d, str)]
    out.scan.image = ImageInfo(
        image_id=image_id,
        reference=reference,
        tags=list(tags),
        repo_digests=list(repo_digests),
        created_at=_str(config.get("created")),
        os=_str(config.get("os")),
        architecture=_str(config.get("architecture")),
        size_bytes=size_bytes,
        user=_str(cfg.get("User")) if "User" in cfg else "",
        layer_count=len(diff_ids),
        labels=labels,
        host=host,
        exposed_ports=_keys(cfg.get("ExposedPorts")),
        volumes=_keys(cfg.get("Volumes")),
        has_healthcheck=_healthcheck(cfg.get("Healthcheck")),
        entrypoint=_command(cfg.get("Entrypoint"), cfg.get("Cmd")),
    )
    out.extend("image_layers", [{"layer_index": i, "diff_id": d} for i, d in enumerate(diff_ids)])
    history: list[Row] = []
    for i, step in enumerate(_list(config.get("history"))):
        step = _dict(step)
        size = history_sizes[i] if history_sizes is not None and i < len(history_sizes) else None
        history.append(
            {
                "step_index": i,
                "created_at": _str(step.get("created")),
                "created_by": _str(step.get("created_by")),
                "comment": _str(step.get("comment")),
                "is_empty_layer": step.get("empty_layer") is True,
                "size_bytes": size,
            }
        )
    out.extend("image_history", history)
    out.extend("image_env", env_rows(cfg.get("Env")))
    for table, rows in (extra_rows or {}).items():
        out.extend(table, rows)
    payload = canonical(
        {
            "image_id": image_id,
            "config": config,
            "host": host,
            "reference": reference,
            "tags": sorted(tags),
            "repo_digests": sorted(repo_digests),
            "size": size_bytes,
            "history_sizes": list(history_sizes or []),
            "extra": extra_rows or {},
        }
    )
    return Record(out, fmt, version, payload)
