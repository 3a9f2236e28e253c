"""The demo fleet over time: which images exist at each snapshot and how they are tagged, which
run, which repositories keep their previous versions, and which apps have a Dockerfile.

`make_world` plans the fleet (`_plan`), then arranges its first images into the situations the
reports exist to show (each needs a few images; a smaller fleet gets the first ones only):

* `rebuilt`: an app rebuilt between two snapshots; its repository keeps the previous version (a
  rollback is possible) and its container runs the new build. Its Dockerfile is multi-stage,
  pins the base by digest and upgrades the OS packages.
* `lagging`: an app rebuilt shortly before the last snapshot whose container still runs the
  old build (deployment lag).
* `unkept`: an app whose repository keeps only its newest build: the previous one is deleted
  when the new one is pushed (and is no longer scanned), so its container has nothing to roll
  back to.
* `drifting`: an app whose running container changed files outside its volumes from the
  second-last snapshot on (configuration drift). Its Dockerfile builds FROM `alpine:latest` and
  declares a build argument named like a secret.
* `floating`: an app run from its `latest` tag, as root (`--user 0`).

Other apps run or not by chance. A toolbox container runs a base image of the mirror directly,
and a finished migration job stays as an exited container.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from auditlib.demo._bases import BaseBuild, builds_at, newest_release
from auditlib.demo._catalog import COMPONENTS, OS_BASES, TEAMS
from auditlib.demo._plan import ImagePlan, assign_tags, plan_images, tag_style
from auditlib.demo._util import hexid, rng_for

ROLES = ("rebuilt", "lagging", "unkept", "drifting", "floating")
PUSH = timedelta(minutes=10)
"""A build is in the registry this long after it was built."""
DEPLOY = timedelta(days=1)
"""A build runs this long after it was built (except where a deployment lags)."""


@dataclass(frozen=True, slots=True)
class Container:
    """A container on the demo's Docker Engine, at one snapshot."""

    name: str
    build: ImagePlan | None
    """The app image it runs; None for a base image (`base`)."""
    base: BaseBuild | None
    started: datetime
    running: bool
    by_latest: bool = False
    """Whether it was started from the `latest` tag (else a version tag, else a digest)."""
    user: str | None = None
    """A user given at `docker run` (`--user`); None: the image's own."""
    mounts: tuple[tuple[str, str, str, bool], ...] = ()
    """(type, source, destination, read-write)."""
    changes: tuple[tuple[str, int], ...] = ()
    """What `docker diff` says: (path, kind: 0 changed, 1 added, 2 deleted)."""

    @property
    def container_id(self) -> str:
        """Return its id: the same container keeps it from one snapshot to the next."""
        what = self.build.index if self.build else self.base.image_id if self.base else ""
        return hexid("container", self.name, what, self.started.isoformat(), n=64)


