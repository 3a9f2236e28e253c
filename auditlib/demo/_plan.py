"""The fleet plan: which images exist, what they run, when they were built and how they are tagged.

Planning is cheap (no packages, no documents) and done for the whole fleet first, so that tags can
depend on the order in which an app's images were built (the newest one may also be `latest`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from auditlib.demo._catalog import COMPONENTS, OS_BASES, TEAMS, USERS, OsBase
from auditlib.demo._util import hexid, rng_for
from auditlib.identity import SYNTHETIC_REGISTRY

_AGE_BUCKETS: tuple[tuple[float, float, float], ...] = (
    (0.5, 30, 30), (30, 180, 30), (180, 720, 25), (720, 1500, 15))
"""(fewest days, most days, share in percent) of image ages."""


@dataclass(slots=True)
class ImagePlan:
    """One image of the fleet, before its packages are chosen."""

    index: int
    app: str
    runtime: str
    created: datetime
    scanned: datetime
    base: OsBase
    user: str
    pushed: bool
    tags: list[str] = field(default_factory=list)
    """Tags currently naming the image; empty for an image whose tag has moved on."""
    stem: str = ""
    """File name of its documents, without `.json`."""

    @property
    def repo(self) -> str:
        """Return the repository (`demo.auditlib.invalid/synthetic/<app>`)."""
        return f"{SYNTHETIC_REGISTRY}/{self.app}"

    @property
    def age_days(self) -> float:
        """Return the image's age in days at scan time."""
        return (self.scanned - self.created).total_seconds() / 86_400


def _base_for(created: datetime) -> list[tuple[OsBase, float]]:
    allowed = [b for b in OS_BASES if b.released <= created.date()] or [OS_BASES[0]]
    newest: dict[str, OsBase] = {}
    for b in allowed:
        if b.family not in newest or b.released > newest[b.family].released:
            newest[b.family] = b
    return [(b, b.weight * (5.0 if newest[b.family] is b else 1.0)) for b in allowed]


def _plan_one(seed: int, index: int, now: datetime) -> ImagePlan:
    rng = rng_for(seed, "plan", index)
    team = rng.choice(TEAMS)
    comp, runtime = rng.choice(COMPONENTS)
    lo, hi, _ = rng.choices(_AGE_BUCKETS, weights=[b[2] for b in _AGE_BUCKETS])[0]
    created = now - timedelta(days=rng.uniform(lo, hi), seconds=rng.randint(0, 86_399))
    options = _base_for(created)
    base = rng.choices([o[0] for o in options], weights=[o[1] for o in options])[0]
    user = rng.choices([u[0] for u in USERS], weights=[u[1] for u in USERS])[0]
    scanned = now - timedelta(minutes=rng.uniform(5, 600))
    pushed = rng.random() < 0.9
    return ImagePlan(index, f"{team}-{comp}", runtime, created, scanned, base, user, pushed)


def _tag(style: str, plan: ImagePlan, k: int) -> str:
    if style == "semver":
        return f"{1 + k // 12}.{k % 12}.{plan.index % 4}"
    if style == "date":
        return plan.created.strftime("%Y.%m.%d") + f"-{k}"
    return "main-" + hexid(plan.app, plan.index, n=8)[:7]


def _style(seed: int, app: str) -> tuple[str, random.Random]:
    rng = rng_for(seed, "app", app)
    return rng.choices(("semver", "date", "sha", "latest"), weights=(60, 15, 10, 15))[0], rng


def tag_style(seed: int, app: str) -> tuple[str, bool]:
    """Return how `app` tags its builds (`semver`, `date`, `sha`, or `latest` only), and whether
    its newest build also carries `latest`."""
    style, rng = _style(seed, app)
    return style, style == "latest" or rng.random() < 0.6


def assign_tags(seed: int, plans: list[ImagePlan]) -> None:
    """Set the tags and file names of `plans` (the whole fleet), from each app's builds in the
    order they were built.

    Each app tags its builds one way (`tag_style`); the newest build of most apps also carries
    `latest`, and older builds of a `latest`-only app carry no tag at all.
    """
    by_app: dict[str, list[ImagePlan]] = {}
    for p in plans:
        by_app.setdefault(p.app, []).append(p)
    for app, group in by_app.items():
        style, rng = _style(seed, app)
        group.sort(key=lambda p: p.created)
        for k, p in enumerate(group):
            p.tags = [] if style == "latest" else [_tag(style, p, k)]
        if style == "latest" or rng.random() < 0.6:
            group[-1].tags.append("latest")
    width = max(4, len(str(len(plans) - 1)))
    for p in plans:
        label = re.sub(r"[^A-Za-z0-9._-]", "_", p.tags[0] if p.tags else "untagged")
        p.stem = f"{p.index:0{width}d}-{p.app}-{label}"


def plan_images(seed: int, images: int, now: datetime) -> list[ImagePlan]:
    """Return the plans of `images` images, in index order, before tags are set."""
    return [_plan_one(seed, i, now) for i in range(images)]


def plan_fleet(seed: int, images: int, now: datetime) -> list[ImagePlan]:
    """Return the plans of `images` images, in index order, with tags and file names set
    (`assign_tags`)."""
    plans = plan_images(seed, images, now)
    assign_tags(seed, plans)
    return plans
