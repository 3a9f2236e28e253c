"""The policy file: which rules run, with which severities and parameters, and the waivers.

```yaml
rules:
  recent-rebuild:
    warn_days: 14          # a parameter
    severity: high         # the rule's severity
  minimal-image:
    enabled: false
waivers:
  - rule: fixable-vulns-sla          # a slug, or "*" for every rule
    image: "docker.io/team/legacy:*" # Scout-style pattern over the image's references (or its id)
    reason: "vendor image, replaced in Q1"
    expires: 2027-01-31
```

Unknown rules, keys and parameters, and values of the wrong type, are errors that list what is
valid: a typo never silently turns a check off.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from auditlib.errors import AuditlibError
from auditlib.policy.model import SEVERITIES, Rule, RuleConfig, Severity
from auditlib.policy.rules import RULES


class PolicyError(AuditlibError):
    """The policy file is not valid; the message names the file, the place and what is valid."""


@dataclass(frozen=True, slots=True)
class Waiver:
    """An accepted failure: a rule, the images it covers, why, and until when."""

    rule: str
    image: str
    reason: str
    expires: dt.date | None


@dataclass(frozen=True, slots=True)
class Policy:
    """Every rule as configured, and the waivers."""

    rules: tuple[RuleConfig, ...]
    waivers: tuple[Waiver, ...] = ()
    source: str = "default policy"
    notify: Mapping[str, Any] = field(default_factory=dict)
    """The `notify` section as written (`auditlib.notify.notify_settings` reads it)."""

    def enabled(self) -> list[RuleConfig]:
        """Return the rules that run."""
        return [r for r in self.rules if r.enabled]


_RULE_KEYS = ("enabled", "severity")
_WAIVER_KEYS = ("rule", "image", "reason", "expires")


def _type_ok(value: Any, default: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, list):
        return isinstance(value, list)
    if isinstance(default, dict):
        return isinstance(value, dict)
    return isinstance(value, type(default))


def _type_name(default: Any) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", list: "a list",
            dict: "a mapping", str: "text"}.get(type(default), type(default).__name__)


def _rule_config(rule: Rule, raw: Any, where: str) -> RuleConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping of settings, got {type(raw).__name__}")
    params = rule.defaults()
    valid = [*_RULE_KEYS, *params]
    for key, value in raw.items():
        if key not in valid:
            raise PolicyError(
                f"{where}: unknown key {key!r}; valid keys are {', '.join(valid)}"
            )
        if key in params and not _type_ok(value, params[key]):
            raise PolicyError(
                f"{where}.{key}: expected {_type_name(params[key])}, got {value!r}"
            )
        choices = next((p.choices for p in rule.params if p.name == key), ())
        if choices and value not in choices:
            raise PolicyError(
                f"{where}.{key}: {value!r} is not one of {', '.join(map(str, choices))}"
            )
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise PolicyError(f"{where}.enabled: expected true or false, got {enabled!r}")
    severity = raw.get("severity", rule.severity)
    if severity not in SEVERITIES:
        raise PolicyError(
            f"{where}.severity: {severity!r} is not one of {', '.join(SEVERITIES)}"
        )
    merged = {**params, **{k: v for k, v in raw.items() if k in params}}
    return RuleConfig(rule, enabled, cast(Severity, severity), merged)


def _waiver(raw: Any, where: str, slugs: Sequence[str]) -> Waiver:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping with {', '.join(_WAIVER_KEYS)}")
    for key in raw:
        if key not in _WAIVER_KEYS:
            raise PolicyError(
                f"{where}: unknown key {key!r}; valid keys are {', '.join(_WAIVER_KEYS)}"
            )
    for key in ("rule", "image", "reason"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise PolicyError(f"{where}.{key}: required, as text")
    if raw["rule"] != "*" and raw["rule"] not in slugs:
        raise PolicyError(
            f"{where}.rule: unknown rule {raw['rule']!r}; rules are {', '.join(slugs)} (or *)"
        )
    expires = raw.get("expires")
    if isinstance(expires, dt.datetime):
        expires = expires.date()
    elif isinstance(expires, str):
        try:
            expires = dt.date.fromisoformat(expires)
        except ValueError:
            raise PolicyError(f"{where}.expires: {expires!r} is not a date (YYYY-MM-DD)") from None
    elif expires is not None and not isinstance(expires, dt.date):
        raise PolicyError(f"{where}.expires: expected a date (YYYY-MM-DD), got {expires!r}")
    return Waiver(raw["rule"], raw["image"].strip(), raw["reason"].strip(), expires)


def build_policy(raw: Mapping[str, Any] | None, rules: Sequence[Rule], source: str) -> Policy:
    """Return the policy a decoded policy document describes (None: every rule, defaults).

    Raises:
        PolicyError: naming `source`, the place and what is valid, for anything unknown or
            of the wrong type.
    """
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{source}: expected a mapping with `rules` and `waivers`")
    for key in raw:
        if key not in ("rules", "waivers", "notify"):
            raise PolicyError(f"{source}: unknown key {key!r}; valid keys are rules, waivers, "
                              "notify")
    by_slug = {r.slug: r for r in rules}
    given = raw.get("rules") or {}
    if not isinstance(given, Mapping):
        raise PolicyError(f"{source}: rules: expected a mapping of rule slug to settings")
    for slug in given:
        if slug not in by_slug:
            raise PolicyError(
                f"{source}: rules: unknown rule {slug!r}; rules are {', '.join(by_slug)}"
            )
    configs = tuple(
        _rule_config(r, given.get(r.slug), f"{source}: rules.{r.slug}") for r in rules
    )
    waivers_raw = raw.get("waivers") or []
    if not isinstance(waivers_raw, list):
        raise PolicyError(f"{source}: waivers: expected a list")
    waivers = tuple(
        _waiver(w, f"{source}: waivers[{i}]", list(by_slug)) for i, w in enumerate(waivers_raw)
    )
    notify = raw.get("notify") or {}
    if not isinstance(notify, Mapping):
        raise PolicyError(f"{source}: notify: expected a mapping (docs/notify.md)")
    return Policy(configs, waivers, source, dict(notify))


def load_policy(path: str | os.PathLike[str] | None, rules: Sequence[Rule] | None = None) -> Policy:
    """Read a policy file (None: the default policy: every rule with its defaults).

    Raises:
        PolicyError: when the file cannot be read, is not YAML, or is not a valid policy.
    """
    if rules is None:

        rules = RULES
    if path is None:
        return build_policy(None, rules, "default policy")
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise PolicyError(f"{source}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{source}: not UTF-8 text") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise PolicyError(f"{source}: not valid YAML: {str(e).splitlines()[0]}") from None
    return build_policy(raw, rules, source)


def default_policy_yaml(rules: Sequence[Rule]) -> str:
    """Return the default policy as a YAML file a user can copy and edit."""
    lines = [
        "# auditlib default policy: every rule, with its default severity and parameters.",
        "# Generated from the rule declarations (auditlib/policy/rules); see docs/policy.md.",
        "rules:",
    ]
    for r in rules:
        lines.append(f"  {r.slug}:  # {r.title}")
        lines.append("    enabled: true")
        lines.append(f"    severity: {r.severity}")
        for p in r.params:
            value = yaml.safe_dump(p.default, default_flow_style=True).strip()
            value = value.removesuffix("\n...").strip()
            lines.append(f"    {p.name}: {value}  # {p.meaning}")
    lines += [
        "waivers: []",
        "# - rule: fixable-vulns-sla",
        "#   image: \"docker.io/team/legacy:*\"",
        "#   reason: vendor image, replaced in Q1",
        "#   expires: 2027-01-31",
        "",
    ]
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class WaiverUse:
    """How a waiver applied in one evaluation."""

    waiver: Waiver
    expired: bool
    applied_to: list[tuple[str, str]] = field(default_factory=list)
    """(image id, rule slug) results it turned into `waived`, or would have, had it not expired."""
