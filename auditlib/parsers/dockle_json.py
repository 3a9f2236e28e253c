"""Dockle JSON reports (`dockle -f json`): CIS image best-practice checks.

A report is `{image?, summary: {fatal, warn, info, skip, pass}, details: [{code, title, level,
alerts}]}` (goodwithtech/dockle `pkg/report/json.go`). Dockle writes a detail only for a checkpoint
that produced alerts, so passed checkpoints are usually only counted in `summary`, which auditlib
does not turn into rows. `image` appeared in later releases; older reports do not name the image.
"""

from __future__ import annotations

from typing import Any

import msgspec

from auditlib.normalize.severity import normalize_severity
from auditlib.parsers.interface import Document, Parser
from auditlib.rows import ImageInfo, Output, Row

CHECKPOINTS_URL = "https://github.com/goodwithtech/dockle/blob/master/CHECKPOINT.md#"
"""Dockle's checkpoint documentation; the rule code is appended as the fragment."""

# Dockle's level words (`AlertLabels` in pkg/report/writer.go) and what each says about the check.
# IGNORE is a checkpoint the user ignored (`--ignore`, `.dockleignore`): still failing, but
# accepted, which is what the `exception` status means elsewhere (Trivy's exceptions).
_STATUS: dict[str, str] = {
    "FATAL": "fail",
    "WARN": "fail",
    "INFO": "fail",
    "PASS": "pass",
    "SKIP": "skip",
    "IGNORE": "exception",
}


class _Detail(msgspec.Struct):
    """One checkpoint with alerts."""

    code: str
    level: str
    title: str = ""
    alerts: list[str] | None = None


def checkpoint_status(level: str) -> str:
    """Return the `misconfigurations.status` of a Dockle level.

    Args:
        level: Dockle's level word (`FATAL`, `WARN`, `INFO`, `PASS`, `SKIP`, `IGNORE`).

    Returns:
        `fail` for FATAL, WARN and INFO, `pass` for PASS, `skip` for SKIP, `exception` for IGNORE;
        `fail` for a word Dockle does not write (a detail is only written for a check with alerts).
    """
    return _STATUS.get(level.strip().upper(), "fail")


class DockleJsonParser(Parser):
    """Dockle JSON reports (`dockle -f json`): CIS image best-practice checks."""

    format_id = "dockle-json"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None or not (doc.has("summary") and doc.has("details")):
            return None
        summary: Any = doc.peek("summary", dict) or {}
        return "1" if {"fatal", "warn", "info"} & summary.keys() else None

    shape = "`details` of objects with `code`, `title` and `level`"

    def identify_shape(self, doc: Document) -> str | None:
        """Return `1` if `doc` keeps Dockle's `details` without `summary`, else None. Never
        raises."""
        head = doc.peek_first("details")
        return "1" if head is not None and {"code", "title", "level"} <= head.keys() else None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read a Dockle report into `out`: one `misconfigurations` row per detail.

        Each row has tool `dockle`, the checkpoint code as `rule_id`, its title, the alerts joined
        with newlines as `message`, the severity mapped from the level (FATAL -> critical,
        WARN -> medium, INFO, PASS, SKIP and IGNORE -> negligible), a status from
        `checkpoint_status`, and the checkpoint documentation as `primary_url`. `out.scan` is a
        container image scan, named by the report's `image` when it has one.

        Raises:
            MalformedInputError: if `details` is not an array or `image` is not a string.
        """
        out.scan.vulnerability_scan = False  # an image config linter
        image: str | None = doc.get("image", str | None) or None
        details = out.decode_list(doc.top.get("details") if doc.top else None, _Detail, "$.details")
        rows: list[Row] = [
            {
                "target": image,
                "tool": "dockle",
                "rule_id": d.code,
                "title": d.title or None,
                # Alerts are text taken from the image (file names, ENV keys): kept as they are.
                "message": "\n".join(d.alerts) if d.alerts else None,
                "severity": normalize_severity(d.level),
                "status": checkpoint_status(d.level),
                "primary_url": CHECKPOINTS_URL + d.code,
            }
            for d in details
        ]
        out.extend("misconfigurations", rows)
        scan = out.scan
        scan.tool = "dockle"
        scan.target_type = "container_image"
        scan.target = image
        if image is not None:
            scan.image = ImageInfo(reference=image)
