"""hadolint JSON (`hadolint -f json`): one finding per Dockerfile line and rule."""

from __future__ import annotations

from typing import Any

from auditlib.parsers.interface import Document, Output, Parser


class HadolintJsonParser(Parser):
    """hadolint JSON (`hadolint -f json`): one finding per Dockerfile line and rule."""

    format_id = "hadolint-json"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.items is None:
            return None
        if not doc.items:
            # A clean Dockerfile gives `[]`; no other supported tool writes an empty top-level array
            # (legacy Trivy wrote `null` for nothing found).
            return "1"
        head: Any = doc.peek_item(0)
        if isinstance(head, dict) and {"code", "level", "line"} <= head.keys():
            return "1"
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`. See `Parser.parse`."""
        raise NotImplementedError("hadolint-json: parse is being written")
