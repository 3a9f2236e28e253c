"""What one synthetic image holds: its layers, config, packages and vulnerabilities.

`Catalog` holds the fleet-wide universes; `build_content` turns an `ImagePlan` into everything both
documents of the image describe, so the Trivy report and the Syft SBOM of an image always agree
(same config digest, same layers, same packages).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from auditlib.demo._bases import BaseBuild, base_build, base_window
from auditlib.demo._catalog import APK_NAMES, DEB_NAMES, PACKAGE_SCALE, RUNTIMES, OsBase
from auditlib.demo._packages import (
    Pkg,
    bump,
    family_names,
    files_mean,
    lang_universe,
    os_universe,
    universe_size,
)
from auditlib.demo._plan import ImagePlan
from auditlib.demo._util import go_time, hexid, rng_for, sha256_of
from auditlib.demo._vulns import Cve, build_pool
from auditlib.identity import SYNTHETIC_LABEL, SYNTHETIC_REGISTRY

LANG_SHARE = 0.12
"""Share of an image's packages that are language packages, when its app has a runtime."""

_LANG_TARGET = {"npm": "Node.js", "pypi": "Python", "maven": "Java", "golang": "app/server"}
_RUNTIME_ENV = {"node": ["NODE_VERSION=20.15.1", "NODE_ENV=production"],
                "python": ["PYTHON_VERSION=3.11.9", "PYTHONUNBUFFERED=1"],
                "java": ["JAVA_HOME=/opt/java/openjdk", "JAVA_VERSION=jdk-17.0.11+9"],
                "go": [], "static": []}
RUNTIME_CMD = {"node": ["node", "server.js"], "python": ["gunicorn", "app:app"],
                "java": ["java", "-jar", "/app/app.jar"], "go": ["/app/server"],
                "static": ["nginx", "-g", "daemon off;"]}
_OCI = "application/vnd.oci.image"


