"""What a policy rule is, and what it says about an image.

A `Rule` is declared once (slug, title, one-sentence rationale, severity, points, parameters with
defaults, and the closest check of Docker Scout, hadolint and Trivy); `docs/policy.md` and the
default policy are generated from the declarations. A rule's `evaluate` reads the `FleetView` (the
tables, one row per image, the as-of time) and its parameters, and returns one `Verdict` per image
it can judge; an image it says nothing about gets `no-data`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from auditlib.fleet.view import FleetView

Status = Literal["pass", "fail", "warn", "waived", "no-data"]
STATUSES: tuple[Status, ...] = ("fail", "warn", "no-data", "waived", "pass")
"""Every status, worst first."""

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter of a rule, settable in the policy file."""

    name: str
    default: Any
    meaning: str
    choices: tuple[Any, ...] = ()
    """The values allowed, when only some are (empty: any value of the default's type)."""

    @property
    def kind(self) -> type:
        """Return the Python type a value must have (that of the default; int also for float)."""
        return type(self.default)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a rule says about one image."""

    image_id: str
    status: Status
    evidence: str
    """Why, in words, with the facts (tags, dates, paths, counts) that decided it."""


Evaluate = Callable[["FleetView", Mapping[str, Any]], list[Verdict]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One practice, checked for every image."""

    slug: str
    """Stable id (`no-latest-tag`): policy files, waivers and results name rules by it."""
    title: str
    rationale: str
    """Why the practice matters, in one sentence."""
    severity: Severity
    """How bad a failure is (the policy file may change it)."""
    points: int
    """Weight in the image's score (Docker Scout's health score is the model)."""
    evaluate: Evaluate
    params: tuple[Param, ...] = ()
    no_data: str = "no source gave the data this rule needs"
    """The evidence of `no-data` for an image the rule gave no verdict on."""
    scout: str = ""
    """The closest Docker Scout policy, and how auditlib's meaning differs."""
    others: str = ""
    """The closest hadolint or Trivy check, and how auditlib's meaning differs."""
    needs: str = ""
    """The tables (and sources) the rule reads, for the reference."""

    def defaults(self) -> dict[str, Any]:
        """Return the parameters' defaults by name."""
        return {p.name: p.default for p in self.params}


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """A rule as a policy configures it."""

    rule: Rule
    enabled: bool
    severity: Severity
    params: Mapping[str, Any] = field(default_factory=dict)