@dataclass
class World:
    """The fleet plan, the snapshot times, and who plays which role."""

    seed: int
    now: datetime
    times: list[datetime]
    """The snapshots, oldest first; the last one is `now`."""
    plans: list[ImagePlan]
    """Every image, tagged as at `now`."""
    roles: dict[str, str] = field(default_factory=dict)
    """Role -> app."""
    deployed: list[str] = field(default_factory=list)
    """Apps running on the engine (when a build of theirs is out)."""
    dockerfile_apps: list[str] = field(default_factory=list)

    @cached_property
    def by_app(self) -> dict[str, list[ImagePlan]]:
        """Return app -> its builds, oldest first."""
        out: dict[str, list[ImagePlan]] = {}
        for p in sorted(self.plans, key=lambda p: p.created):
            out.setdefault(p.app, []).append(p)
        return out

    def has_latest(self, app: str) -> bool:
        """Return whether the newest build of `app` carries `latest`."""
        return "latest" in self.by_app[app][-1].tags

    def scanned(self, plan: ImagePlan, at: datetime) -> datetime:
        """Return when the image is scanned for the snapshot at `at`."""
        return at - (self.now - plan.scanned)

    def built(self, app: str, at: datetime) -> list[ImagePlan]:
        """Return the builds of `app` made by `at`, oldest first."""
        return [p for p in self.by_app[app] if p.created <= at]

    def pushed(self, app: str, at: datetime) -> list[ImagePlan]:
        """Return the builds of `app` in the registry at `at`, oldest first (only the newest
        where the repository keeps no previous version)."""
        out = [p for p in self.by_app[app] if p.pushed and p.created + PUSH <= at]
        return out[-1:] if app == self.roles.get("unkept") else out

    def deleted(self, plan: ImagePlan, at: datetime) -> bool:
        """Return whether the image was deleted from its registry by `at` (and so is no longer
        scanned)."""
        return plan.pushed and plan.created + PUSH <= at and plan not in self.pushed(plan.app, at)

    def present(self, plan: ImagePlan, at: datetime) -> bool:
        """Return whether the image is scanned for the snapshot at `at`."""
        return plan.created < self.scanned(plan, at) and not self.deleted(plan, at)

    def tags(self, plan: ImagePlan, at: datetime) -> list[str]:
        """Return the tags of the image at `at`: its version tag, and `latest` while it is its
        app's newest build."""
        tags = [t for t in plan.tags if t != "latest"]
        built = self.built(plan.app, at)
        if built and built[-1] is plan and self.has_latest(plan.app):
            tags.append("latest")
        return tags

    def as_at(self, plan: ImagePlan, at: datetime) -> ImagePlan:
        """Return the plan as its documents at the snapshot `at` describe it: tags then, and
        scanned then."""
        return dataclasses.replace(plan, tags=self.tags(plan, at), scanned=self.scanned(plan, at))

    def containers(self, at: datetime) -> list[Container]:
        """Return the containers on the engine at `at`."""
        out: list[Container] = []
        for app in self.deployed:
            ready = [p for p in self.pushed(app, at) if p.created + DEPLOY <= at]
            if app == self.roles.get("lagging"):
                ready = ready[:1]  # never redeployed
            if not ready:
                continue
            run = ready[-1]
            changes: list[tuple[str, int]] = [("/tmp", 0), (f"/tmp/{app}.pid", 1),
                                              ("/var/log", 0), (f"/var/log/{app}.log", 1)]
            mounts: tuple[tuple[str, str, str, bool], ...] = ()
            if app == self.roles.get("drifting"):
                mounts = (("bind", f"/srv/{app}/conf", "/etc/app/conf.d", False),)
                if len(self.times) < 2 or at >= self.times[-2]:
                    changes += [("/etc", 0), ("/etc/app", 0), ("/etc/app/settings.yaml", 0),
                                ("/app", 0), ("/app/hotfix.js", 1)]
            if app == self.roles.get("rebuilt"):
                mounts = (("volume", f"{app}-data", "/data", True),)
            floating = app == self.roles.get("floating")
            out.append(Container(f"{app}-1", run, None, run.created + DEPLOY, True,
                                 by_latest=floating, user="0" if floating else None,
                                 mounts=mounts, changes=tuple(sorted(changes))))
        rebuilt = self.roles.get("rebuilt")
        if rebuilt and self.built(rebuilt, at):
            first = self.by_app[rebuilt][0]
            out.append(Container(f"{rebuilt}-migrate", first, None, first.created + DEPLOY
                                 - timedelta(hours=1), False))
        toolbox = self._toolbox(at)
        if toolbox is not None:
            out.append(toolbox)
        return out

    def _toolbox(self, at: datetime) -> Container | None:
        """Return the toolbox container: a base image run directly, started before the first
        snapshot and never updated."""
        if not self.plans:
            return None
        started = self.times[0] - timedelta(days=3)
        builds = builds_at(self.seed, self.plans[0].base, started)
        if not builds or started > at:
            return None
        return Container("toolbox", None, builds[-1], started, True,
                         changes=(("/tmp", 0), ("/tmp/toolbox.log", 1)))

    def dockerfile_build(self, app: str, at: datetime) -> ImagePlan | None:
        """Return the build the app's Dockerfile makes at `at` (its newest), if any."""
        built = self.built(app, at)
        return built[-1] if built else None


