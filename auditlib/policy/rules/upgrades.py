"""The `upgrade-at-build` rule: the team's own build upgrades the distribution's packages (or,
by the policy's stance, does not).

Whether the final stage upgrades is `dockerfiles.final_upgrades_packages` (the Dockerfile
collector); what a fixable row is, `auditlib.engine.aggregates.FIXABLE_ROW`; which images a
vulnerability scan covered, `FleetView.vuln_scanned`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from auditlib.engine.selections import upgrade_fixable
from auditlib.fleet.view import FleetView, text
from auditlib.policy.model import Param, Rule, Verdict
from auditlib.policy.rules._frames import SHOWN, evidence_list, rows

STANCES = ("upgrade", "pin")
"""`upgrade`: the final stage should upgrade the distribution's packages (the founding note);
`pin`: it should not (hadolint DL3005's former advice: pin versions, take fixes from the base)."""

OS_PACKAGE_TYPES = ["deb", "apk", "rpm", "alpm"]
"""The package types of a distribution's packages (`packages.package_type`)."""


def _fixable_os(ctx: FleetView, types: list[str]) -> dict[str, tuple[int, list[str]]]:
    """Return image id -> how many distinct fixable vulnerabilities of distribution packages it
    has, and the first `SHOWN` as `VULN in PACKAGE` (worst severity first): selected by the
    engine (`auditlib.engine.selections.UPGRADE_FIXABLE`)."""
    out: dict[str, tuple[int, list[str]]] = {}
    top = upgrade_fixable(ctx.aggregate_engine, types, SHOWN)
    for i, n, vuln, pkg in rows(top, ["image_id", "findings", "vuln_id", "pkg_name"]):
        out.setdefault(str(i), (int(n), []))[1].append(f"{vuln} in {pkg}")
    return out


def _upgrade(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    stance = params["stance"]
    found = _fixable_os(ctx, list(params["os_package_types"]))
    scanned = ctx.vuln_scanned
    out = []
    for image_id in ctx.image_ids:
        df = ctx.dockerfiles.get(image_id)
        upgrades = None if df is None else df.get("final_upgrades_packages")
        upgrades = None if upgrades is None or pd.isna(upgrades) else bool(upgrades)
        where = f"Dockerfile {text(df.get('path'))}" if df is not None else ""
        n_vulns, vulns = found.get(image_id, (0, []))
        if stance == "pin":
            if upgrades is None:
                continue
            out.append(Verdict(image_id, "fail", f"the final stage of {where} upgrades the "
                               "distribution's packages; the policy's stance is to pin "
                               "versions and take fixes from a rebuilt base") if upgrades
                       else Verdict(image_id, "pass", f"the final stage of {where} does not "
                                    "upgrade the distribution's packages"))
            continue
        if upgrades:
            out.append(Verdict(image_id, "pass", f"the final stage of {where} upgrades the "
                               "distribution's packages"))
        elif n_vulns:
            head = (f"the final stage of {where} does not upgrade the distribution's packages"
                    if upgrades is False else "no Dockerfile of the image is known")
            out.append(Verdict(image_id, "fail", f"{head}, and the image has "
                               f"{n_vulns} fixable vulnerabilit"
                               f"{'y' if n_vulns == 1 else 'ies'} of distribution packages "
                               f"an upgrade would fix: {evidence_list(vulns, n_vulns)}"))
        elif image_id in scanned:
            out.append(Verdict(image_id, "pass", "no fixable vulnerability of a distribution "
                               "package in the image's vulnerability scans" + (
                                   f" (the final stage of {where} does not upgrade)"
                                   if upgrades is False else "")))
        elif upgrades is False:
            out.append(Verdict(image_id, "warn", f"the final stage of {where} does not upgrade "
                               "the distribution's packages, and whether the image has fixable "
                               "vulnerabilities is unknown (no vulnerability scan)"))
    return out


UPGRADE_AT_BUILD = Rule(
    slug="upgrade-at-build",
    title="The build upgrades the distribution's packages",
    rationale="A base image is rebuilt on its maintainers' schedule, so fixes published since "
    "then reach an image only if its own build upgrades (`apt-get upgrade`, `apk upgrade`); "
    "teams differ because an upgrade makes builds less reproducible and images larger, which "
    "is why hadolint's DL3005 once advised against it, while the founding note recommends it "
    "for the security fixes: the policy's `stance` chooses.",
    severity="medium",
    points=4,
    evaluate=_upgrade,
    params=(
        Param("stance", "upgrade",
              "`upgrade`: pass a final stage that runs the distribution's upgrade, or an image "
              "with no fixable vulnerability of a distribution package; fail one that has some "
              "and does not upgrade; warn when no scan says. `pin`: fail a final stage that "
              "upgrades, pass one that does not (DL3005's former advice).", choices=STANCES),
        Param("os_package_types", OS_PACKAGE_TYPES,
              "Package types (`packages.package_type`) that are the distribution's packages."),
    ),
    no_data="neither the Dockerfile that builds the image nor a vulnerability scan of it is "
    "known (with `stance: pin`, the Dockerfile)",
    scout="None: Docker Scout's up-to-date-base-images policy checks the base, not an upgrade "
    "in the image's own build.",
    others="hadolint DL3005 advised against `apt-get upgrade` until 2021 (hadolint#596 kept "
    "only `dist-upgrade`; #677, in 2.7.0, removed DL3017/DL3031/DL3039 against `apk upgrade`, "
    "`yum update`, `dnf upgrade`, as Docker's documentation dropped the advice); Trivy DS-0024 "
    "still flags `apt-get dist-upgrade`. auditlib follows the founding note by default and "
    "offers the former advice as `stance: pin`.",
    needs="dockerfiles.final_upgrades_packages, vulnerabilities (fix state, package type), scans",
)

RULES = (UPGRADE_AT_BUILD,)
"""The rule of this module."""
