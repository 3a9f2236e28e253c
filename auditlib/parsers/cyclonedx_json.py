"""CycloneDX JSON BOMs, spec 1.2 to 1.7: components (nested too), licences, vulnerabilities."""

from __future__ import annotations

from typing import Any

from auditlib.parsers.interface import Document, Output, Parser


class CycloneDxJsonParser(Parser):
    """CycloneDX JSON BOMs, spec 1.2 to 1.7: components (nested too), licences, vulnerabilities."""

    format_id = "cyclonedx-json"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None or doc.peek("bomFormat", str) != "CycloneDX":
            return None
        return str(doc.peek("specVersion", str) or "unknown")

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`. See `Parser.parse`."""
        raise NotImplementedError("cyclonedx-json: parse is being written")
