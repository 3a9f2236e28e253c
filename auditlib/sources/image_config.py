"""An image config (the OCI / Docker image configuration JSON) turned into a `Record`: the
`images` row, tags, labels, layers, history and environment variable names.

Every collector that sees an image config (engine, registry, archive) goes through `image_record`,
so an image reads the same whatever the source. The config itself is read by
`auditlib.normalize.image_config.read_image_config`, the reader documents that embed a config
(Syft's SBOM of an image) use too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from auditlib.normalize.image_config import read_image_config
from auditlib.rows import ImageInfo, Output, Row
from auditlib.sources.record import Record, canonical


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
    out = Output(source)
    out.scan.format_version = version
    out.scan.tool = fmt.split("-")[0] if fmt != "oci-layout" else "oci"
    out.scan.target = reference or (tags[0] if tags else image_id)
    out.scan.target_type = "container_image"
    out.scan.generated_at = None
    out.scan.image = ImageInfo(
        image_id=image_id,
        reference=reference,
        tags=list(tags),
        repo_digests=list(repo_digests),
        size_bytes=size_bytes,
        host=host,
    )
    read_image_config(config, out.scan.image, out, history_sizes=history_sizes)
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
