"""`DemoHistory`: the synthetic demo fleet over several snapshots, with what scanners, a Docker
Engine, a registry and Dockerfiles give, so that every section of the reports has data.

`DemoHistory(out_dir, images=50).steps()` yields one `DemoStep` per snapshot, oldest first: it
rewrites the fleet's folder as it was at that time (a Trivy report of every image scanned then,
a Syft SBOM of every image, the Dockerfiles and their hadolint output), and hands the step the
engine, registry and Dockerfile collections of that time, made by the collectors' own record
builders (`auditlib.demo._collect`). Whoever consumes a step reads it into a store before asking
for the next (`auditlib.job.demo_job` writes one snapshot per step, dated at the step's time).

Over the snapshots, images are built and rebuilt, vulnerabilities are published (new findings)
and get fixes (findings turn fixable), an image is deleted from a repository that keeps no
previous version, a deployment lags behind its repository's newest build, a container's files
drift, and the base tags move as the mirror's bases are rebuilt (`auditlib.demo._world`). All of
it is plainly synthetic: names under `SYNTHETIC_PREFIX`, the synthetic label on every image, and
a README.txt in the folder.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from auditlib.demo._bases import base_build, base_window, mirror_tags
from auditlib.demo._catalog import OS_BASES
from auditlib.demo._collect import (
    Shipped,
    engine_collection,
    mirror_bases,
    registry_collections,
)
from auditlib.demo._dockerfile import dockerfile
from auditlib.demo._image import (
    Catalog,
    Finding,
    ImageContent,
    build_base_content,
    build_content,
)
from auditlib.demo._plan import ImagePlan
from auditlib.demo._syft_doc import syft_pieces
from auditlib.demo._texts import POLICY_NAME, policy_text, readme_text
from auditlib.demo._trivy_doc import trivy_bytes
from auditlib.demo._util import fleet_now, hexid, write_pieces
from auditlib.demo._world import World, make_world
from auditlib.demo.fleet import README_NAME
from auditlib.sources.dockerfile import collect_dockerfile
from auditlib.sources.record import Collection

DOCUMENT_FOLDERS = ("trivy", "syft", "hadolint")
"""The folders of documents a step's consumer ingests (README.txt, policy.yaml and the
Dockerfiles stay out: they are not scanner documents)."""


@dataclass(slots=True)
class DemoStep:
    """One snapshot of the demo: the folders to ingest and what was collected, at one time."""

    at: datetime
    """The snapshot's time: every document and collection of the step is from before it."""
    documents: list[Path]
    """The folders of scanner documents, as they are at this step."""
    collections: list[Collection]
    """What the engine, the registry and the Dockerfiles gave at this step."""
    scanned: int
    """Images scanned at this step (app images and the mirror's base images)."""


def _findings_at(content: ImageContent, scanned: datetime) -> list[Finding]:
    """Return the findings a scan at `scanned` reports: vulnerabilities published by then, and
    fixable only when their fix had shipped by then."""
    out = []
    for f in content.findings:
        cve = f.cve
        if cve.published > scanned:
            continue
        if f.status == "fixed" and cve.fixed_at is not None and cve.fixed_at > scanned:
            f = dataclasses.replace(f, status=cve.unfixed_status, fixed_version=None)
        out.append(f)
    return out


