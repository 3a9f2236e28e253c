"""Harbor vulnerability reports (the registry's Trivy-backed scan, as its API returns it)."""

from __future__ import annotations

from typing import Any

from auditlib.parsers.interface import Document, Output, Parser


class HarborJsonParser(Parser):
    """Harbor vulnerability reports (the registry's Trivy-backed scan, as its API returns it)."""

    format_id = "harbor-json"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None:
            return None
        for key in doc.top:
            if key.startswith("application/vnd.security.vulnerability.report"):
                return key.split("version=", 1)[1].strip() if "version=" in key else "unknown"
        if doc.has("vulnerabilities") and doc.has("scanner") and doc.has("generated_at"):
            return "unknown"
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`. See `Parser.parse`."""
        raise NotImplementedError("harbor-json: parse is being written")
