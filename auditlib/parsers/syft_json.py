"""Syft JSON SBOMs, schema 1.x to 16."""

from __future__ import annotations

from typing import Any

from auditlib.parsers.interface import Document, Output, Parser


class SyftJsonParser(Parser):
    """Syft JSON SBOMs, schema 1.x to 16."""

    format_id = "syft-json"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None or not doc.has("artifacts"):
            return None
        schema: Any = doc.peek("schema", dict) or {}
        descriptor: Any = doc.peek("descriptor", dict) or {}
        if "anchore/syft" in str(schema.get("url", "")) or descriptor.get("name") == "syft":
            return str(schema.get("version") or "unknown")
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`. See `Parser.parse`."""
        raise NotImplementedError("syft-json: parse is being written")
