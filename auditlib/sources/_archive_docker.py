"""`docker save` archives: the top-level `manifest.json`.

`manifest.json` is a list with one entry per image: `Config` (the config member: `<hex>.json`
before Docker 25, `blobs/sha256/<hex>` since), `RepoTags` (`name:tag`, familiar form), `Layers`
(the layer members, uncompressed tars; before Docker 25 `<id>/layer.tar`, possibly a symlink to
an identical layer of another image) and optional `LayerSources` and `Parent`. Docker 25+ also
writes an OCI layout (`oci-layout`, `index.json`) into the same tar: with the classic image store
its manifests list no layers and its digests are made up at save time, with the containerd store
they are the registry's. So `manifest.json` is read first, and the OCI index only adds repo
digests whose manifest really describes the image (same config, same layer count).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from auditlib.sources._archive_members import (
    ArchiveError,
    ArchiveLimitError,
    ArchiveLimits,
    Members,
    clean_name,
)
from auditlib.sources._archive_oci import FoundImage, name_refs, walk_index

# The config member names the config digest: `<hex>.json` (Docker < 25) or `blobs/sha256/<hex>`.
_CONFIG_NAME = re.compile(r"^(?:blobs/sha256/([0-9a-f]{64})|([0-9a-f]{64})\.json)$")


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


_Config = tuple[str, dict[str, Any]]
"""A config member read: its image id and decoded JSON."""


def _config(members: Members, config_name: str) -> _Config:
    """Return the image id and decoded JSON of the config member `config_name`.

    Raises:
        ArchiveError: if it cannot be read, its digest does not match its name, or it is not a
            JSON object.
    """
    data, config = members.read_json(config_name)
    image_id = "sha256:" + hashlib.sha256(data).hexdigest()
    named = _CONFIG_NAME.match(config_name)
    if named and image_id != "sha256:" + (named.group(1) or named.group(2)):
        raise ArchiveError(
            f"{config_name}: content digest {image_id} does not match the digest its name gives"
        )
    if not isinstance(config, dict):
        raise ArchiveError(f"{config_name}: config is not a JSON object")
    return image_id, config


class _ConfigError(ArchiveError):
    """A config member could not be read; said once, however many entries name it."""


def _image(
    members: Members, item: Any, where: str, configs: dict[str, _Config | ArchiveError]
) -> FoundImage:
    if not isinstance(item, dict):
        raise ArchiveError(f"{where}: not an object")
    name = item.get("Config")
    if not isinstance(name, str) or not name:
        raise ArchiveError(f"{where}: no Config member named")
    try:
        config_name = clean_name(name)
    except ArchiveError as exc:
        raise ArchiveError(f"{exc} (the Config of {where})") from None
    read = configs.get(config_name)
    if read is None:  # each config is read once, however many entries name it
        try:
            read = _config(members, config_name)
        except ArchiveError as exc:
            read = exc
        configs[config_name] = read
    if isinstance(read, ArchiveError):
        raise _ConfigError(str(read))
    image_id, config = read
    layers = _strings(item.get("Layers"))
    sizes = [members.size_of(layer) for layer in layers]
    size = sum(s for s in sizes if s is not None) if layers and None not in sizes else None
    tags = list(dict.fromkeys(_strings(item.get("RepoTags"))))
    return FoundImage(image_id, config, tags, [], size)


def docker_images(members: Members, limits: ArchiveLimits, errors: list[str]) -> list[FoundImage]:
    """Return the images `manifest.json` lists, in its order.

    Entries that cannot be read (a missing or unsafe Config member, a config whose digest does
    not match its name, a config that is not a JSON object) are skipped, each with a reason
    appended to `errors`. A config named by several entries is read once, and a config that
    cannot be read is one reason, naming the first entry and how many more name it.

    Raises:
        ArchiveError: if `manifest.json` cannot be read or is not a list.
        ArchiveLimitError: if it has more than `max_entries` entries.
    """
    _, manifest = members.read_json("manifest.json")
    if not isinstance(manifest, list):
        raise ArchiveError("manifest.json: not a list of images")
    if len(manifest) > limits.max_entries:
        raise ArchiveLimitError(
            f"manifest.json: {len(manifest)} entries (limit max_entries={limits.max_entries}); "
            "refusing the archive"
        )
    out: list[FoundImage] = []
    configs: dict[str, _Config | ArchiveError] = {}
    bad_configs: dict[str, tuple[int, list[str]]] = {}
    """Why a config could not be read -> its place in `errors`, and the entries naming it."""
    for i, item in enumerate(manifest):
        where = f"manifest.json[{i}]"
        try:
            out.append(_image(members, item, where, configs))
        except _ConfigError as exc:
            if str(exc) not in bad_configs:
                bad_configs[str(exc)] = (len(errors), [])
                errors.append(str(exc))  # completed below
            bad_configs[str(exc)][1].append(where)
        except ArchiveError as exc:
            errors.append(str(exc))
    for reason, (place, entries) in bad_configs.items():
        more = f" and {len(entries) - 1} more entries" if len(entries) > 1 else ""
        errors[place] = f"{reason} (the Config of {entries[0]}{more})"
    return out


def _layer_count(manifest: Mapping[str, Any]) -> int:
    layers = manifest.get("layers")
    return len(layers) if isinstance(layers, list) else 0


def add_repo_digests(
    images: list[FoundImage], members: Members, limits: ArchiveLimits, errors: list[str]
) -> None:
    """Add to `images` the repo digests the OCI index beside `manifest.json` gives, when its
    manifest has the image's config digest and as many layers as the image (so it is the
    registry's manifest, not one made up at save time). Unreadable parts of the index are
    ignored: `manifest.json` is what the archive is read by; only a limit hit (the index is
    not read at all then) is a reason appended to `errors`.
    """
    if not images or not members.has("index.json"):
        return
    try:
        found = walk_index(members, limits, [])
    except ArchiveLimitError as exc:
        errors.append(f"{exc}; the repo digests it gives are not read")
        return
    except ArchiveError:
        return
    by_id = {image.image_id: image for image in images}
    for ref in found:
        config = ref.manifest.get("config")
        digest = config.get("digest") if isinstance(config, dict) else None
        image = by_id.get(digest) if isinstance(digest, str) else None
        if image is None or not ref.names:
            continue
        config_layers = image.config.get("rootfs")
        diff_ids = config_layers.get("diff_ids") if isinstance(config_layers, dict) else None
        if not isinstance(diff_ids, list) or _layer_count(ref.manifest) != len(diff_ids):
            continue
        _, digests = name_refs(ref.names, ref.named_digest)
        image.repo_digests.extend(d for d in digests if d not in image.repo_digests)