class DemoHistory:
    """The synthetic demo fleet over several snapshots (module docstring)."""

    def __init__(self, out_dir: Path, *, images: int = 50, seed: int = 7,
                 now: datetime | None = None, snapshots: int = 4,
                 every: timedelta = timedelta(days=14), vulns_per_image: int = 150,
                 packages_per_image: int = 250, files_per_image: int = 300) -> None:
        """Plan the fleet; nothing is written before `steps()` runs.

        Args:
            out_dir: the folder to write into (created if missing).
            images: how many app images, over the whole history.
            seed: the random seed; the same seed and `now` give the same bytes.
            now: the last snapshot's time (default midnight UTC today); naive is UTC.
            snapshots: how many snapshots; `every` apart, the last at `now`.
            every: the time between snapshots.
            vulns_per_image, packages_per_image, files_per_image: as `write_fleet`'s.

        Raises:
            ValueError: if `images` or `snapshots` is less than 1, or a figure is negative.
        """
        if images < 1 or snapshots < 1 or min(vulns_per_image, packages_per_image,
                                               files_per_image) < 0:
            raise ValueError(f"DemoHistory: images ({images}) and snapshots ({snapshots}) must "
                             "be at least 1 and the per-image figures not negative")
        self.out_dir = Path(out_dir)
        self.now = fleet_now(now)
        self.seed, self.every = seed, every
        self.vulns, self.packages = vulns_per_image, max(1, packages_per_image)
        self.world: World = make_world(seed, images, self.now, snapshots, every)
        self._catalog = Catalog(seed, self.now, vulns_per_image, self.packages, files_per_image)
        self._contents: dict[int, ImageContent] = {}
        self._bases: dict[tuple[str, int], ImageContent] = {}
        self._base_docs: set[str] = set()
        self._sboms: dict[Path, tuple[str, ...]] = {}
        self._hashes: dict[Path, bytes] = {}
        self.written: Counter[str] = Counter()
        """Documents written so far, by folder (`trivy`, `syft`, `hadolint`, `dockerfiles`)."""
        self.total_bytes = 0
        """Bytes of the documents written so far."""

    @property
    def times(self) -> list[datetime]:
        """Return the snapshot times, oldest first."""
        return self.world.times

    @property
    def policy_file(self) -> Path:
        """Return the demo's policy file (written by `steps()`)."""
        return self.out_dir / POLICY_NAME

    def content(self, plan: ImagePlan) -> ImageContent:
        """Return what the image holds (built once)."""
        if plan.index not in self._contents:
            self._contents[plan.index] = build_content(self.seed, self._catalog, plan,
                                                       self.vulns, self.packages)
        return self._contents[plan.index]

    def shipped(self, plan: ImagePlan) -> Shipped:
        """Return the image as an engine or a registry holds it."""
        c = self.content(plan)
        return Shipped(plan.repo, c.config, c.image_id, c.manifest_bytes, c.manifest_digest,
                       c.size, tuple(c.layer_sizes))

    def steps(self) -> Iterator[DemoStep]:
        """Write the README and the policy, then yield each snapshot's step, oldest first,
        rewriting the folder as it was at that step before yielding it.

        Raises:
            OSError: if a file cannot be written.
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._write_readme()
        self.policy_file.write_text(policy_text(self.world), encoding="utf-8")
        for at in self.times:
            yield self._step(at)

    def _put(self, path: Path, data: bytes, kind: str) -> None:
        """Write a document unless it already holds these bytes."""
        digest = hashlib.sha256(data).digest()
        if self._hashes.get(path) == digest:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self.total_bytes += write_pieces(path, [data])
        self._hashes[path] = digest
        self.written[kind] += 1

    def _step(self, at: datetime) -> DemoStep:
        world = self.world
        trivy, syft = self.out_dir / "trivy", self.out_dir / "syft"
        trivy.mkdir(parents=True, exist_ok=True)
        syft.mkdir(parents=True, exist_ok=True)
        scanned = 0
        was_enabled = gc.isenabled()
        gc.disable()  # many short-lived dicts and no cycles (see `write_fleet`)
        try:
            for plan in world.plans:
                name = f"{plan.stem}.json"
                if not world.present(plan, at):
                    for folder in (trivy, syft):
                        (folder / name).unlink(missing_ok=True)
                        self._hashes.pop(folder / name, None)
                        self._sboms.pop(folder / name, None)
                    continue
                scanned += 1
                then = world.as_at(plan, at)
                content = dataclasses.replace(self.content(plan), plan=then)
                findings = _findings_at(content, then.scanned)
                self._put(trivy / name, trivy_bytes(self.seed, dataclasses.replace(
                    content, findings=findings)), "trivy")
                self._sbom(content, syft / name)
            scanned += self._scan_mirror(at, trivy, syft)
            collections = [engine_collection(world, self.shipped, at),
                           *registry_collections(world, self.shipped, at),
                           *self._dockerfiles(at)]
        finally:
            if was_enabled:
                gc.enable()
        folders = [self.out_dir / f for f in DOCUMENT_FOLDERS if (self.out_dir / f).is_dir()]
        return DemoStep(at, folders, collections, scanned)

    def _scan_mirror(self, at: datetime, trivy: Path, syft: Path) -> int:
        """Write the Trivy report and Syft SBOM of each base build the mirror holds at `at` (the
        team scans its mirror too), remove those of builds it no longer holds; return how
        many."""
        names = set()
        for build, tags in mirror_tags(self.seed, mirror_bases(self.world), at):
            key = (build.base.key, build.window)
            if key not in self._bases:
                offset = timedelta(minutes=5 + int(hexid(self.seed, *key, n=8), 16) % 600)
                plan = ImagePlan(
                    index=10**6 + OS_BASES.index(build.base) * 10**4 + build.window,
                    app=f"library/{build.base.family}", runtime="static", created=build.created,
                    scanned=self.now - offset, base=build.base, user="", pushed=True,
                    stem=f"base-{build.base.family}-{build.dated_tag}")
                self._bases[key] = build_base_content(self.seed, self._catalog, build, plan,
                                                      self.vulns)
            content = self._bases[key]
            then = dataclasses.replace(content.plan, tags=tags,
                                       scanned=at - (self.now - content.plan.scanned))
            name = f"{then.stem}.json"
            names.add(name)
            self._put(trivy / name, trivy_bytes(self.seed, dataclasses.replace(
                content, plan=then, findings=_findings_at(content, then.scanned))), "trivy")
            self._sbom(dataclasses.replace(content, plan=then), syft / name)
        for name in self._base_docs - names:
            for folder in (trivy, syft):
                (folder / name).unlink(missing_ok=True)
                self._hashes.pop(folder / name, None)
                self._sboms.pop(folder / name, None)
        self._base_docs = names
        return len(names)

    def _sbom(self, content: ImageContent, path: Path) -> None:
        """Write the Syft SBOM of an image unless one of the same tags is there (an SBOM has no
        scan time: it changes only with the tags)."""
        tags = tuple(content.plan.tags)
        if self._sboms.get(path) != tags:
            self._sboms[path] = tags
            self.total_bytes += write_pieces(path, syft_pieces(content))
            self.written["syft"] += 1

    def _dockerfiles(self, at: datetime) -> list[Collection]:
        """Write the Dockerfile of each app that has one (for its newest build by `at`) and its
        hadolint output; return the Dockerfiles read as `auditlib collect --dockerfile` does."""
        out = []
        roles = {app: role for role, app in self.world.roles.items()}
        for app in self.world.dockerfile_apps:
            build = self.world.dockerfile_build(app, at)
            if build is None:
                continue
            base = base_build(self.seed, build.base, base_window(build.base, build.created))
            df = dockerfile(build, base, roles.get(app))
            rel = f"dockerfiles/{app}/Dockerfile"
            path = self.out_dir / rel
            self._put(path, df.text.encode(), "dockerfiles")
            self._put(self.out_dir / "hadolint" / f"{app}.json", df.hadolint_bytes(rel),
                      "hadolint")
            tags = self.world.tags(build, at)
            out.append(collect_dockerfile(path, image_ref=f"{build.repo}:{tags[0]}"
                                          if tags else None))
        return out

    def _write_readme(self) -> None:
        w = self.world
        (self.out_dir / README_NAME).write_text(readme_text(
            w, self.now, self.every, dockerfiles=len(w.dockerfile_apps)), encoding="utf-8")

    def base_releases(self) -> int:
        """Return how many base releases the mirror holds (each with one or two builds)."""
        return len(mirror_bases(self.world))
