"""Dockle JSON reports (`dockle -f json`): CIS image best-practice checks."""

from __future__ import annotations

from typing import Any

from auditlib.parsers.interface import Document, Output, Parser


class DockleJsonParser(Parser):
    """Dockle JSON reports (`dockle -f json`): CIS image best-practice checks."""

    format_id = "dockle-json"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None or not (doc.has("summary") and doc.has("details")):
            return None
        summary: Any = doc.peek("summary", dict) or {}
        return "1" if {"fatal", "warn", "info"} & summary.keys() else None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`. See `Parser.parse`."""
        raise NotImplementedError("dockle-json: parse is being written")
