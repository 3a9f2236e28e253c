"""Rows and the `Output` they are gathered in: what parsers and collectors hand the loader.

This is a bottom layer: file parsers (`auditlib.parsers`) and collectors (`auditlib.sources`) both
fill an `Output` (rows by table, a `ScanInfo`, warnings for skipped records), and the loader turns
its rows into typed tables. It imports only `auditlib.errors` and third-party libraries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from auditlib.errors import MalformedInputError

T = TypeVar("T")

Row = dict[str, Any]
"""One row: column name to value. Times may be ISO 8601 strings; severities must be normalised."""

Columns = dict[str, list[Any]]
"""Rows given as columns: column name to its values, one per row, every list as long. What a
parser's hot loop hands over instead of a `Row` per record (no dict per row, nothing to
transpose)."""


def decode(raw: msgspec.Raw | bytes, type: type[T] | Any, locator: str, source: str) -> T:
    """Decode `raw` as `type`.

    Raises:
        MalformedInputError: naming the source and the JSON path when the value does not fit `type`.
    """
    try:
        return msgspec.json.decode(raw, type=type)  # type: ignore[no-any-return]
    except msgspec.ValidationError as e:
        raise MalformedInputError(f"{source}: {_where(str(e), locator)}") from e
    except msgspec.DecodeError as e:
        raise MalformedInputError(f"{source}: invalid JSON at {locator}: {e}") from e


def _where(message: str, locator: str) -> str:
    # msgspec reports paths from the root of what it decoded (`$[3].Severity`); anchor them at
    # `locator`.
    return (
        message.replace("`$", f"`{locator}", 1) if "`$" in message else f"{message} at `{locator}`"
    )


@dataclass(slots=True)
class ImageInfo:
    """What a document says about the image it describes. Any field may be unknown."""

    image_id: str | None = None
    """Config digest."""
    reference: str | None = None
    """The reference the image was scanned as (normalised by the loader)."""
    repo_digests: list[str] = field(default_factory=list)
    """`repo@sha256:...` references, or bare manifest digests."""
    tags: list[str] = field(default_factory=list)
    """`repo:tag` references."""
    created_at: str | None = None
    os: str | None = None
    architecture: str | None = None
    os_family: str | None = None
    os_version: str | None = None
    is_os_eol: bool | None = None
    size_bytes: int | None = None
    user: str | None = None
    layer_count: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    host: str | None = None
    """The engine, registry or archive it was collected from (collectors only)."""
    exposed_ports: str | None = None
    volumes: str | None = None
    has_healthcheck: bool | None = None
    entrypoint: str | None = None


@dataclass(slots=True)
class ScanInfo:
    """What a document says about itself: the `scans` row, less what the loader knows."""

    format_version: str | None = None
    format_inferred: bool | None = None
    """Whether the format was told by the shape of the content, its header being gone
    (`scans.format_inferred`); set by `auditlib.parsers.parse_document`, None for collected
    sources."""
    tool: str | None = None
    tool_version: str | None = None
    generated_at: str | None = None
    target: str | None = None
    target_type: str = "unknown"
    vulnerability_scan: bool | None = None
    """Whether the tool looked for vulnerabilities (found or not): True for Grype and Harbor, for
    Trivy when its vulnerability scanner ran, for CycloneDX with a `vulnerabilities` array; False
    for an SBOM or a linter; None when the document cannot tell."""
    scanners_run: str | None = None
    """What the run covered, when `auditlib scan` recorded it (`scans.scanners_run`)."""
    scanners_skipped: str | None = None
    """What the run was meant to cover and could not (`scans.scanners_skipped`)."""
    scanners_skipped_reason: str | None = None
    """Why (`scans.scanners_skipped_reason`)."""
    image: ImageInfo | None = None
    """The image the document is about; None for a folder, a repository or a Dockerfile."""


class Output:
    """Where a parser puts what it read: rows by table, and warnings for records it skipped."""

    __slots__ = ("columns", "rows", "scan", "source", "warnings")

    def __init__(self, source: str) -> None:
        """Start an empty output for the document read from `source`."""
        self.source = source
        self.scan = ScanInfo()
        self.rows: dict[str, list[Row]] = {}
        self.columns: dict[str, list[Columns]] = {}
        """Rows given as columns (`add_columns`), by table: batches, in the order added; the
        loader adds a table's `rows` first, then its batches."""
        self.warnings: list[tuple[str, str]] = []

    def add_columns(self, table: str, columns: Columns) -> None:
        """Add rows to `table` given as columns (`Columns`: every list as long; a column not
        named is empty in these rows). The loader refuses the document if the lists differ in
        length or name an undeclared column (a parser bug)."""
        if any(columns.values()):
            self.columns.setdefault(table, []).append(columns)

    def add(self, table: str, row: Row) -> None:
        """Add one row to `table` (provenance and `image_id` are filled in by the loader)."""
        rows = self.rows.get(table)
        if rows is None:
            rows = self.rows[table] = []
        rows.append(row)

    def extend(self, table: str, rows: list[Row]) -> None:
        """Add many rows to `table`."""
        self.rows.setdefault(table, []).extend(rows)

    def warn(self, locator: str, reason: str) -> None:
        """Record a record skipped or a value ignored at `locator` (a JSON path), with the
        reason.
        """
        self.warnings.append((locator, reason))

    def decode_list(self, raw: msgspec.Raw | None, type: type[T], locator: str) -> list[T]:
        """Decode a JSON array of records, skipping (with a warning) each record that does not fit
        `type`.

        The whole array is decoded in one typed pass; only when a record is bad is it decoded again
        record by record, so one bad record costs a warning, not the file.

        Args:
            raw: the undecoded array; None or JSON `null` give an empty list.
            type: the record model.
            locator: JSON path of the array, for warnings (`$.Results[0].Vulnerabilities`).

        Raises:
            MalformedInputError: if `raw` is not an array at all.
        """
        if raw is None:
            return []
        try:
            # `type` is the record model passed in; mypy cannot check a runtime-built type.
            return msgspec.json.decode(raw, type=list[type] | None) or []  # type: ignore[valid-type]
        except msgspec.MsgspecError:
            pass  # a bad record (wrong type, invalid UTF-8): find it below
        items: list[msgspec.Raw] = decode(raw, list[msgspec.Raw] | None, locator, self.source) or []
        out: list[T] = []
        for i, item in enumerate(items):
            try:
                out.append(msgspec.json.decode(item, type=type))
            except msgspec.MsgspecError as e:
                self.warn(f"{locator}[{i}]", f"record skipped: {_where(str(e), f'{locator}[{i}]')}")
        return out
