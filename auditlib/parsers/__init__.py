"""Parsers for scanner outputs and SBOMs, and the one function that picks the parser for a document.

`PARSERS` is the identification order: each parser's `identify` looks at header keys only, and the
first that claims a document parses it. Three outcomes are kept apart (as syft's decoders do): no
parser claims it ("not a recognised ..."), the owner does not support its version, or it is
malformed.
"""

from __future__ import annotations

from auditlib.errors import ParseError, UnsupportedFormatError
from auditlib.parsers.cyclonedx_json import CycloneDxJsonParser
from auditlib.parsers.dockle_json import DockleJsonParser
from auditlib.parsers.grype_json import GrypeJsonParser
from auditlib.parsers.hadolint_json import HadolintJsonParser
from auditlib.parsers.harbor_json import HarborJsonParser
from auditlib.parsers.interface import Document, Parser
from auditlib.parsers.sarif import SarifParser
from auditlib.parsers.spdx_json import SpdxJsonParser
from auditlib.parsers.syft_json import SyftJsonParser
from auditlib.parsers.trivy_json import TrivyJsonParser
from auditlib.parsers.unsupported import UnsupportedToolParser
from auditlib.rows import Output

PARSERS: tuple[Parser, ...] = (
    TrivyJsonParser(),
    GrypeJsonParser(),
    SyftJsonParser(),
    CycloneDxJsonParser(),
    SpdxJsonParser(),
    SarifParser(),
    HadolintJsonParser(),
    DockleJsonParser(),
    HarborJsonParser(),
    UnsupportedToolParser(),
)
"""Every parser, in identification order."""


def identify(doc: Document) -> tuple[Parser, str] | None:
    """Return the parser that owns `doc` and the format version it saw, or None. Never raises."""
    for parser in PARSERS:
        version = parser.identify(doc)
        if version is not None:
            return parser, version
    return None


def parse_document(
    doc: Document, found: tuple[Parser, str] | None = None
) -> tuple[Parser, str, Output]:
    """Identify `doc` (unless `found` is what `identify` already returned for it) and parse it.

    Returns:
        The parser, the format version and the parser's output.

    Raises:
        UnsupportedFormatError: if no parser owns the document, or its owner does not support the
            version.
        MalformedInputError: if the owner finds required keys missing or of the wrong type.
    """
    found = found or identify(doc)
    if found is None:
        raise UnsupportedFormatError(f"{doc.source}: not a recognised scanner report or SBOM")
    parser, version = found
    if parser.supported_versions is not None and version not in parser.supported_versions:
        supported = ", ".join(sorted(parser.supported_versions))
        raise UnsupportedFormatError(
            f"{doc.source}: {parser.format_id} version {version} is not supported "
            f"(supported: {supported})",
            format=parser.format_id,
        )
    out = Output(doc.source)
    out.scan.format_version = version
    try:
        parser.parse(doc, version, out)
    except ParseError as e:
        e.format = e.format or parser.format_id
        raise
    return parser, version, out


__all__ = ["PARSERS", "Document", "Output", "Parser", "identify", "parse_document"]
