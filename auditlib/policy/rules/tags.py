"""Rules about how images are named: version tags instead of `latest`, a base pinned by version
(and by digest), and a base from a trusted registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import pandas as pd

from auditlib.fleet.glob import matches
from auditlib.fleet.names import digest_name as _show
from auditlib.fleet.names import short_digest
from auditlib.fleet.view import FleetView, text
from auditlib.identity import Reference, parse_reference
from auditlib.policy.model import Param, Rule, Status, Verdict
from auditlib.policy.rules._frames import evidence_list

_RANK = {"fail": 0, "warn": 1, "pass": 2}


@lru_cache(maxsize=65536)
def _parse(ref: str) -> Reference | None:
    return parse_reference(ref)


def _tag(ref: str) -> str | None:
    p = _parse(ref)
    return p.tag if p is not None else None


def _running_refs(ctx: FleetView) -> dict[str, list[tuple[str, str | None]]]:
    """Return image id -> (container name, normalised reference or None) of running containers."""
    run = ctx.running
    out: dict[str, list[tuple[str, str | None]]] = {}
    for i, name, ref in zip(run["image_id"], run["name"], run["image_ref"], strict=True):
        out.setdefault(str(i), []).append((str(text(name) or "?"), text(ref)))
    return out


def _stages(ctx: FleetView) -> dict[str, list[tuple[str, str]]]:
    """Return image id -> (base reference, where) of every FROM of its Dockerfile that names an
    image (scratch, earlier stages and unresolved build arguments left out)."""
    st = ctx.data.dockerfile_stages.dropna(subset=["base_ref"])
    by_file: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for path, sid, ref, line in zip(st["path"].astype(str), st["scan_id"].astype(str),
                                    st["base_ref"].astype(str), st["line"], strict=True):
        where = f"{path} line {int(line)}" if pd.notna(line) else path
        by_file.setdefault((path, sid), []).append((ref, where))
    out: dict[str, list[tuple[str, str]]] = {}
    for image_id, df in ctx.dockerfiles.items():
        key = (str(df.get("path")), str(df.get("scan_id")))
        if key in by_file:
            out[image_id] = by_file[key]
    return out


def _base_refs(ctx: FleetView, image_id: str, stages: dict[str, list[tuple[str, str]]],
               with_layers: bool) -> list[tuple[str, str]]:
    """Return (reference, where) of the bases an image is built FROM, each once."""
    found: dict[str, str] = {}
    for ref, where in stages.get(image_id, []):
        found.setdefault(ref, f"FROM in {where}")
    base = ctx.bases.get(image_id)
    if base is not None and base.ref and (with_layers or base.how != "layers"):
        where = {"dockerfile": "the Dockerfile's final FROM",
                 "label": "label org.opencontainers.image.base.name",
                 "layers": "a local image whose layers start this image's"}[base.how]
        found.setdefault(base.ref, where)
    return list(found.items())


def _verdict(image_id: str, judged: list[tuple[Status, str]]) -> Verdict:
    """Return the worst of (status, evidence) items, the deciding ones first."""
    judged = sorted(judged, key=lambda j: _RANK[j[0]])
    more = f"; and {len(judged) - 5} more" if len(judged) > 5 else ""
    return Verdict(image_id, judged[0][0], "; ".join(e for _, e in judged[:5]) + more)


# -- no-latest-tag ----------------------------------------------------------------------------


def _no_latest(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    floating = set(params["floating_tags"])
    running = _running_refs(ctx)
    out = []
    for image_id in ctx.image_ids:
        tags = ctx.tags.get(image_id, [])
        runs = running.get(image_id, [])
        floats = [f"{n} ({_show(r)})" for n, r in runs if r and _tag(r) in floating]
        by_ref = [r for _, r in runs if r]
        if not tags and not by_ref:
            continue
        versioned = [t for t in tags if _tag(t) not in floating]
        problems = []
        if floats:
            problems.append(f"running containers were started from a floating tag: "
                            f"{evidence_list(floats)}")
        if tags and not versioned:
            problems.append(f"its only tags are floating: {evidence_list(tags)}")
        if problems:
            out.append(Verdict(image_id, "fail", "; ".join(problems)))
        elif versioned:
            out.append(Verdict(image_id, "pass", f"version tags: {evidence_list(versioned)}"))
        else:  # no tag of its own now; containers name it by version tag or digest
            out.append(Verdict(image_id, "pass", "running containers name it by version or "
                               f"digest: {evidence_list(sorted({_show(r) for r in by_ref}))}"))
    return out


NO_LATEST_TAG = Rule(
    slug="no-latest-tag",
    title="Referenced by a version tag, not latest",
    rationale="`latest` moves with every push, so what runs and what was tested cannot be told "
    "apart, and a restart can silently pull a different image.",
    severity="medium",
    points=5,
    evaluate=_no_latest,
    params=(
        Param("floating_tags", ["latest"],
              "Tags that move and so do not count as a version (add `stable`, `main`, `edge`, "
              "...); compared exactly."),
    ),
    no_data="the image has no tag and no running container names it: collect tags from an "
    "engine or registry (`auditlib collect`), or containers from the Docker Engine",
    scout="None directly: Scout's approved-base-images can require supported tags of "
    "official images, but no policy looks at the tags an image or a container is used by.",
    others="hadolint DL3006/DL3007 and Trivy DS-0001 check FROM lines only; auditlib checks the "
    "image's own tags and the references running containers were started from.",
    needs="image_tags, registry_tags, containers.image_ref",
)


# -- pinned-base-image ------------------------------------------------------------------------


def _pinned(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    floating = set(params["floating_tags"])
    stages = _stages(ctx)
    out = []
    for image_id in ctx.image_ids:
        refs = _base_refs(ctx, image_id, stages, with_layers=False)
        if not refs:
            continue
        judged: list[tuple[Status, str]] = []
        for ref, where in refs:
            p = _parse(ref)
            tag, digest = (p.tag, p.digest) if p else (None, None)
            if digest:
                note = (f" (its tag {tag} says nothing of the version)"
                        if tag in floating else "")
                judged.append(("pass", f"{_show(ref)} ({where}) is pinned by digest "
                               f"{short_digest(digest)}{note}"))
            elif tag is None or tag in floating:
                judged.append(("fail", f"{_show(ref)} ({where}) is not pinned: the tag "
                               f"{tag or 'latest'} moves; use a version tag and a digest"))
            else:
                status: Status = "warn" if params["require_digest"] else "pass"
                judged.append((status, f"{_show(ref)} ({where}) is pinned by tag {tag}; a "
                               "digest pin (@sha256) is recommended"))
        out.append(_verdict(image_id, judged))
    return out


PINNED_BASE_IMAGE = Rule(
    slug="pinned-base-image",
    title="The base image is pinned by version",
    rationale="A base named by a moving tag makes every rebuild start from different bytes, so "
    "a rebuild can change (or break) the image without any change to the Dockerfile.",
    severity="medium",
    points=5,
    evaluate=_pinned,
    params=(
        Param("floating_tags", ["latest"],
              "Base tags that move and so do not pin a version (compared exactly)."),
        Param("require_digest", False,
              "Warn when a base is pinned by a version tag but not by a digest (`@sha256`)."),
    ),
    no_data="the FROM reference is unknown: give the Dockerfile (`--dockerfile PATH=REF`) or "
    "build with the org.opencontainers.image.base.name label (a base found only by shared "
    "layers says nothing of how FROM named it)",
    scout="Up-to-date base images needs the tag used at build time (from provenance); no Scout "
    "policy checks the pin itself. Scout's remediation recommends a digest pin, as here.",
    others="hadolint DL3006/DL3007, Trivy DS-0001: fail an untagged or `latest` FROM; auditlib "
    "also reads the base label, takes more floating tags, and can require a digest "
    "(hadolint has no digest rule).",
    needs="dockerfiles, dockerfile_stages, image_labels (base.name)",
)


# -- trusted-registry -------------------------------------------------------------------------


def _first_match(patterns: list[str], ref: str) -> str | None:
    p = _parse(ref)
    candidates = [ref] + ([str(Reference(p.registry, p.repository, p.tag, None))]
                          if p is not None and p.digest and p.tag else [])
    return next((pat for pat in patterns for c in candidates if matches(pat, c)), None)


def _trusted(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    allowed, denied = list(params["allowed"]), list(params["denied"])
    shown = evidence_list(allowed, most=10) if allowed else "(none)"
    stages = _stages(ctx)
    running = _running_refs(ctx)
    out = []
    for image_id in ctx.image_ids:
        refs = _base_refs(ctx, image_id, stages, with_layers=True)
        if refs:
            judged: list[tuple[Status, str]] = []
            for ref, where in refs:
                deny, allow = _first_match(denied, ref), _first_match(allowed, ref)
                if deny:
                    judged.append(("fail", f"the base {_show(ref)} ({where}) matches the denied "
                                   f"pattern {deny}"))
                elif allow is None:
                    judged.append(("fail", f"the base {_show(ref)} ({where}) matches none of the "
                                   f"allowed patterns: {shown}"))
                else:
                    judged.append(("pass", f"the base {_show(ref)} matches {allow}"))
            out.append(_verdict(image_id, judged))
            continue
        if image_id not in running:
            continue
        own = sorted({*ctx.tags.get(image_id, []), *(r for _, r in running[image_id] if r)})
        if not own:
            continue
        denies = [(r, d) for r in own if (d := _first_match(denied, r))]
        allows = [(r, a) for r in own if (a := _first_match(allowed, r))]
        if denies:
            r, d = denies[0]
            out.append(Verdict(image_id, "fail", f"run directly as {_show(r)}, which matches the "
                               f"denied pattern {d}"))
        elif allows:
            r, a = allows[0]
            out.append(Verdict(image_id, "pass", f"run directly as {_show(r)}, which matches {a}"))
        else:
            names = evidence_list([_show(r) for r in own], most=3)
            out.append(Verdict(image_id, "fail", f"run directly as {names}, which match none "
                               f"of the allowed patterns: {shown}"))
    return out


TRUSTED_REGISTRY = Rule(
    slug="trusted-registry",
    title="The base image comes from a trusted registry",
    rationale="Anyone can push to a public registry, so a base image from an unvetted publisher "
    "can carry malware or simply never be patched.",
    severity="high",
    points=15,
    evaluate=_trusted,
    params=(
        Param("allowed", ["docker.io/library/*", "public.ecr.aws/docker/library/*",
                          "mirror.gcr.io/library/*", "gcr.io/distroless/*",
                          "cgr.dev/chainguard/*", "registry.access.redhat.com/*",
                          "registry.redhat.io/*", "mcr.microsoft.com/*"],
              "Scout-style patterns of allowed references: by default publishers that curate "
              "and patch what they publish (Docker Official Images and their ECR/GCR mirrors, "
              "distroless, Chainguard, Red Hat, Microsoft); open registries where anyone can "
              "push (`docker.io/*`, `quay.io/*`, `ghcr.io/*`) are left out. Add your own "
              "registry (`registry.example.com/*`); `*` allows everything."),
        Param("denied", [],
              "Scout-style patterns that fail even when an allowed pattern matches "
              "(`docker.io/library/debian:9*`)."),
    ),
    no_data="the base is unknown and no running container uses the image directly: give the "
    "Dockerfile, build with the org.opencontainers.image.base.name label, or collect the base "
    "image itself so its layers identify it",
    scout="Approved base images (`approved-base-images`, `allowed_base_images`): the same glob "
    "semantics; auditlib adds a deny list, every FROM stage, and images run directly, and needs "
    "no provenance attestation. Scout's default allows everything (`*`).",
    others="hadolint DL3026 (`trustedRegistries`): registry hosts only, in FROM lines; auditlib "
    "matches whole references (registry, repository and tag) of the built image's base.",
    needs="dockerfiles, dockerfile_stages, image_labels, image_layers, image_tags, containers",
)

RULES = (NO_LATEST_TAG, PINNED_BASE_IMAGE, TRUSTED_REGISTRY)
