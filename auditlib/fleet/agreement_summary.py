"""The scanners' agreement in figures and words: per set of tools compared, the share of findings
they agree on and what only some found, and the images one tool only scanned
(`auditlib.fleet.agreement` makes the `scanner_agreement` table these read)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from auditlib.data import AuditData
from auditlib.engine import Engine
from auditlib.fleet.agreement import (
    ImageTools,
    ecosystem_name,
    image_tools,
    scanner_agreement,
    tool_name,
)


@dataclass(frozen=True)
class ToolSetSummary:
    """The agreement of one set of tools over the images they all (and only they) scanned."""

    tools: tuple[str, ...]
    images: int
    findings: int
    agree: int
    differ: int
    severity_differs: int
    fix_differs: int
    only: dict[tuple[str, ...], dict[str | None, int]]
    """found_by tools -> ecosystem -> findings, for the partial findings."""

    @property
    def agree_share(self) -> float | None:
        """Return the share of findings every tool found alike (None without findings)."""
        return self.agree / self.findings if self.findings else None

    def sentence(self) -> str:
        """Return the summary in words ("Trivy and Grype agree on 91% of 412 findings in 3
        images; 23 only in Grype, of which 19 in Java archives")."""
        who = _and([tool_name(t) for t in self.tools])
        where = f"in {self.images} image{'s' if self.images != 1 else ''}"
        if not self.findings:
            return f"{who} both found no vulnerability {where}" if len(self.tools) == 2 else \
                f"{who} all found no vulnerability {where}"
        pct = self.agree * 100 / self.findings
        parts = [f"{who} agree on {pct:.0f}% of {self.findings} findings {where}"]
        if self.differ:
            what = []
            if self.severity_differs:
                what.append(f"{self.severity_differs} in severity")
            if self.fix_differs:
                what.append(f"{self.fix_differs} in fixed version")
            every = "both" if len(self.tools) == 2 else "all"
            parts.append(f"{self.differ} found by {every} differ ({', '.join(what)})")
        for found_by, per_eco in sorted(self.only.items(), key=lambda kv: (
                -sum(kv[1].values()), [(t != "trivy", t) for t in kv[0]])):
            n = sum(per_eco.values())
            eco, top = max(per_eco.items(), key=lambda kv: (kv[1], kv[0] or ""))
            text = f"{n} only in {_and([tool_name(t) for t in _display_order(found_by)])}"
            if len(per_eco) > 1 or eco is None:
                text += f", of which {top} in {ecosystem_name(eco)}"
            else:
                text += f", all in {ecosystem_name(eco)}"
            parts.append(text)
        return "; ".join(parts)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def summarize(table: pd.DataFrame, tools: ImageTools) -> list[ToolSetSummary]:
    """Return the agreement per set of tools (the images scanned by exactly those tools), the
    set with most images first.

    Args:
        table: the `scanner_agreement` table.
        tools: the tools of each image.
    """
    groups: dict[tuple[str, ...], set[str]] = {}
    for iid in tools.compared():
        groups.setdefault(tools.tools[iid], set()).add(iid)
    out: list[ToolSetSummary] = []
    for toolset, images in groups.items():
        t = table[table["image_id"].astype(str).isin(images).to_numpy(bool)]
        state = t["state"].astype(str)
        partial = t[(state == "partial").to_numpy(bool)]
        only: dict[tuple[str, ...], dict[str | None, int]] = {}
        for fb, eco in zip(partial["found_by"].astype(str), partial["ecosystem"], strict=True):
            per = only.setdefault(tuple(fb.split(", ")), {})
            e = None if pd.isna(eco) else str(eco)
            per[e] = per.get(e, 0) + 1
        out.append(ToolSetSummary(
            tools=_display_order(toolset), images=len(images), findings=len(t),
            agree=int((state == "agree").sum()), differ=int((state == "differ").sum()),
            severity_differs=int(t["severity_differs"].astype("boolean").fillna(False).sum()),
            fix_differs=int(t["fix_differs"].astype("boolean").fillna(False).sum()),
            only=only))
    return sorted(out, key=lambda s: (-s.images, s.tools))


def _display_order(tools: Iterable[str]) -> tuple[str, ...]:
    """Return tools in the order sentences name them: Trivy first (the issue's wording), then
    the others by name."""
    return tuple(sorted(tools, key=lambda t: (t != "trivy", t)))


def sentences(table: pd.DataFrame, tools: ImageTools) -> list[str]:
    """Return the agreement in words: one sentence per set of tools, then the images one tool
    only scanned (said as such: compared with nothing, never counted as agreement)."""
    out = [s.sentence() for s in summarize(table, tools)]
    single = tools.single()
    if single:
        per: dict[str, int] = {}
        for t in single.values():
            per[t] = per.get(t, 0) + 1
        n = len(single)
        by = ", ".join(f"{c} by {tool_name(t)}" for t, c in sorted(per.items(),
                                                                       key=lambda kv: -kv[1]))
        out.append(f"{n} image{'s' if n != 1 else ''} scanned for vulnerabilities by one tool "
                   f"only ({by}): not compared")
    if not out:
        out.append("no image was scanned for vulnerabilities")
    elif not tools.compared():
        out.insert(0, "no image was scanned for vulnerabilities by two or more tools")
    return out


@dataclass(frozen=True)
class Agreement:
    """Where the scanners of a fleet agree: the `scanner_agreement` table and the tools of every
    image (`Assessment.agreement`)."""

    table: pd.DataFrame
    """The `scanner_agreement` table."""
    tools: ImageTools
    """The tools that scanned each image for vulnerabilities."""

    def summary(self) -> list[ToolSetSummary]:
        """Return the agreement per set of tools (`summarize`)."""
        return summarize(self.table, self.tools)

    def sentences(self) -> list[str]:
        """Return the agreement in words (`sentences`)."""
        return sentences(self.table, self.tools)

    def to_dict(self) -> dict[str, object]:
        """Return the figures as JSON data: per set of tools, the images one tool only scanned,
        and the sentences."""
        return {
            "tool_sets": [{
                "tools": list(s.tools), "images": s.images, "findings": s.findings,
                "agree": s.agree, "agree_share": s.agree_share, "differ": s.differ,
                "severity_differs": s.severity_differs, "fix_differs": s.fix_differs,
                "only": [{"found_by": list(fb), "findings": sum(per.values()),
                          "by_ecosystem": {k or "unknown": v for k, v in sorted(
                              per.items(), key=lambda kv: -kv[1])}}
                         for fb, per in s.only.items()],
            } for s in self.summary()],
            "compared_images": len(self.tools.compared()),
            "single_tool_images": dict(sorted(self.tools.single().items())),
            "sentences": self.sentences(),
        }


def agreement_of(data: AuditData, names: Mapping[str, str] | None = None,
                 docs: pd.DataFrame | None = None, engine: Engine | None = None) -> Agreement:
    """Return the scanners' agreement over `data` (module docstring); `docs` as
    `agreement.image_tools` takes it, `engine` as `agreement.scanner_agreement`.

    Raises:
        EngineError: if the engine fails.
    """
    tools = image_tools(data, docs)
    return Agreement(scanner_agreement(data, names, tools, engine), tools)
