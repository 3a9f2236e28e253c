"""`docs/policy.md`, generated from the rule declarations:

    python -m auditlib.policy.docs > docs/policy.md
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from auditlib.policy.evaluate import EARNED, GRADES, MIN_JUDGED_SHARE, UNGRADED
from auditlib.policy.model import Rule
from auditlib.policy.rules import RULES


def _value(v: object) -> str:
    return f"`{json.dumps(v)}`"


def policy_reference(rules: Sequence[Rule]) -> str:
    """Return the policy reference as Markdown."""
    total = sum(r.points for r in rules)
    lines = [
        "# auditlib policy reference",
        "",
        "Generated from the rule declarations in `auditlib/policy/rules/` by",
        "`python -m auditlib.policy.docs > docs/policy.md`; do not edit.",
        "",
        "`auditlib check --store DIR [--policy FILE] [--fail-on fail|warn|never] "
        "[--format table|json|junit]` evaluates every rule on every image of the store's current",
        "state. Each (image, rule) gets one status:",
        "",
        "| status | meaning | share of the rule's points |",
        "|---|---|---|",
        f"| `pass` | the image follows the practice | {EARNED['pass']:g} |",
        f"| `warn` | it is close to breaking it, or breaks a recommendation | {EARNED['warn']:g} |",
        f"| `fail` | it breaks it | {EARNED['fail']:g} |",
        f"| `waived` | it breaks it, and a waiver in the policy file accepts that until its "
        f"expiry | {EARNED['waived']:g} |",
        "| `no-data` | no source gave what the rule needs; never counted as a pass, nor as a "
        "failure: left out of the score | - |",
        "",
        "## Score and grade",
        "",
        "As Docker Scout's health score: each rule is worth its points; an image's score is the "
        "points it earned as a",
        "percentage of the points of the rules that could judge it (`no-data` results are "
        "unknown, left out), and its grade is "
        + ", ".join(f"{g} (> {f})" for f, g in GRADES) + ", else F.",
        f"An image less than {MIN_JUDGED_SHARE:.0%} of the points could judge is graded "
        f"`{UNGRADED}` (too little data), as Docker Scout gives N/A to images it cannot grade; "
        "`judged_share` says how much of the policy each score rests on. An image nobody "
        "scanned still fails `scan-coverage`.",
        f"The default rules are worth {total} points in all.",
        "",
        "| rule | severity | points |",
        "|---|---|---|",
        *[f"| [`{r.slug}`](#{r.slug}) | {r.severity} | {r.points} |" for r in rules],
        "",
        "## The policy file",
        "",
        "YAML; every key is optional. An unknown rule, key or parameter, or a value of the wrong "
        "type, is an error that",
        "lists what is valid. `auditlib check --print-default-policy` prints the whole default "
        "policy to start from.",
        "",
        "```yaml",
        "rules:",
        "  recent-rebuild:",
        "    warn_days: 14            # a parameter of the rule",
        "    severity: high           # critical, high, medium or low",
        "  minimal-image:",
        "    enabled: false",
        "waivers:",
        "  - rule: fixable-vulns-sla            # a slug, or \"*\" for every rule",
        "    image: \"docker.io/team/legacy:*\"   # a pattern over its references or id",
        "    reason: vendor image, replaced in Q1",
        "    expires: 2027-01-31                # after this date the waiver no longer applies",
        "```",
        "",
        "A waiver turns `fail` and `warn` results of matching images into `waived`, with its "
        "reason in the evidence.",
        "An expired waiver stops applying: the result keeps its status, the evidence and the "
        "report say the waiver expired.",
        "",
        "Image patterns (waivers, `trusted-registry`, `derived-image`) follow Docker Scout's "
        "approved-base-images globs:",
        "`*` matches any run of characters (`/` and `:` included), the rest matches itself, and "
        "the whole normalised",
        "reference must match (`docker.io/library/*`, `docker.io/library/node:*-slim`, "
        "`registry.example.com/*`);",
        "a pattern without a registry is normalised like a reference (`node:*` is "
        "`docker.io/library/node:*`).",
        "",
        "## Closest checks elsewhere",
        "",
        "| rule | Docker Scout | hadolint, Trivy and others |",
        "|---|---|---|",
        *[f"| `{r.slug}` | {r.scout or '-'} | {r.others or '-'} |" for r in rules],
        "",
        "## Rules",
        "",
    ]
    for r in rules:
        lines += [
            f"### {r.slug}",
            "",
            f"**{r.title}.** {r.rationale}",
            "",
            f"Severity {r.severity}, {r.points} points. Reads: {r.needs or '-'}.",
            f"No data when: {r.no_data}.",
            "",
        ]
        if r.params:
            lines += ["| parameter | default | meaning |", "|---|---|---|"]
            lines += [f"| `{p.name}` | {_value(p.default)} | {p.meaning} |" for p in r.params]
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover

    print(policy_reference(RULES), end="")