class Catalog:
    """Fleet-wide universes of packages and vulnerability records, each built on first use.

    Every universe is seeded on its own, so a small fleet builds exactly what a large one builds
    for the same base, and a fleet that never uses a base never pays for it.
    """

    def __init__(self, seed: int, now: datetime, vulns: int, packages: int, files: int) -> None:
        """Keep the fleet figures the universes are sized from."""
        self.seed, self.now, self.vulns, self.packages = seed, now, vulns, packages
        self.files_mean = files_mean(files, packages)
        self._os: dict[str, list[Pkg]] = {}
        self._lang: dict[str, dict[str, list[Pkg]]] = {}
        self._cves: dict[str, list[Cve]] = {}
        self._names: dict[str, list[str]] = {}

    def names(self, family: str) -> list[str]:
        """Return the package names of `deb` or `apk`, real ones first."""
        if family not in self._names:
            scale = max(s for f, s in PACKAGE_SCALE.items() if (f == "alpine") == (family == "apk"))
            rng = random.Random(hexid(self.seed, "names", family, n=32))
            self._names[family] = family_names(rng, family, universe_size(self.packages, scale))
        return self._names[family]

    def core(self, base: OsBase) -> int:
        """Return how many leading packages of `base` every image of it has."""
        return max(1, round(self.packages * PACKAGE_SCALE[base.family] * 0.8 * 0.3))

    def os_pkgs(self, base: OsBase) -> list[Pkg]:
        """Return the packages of `base`."""
        if base.key not in self._os:
            names = self.names(base.pkg_family)
            core = self.core(base)
            self._os[base.key] = os_universe(self.seed, base, names, core, self.files_mean)
        return self._os[base.key]

    def lang_pkgs(self, ptype: str) -> dict[str, list[Pkg]]:
        """Return the language package versions of purl type `ptype`, by name."""
        if ptype not in self._lang:
            size = max(8, round(self.packages * LANG_SHARE * 1.6))
            self._lang[ptype] = lang_universe(self.seed, ptype, size)
        return self._lang[ptype]

    def cves(self, pool: str) -> list[Cve]:
        """Return the vulnerability records of `deb`, `apk` or a language purl type."""
        if pool in self._cves:
            return self._cves[pool]
        if pool in ("deb", "apk"):
            names = self.names(pool)
            real = len(DEB_NAMES if pool == "deb" else APK_NAMES)
            weights = [3.0 if i < real else 1.0 for i in range(len(names))]
            fixable = 1.0 if pool == "apk" else 0.62  # Alpine's secdb lists fixed issues only
            records = build_pool(self.seed, pool, names, weights, max(10, self.vulns * 4), self.now,
                                 fixable)
        else:
            names = list(self.lang_pkgs(pool))
            records = build_pool(self.seed, pool, names, [1.0] * len(names),
                                 max(6, self.vulns // 2), self.now, 0.9, ghsa=pool != "golang")
        self._cves[pool] = records
        return records


@dataclass(slots=True)
class Finding:
    """A vulnerability of a package of one image."""

    cve: Cve
    pkg: Pkg
    layer: str
    status: str
    """Trivy `Status`."""
    fixed_version: str | None
    lang: bool
    """Whether the package is a language package (else an OS package)."""


@dataclass(slots=True)
class ImageContent:
    """Everything the documents of one image describe."""

    plan: ImagePlan
    os_pkgs: list[tuple[Pkg, str]]
    """OS packages and the diff id of the layer that added each."""
    lang_type: str | None
    lang_pkgs: list[tuple[Pkg, str]]
    findings: list[Finding]
    diff_ids: list[str]
    layer_sizes: list[int]
    layer_digests: list[str]
    config: dict[str, Any]
    config_bytes: bytes
    image_id: str
    """`sha256:` of `config_bytes`: the config digest both documents name."""
    manifest_bytes: bytes
    manifest_digest: str

    @property
    def lang_target(self) -> str:
        """Return Trivy's target name of the language result."""
        return _LANG_TARGET.get(self.lang_type or "", "")

    @property
    def size(self) -> int:
        """Return the uncompressed image size in bytes."""
        return sum(self.layer_sizes)


def _config(plan: ImagePlan, diff_ids: list[str], steps: list[tuple[str, bool]],
            base: BaseBuild) -> dict[str, Any]:
    labels = {SYNTHETIC_LABEL: "true",
              "org.opencontainers.image.source": f"https://{SYNTHETIC_REGISTRY}/{plan.app}",
              "org.opencontainers.image.version": plan.tags[0] if plan.tags else "untagged",
              "org.opencontainers.image.base.name": base.ref,
              "org.opencontainers.image.base.digest": base.digest}
    if plan.index % 6 != 4:  # most pipelines say which commit and when (oci-labels)
        labels["org.opencontainers.image.revision"] = hexid(plan.app, plan.index, n=40)
        labels["org.opencontainers.image.created"] = plan.created.strftime("%Y-%m-%dT%H:%M:%SZ")
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
           *_RUNTIME_ENV[plan.runtime]]
    if plan.index % 37 == 5:  # a few images bake a (synthetic) secret into the config
        env.append("DB_PASSWORD=synthetic-demo-password")
    cfg: dict[str, Any] = {"User": plan.user} if plan.user else {}  # Docker omits an empty User
    cfg.update(Cmd=RUNTIME_CMD[plan.runtime], Env=env, WorkingDir="/app", Labels=labels)
    history: list[dict[str, Any]] = []
    t = plan.created - timedelta(minutes=len(steps) + 30)
    for text, empty in steps:
        t += timedelta(seconds=37)
        entry: dict[str, Any] = {"created": go_time(t), "created_by": text}
        if empty:
            entry["empty_layer"] = True
        history.append(entry)
    return {"architecture": "amd64", "created": go_time(plan.created), "history": history,
            "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}, "config": cfg}


def _layers(seed: int, plan: ImagePlan, rng: random.Random, n_install: int,
            base: BaseBuild) -> tuple[list[str], list[int], list[tuple[str, bool]]]:
    """Return the layer diff ids, their sizes, and the build steps (text, makes no layer): the
    base build's layer and steps first."""
    alpine = base.base.family == "alpine"
    install = "apk add --no-cache" if alpine else "apt-get update && apt-get install -y"
    diff = [base.diff_id, sha256_of(seed, "install", plan.index)]
    sizes = [base.size, n_install * rng.randint(150_000, 450_000)]
    steps = [(str(h["created_by"]), bool(h.get("empty_layer"))) for h in base.config["history"]]
    steps += [(f"RUN /bin/sh -c {install} ca-certificates curl # buildkit", False),
              ("WORKDIR /app", False)]
    for k in range(rng.randint(0, 3)):
        diff.append(sha256_of(seed, "extra", plan.index, k))
        sizes.append(rng.randint(1_000, 5_000_000))
        steps.append((f"COPY config/{k}/ /etc/app/ # buildkit", False))
    diff.append(sha256_of(seed, "app", plan.index))
    sizes.append(rng.randint(5, 150) * 1_000_000)
    steps.append(("COPY . /app # buildkit", False))
    if plan.user:
        steps.append((f"USER {plan.user}", True))
    steps.append((f"CMD {orjson.dumps(RUNTIME_CMD[plan.runtime]).decode()}", True))
    return diff, sizes, steps


def _status(rng: random.Random, cve: Cve, plan: ImagePlan) -> str:
    if cve.fixed_at is not None:
        return "fixed"
    if plan.base.eol < plan.scanned.date() and rng.random() < 0.3:
        return "end_of_life"
    return cve.unfixed_status


def _findings(rng: random.Random, cat: Catalog, plan: ImagePlan, vulns: int,
              os_pkgs: list[tuple[Pkg, str]], lang_pkgs: list[tuple[Pkg, str]]) -> list[Finding]:
    """Return the vulnerabilities of the image.

    A record counts when the image has its package and was built before its fix (or it has none),
    so older images have more; about `vulns` on average over the fleet.
    """
    os_by_name = {p.name: (p, layer) for p, layer in os_pkgs}
    lang_by_name = {p.name: (p, layer) for p, layer in lang_pkgs}
    lang_type = RUNTIMES[plan.runtime]
    cands = [(c, False) for c in cat.cves(plan.base.pkg_family) if c.pkg in os_by_name]
    if lang_type:
        cands += [(c, True) for c in cat.cves(lang_type) if c.pkg in lang_by_name]
    cands = [(c, lang) for c, lang in cands if c.fixed_at is None or c.fixed_at > plan.created]
    want = round(vulns * 1.2 * (0.6 + min(plan.age_days / 730, 1.0)) * rng.uniform(0.85, 1.15))
    out = []
    for c, lang in rng.sample(cands, k=min(want, len(cands))):
        pkg, layer = (lang_by_name if lang else os_by_name)[c.pkg]
        status = _status(rng, c, plan)
        fixed = bump(pkg.version) if status == "fixed" else None
        out.append(Finding(c, pkg, layer, status, fixed, lang))
    out.sort(key=lambda f: (f.pkg.name, f.cve.id))
    return out


def build_content(seed: int, cat: Catalog, plan: ImagePlan, vulns: int,
                  packages: int) -> ImageContent:
    """Return what the image of `plan` holds; the same inputs always give the same content."""
    rng = rng_for(seed, "image", plan.index)
    universe, core = cat.os_pkgs(plan.base), cat.core(plan.base)
    lang_type = RUNTIMES[plan.runtime]
    total = round(packages * PACKAGE_SCALE[plan.base.family] * rng.uniform(0.8, 1.2))
    n_lang = round(total * LANG_SHARE) if lang_type else 0
    n_os = max(min(core, len(universe)), min(len(universe), total - n_lang))
    rest = sorted(rng.sample(range(core, len(universe)), k=max(0, n_os - core)))
    chosen = universe[:core] + [universe[i] for i in rest]
    base = base_build(seed, plan.base, base_window(plan.base, plan.created))
    diff, sizes, steps = _layers(seed, plan, rng, n_os - core, base)
    os_pkgs = [(p, diff[0] if p.core else diff[1]) for p in chosen]
    lang_pkgs: list[tuple[Pkg, str]] = []
    if lang_type:
        lu = cat.lang_pkgs(lang_type)
        names = rng.sample(list(lu), k=min(len(lu), max(3, n_lang)))
        lang_pkgs = [(rng.choice(lu[n]), diff[-1]) for n in sorted(names)]
    findings = _findings(rng, cat, plan, vulns, os_pkgs, lang_pkgs)
    config = _config(plan, diff, steps, base)
    config_bytes = orjson.dumps(config)
    image_id = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    digests = [sha256_of(d, "gzip") for d in diff]
    manifest_bytes = orjson.dumps({
        "schemaVersion": 2, "mediaType": f"{_OCI}.manifest.v1+json",
        "config": {"mediaType": f"{_OCI}.config.v1+json", "size": len(config_bytes),
                   "digest": image_id},
        "layers": [{"mediaType": f"{_OCI}.layer.v1.tar+gzip", "size": s * 2 // 5, "digest": d}
                   for s, d in zip(sizes, digests, strict=True)],
    })
    manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    return ImageContent(plan, os_pkgs, lang_type, lang_pkgs, findings, diff, sizes, digests, config,
                        config_bytes, image_id, manifest_bytes, manifest_digest)


def build_base_content(seed: int, cat: Catalog, build: BaseBuild, plan: ImagePlan,
                       vulns: int) -> ImageContent:
    """Return what a base build of the mirror holds: its release's core packages, all in its
    one layer, and their vulnerabilities (as many per package as an app image has). `plan`
    names it (its repository in the mirror, tags, build and scan times)."""
    rng = rng_for(seed, "base-image", build.base.key, build.window)
    core = cat.os_pkgs(build.base)[: cat.core(build.base)]
    os_pkgs = [(p, build.diff_id) for p in core]
    share = len(core) / max(1, cat.packages)
    findings = _findings(rng, cat, plan, round(vulns * share), os_pkgs, [])
    return ImageContent(plan, os_pkgs, None, [], findings, [build.diff_id], [build.size],
                        [sha256_of(build.diff_id, "gzip")], build.config, build.config_bytes,
                        build.image_id, build.manifest_bytes, build.digest)