def _names(seed: int, used: set[str], latest: bool) -> list[tuple[str, str]]:
    """Return (app, runtime) of app names no plan uses whose builds get semver tags (and `latest`
    on the newest exactly when `latest`) and whose runtime is built in a builder stage, in a
    seeded order; a numbered name (`payments-api-2`) where a large fleet uses every name."""
    names = [(f"{t}-{c}", r) for t in TEAMS for c, r in COMPONENTS if r != "static"]
    rng_for(seed, "roles").shuffle(names)
    every = [(f"{n}{suffix}", r) for suffix in ("", "-2", "-3") for n, r in names]
    return [(n, r) for n, r in every
            if n not in used and tag_style(seed, n) == ("semver", latest)]


def _rebase(plan: ImagePlan, family: str | None = None) -> None:
    """Give the plan a base released by the time it is built (of `family` when given)."""
    day = plan.created.date()
    if family is not None:
        plan.base = newest_release(family, day)
    if plan.base.released > day:
        fits = [b for b in OS_BASES if b.family == plan.base.family and b.released <= day]
        plan.base = max(fits or [OS_BASES[0]], key=lambda b: b.released)


def _arrange(seed: int, plans: list[ImagePlan], times: Sequence[datetime]) -> dict[str, str]:
    """Turn the first plans into the roles' images (module docstring); return role -> app."""
    first, last = times[0], times[-1]
    k = max(1, len(times) - 2)  # the rebuild lands before the second-last snapshot
    between = times[k] - (times[k] - times[k - 1]) / 2 if len(times) > 1 else first - DEPLOY * 7
    second = times[1] if len(times) > 1 else last
    slots: list[tuple[str, list[datetime], str | None]] = [
        ("rebuilt", [first - timedelta(days=33), between], None),
        ("lagging", [first - timedelta(days=118), last - timedelta(days=6)], None),
        ("unkept", [first - timedelta(days=258), second - timedelta(days=5)], None),
        ("drifting", [first - timedelta(days=10)], "alpine"),
        ("floating", [], None),
    ]
    used = {p.app for p in plans}
    plain, with_latest = _names(seed, used, False), _names(seed, used, True)
    roles: dict[str, str] = {}
    i = 0
    for role, created, family in slots:
        n = max(1, len(created))
        if i + n > len(plans):
            break
        pool = with_latest if role == "floating" else plain
        app, runtime = next(a for a in pool if a[0] not in roles.values())
        roles[role] = app
        for plan, when in zip(plans[i:i + n], created or [plans[i].created], strict=True):
            plan.app, plan.runtime, plan.created, plan.pushed = app, runtime, when, True
            _rebase(plan, family)
        i += n
    return roles


def make_world(seed: int, images: int, now: datetime, snapshots: int = 4,
               every: timedelta = timedelta(days=14)) -> World:
    """Return the demo world: `images` images, `snapshots` snapshots `every` apart ending at
    `now`, roles arranged (module docstring)."""
    times = [now - every * (snapshots - 1 - k) for k in range(snapshots)]
    plans = plan_images(seed, images, now)
    roles = _arrange(seed, plans, times)
    assign_tags(seed, plans)
    world = World(seed, now, times, plans, roles)
    others = sorted(set(world.by_app) - set(roles.values()))
    lucky = [a for a in others if any(p.pushed for p in world.by_app[a])
             and rng_for(seed, "deploy", a).random() < 0.3]
    world.deployed = [*roles.values(), *lucky]
    world.dockerfile_apps = [*roles.values(), *lucky[:2]]
    return world
