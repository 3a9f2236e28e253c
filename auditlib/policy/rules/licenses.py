"""The licence rule: package licences against deny and warn lists, by class and by SPDX id."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import pandas as pd

from auditlib.engine.aggregates import licences, licences_checked, licences_flagged
from auditlib.fleet.view import FleetView, text
from auditlib.normalize.licenses import LICENSE_CLASSES, _licensing, classify_license
from auditlib.policy.model import Param, Rule, Verdict
from auditlib.policy.rules._frames import LEVELS, SHOWN, evidence_list, rows

_TOKENS = re.compile(r"[\s()]+")
_RANK = {c: i for i, c in enumerate(LICENSE_CLASSES)}  # AND takes the highest, OR the lowest


@lru_cache(maxsize=4096)
def license_ids(expression: str) -> tuple[str, ...]:
    """Return the licence ids of an SPDX expression, exceptions and operators left out
    (`MIT OR GPL-2.0-only WITH Classpath-exception-2.0` -> MIT, GPL-2.0-only)."""
    toks = [t for t in _TOKENS.split(expression) if t]
    return tuple(t for n, t in enumerate(toks) if t.upper() not in ("AND", "OR", "WITH")
                 and (n == 0 or toks[n - 1].upper() != "WITH"))


def _id_set(ids: Any) -> frozenset[str]:
    """Return listed ids, lower case, as written and as SPDX spells them (`GPL-2.0` is
    `GPL-2.0-only`)."""
    return frozenset(x.lower() for i in ids for x in (str(i), classify_license(str(i)).spdx) if x)


@lru_cache(maxsize=4096)
def _class_allowing(expression: str, allowed: frozenset[str]) -> str:
    """Return the class of `expression` with the `allowed` ids taken as permissive."""
    def walk(node: Any) -> str:
        if getattr(node, "args", None):
            pick = max if "AND" in type(node).__name__.upper() else min
            return str(pick((walk(a) for a in node.args), key=lambda c: _RANK.get(c, 0)))
        key = str(getattr(getattr(node, "license_symbol", node), "key", node))
        return "permissive" if key.lower() in allowed else classify_license(key).license_class

    try:
        return walk(_licensing().parse(expression, validate=False, simple=False))
    except Exception:  # noqa: BLE001 - license-expression raises plain errors too
        return classify_license(expression).license_class


def _judge(license_: str | None, spdx: str | None, cls: str | None,
           params: Mapping[str, Any]) -> tuple[int, str]:
    """Return (0 pass, 1 warn, 2 fail) and why, for one licence as the tables give it."""
    ids = license_ids(spdx) if spdx else ((license_,) if license_ else ())
    keys = {i.lower() for i in ids}
    if keys & _id_set(params["deny_licenses"]):
        return 2, "denied licence"
    if keys & _id_set(params["warn_licenses"]):
        return 1, "licence to review"
    allowed = _id_set(params["allow_licenses"])
    if keys & allowed:
        cls = _class_allowing(spdx, allowed) if spdx else "permissive"
    cls = cls or "unknown"
    if cls in params["deny_classes"]:
        return 2, cls
    if cls in params["warn_classes"]:
        return 1, cls
    if cls == "unknown" or (cls == "other" and not spdx):
        level = {"pass": 0, "warn": 1, "fail": 2}.get(str(params["unknown"]))
        if level is None:
            raise ValueError(f"license-policy.unknown: {params['unknown']!r} is not warn, fail "
                             "or pass")
        return level, "unknown licence"
    return 0, cls


def _license_policy(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    engine = ctx.aggregate_engine
    # Judge each distinct licence once; the engine finds the packages of those it flags.
    lic = licences(engine)
    judged = [_judge(text(a), text(b), text(c), params) for a, b, c in zip(
        lic["license"], lic["license_spdx"], lic["license_class"], strict=True)]
    flagged = lic.assign(level=[lv for lv, _ in judged], why=[w for _, w in judged])
    flagged = flagged[flagged["level"] > 0]
    top = licences_flagged(engine, flagged, SHOWN)
    count: dict[tuple[str, int], int] = {}
    found: dict[tuple[str, int], list[str]] = {}
    for i, lv, n, name, ver, spdx, lic_, w in rows(top, [
            "image_id", "level", "packages", "package_name", "package_version", "license_spdx",
            "license", "why"]):
        count[(i, lv)] = n
        shown = spdx if pd.notna(spdx) else lic_ if pd.notna(lic_) else "no licence declared"
        version = f" {ver}" if pd.notna(ver) else ""
        found.setdefault((i, lv), []).append(f"{name}{version} ({shown}: {w})")
    checked = licences_checked(engine)
    out = []
    for i, pkgs, lics in rows(checked.reset_index(), ["image_id", "packages", "licences"]):
        parts = [f"{count[(i, lv)]} package(s) {what}: "
                 f"{evidence_list(found[(i, lv)], count[(i, lv)])}"
                 for lv, what in ((2, "with a denied licence"), (1, "with a licence to review"))
                 if (i, lv) in count]
        status = LEVELS[2 if (i, 2) in count else 1 if (i, 1) in count else 0]
        if status == "pass":
            parts = [f"{pkgs} package(s) and {lics} distinct licence(s) "
                     "checked: none denied or to review"]
        out.append(Verdict(i, status, "; ".join(parts)))
    return out


LICENSE_POLICY = Rule(
    slug="license-policy",
    title="Package licences are allowed",
    rationale="A package under a licence the team may not ship (network copyleft in a hosted "
    "service, say) is a legal risk that grows with every image built on it.",
    severity="medium",
    points=5,
    evaluate=_license_policy,
    params=(
        Param("deny_classes", ["network-copyleft"],
              "Licence classes that fail (permissive, weak-copyleft, strong-copyleft, "
              "network-copyleft, other, unknown)."),
        Param("warn_classes", [], "Licence classes that warn (distribution packages are mostly "
              "GPL: add `strong-copyleft` to review it anyway)."),
        Param("deny_licenses", [], "SPDX ids that fail; an expression matches when any id in "
              "it is listed (`MIT OR AGPL-3.0-only` matches `AGPL-3.0-only`)."),
        Param("warn_licenses", [], "SPDX ids that warn, matched the same way."),
        Param("allow_licenses", [], "SPDX ids allowed whatever their class (the rest of an "
              "expression still counts); deny_licenses and warn_licenses still apply."),
        Param("unknown", "warn", "What an unknown licence gives (none declared, NOASSERTION, or "
              "text that is no SPDX id and no known licence): warn, fail or pass."),
    ),
    no_data="no package data for the image: make an SBOM (Syft, Trivy `--list-all-pkgs`, "
    "CycloneDX or SPDX) or scan it with `auditlib scan`",
    scout="No copyleft licenses (`copyleft-license`): fails on a fixed list of ids (AGPL, GPL, "
    "LGPL, MPL...); auditlib works by licence class as well as by SPDX id, has a warn level, "
    "lets allowed ids override classes, reads SPDX expressions (OR takes the least strict), and "
    "warns on unknown licences instead of passing them.",
    others="Trivy licence scanning (forbidden/restricted/reciprocal categories, "
    "`--ignored-licenses`) and Dependency-Track LICENSE / LICENSE_GROUP conditions: the same "
    "deny and warn lists; auditlib merges the licences of every SBOM and report of the image.",
    needs="package_licenses (license, license_spdx, license_class), packages (packages with no "
    "licence)",
)

RULES = (LICENSE_POLICY,)
