"""The parser extension point: a `Parser` identifies a `Document` by its header and parses it into
rows.

A parser never opens files and never builds DataFrames: it reads a `Document` (the bytes and the
top-level keys as undecoded `msgspec.Raw` spans) and adds plain rows to an `Output`. The loader
turns rows into typed tables (`auditlib.tables`) and stamps provenance on every row. Sections are
decoded with typed `msgspec.Struct` models that name only the fields auditlib reads, so the bulk of
a large document (descriptions, Syft's `files`) is skipped, never turned into Python objects.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec

from auditlib.rows import Output, decode

_NON_EMPTY_ARRAY = re.compile(rb"\[[ \t\r\n]*[^\] \t\r\n]")
"""The start of a JSON array with an element: `[`, JSON's white space, and no `]`."""


@dataclass(slots=True)
class Document:
    """A JSON document, decoded only at its top level."""

    source: str
    """The file path (or another name of where the bytes came from)."""
    data: bytes
    """The raw bytes."""
    top: dict[str, msgspec.Raw] | None = None
    """Top-level keys of an object document, values undecoded."""
    items: list[msgspec.Raw] | None = None
    """Elements of an array document, undecoded."""

    def has(self, key: str) -> bool:
        """Return whether the object document has top-level `key`."""
        return self.top is not None and key in self.top

    def get(self, key: str, type: Any = Any, default: Any = None) -> Any:
        """Decode top-level `key` as `type`, or return `default` when the key is absent.

        Raises:
            MalformedInputError: if the value does not have that type.
        """
        if self.top is None or key not in self.top:
            return default
        return decode(self.top[key], type, f"$.{key}", self.source)

    def peek(self, key: str, type: Any = Any) -> Any:
        """Decode top-level `key` for identification: None when absent or of another type; never
        raises.
        """
        if self.top is None or key not in self.top:
            return None
        try:
            return msgspec.json.decode(self.top[key], type=type)
        except msgspec.MsgspecError:
            return None

    def has_items(self, key: str) -> bool:
        """Return whether top-level `key` is an array of at least one element. Never raises.

        Told from the first bytes of the value (the top-level decode has checked that it is
        JSON), so a large array is neither decoded nor scanned.
        """
        if self.top is None or key not in self.top:
            return False
        return _NON_EMPTY_ARRAY.match(memoryview(self.top[key])) is not None

    def peek_first(self, key: str) -> dict[str, Any] | None:
        """Return the first element of the top-level array `key` when it is an object, for telling
        a format by the shape of its records; None when `key` is absent, not an array, empty, or
        its first element is not an object. Never raises.

        The array is scanned, not decoded: only the first element becomes Python objects.
        """
        if self.top is None or key not in self.top:
            return None
        try:
            items = msgspec.json.decode(self.top[key], type=list[msgspec.Raw] | None)
            head = msgspec.json.decode(items[0]) if items else None
        except msgspec.MsgspecError:
            return None
        return head if isinstance(head, dict) else None

    def peek_item(self, index: int, type: Any = Any) -> Any:
        """Decode element `index` of an array document for identification; None if absent or
        invalid.
        """
        if not self.items or index >= len(self.items):
            return None
        try:
            return msgspec.json.decode(self.items[index], type=type)
        except msgspec.MsgspecError:
            return None


class Parser(ABC):
    """One document format. Subclasses live in `auditlib/parsers/<format>.py`, one format each."""

    format_id: ClassVar[str]
    """`trivy-json`, `grype-json`, ...; written to `scans.format` and `source_format`."""
    supported_versions: ClassVar[frozenset[str] | None] = None
    """Versions `parse` supports; None when every version `identify` accepts is supported."""

    @abstractmethod
    def identify(self, doc: Document) -> str | None:
        """Return the format version if this parser owns `doc`, else None.

        Reads header keys only (`Document.peek`) and never raises.
        """

    shape: ClassVar[str | None] = None
    """What `identify_shape` looks for, in words, for the error that names the candidates of an
    ambiguous document; None when it claims nothing."""

    def identify_shape(self, doc: Document) -> str | None:
        """Return the format version if the content of `doc` has this format's shape though the
        header `identify` reads is gone (a report trimmed to its main section), else None.

        Only asked when no parser's `identify` claims the document; a document whose shape several
        parsers claim is refused as ambiguous. Looks at the top-level keys and the first record
        of the main section (`Document.peek_first`); never raises. The version is `unknown` unless
        the shape tells it. This default claims nothing.
        """
        return None

    @abstractmethod
    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read `doc` into `out`: `out.scan`, rows by table, warnings for skipped records.

        Raises:
            MalformedInputError: if required keys are missing or of the wrong type.
            UnsupportedFormatError: if the document is of this format but a kind auditlib refuses.
        """


def first(values: Mapping[str, Any] | None, *keys: str) -> Any:
    """Return the first non-empty value of `keys` in `values`, or None."""
    if not values:
        return None
    for k in keys:
        v = values.get(k)
        if v not in (None, "", [], {}):
            return v
    return None
