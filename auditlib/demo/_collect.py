"""What the demo's Docker Engine and registry answer at a snapshot, turned into collections by
the collectors' own record builders (`auditlib.sources.engine.image_from_inspect` and
`container_from_inspect`, `auditlib.sources.registry.repository_records`), so the demo's
collected rows are exactly what `auditlib collect` makes of the same answers.

The engine (`ENGINE_URL`) answers image and container inspects, image histories and container
diffs shaped as the Engine API writes them; the registry (`REGISTRY`, the host of every
synthetic repository) answers the tags of each repository, resolved to OCI manifests and
configs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from auditlib.demo._bases import (
    MIRROR,
    BaseBuild,
    base_repo,
    base_tag,
    mirror_tags,
    newest_release,
)
from auditlib.demo._catalog import OsBase
from auditlib.demo._plan import ImagePlan
from auditlib.demo._util import go_time
from auditlib.demo._world import Container, World
from auditlib.identity import SYNTHETIC_REGISTRY
from auditlib.sources.engine import FORMAT as ENGINE_FORMAT
from auditlib.sources.engine import container_from_inspect, image_from_inspect
from auditlib.sources.record import Collection
from auditlib.sources.registry import FORMAT as REGISTRY_FORMAT
from auditlib.sources.registry import Manifest, ResolvedImage, repository_records

ENGINE_HOST = "prod-1.demo.auditlib.invalid"
ENGINE_URL = f"tcp://{ENGINE_HOST}:2376"
API_VERSION = "1.47"
REGISTRY = SYNTHETIC_REGISTRY.split("/", 1)[0]
_NEVER = "0001-01-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class Shipped:
    """An image as an engine or a registry holds it."""

    repo: str
    """Its repository (`demo.auditlib.invalid/synthetic/app`)."""
    config: Mapping[str, Any]
    image_id: str
    manifest_bytes: bytes
    digest: str
    """The manifest digest."""
    size: int
    """Uncompressed size in bytes (what an engine reports)."""
    layer_sizes: tuple[int, ...]

    @classmethod
    def of_base(cls, b: BaseBuild) -> Shipped:
        """Return a base build as shipped."""
        return cls(base_repo(b.base), b.config, b.image_id, b.manifest_bytes, b.digest, b.size,
                   (b.size,))

    def resolved(self) -> ResolvedImage:
        """Return what a registry tag naming the image resolves to."""
        body = orjson.loads(self.manifest_bytes)
        manifest = Manifest(self.digest, str(body["mediaType"]), body)
        sizes = [int(x["size"]) for x in body["layers"]]
        return ResolvedImage(manifest, manifest, "linux/amd64", self.image_id, self.config,
                             sum(sizes))


Ship = Callable[[ImagePlan], Shipped]
"""Returns an app image as shipped (its content, built once and kept by the caller)."""


def _epoch(go: str) -> int:
    """Return the Unix seconds of a Go time (`2026-01-02T03:04:05.123456789Z`)."""
    return int(datetime.strptime(go[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())


def _history(s: Shipped) -> list[dict[str, Any]]:
    """Return `GET /images/{id}/history`: newest step first, each layer's size on its step."""
    sizes = list(s.layer_sizes)
    steps = []
    for h in s.config["history"]:
        empty = bool(h.get("empty_layer"))
        size = 0 if empty or not sizes else sizes.pop(0)
        buildkit = "# buildkit" in str(h["created_by"]) or not str(h["created_by"]).startswith(
            "/bin/sh -c #(nop)")
        steps.append({"Id": "<missing>", "Created": _epoch(str(h["created"])),
                      "CreatedBy": str(h["created_by"]), "Tags": None, "Size": size,
                      "Comment": "buildkit.dockerfile.v0" if buildkit else ""})
    steps.reverse()
    if steps:
        steps[0]["Id"] = s.image_id
    return steps


def _inspect(s: Shipped, tags: list[str]) -> dict[str, Any]:
    """Return `GET /images/{id}/json` of an image pulled by `tags`."""
    cfg = s.config
    return {"Id": s.image_id, "RepoTags": tags, "RepoDigests": [f"{s.repo}@{s.digest}"],
            "Created": cfg["created"], "Size": s.size, "Architecture": cfg["architecture"],
            "Os": cfg["os"], "Config": cfg["config"],
            "RootFS": {"Type": "layers", "Layers": list(cfg["rootfs"]["diff_ids"])}}


