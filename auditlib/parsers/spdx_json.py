"""SPDX JSON 2.2 and 2.3 documents (SPDX 3.0 JSON-LD is refused with a clear error)."""

from __future__ import annotations

from typing import Any

from auditlib.parsers.interface import Document, Output, Parser


class SpdxJsonParser(Parser):
    """SPDX JSON 2.2 and 2.3 documents (SPDX 3.0 JSON-LD is refused with a clear error)."""

    format_id = "spdx-json"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None:
            return None
        version = doc.peek("spdxVersion", str)
        context = str(doc.peek("@context") or "")
        if version and version.startswith("SPDX-"):
            return version.removeprefix("SPDX-")
        if "spdx.org/rdf/3" in context:
            return "3.0"
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`. See `Parser.parse`."""
        raise NotImplementedError("spdx-json: parse is being written")
