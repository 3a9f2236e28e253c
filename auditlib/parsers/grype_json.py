"""Grype JSON reports, from Grype 0.7 to the newest."""

from __future__ import annotations

from typing import Any

from auditlib.parsers.interface import Document, Output, Parser


class GrypeJsonParser(Parser):
    """Grype JSON reports, from Grype 0.7 to the newest."""

    format_id = "grype-json"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None or not doc.has("matches"):
            return None
        descriptor: Any = doc.peek("descriptor", dict)
        if (descriptor and descriptor.get("name") == "grype") or doc.has("source"):
            version = descriptor.get("version") if descriptor else None
            return str(version) if version else "unknown"
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`. See `Parser.parse`."""
        raise NotImplementedError("grype-json: parse is being written")
