"""Parsers for scanner outputs and SBOMs, and the one function that picks the parser for a document.

`PARSERS` is the identification order: each parser's `identify` looks at header keys only, and the
first that claims a document parses it. A document no header claims (a report trimmed to its main
section: DefectDojo's Grype fixtures keep only `matches`) is told by the shape of what it still
has: each parser's `identify_shape` looks at the first record of its main section, and the one
parser that claims it parses it, the scan marked `format_inferred`. Outcomes are kept apart (as
syft's decoders do): no parser claims it ("not a recognised ..."), the shape of several formats
("ambiguous: could be ..."; never read as one of them), the owner does not support its version,
or it is malformed.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditlib.errors import ParseError, UnsupportedFormatError
from auditlib.parsers.csaf_vex import CsafVexParser
from auditlib.parsers.cyclonedx_json import CycloneDxJsonParser
from auditlib.parsers.cyclonedx_vex import CycloneDxVexParser
from auditlib.parsers.dockle_json import DockleJsonParser
from auditlib.parsers.grype_json import GrypeJsonParser
from auditlib.parsers.hadolint_json import HadolintJsonParser
from auditlib.parsers.harbor_json import HarborJsonParser
from auditlib.parsers.interface import Document, Parser
from auditlib.parsers.openvex_json import OpenVexJsonParser
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
    OpenVexJsonParser(),
    CsafVexParser(),
    CycloneDxVexParser(),  # before CycloneDxJsonParser: a BOM of analysed vulnerabilities only
    CycloneDxJsonParser(),
    SpdxJsonParser(),
    SarifParser(),
    HadolintJsonParser(),
    DockleJsonParser(),
    HarborJsonParser(),
    UnsupportedToolParser(),
)
"""Every parser, in identification order."""


@dataclass(frozen=True, slots=True)
class Identified:
    """The parser that owns a document, and what it saw."""

    parser: Parser
    version: str
    """The format version (`unknown` when the document does not say)."""
    inferred: bool = False
    """Whether the format was told by the shape of the content (`Parser.identify_shape`), the
    header that names it being gone."""


def identify(doc: Document) -> Identified | None:
    """Return the parser that owns `doc`, by its header or else by its shape, or None: no parser
    claims it, or (by shape) more than one does (`parse_document` says which). Never raises."""
    for parser in PARSERS:
        version = parser.identify(doc)
        if version is not None:
            return Identified(parser, version)
    shaped = _by_shape(doc)
    return shaped[0] if len(shaped) == 1 else None


def _by_shape(doc: Document) -> list[Identified]:
    """Return every parser whose `identify_shape` claims `doc`, in `PARSERS` order."""
    found = []
    for parser in PARSERS:
        version = parser.identify_shape(doc)
        if version is not None:
            found.append(Identified(parser, version, inferred=True))
    return found


def _unrecognised(doc: Document) -> UnsupportedFormatError:
    """Return the error for a document `identify` gave no parser: ambiguous, or unrecognised."""
    shaped = _by_shape(doc)
    if len(shaped) < 2:
        return UnsupportedFormatError(f"{doc.source}: not a recognised scanner report or SBOM")
    names = [s.parser.format_id for s in shaped]
    shapes = "; ".join(f"{s.parser.format_id}: {s.parser.shape}" for s in shaped)
    return UnsupportedFormatError(
        f"{doc.source}: ambiguous: could be {', '.join(names[:-1])} or {names[-1]}; no header "
        f"names its format and its content has the shape of each ({shapes}); not read, as "
        "reading it as one would be a guess: restore the header that names the format"
    )


def parse_document(
    doc: Document, found: Identified | None = None
) -> tuple[Parser, str, Output]:
    """Identify `doc` (unless `found` is what `identify` already returned for it) and parse it.

    Returns:
        The parser, the format version and the parser's output; `out.scan.format_inferred` says
        whether the format was told by the content's shape.

    Raises:
        UnsupportedFormatError: if no parser owns the document, its shape is that of several
            formats (the message names them), or its owner does not support the version.
        MalformedInputError: if the owner finds required keys missing or of the wrong type.
    """
    found = found or identify(doc)
    if found is None:
        raise _unrecognised(doc)
    parser, version = found.parser, found.version
    # A shape seldom tells the version: a trimmed document of no stated version is read as the
    # parser reads those it supports.
    unstated = found.inferred and version == "unknown"
    if (parser.supported_versions is not None and version not in parser.supported_versions
            and not unstated):
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
    out.scan.format_inferred = found.inferred  # after: a parser may replace `out.scan`
    return parser, version, out


__all__ = [
    "PARSERS", "Document", "Identified", "Output", "Parser", "identify", "parse_document",
]
