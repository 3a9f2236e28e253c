"""Trivy JSON reports: SchemaVersion 2 and the older list form (before 0.20)."""

from __future__ import annotations

from typing import Any

from auditlib.parsers.interface import Document, Output, Parser


class TrivyJsonParser(Parser):
    """Trivy JSON reports: SchemaVersion 2 and the older list form (before 0.20)."""

    format_id = "trivy-json"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is not None:
            if doc.has("ClusterName") and (doc.has("Resources") or doc.has("Vulnerabilities") or doc.has("Misconfigurations")):
                return "k8s"  # trivy k8s report; refused in parse
            schema = doc.peek("SchemaVersion", int)
            if schema is not None and (doc.has("Results") or doc.has("ArtifactName") or doc.has("ArtifactType")):
                return str(schema)
            return None
        if doc.items:
            head: Any = doc.peek_item(0)
            if isinstance(head, dict) and "Target" in head and ("Vulnerabilities" in head or "Type" in head):
                return "1"
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`. See `Parser.parse`."""
        raise NotImplementedError("trivy-json: parse is being written")
