"""Every rule of the default policy, in the order reports list them."""

from __future__ import annotations

from auditlib.policy.model import Rule
from auditlib.policy.rules import (
    config_files,
    contents,
    freshness,
    licenses,
    runtime,
    supply_chain,
    tags,
    upgrades,
    vulns,
)

RULES: tuple[Rule, ...] = (
    *tags.RULES,        # no-latest-tag, pinned-base-image, trusted-registry
    *freshness.RULES,   # recent-rebuild, base-image-current, scan-coverage, supported-os
    *vulns.RULES,       # fixable-vulns-sla
    *runtime.RULES,     # non-root-user, no-config-drift, derived-image, rollback-ready
    *licenses.RULES,    # license-policy
    *contents.RULES,    # no-baked-secrets, minimal-image, oci-labels
    *supply_chain.RULES,  # signed-and-attested
    *config_files.RULES,  # config-outside-image
    *upgrades.RULES,    # upgrade-at-build
)
"""The rules, by theme."""

RULES_BY_SLUG: dict[str, Rule] = {r.slug: r for r in RULES}
