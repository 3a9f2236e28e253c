"""An image config (the OCI / Docker image configuration JSON) read into the `images` facts and
the `image_layers`, `image_history` and `image_env` rows: the one reader of image configs.

Collectors (engine, registry, archive: `auditlib.sources.image_config`) and documents that carry
the config (Syft's `source.metadata.config`) both go through `read_image_config`, so an image
reads the same whatever the source. Label values, the entrypoint and history steps are kept as the
config has them here: `auditlib.tables` declares those columns `redacted`, and secrets in them are
masked where the rows enter the tables (`tables.frame`), for every source alike.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from auditlib.errors import MalformedInputError
from auditlib.normalize.secret_env import check_env
from auditlib.rows import ImageInfo, Output, Row

MAX_CONFIG_BYTES = 4 * 1024**2
"""The largest image config decoded from base64 (4 MiB). Real configs are a few KiB to a few
hundred KiB (long build histories); a larger one is refused rather than decoded. Read at call
time, so it can be lowered (tests) or raised in this process."""


class ImageConfigError(MalformedInputError):
    """An embedded image config that cannot be read; the message says why, in words.

    A part of a document is malformed: parsers turn it into a warning, never a failed document.
    """


def decode_base64_config(
    text: str | msgspec.Raw, *, limit: int | None = None
) -> tuple[dict[str, Any], str]:
    """Decode an image config that a document embeds as base64 of its JSON bytes.

    Args:
        text: the base64 text (standard alphabet, padded), as Syft and Grype write it; or the
            undecoded JSON value holding it (`msgspec.Raw`), whose size is checked before it is
            decoded at all.
        limit: the most config bytes decoded (default `MAX_CONFIG_BYTES`, read at call time);
            checked on the length of the text before anything is decoded.

    Returns:
        The config, and its digest (`sha256:` of the decoded bytes): the id of the image it is
        the config of.

    Raises:
        ImageConfigError: if the text is longer than `limit` allows, not a JSON string (for a
            `Raw`), not base64, not JSON, or not a JSON object.
    """
    limit = MAX_CONFIG_BYTES if limit is None else limit
    most = (limit + 2) // 3 * 4
    if len(text) > most + (2 if isinstance(text, msgspec.Raw) else 0):
        raise ImageConfigError(
            f"{len(text):,} bytes of base64, more than a config of at most {limit:,} bytes "
            "(MAX_CONFIG_BYTES)")
    if isinstance(text, msgspec.Raw):
        try:
            text = msgspec.json.decode(text, type=str)
        except msgspec.MsgspecError as e:
            raise ImageConfigError(f"not a base64 text ({e})") from None
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ImageConfigError(f"not base64 ({e})") from None
    try:
        config = msgspec.json.decode(data)
    except msgspec.DecodeError as e:
        raise ImageConfigError(f"not a JSON config ({e})") from None
    except RecursionError:
        raise ImageConfigError("nested deeper than the decoder follows") from None
    if not isinstance(config, dict):
        raise ImageConfigError(f"a JSON {type(config).__name__}, not a config object")
    return config, "sha256:" + hashlib.sha256(data).hexdigest()


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


def read_image_config(
    config: Mapping[str, Any],
    image: ImageInfo,
    out: Output,
    *,
    history_sizes: Sequence[int | None] | None = None,
) -> None:
    """Fill `image` from an image config, and add its layer, history and environment rows.

    Args:
        config: the image config in OCI form (`architecture`, `os`, `created`, `config`,
            `rootfs.diff_ids`, `history`), decoded; fields of the wrong type are ignored.
        image: receives created_at, os and architecture (kept when the config has none), user
            (`""` when the config sets none: root), layer_count, labels, exposed_ports, volumes,
            has_healthcheck and entrypoint.
        out: receives the `image_layers`, `image_history` and `image_env` rows (the loader
            gives them the image's id).
        history_sizes: the layer size of each history step, oldest first (the engine says).
    """
    cfg = _dict(config.get("config"))
    image.created_at = _str(config.get("created"))
    image.os = _str(config.get("os")) or image.os
    image.architecture = _str(config.get("architecture")) or image.architecture
    image.user = _str(cfg.get("User")) if "User" in cfg else ""
    image.labels = {str(k): str(v) for k, v in _dict(cfg.get("Labels")).items() if v is not None}
    diff_ids = [d for d in _list(_dict(config.get("rootfs")).get("diff_ids")) if isinstance(d, str)]
    image.layer_count = len(diff_ids)
    image.exposed_ports = _keys(cfg.get("ExposedPorts"))
    image.volumes = _keys(cfg.get("Volumes"))
    image.has_healthcheck = _healthcheck(cfg.get("Healthcheck"))
    image.entrypoint = _command(cfg.get("Entrypoint"), cfg.get("Cmd"))
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