def _container(c: Container, s: Shipped, ref: str) -> dict[str, Any]:
    """Return `GET /containers/{id}/json`."""
    finished = go_time(c.started + timedelta(minutes=2)) if not c.running else _NEVER
    user = c.user if c.user is not None else str(s.config["config"].get("User", ""))
    return {
        "Id": c.container_id, "Created": go_time(c.started - timedelta(seconds=3)),
        "Name": "/" + c.name, "Image": s.image_id,
        "Config": {"Image": ref, "User": user, "Labels": dict(s.config["config"]["Labels"])},
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped" if c.running else "no"},
                       "Privileged": False, "ReadonlyRootfs": False, "NetworkMode": "bridge"},
        "State": {"Status": "running" if c.running else "exited", "Running": c.running,
                  "StartedAt": go_time(c.started), "FinishedAt": finished, "ExitCode": 0},
        "Mounts": [{"Type": t, "Name": src if t == "volume" else "",
                    "Source": f"/var/lib/docker/volumes/{src}/_data" if t == "volume" else src,
                    "Destination": dest, "RW": rw} for t, src, dest, rw in c.mounts],
    }


def engine_collection(world: World, ship: Ship, at: datetime) -> Collection:
    """Return what collecting the demo's engine at `at` gives: every container, and the images
    they run (tagged as they were pulled)."""
    col = Collection(ENGINE_URL, ENGINE_FORMAT)
    pulled: dict[str, tuple[Shipped, set[str]]] = {}
    for c in world.containers(at):
        if c.build is not None:
            s = ship(c.build)
            tags = world.tags(c.build, c.started)
            tag = "latest" if c.by_latest else next((t for t in tags if t != "latest"),
                                                    "latest" if tags else None)
        else:
            assert c.base is not None
            s, tag = Shipped.of_base(c.base), base_tag(c.base.base)
        ref = f"{s.repo}:{tag}" if tag else f"{s.repo}@{s.digest}"
        entry = pulled.setdefault(s.image_id, (s, set()))
        if tag:
            entry[1].add(ref)
        changes = [{"Path": p, "Kind": k} for p, k in c.changes] if c.running else None
        col.records.append(container_from_inspect(_container(c, s, ref), changes,
                                                  source=ENGINE_URL, host=ENGINE_HOST,
                                                  api_version=API_VERSION))
    for s, refs in pulled.values():
        col.records.append(image_from_inspect(_inspect(s, sorted(refs)), _history(s),
                                              source=ENGINE_URL, host=ENGINE_HOST,
                                              api_version=API_VERSION))
    return col


def _repository(repo: str, found: list[tuple[str, Shipped]]) -> Collection:
    registry, repository = repo.split("/", 1)
    source = f"https://{repo}"
    records = repository_records(registry, repository, source,
                                 [(tag, s.resolved()) for tag, s in found])
    return Collection(source, REGISTRY_FORMAT, records=records)


def mirror_bases(world: World) -> list[OsBase]:
    """Return the base releases the mirror holds: every one the fleet is built on, and the
    newest of each family (what its `latest` tag names)."""
    used = {p.base for p in world.plans}
    newest = {newest_release(b.family, world.now.date()) for b in used}
    return sorted(used | newest, key=lambda b: (b.family, b.released))


def registry_collections(world: World, ship: Ship, at: datetime) -> list[Collection]:
    """Return what collecting every repository of the demo's registry at `at` gives: the apps'
    repositories, then the base images' mirror."""
    out = []
    for app in sorted(world.by_app):
        found = [(t, ship(p)) for p in world.pushed(app, at) for t in world.tags(p, at)]
        if found:
            out.append(_repository(f"{SYNTHETIC_REGISTRY}/{app}", found))
    by_family: dict[str, list[tuple[str, Shipped]]] = {}
    for build, tags in mirror_tags(world.seed, mirror_bases(world), at):
        by_family.setdefault(build.base.family, []).extend(
            (t, Shipped.of_base(build)) for t in tags)
    out += [_repository(f"{MIRROR}/{family}", found) for family, found in sorted(by_family.items())]
    return out
