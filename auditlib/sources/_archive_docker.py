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

from auditlib.sources._archive_members import ArchiveError, ArchiveLimits, Members, clean_name
from auditlib.sources._archive_oci import FoundImage, name_refs, walk_index

# The config member names the config digest: `<hex>.json` (Docker < 25) or `blobs/sha256/<hex>`.
_CONFIG_NAME = re.compile(r"^(?:blobs/sha256/([0-9a-f]{64})|([0-9a-f]{64})\.json)$")


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def _image(members: Members, item: Any, where: str) -> FoundImage:
    if not isinstance(item, dict):
        raise ArchiveError(f"{where}: not an object")
    name = item.get("Config")
    if not isinstance(name, str) or not name:
        raise ArchiveError(f"{where}: no Config member named")
    try:
        config_name = clean_name(name)
        data, config = members.read_json(config_name)
    except ArchiveError as exc:
        raise ArchiveError(f"{exc} (the Config of {where})") from None
    image_id = "sha256:" + hashlib.sha256(data).hexdigest()
    named = _CONFIG_NAME.match(config_name)
    if named and image_id != "sha256:" + (named.group(1) or named.group(2)):
        raise ArchiveError(
            f"{config_name}: content digest {image_id} does not match the digest its name "
            f"gives (the Config of {where})"
        )
    if not isinstance(config, dict):
        raise ArchiveError(f"{config_name}: config is not a JSON object (the Config of {where})")
    layers = _strings(item.get("Layers"))
    sizes = [members.size_of(layer) for layer in layers]
    size = sum(s for s in sizes if s is not None) if layers and None not in sizes else None
    tags = list(dict.fromkeys(_strings(item.get("RepoTags"))))
    return FoundImage(image_id, config, tags, [], size)


def docker_images(members: Members, errors: list[str]) -> list[FoundImage]:
    """Return the images `manifest.json` lists, in its order.

    Entries that cannot be read (a missing or unsafe Config member, a config whose digest does
    not match its name, a config that is not a JSON object) are skipped, each with a reason
    appended to `errors`.

    Raises:
        ArchiveError: if `manifest.json` cannot be read or is not a list.
    """
    _, manifest = members.read_json("manifest.json")
    if not isinstance(manifest, list):
        raise ArchiveError("manifest.json: not a list of images")
    out: list[FoundImage] = []
    for i, item in enumerate(manifest):
        try:
            out.append(_image(members, item, f"manifest.json[{i}]"))
        except ArchiveError as exc:
            errors.append(str(exc))
    return out


def _layer_count(manifest: Mapping[str, Any]) -> int:
    layers = manifest.get("layers")
    return len(layers) if isinstance(layers, list) else 0


def add_repo_digests(images: list[FoundImage], members: Members, limits: ArchiveLimits) -> None:
    """Add to `images` the repo digests the OCI index beside `manifest.json` gives, when its
    manifest has the image's config digest and as many layers as the image (so it is the
    registry's manifest, not one made up at save time). Unreadable parts of the index are
    ignored: `manifest.json` is what the archive is read by.
    """
    if not images or not members.has("index.json"):
        return
    try:
        found = walk_index(members, limits, [])
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
