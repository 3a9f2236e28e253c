"""Rules about what is inside an image: baked-in secrets, size, and labels."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import pandas as pd

from auditlib.fleet.view import FleetView
from auditlib.policy.model import Param, Rule, Verdict
from auditlib.policy.rules._frames import (
    LEVELS,
    distinct_per_image,
    evidence_list,
    ids,
    rows,
)


def _reason(reason: str) -> str:
    kind, _, what = reason.partition(":")
    return {"name": "secret-like name", "value": f"value shaped like {what}"}.get(kind, reason)


def _by_image(df: pd.DataFrame, cols: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Return image id -> its distinct `cols` tuples, in order (for small tables)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for row in df[["image_id", *cols]].drop_duplicates().itertuples(index=False):
        out.setdefault(str(row[0]), []).append(tuple(row[1:]))
    return out


def _secrets(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    env = ctx.data.image_env.dropna(subset=["image_id"])
    n_env = distinct_per_image(env, ["name"])
    bad_env = _by_image(env[env["looks_secret"].fillna(False).to_numpy()],
                        ["name", "secret_reason"])
    images, scans = ctx.data.images, ctx.data.scans
    env_known = set(n_env) | ids(images.loc[images["host"].notna(), "image_id"])
    scanned = ids(scans.loc[(scans["format"] == "trivy-json").fillna(False), "image_id"])
    found = _by_image(ctx.data.secrets.dropna(subset=["image_id"]),
                      ["rule_id", "file_path", "start_line"])
    dsn = ctx.data.dockerfile_secret_names.sort_values(["path", "line"], kind="stable")
    declared: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for sid, path, ins, name, line in rows(dsn, ["scan_id", "path", "instruction", "name",
                                                  "line"]):
        what = (2, "ENV", "a secret-like variable set in the image") if str(ins).upper() == "ENV" \
            else (1, "ARG", "a build argument: its value stays in the build history; use "
                  "`RUN --mount=type=secret`")
        declared.setdefault((str(sid), str(path)), []).append(
            (what[0], f"Dockerfile {path} line {line}: {what[1]} {name} ({what[2]})"))
    out = []
    for i in ctx.image_ids:
        df = ctx.dockerfiles.get(i)
        lines = declared.get((str(df["scan_id"]), str(df["path"])), []) if df is not None else []
        parts = [(2, "secret-like environment variable(s) in the image config: " + evidence_list(
            [f"{n} ({_reason(str(r))})" for n, r in bad_env[i]]))] if i in bad_env else []
        if i in found:
            rules = Counter(str(rule) for rule, _, _ in found[i])
            paths = list(dict.fromkeys(str(f) for _, f, _ in found[i] if pd.notna(f)))
            parts.append((2, f"{len(found[i])} secret(s) found by a scanner ("
                          + ", ".join(f"{r} {n}" for r, n in sorted(rules.items()))
                          + (f") in {evidence_list(paths)}" if paths else ")")))
        parts += sorted(lines, key=lambda p: -p[0])
        if parts:
            out.append(Verdict(i, LEVELS[max(lv for lv, _ in parts)],
                               "; ".join(t for _, t in parts)))
        elif i in env_known or i in scanned:
            checked = [f"none of the {n_env.get(i, 0)} environment variable(s) of the image "
                       "config looks like a secret"] if i in env_known else []
            if i in scanned:
                checked.append("the Trivy scan (secret scanning is on by default) found none")
            out.append(Verdict(i, "pass", "; ".join(checked)))
    return out


NO_BAKED_SECRETS = Rule(
    slug="no-baked-secrets",
    title="No secrets baked into the image",
    rationale="Anyone who can pull an image can read every variable and file in it, for as long "
    "as the image exists: a secret in it is a leaked secret.",
    severity="critical",
    points=20,
    evaluate=_secrets,
    no_data="neither the image config nor a secret scan is known: collect the image (engine, "
    "registry or archive) or scan it with Trivy (`auditlib scan`)",
    scout="None: Docker Scout has no secrets policy.",
    others="Trivy secret scanning (files; the image config with `--image-config-scanners "
    "secret`) and Trivy DS-0031 (secret-like ENV/ARG in the Dockerfile): auditlib combines "
    "them with the secret-like variables of the collected image config; ENV fails, ARG warns, "
    "and values are never read into the evidence.",
    needs="image_env (names and verdicts only), secrets, dockerfile_secret_names, dockerfiles, "
    "images.host, scans.format",
)


# -- minimal-image ---------------------------------------------------------------------------


def _budget(value: float, unit: str, warn: float, fail: float) -> tuple[int, str]:
    shown = f"{value:,.0f} {unit}"
    if value > fail:
        return 2, f"{shown}, over the failure budget of {fail:,} {unit}"
    if value > warn:
        return 1, f"{shown}, over the warning budget of {warn:,} (fail above {fail:,})"
    return 0, f"{shown}, within the budget of {warn:,} {unit}"


def _minimal(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    sizes = ctx.images["size_bytes"]
    counts = {str(i): int(n) for i, n in ctx.package_counts["packages"].items()}
    out = []
    for i in ctx.image_ids:
        size, n = sizes.get(i), counts.get(i)
        size = float(size) if size is not None and pd.notna(size) else None
        if size is None and n is None:
            continue
        judged = [
            _budget(size / 1e6, "MB", params["warn_size_mb"], params["fail_size_mb"])
            if size is not None else (0, "size unknown"),
            _budget(n, "packages", params["warn_packages"], params["fail_packages"])
            if n is not None else (0, "package count unknown (no SBOM)"),
        ]
        level = max(lv for lv, _ in judged)
        out.append(Verdict(i, LEVELS[level], "; ".join(why for _, why in judged)))
    return out


MINIMAL_IMAGE = Rule(
    slug="minimal-image",
    title="The image stays within its size and package budgets",
    rationale="Every package is attack surface and patching work, and every megabyte is pull "
    "time: an image should hold what the application needs and no more.",
    severity="low",
    points=3,
    evaluate=_minimal,
    params=(
        Param("warn_size_mb", 500, "Warn above this size (MB of 1,000,000 bytes, as the source "
              "reports it)."),
        Param("fail_size_mb", 1000, "Fail above this size (MB)."),
        Param("warn_packages", 500, "Warn above this many packages (distinct name, version "
              "and type over the image's SBOMs and scans)."),
        Param("fail_packages", 1000, "Fail above this many packages."),
    ),
    no_data="neither the image's size nor its packages are known: collect the image or make an "
    "SBOM of it",
    scout="None as a policy (the health score gives no grade to images over 4 GB compressed).",
    others="None in hadolint or Trivy; dive and Dockle point at wasted space: auditlib sets "
    "budgets on size and package count.",
    needs="images.size_bytes, packages",
)


# -- oci-labels ------------------------------------------------------------------------------


def _oci_labels(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    images = ctx.data.images
    known = (ids(ctx.data.image_labels["image_id"])
             | ids(images.loc[images["host"].notna(), "image_id"]))
    out = []
    for i in ctx.image_ids:
        if i not in known:
            continue
        labels = ctx.labels.get(i, {})
        missing = {k: [x for x in params[k] if not labels.get(x, "").strip()]
                   for k in ("required", "recommended")}
        parts = [f"missing {k} label(s): {', '.join(v)}" for k, v in missing.items() if v]
        wanted = [*params["required"], *params["recommended"]]
        status = LEVELS[2 if missing["required"] else 1 if missing["recommended"] else 0]
        out.append(Verdict(i, status, "; ".join(parts) or (
            f"has every label asked for: {', '.join(wanted)}" if wanted
            else "no label is asked for")))
    return out


OCI_LABELS = Rule(
    slug="oci-labels",
    title="The image says where it comes from (OCI labels)",
    rationale="Source, revision, build time and base labels let anyone trace a running image "
    "back to the commit and the base it was built from, without guessing.",
    severity="low",
    points=2,
    evaluate=_oci_labels,
    params=(
        Param("required", ["org.opencontainers.image.source",
                           "org.opencontainers.image.revision"],
              "Labels whose absence (or empty value) fails."),
        Param("recommended", ["org.opencontainers.image.created",
                              "org.opencontainers.image.base.name"],
              "Labels whose absence (or empty value) warns."),
    ),
    no_data="the image's labels are unknown: collect it (engine, registry or archive) or scan "
    "it with a tool that reports its config (Trivy)",
    scout="None as a policy; Scout links SonarQube results through "
    "`org.opencontainers.image.revision` and finds bases through provenance attestations.",
    others="hadolint DL3049 (missing label, with `label-schema` and `strict-labels`): the "
    "Dockerfile only; auditlib reads the built image's labels, inherited ones included.",
    needs="image_labels, images.host",
)

RULES = (NO_BAKED_SECRETS, MINIMAL_IMAGE, OCI_LABELS)
"""The content rules, in the order reports list them."""
