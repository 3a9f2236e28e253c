"""SARIF 2.1.0 logs from Trivy, Grype, Dockle and Docker Scout, split into vulnerabilities, misconfigurations and secrets."""

from __future__ import annotations

from typing import Any

from auditlib.parsers.interface import Document, Output, Parser


class SarifParser(Parser):
    """SARIF 2.1.0 logs from Trivy, Grype, Dockle and Docker Scout, split into vulnerabilities, misconfigurations and secrets."""

    format_id = "sarif"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None or not doc.has("runs"):
            return None
        version = doc.peek("version", str)
        if version or "sarif" in str(doc.peek("$schema", str) or "").lower():
            return version or "unknown"
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`. See `Parser.parse`."""
        raise NotImplementedError("sarif: parse is being written")
