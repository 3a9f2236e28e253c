"""The `config-outside-image` rule: configuration and data are kept out of the image.

What the Dockerfile copies into the image it builds is `dockerfile_copies` (the Dockerfile
collector); what running containers mount and write is `container_mounts` and
`container_changes` (the engine collector).
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Mapping
from typing import Any

import pandas as pd

from auditlib.fleet.view import FleetView, text
from auditlib.policy.model import Param, Rule, Verdict
from auditlib.policy.rules._frames import evidence_list, rows

CONFIG_PATTERNS = [
    "*.conf", "*.cfg", "*.cnf", "*.ini", "*.yaml", "*.yml", "*.toml", "*.properties", ".env",
    ".env.*", "*.env", "config.json", "settings.json", "appsettings*.json",
]
"""The default names of configuration files (`fnmatch` patterns over the file's name)."""

DATA_PATHS = [
    "/data", "/var/lib/postgresql/data", "/var/lib/mysql", "/var/lib/mariadb",
    "/var/lib/mongodb", "/data/db", "/var/lib/redis", "/var/lib/elasticsearch",
    "/var/lib/rabbitmq", "/var/opt/mssql", "/srv/data",
]
"""The default folders that hold an application's data."""


def _under(path: str, roots: list[str]) -> str | None:
    """Return the first of `roots` that is `path` or a folder above it, or None."""
    for r in roots:
        root = r.rstrip("/") or "/"
        if path == root or path.startswith(root.rstrip("/") + "/"):
            return root
    return None


def _is_config(source: str, target: str | None, patterns: list[str]) -> bool:
    """Return whether a copied file's name (or, for a pattern with a `/`, its path in the
    image) matches a configuration pattern, ignoring case."""
    names = {posixpath.basename(source.rstrip("/")).lower()}
    if target:
        names.add(posixpath.basename(target).lower())
    for p in patterns:
        p = p.lower()
        if "/" in p:
            if target and fnmatch.fnmatchcase(target.lower(), p):
                return True
        elif any(fnmatch.fnmatchcase(n, p) for n in names):
            return True
    return False


def _baked(ctx: FleetView, patterns: list[str]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Return (scan id, Dockerfile path) -> the configuration files its final image holds, as
    (evidence text, path in the image or '')."""
    cp = ctx.data.dockerfile_copies
    cp = cp[cp["in_final_image"].fillna(False).to_numpy(dtype=bool)].sort_values(
        ["path", "line"], kind="stable")
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for sid, path, line, ins, src, frm, target in rows(
            cp, ["scan_id", "path", "line", "instruction", "source_path", "copy_from",
                 "target_path"]):
        tgt = text(target)
        if not _is_config(str(src), tgt, patterns):
            continue
        origin = f" --from={frm}" if text(frm) else ""
        shown = f"line {line} {ins}{origin} {src} -> {tgt or 'a path not resolved'}"
        out.setdefault((str(sid), str(path)), []).append((shown, tgt or ""))
    return out


def _mounts(ctx: FleetView) -> dict[str, list[str]]:
    """Return container id -> the destinations of its mounts."""
    m = ctx.data.container_mounts.dropna(subset=["container_id", "destination"])
    out: dict[str, list[str]] = {}
    for cid, dest in rows(m, ["container_id", "destination"]):
        out.setdefault(str(cid), []).append(str(dest))
    return out


def _written(ctx: FleetView, data_paths: list[str]) -> dict[str, list[str]]:
    """Return container id -> the paths under a data path it added or changed (`docker diff`)."""
    ch = ctx.data.container_changes
    ch = ch[ch["kind"].astype("string").isin(["added", "changed"]).fillna(False)
            .to_numpy(dtype=bool)]
    by_cid: dict[str, list[str]] = {}
    for cid, path in rows(ch, ["container_id", "path"]):
        if _under(str(path), data_paths):
            by_cid.setdefault(str(cid), []).append(str(path))
    return by_cid


def _data_writes(containers: list[tuple[str, str]], mounts: dict[str, list[str]],
                 by_cid: dict[str, list[str]]) -> list[str]:
    """Return `name:path` of what running containers wrote under a data path into their own
    layer (not under a mount): the deepest paths only."""
    out: list[str] = []
    for cid, name in containers:
        mine = mounts.get(cid, [])
        paths = sorted({p for p in by_cid.get(cid, []) if not _under(p, mine)})
        out += [f"{name}:{p}" for p in paths
                if not any(q.startswith(p.rstrip("/") + "/") for q in paths)]
    return out


def _config_outside(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    baked = _baked(ctx, list(params["config_patterns"]))
    mounts = _mounts(ctx)
    running: dict[str, list[tuple[str, str]]] = {}
    for i, cid, name in rows(ctx.running, ["image_id", "container_id", "name"]):
        running.setdefault(str(i), []).append((str(cid), str(name)))
    engines = bool(ctx.engine_hosts)
    written = _written(ctx, list(params["data_paths"]))
    out = []
    for image_id in ctx.image_ids:
        df = ctx.dockerfiles.get(image_id)
        runs = running.get(image_id, [])
        writes = _data_writes(runs, mounts, written) if runs else []
        data_part = (
            f"running containers write data into their own layer, not a volume: "
            f"{evidence_list(writes)} (declare a VOLUME or mount one)" if writes
            else f"{len(runs)} running container(s) write nothing under the data paths "
            "outside a volume" if runs else "")
        if df is None:
            if writes:
                out.append(Verdict(image_id, "warn", data_part + "; no Dockerfile known: "
                                   "whether configuration is baked in is unknown"))
            elif runs:
                out.append(Verdict(image_id, "no-data", "no Dockerfile known: whether "
                                   "configuration is baked in is unknown; " + data_part))
            continue
        where = f"Dockerfile {text(df.get('path'))}"
        recorded = df.get("copies_recorded")
        if pd.isna(recorded) or not recorded:
            # Stored by an auditlib that did not record its copies, or no FROM: unknown.
            out.append(Verdict(image_id, "warn" if writes else "no-data", (
                f"{where} was read without its COPY/ADD sources (an older auditlib, or no "
                "FROM): collect it again" + (f"; {data_part}" if data_part else ""))))
            continue
        files = baked.get((str(df["scan_id"]), str(df["path"])), [])
        exposed = [shown for shown, target in files
                   if not runs or not target
                   or any(_under(target, mounts.get(cid, [])) is None for cid, _ in runs)]
        if exposed:
            if runs:
                why = ("and not every running container of the image "
                       f"({evidence_list([n for _, n in runs])}) mounts over it")
            elif engines:
                why = "and no running container mounts over it"
            else:
                why = ("and whether a container mounts over it is unknown (no Docker Engine "
                       "collected)")
            evidence = (f"{where} bakes configuration into the image: "
                        f"{evidence_list(exposed)}, {why}")
            out.append(Verdict(image_id, "fail", evidence + (f"; {data_part}" if writes else "")))
            continue
        parts = ([f"{where} bakes configuration, but every running container mounts over it: "
                  f"{evidence_list([s for s, _ in files])}"] if files
                 else [f"{where} copies no configuration file into the image"])
        if data_part:
            parts.append(data_part)
        out.append(Verdict(image_id, "warn" if writes else "pass", "; ".join(parts)))
    return out


CONFIG_OUTSIDE_IMAGE = Rule(
    slug="config-outside-image",
    title="Configuration and data are kept out of the image",
    rationale="An image with its configuration baked in must be rebuilt for every environment "
    "and every change, and carries one environment's settings (and often secrets) wherever it "
    "is pulled; data written into a container's own layer is lost with the container.",
    severity="medium",
    points=4,
    evaluate=_config_outside,
    params=(
        Param("config_patterns", CONFIG_PATTERNS,
              "Names of configuration files (`fnmatch` patterns, any case, over the copied "
              "file's name; a pattern with a `/` matches its path in the image). A matching "
              "file a `COPY`/`ADD` puts in the final image fails unless every running "
              "container of the image mounts over it."),
        Param("data_paths", DATA_PATHS,
              "Folders that hold data: a running container that writes under one into its own "
              "layer (no volume or bind mount there) warns."),
    ),
    no_data="neither the Dockerfile that builds the image (`auditlib collect --dockerfile "
    "PATH=REF`) nor a running container of it is known",
    scout="None: Docker Scout has no policy on configuration or volumes.",
    others="None in hadolint or Trivy (Trivy's misconfiguration checks read the Dockerfile, "
    "not what is copied); the twelve-factor app's config factor: auditlib reads the Dockerfile's "
    "`COPY`/`ADD` of the final stage and the running containers' mounts and `diff`.",
    needs="dockerfile_copies, dockerfiles, containers, container_mounts, container_changes",
)

RULES = (CONFIG_OUTSIDE_IMAGE,)
"""The rule of this module."""
