"""Rules about how images run: the user, what running containers change, whether the team runs
its own images, and whether a rollback is possible.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from auditlib.fleet.glob import matches_any
from auditlib.fleet.view import FleetView, text
from auditlib.identity import parse_reference
from auditlib.normalize.users import is_root_user
from auditlib.policy.model import Param, Rule, Verdict
from auditlib.policy.rules._frames import evidence_list

# -- non-root-user ---------------------------------------------------------------------------


def _non_root(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    out = []
    users = ctx.images["user"]
    root_runs: dict[str, list[str]] = {}
    if params["check_containers"]:
        r = ctx.running
        for i, n, u in zip(r["image_id"], r["name"], r["user"], strict=True):
            if isinstance(u, str) and u and is_root_user(u):
                root_runs.setdefault(str(i), []).append(str(n))
    for image_id in ctx.image_ids:
        user = text(users.get(image_id))
        df = ctx.dockerfiles.get(image_id)
        if user is None and df is not None and pd.notna(df.get("final_user_is_root")):
            user = "" if bool(df["final_user_is_root"]) else text(df.get("final_user")) or "?"
        if user is None:
            continue
        as_root = root_runs.get(image_id, [])
        if is_root_user(user):
            shown = f"USER {user}" if user else "no USER (root by default)"
            out.append(Verdict(image_id, "fail", f"the image runs as root: {shown}"))
        elif as_root:
            out.append(Verdict(
                image_id, "fail",
                f"the image's user is {user}, but running containers override it with root: "
                f"{evidence_list(as_root)}",
            ))
        else:
            out.append(Verdict(image_id, "pass", f"the image runs as {user}"))
    return out


NON_ROOT_USER = Rule(
    slug="non-root-user",
    title="Runs as a non-root user",
    rationale="A process that breaks out of an application running as root owns the container "
    "and is one kernel bug away from the host.",
    severity="high",
    points=5,
    evaluate=_non_root,
    params=(
        Param("check_containers", True,
              "Also fail when a running container overrides the user with root (`--user 0`)."),
    ),
    no_data="the image's config (USER) is unknown: collect it from an engine, registry or "
    "archive, or scan it with Trivy",
    scout="Default non-root user (`default-non-root-user`): the same check of `config.User` "
    "(empty, `root`, `0`, `0:0` are root); auditlib also flags containers started with "
    "`--user 0`.",
    others="hadolint DL3002 (last USER should not be root), Trivy DS-0002, Dockle CIS-DI-0001: "
    "the Dockerfile only; auditlib reads the built image's config.",
    needs="images.user (engine, registry, archive, Trivy), dockerfiles, containers",
)


# -- no-config-drift --------------------------------------------------------------------------


def _is_under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _no_drift(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    changes = ctx.data.container_changes
    mounts = ctx.data.container_mounts
    allowed = list(params["allowed_paths"])
    out = []
    running = ctx.running
    # The engine collector diffs every running container: no rows means no change.
    for image_id, runs in running.groupby("image_id"):
        drifted: list[str] = []
        seen = 0
        for cid, name in zip(runs["container_id"].astype(str), runs["name"], strict=True):
            mine = changes[changes["container_id"].astype(str) == cid]
            seen += 1
            volumes = mounts.loc[mounts["container_id"].astype(str) == cid, "destination"]
            roots = [*allowed, *volumes.astype(str)]
            written = mine[mine["kind"].astype(str).isin(["added", "changed"])]
            paths = sorted({
                p for p in written["path"].astype(str) if not _is_under(p, roots)
            })
            # A changed directory is listed beside the file that changed in it: keep the
            # files (the deepest paths).
            leaves = [p for p in paths if not any(q.startswith(p + "/") for q in paths)]
            drifted += [f"{name}:{p}" for p in leaves]
        if drifted:
            out.append(Verdict(
                str(image_id), "fail",
                f"running containers wrote outside their volumes and temporary paths: "
                f"{evidence_list(drifted, most=params['max_paths'])}",
            ))
        else:
            out.append(Verdict(
                str(image_id), "pass",
                f"{seen} running container(s) changed nothing outside volumes and "
                f"{', '.join(allowed)}",
            ))
    used = set(running["image_id"])
    out += [_not_running(ctx, i, "no running container of this image")
            for i in ctx.image_ids if i not in used]
    return out


def _not_running(ctx: FleetView, image_id: str, said: str) -> Verdict:
    """Return the verdict of an image no collected container runs: a pass when an engine was
    collected (it lists every container), else `no-data` (whether it runs is unknown)."""
    hosts = ctx.engine_hosts
    if not hosts:
        return Verdict(image_id, "no-data", "no Docker Engine collected: whether a container "
                       "runs this image is unknown (`auditlib collect --engine`)")
    return Verdict(image_id, "pass", f"{said} on the {len(hosts)} engine(s) collected")


NO_CONFIG_DRIFT = Rule(
    slug="no-config-drift",
    title="Running containers do not change their own filesystem",
    rationale="A change made inside a running container (an edited config, a hot-patched file) "
    "is lost on the next deploy and is not in any image anyone reviewed.",
    severity="medium",
    points=5,
    evaluate=_no_drift,
    params=(
        Param("allowed_paths", ["/tmp", "/var/tmp", "/run", "/var/run", "/dev", "/proc",
                                "/var/log", "/var/cache"],
              "Paths a container may write to besides its volumes."),
        Param("max_paths", 10, "Paths listed in the evidence at most."),
    ),
    no_data="no container data: collect from the Docker Engine",
    scout="None: Docker Scout looks at images, not at running containers.",
    others="None in hadolint or Trivy; `docker diff` by hand.",
    needs="containers, container_changes (engine `diff`), container_mounts",
)


# -- derived-image ----------------------------------------------------------------------------


def _derived(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    own = list(params["own_repositories"])
    known_bases = ctx.bases
    run_names_of: dict[str, list[str]] = {}
    for i, n in zip(ctx.running["image_id"], ctx.running["name"], strict=True):
        run_names_of.setdefault(str(i), []).append(str(n))
    out = []
    for image_id in ctx.image_ids:
        refs = ctx.tags.get(image_id, [])
        run_names = run_names_of.get(image_id, [])
        base = known_bases.get(image_id)
        if own and matches_any(own, refs):
            out.append(Verdict(image_id, "pass", "one of the team's own repositories: "
                               f"{evidence_list(refs, most=2)}"))
        elif image_id in ctx.dockerfiles:
            out.append(Verdict(image_id, "pass", "built by the team from a Dockerfile "
                               f"({text(ctx.dockerfiles[image_id].get('path'))})"))
        elif base is not None:
            shown = base.ref or (ctx.name(base.image_id) if base.image_id else "?")
            out.append(Verdict(image_id, "pass", f"built on {shown} (known by {base.how})"))
        elif run_names:
            shown = evidence_list(refs, most=2) if refs else ctx.name(image_id)
            out.append(Verdict(
                image_id, "fail",
                f"{shown} is used directly by running containers ({evidence_list(run_names)}): no "
                "Dockerfile, base label or base image of the team's builds it",
            ))
        else:
            out.append(_not_running(ctx, image_id, "a base or third-party image no running "
                                    "container uses directly"))
    return out


DERIVED_IMAGE = Rule(
    slug="derived-image",
    title="Running containers use the team's own images",
    rationale="An application image pulled and run as it is (`wordpress:latest`) is rebuilt, "
    "patched and configured on someone else's schedule; build your own FROM a trusted base.",
    severity="medium",
    points=5,
    evaluate=_derived,
    params=(
        Param("own_repositories", [],
              "Scout-style patterns of the team's own repositories (`registry.example.com/*`); "
              "images there always count as the team's."),
    ),
    scout="None directly; Scout's approved-base-images looks at bases, not at what runs.",
    others="None in hadolint or Trivy.",
    needs="containers, dockerfiles, image labels, image layers",
)


# -- rollback-ready ---------------------------------------------------------------------------


def _rollback(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    rt = ctx.data.registry_tags.dropna(subset=["image_id"])
    rt = rt.assign(repo=rt["registry"].astype(str) + "/" + rt["repository"].astype(str),
                   image_id=rt["image_id"].astype(str))
    by_repo = {str(repo): g for repo, g in rt.groupby("repo")}
    created = ctx.images["created_at"]
    out = []
    deployed = set(ctx.running["image_id"])
    for image_id in ctx.image_ids:
        if image_id not in deployed:
            continue
        repos = sorted({
            f"{p.registry}/{p.repository}"
            for r in ctx.tags.get(image_id, []) if (p := parse_reference(r)) is not None
        } & set(by_repo))
        if not repos:
            continue
        missing = []
        for repo in repos:
            g = by_repo[repo]
            mine = created.get(image_id)
            older = [
                i for i in set(g["image_id"]) - {image_id}
                if pd.notna(created.get(i)) and pd.notna(mine) and created[i] < mine
            ]
            if len(older) < params["min_previous"]:
                missing.append(repo)
        if missing:
            out.append(Verdict(image_id, "fail",
                               f"no previous version left in {evidence_list(missing)} to roll "
                               "back to"))
        else:
            out.append(Verdict(image_id, "pass",
                               f"a previous version is still in {evidence_list(repos)}"))
    out += [_not_running(ctx, i, "not deployed (no running container)")
            for i in ctx.image_ids if i not in deployed]
    return out


ROLLBACK_READY = Rule(
    slug="rollback-ready",
    title="The previous version can be rolled back to",
    rationale="When a new release breaks, the fastest fix is the previous image; a registry "
    "that kept only `latest` leaves nothing to go back to.",
    severity="medium",
    points=5,
    evaluate=_rollback,
    params=(Param("min_previous", 1,
                  "Older images of the same repository the registry must still hold."),),
    no_data="the registry of the deployed image's repository was not collected "
    "(`auditlib collect --registry REPO`)",
    scout="None.",
    others="None.",
    needs="containers, registry_tags, images.created_at",
)

RULES = (NON_ROOT_USER, NO_CONFIG_DRIFT, DERIVED_IMAGE, ROLLBACK_READY)
