"""Reports of tools auditlib recognises but does not read: refused with an error that names the
tool.
"""

from __future__ import annotations

from typing import Any

from auditlib.errors import UnsupportedFormatError
from auditlib.parsers.interface import Document, Parser
from auditlib.rows import Output


def _tool(doc: Document) -> str | None:
    if doc.top is not None:
        if doc.has("image_digest") and doc.has("vulnerabilities") and doc.has("vulnerability_type"):
            return "anchore engine"
        if doc.has("unapproved") and doc.has("vulnerabilities") and doc.has("image"):
            return "clair-scanner"
        first = doc.peek_first("results")  # only the first result becomes Python objects
        if first is not None and "complianceDistribution" in first:
            return "twistlock (prisma cloud twistcli)"
        return None
    if doc.items:
        head: Any = doc.peek_item(0)
        if isinstance(head, dict) and {"feedGroup", "packageName", "vuln"} <= head.keys():
            return "anchorectl"
    return None


class UnsupportedToolParser(Parser):
    """Claims documents of known but unsupported tools, so the error says which tool it was."""

    format_id = "unsupported"

    def identify(self, doc: Document) -> str | None:
        """Return the tool's name if `doc` is a report of a known unsupported tool, else None."""
        return _tool(doc)

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Refuse the document.

        Raises:
            UnsupportedFormatError: always, naming the tool.
        """
        raise UnsupportedFormatError(
            f"{doc.source}: {version} reports are not supported; export Trivy or Grype JSON, "
            "CycloneDX or SARIF from it instead",
            format=version,
        )
