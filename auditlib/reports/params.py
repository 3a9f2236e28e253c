"""Report parameters: what a notebook's `parameters` cell may hold, typed and checked here.

papermill injects parameters as Python literals, and Airflow's PapermillOperator (or `papermill
-p`) often gives every one as a string; YAML loaders in papermill drop the timestamp resolver, so
dates always arrive as strings (anchors.md section 8.1). Notebooks therefore hand their raw
parameters to `ReportParams.from_values`, which turns `"2026-01-31"` into a UTC timestamp,
`"20"` into 20 and `"true"` into True, and says clearly what is wrong otherwise. No notebook
parses anything itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from auditlib.errors import ParameterError
from auditlib.normalize.severity import SEVERITIES
from auditlib.normalize.times import parse_time
from auditlib.store.layout import default_store

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
_NONE = {"", "none", "null", "~"}


def is_none(value: Any) -> bool:
    """Return whether `value` means "not given": None, or a string such as `""`, `None`, `null`."""
    return value is None or (isinstance(value, str) and value.strip().lower() in _NONE)


def parse_bool(value: Any, name: str) -> bool:
    """Return `value` as a bool (`true`/`false`, `yes`/`no`, `1`/`0` as strings too).

    Raises:
        ParameterError: if it is not one of those.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ParameterError(f"{name}: {value!r} is not true or false")


def parse_int(value: Any, name: str, *, minimum: int = 0) -> int:
    """Return `value` as an int of at least `minimum` (`"20"` is 20).

    Raises:
        ParameterError: if it is not a whole number, or is below `minimum`.
    """
    if isinstance(value, bool):
        raise ParameterError(f"{name}: {value!r} is not a whole number")
    try:
        n = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ParameterError(f"{name}: {value!r} is not a whole number") from None
    if n < minimum:
        raise ParameterError(f"{name}: {n} is less than {minimum}")
    return n


def parse_severity(value: Any, name: str = "severity_threshold") -> str:
    """Return `value` as a severity of the auditlib scale, lower case.

    Raises:
        ParameterError: if it is not one of unknown, negligible, low, medium, high, critical.
    """
    text = str(value).strip().lower()
    if text not in SEVERITIES:
        raise ParameterError(f"{name}: {value!r} is not a severity; use one of "
                             f"{', '.join(SEVERITIES)}")
    return text


def parse_synthetic(value: Any) -> bool | None:
    """Return the `synthetic` parameter: None for `auto` (tell from the data), True to always
    say the data is synthetic. False is accepted but never hides the banner of data that is
    detected as synthetic (demo data must always say so).

    Raises:
        ParameterError: if the value is not auto, true or false.
    """
    if is_none(value) or str(value).strip().lower() == "auto":
        return None
    return parse_bool(value, "synthetic")


HIDDEN = frozenset({"assessment"})
"""Parameters a page's header does not show: how it was made, not what it says."""


@dataclass(frozen=True, slots=True)
class ReportParams:
    """Every parameter a report notebook may take, typed. Each notebook uses some of them."""

    store: str = field(default_factory=lambda: str(default_store()))
    """The store folder (`auditlib ingest/collect/scan --store`)."""
    policy: str | None = None
    """A YAML policy file; None: the default policy (docs/policy.md)."""
    as_of: pd.Timestamp | None = None
    """Measure ages, SLAs and waiver expiries at this time (UTC); None: now."""
    image_filter: str | None = None
    """Only images with a reference (or id) matching this pattern (`docker.io/team/*`, Docker
    Scout's globs); None: every image."""
    severity_threshold: str = "low"
    """The lowest vulnerability severity charted and listed."""
    top_n: int = 20
    """How many images the lists of worst images and rebuild priorities show."""
    matrix_rows: int = 60
    """How many images (the worst first) the image x rule heatmap shows."""
    history: bool = True
    """Whether the staleness report draws the trends over the store's snapshots."""
    title: str | None = None
    """The page title; None: the report's own."""
    synthetic: bool | None = None
    """None: say SYNTHETIC when the data is the demo fleet's; True: always say it."""
    assessment: str | None = None
    """A run's saved assessment (`auditlib.assess.saved`; `auditlib run` and `auditlib report`
    pass it): read back when it is the assessment of this store, time, policy and filter, else
    the store is assessed anew; None: assess the store. How the page is made, not what it says:
    never shown in its header."""

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> ReportParams:
        """Return the parameters parsed from raw values (Python values or strings).

        Raises:
            ParameterError: on an unknown name or a value that cannot be used.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ParameterError(f"{', '.join(unknown)}: no such report parameter; parameters "
                                 f"are {', '.join(sorted(known))}")
        v = dict(values)
        out: dict[str, Any] = {}
        if "store" in v:  # None: the default store, as the CLI's (store.layout.default_store)
            out["store"] = str(default_store() if is_none(v["store"]) else v["store"])
        for name in ("policy", "image_filter", "title", "assessment"):
            if name in v:
                out[name] = None if is_none(v[name]) else str(v[name])
        if "as_of" in v:
            out["as_of"] = parse_time(v["as_of"], "as_of")
        if "severity_threshold" in v:
            out["severity_threshold"] = parse_severity(v["severity_threshold"])
        for name in ("top_n", "matrix_rows"):
            if name in v:
                out[name] = parse_int(v[name], name, minimum=1)
        if "history" in v:
            out["history"] = parse_bool(v["history"], "history")
        if "synthetic" in v:
            out["synthetic"] = parse_synthetic(v["synthetic"])
        return cls(**out)

    def shown(self, names: Iterable[str] | None = None) -> dict[str, str]:
        """Return the parameters `names` (default: every one) as text, for a report's header."""
        out = {}
        wanted = set(names) if names is not None else None
        for k, val in asdict(self).items():
            if k in HIDDEN or (wanted is not None and k not in wanted):
                continue
            if isinstance(val, pd.Timestamp):
                text = val.isoformat()
            elif val is None:
                text = {"synthetic": "auto", "as_of": "now", "policy": "default policy",
                        "image_filter": "every image", "title": "the report's own"}.get(k, "-")
            else:
                text = str(val)
            out[k] = text
        return out


def absolute(path: str | Path) -> str:
    """Return `path` made absolute (a notebook's kernel may run in another folder)."""
    return str(Path(path).expanduser().resolve())
