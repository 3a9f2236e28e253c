"""The one exception tree of auditlib.

Every error auditlib raises derives from `AuditlibError`. Messages are lowercase and start with the
subject (a file, a source), so that they can be shown as they are in tables, logs and reports.
"""

from __future__ import annotations


class AuditlibError(Exception):
    """Root of every error auditlib raises."""


class ParseError(AuditlibError):
    """A document could not be read into tables.

    Concrete parsers are expected to raise one of the subclasses below.
    """

    def __init__(self, message: str, *, format: str | None = None) -> None:
        """Make the error; `format` is the format id the document looked like, when known."""
        super().__init__(message)
        self.format = format


class NotJsonError(ParseError):
    """The bytes are not a JSON document (empty, truncated, not UTF-8, or another syntax)."""


class UnsupportedFormatError(ParseError):
    """The document is JSON, but no parser owns it, or its owner does not support its version."""


class MalformedInputError(ParseError):
    """The document belongs to a known format but misses required keys or has them of the wrong
    type.
    """


class ParameterError(AuditlibError):
    """A parameter (a command option, a report parameter) is unknown or its value cannot be used;
    the message says which and what is valid."""


class StoreError(AuditlibError):
    """The store folder could not be read or written."""


class SourceUnavailableError(AuditlibError):
    """A source (a Docker Engine, a registry) could not be reached at all; the message says which
    and how to fix it.
    """
