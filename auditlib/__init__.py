"""auditlib: audit the container images a team builds and runs.

`load(*paths)` reads scanner outputs and SBOMs (Trivy, Grype, Syft, CycloneDX, SPDX, SARIF,
hadolint, Dockle, Harbor) into tidy pandas tables, one attribute of `AuditData` per table.
"""

from auditlib._version import __version__
from auditlib.data import AuditData, FileResult
from auditlib.errors import (
    AuditlibError,
    MalformedInputError,
    NotJsonError,
    ParseError,
    UnsupportedFormatError,
)
from auditlib.ingest.loader import load
from auditlib.tables import TABLES, get_table

__all__ = [
    "TABLES",
    "AuditData",
    "AuditlibError",
    "FileResult",
    "MalformedInputError",
    "NotJsonError",
    "ParseError",
    "UnsupportedFormatError",
    "__version__",
    "get_table",
    "load",
]
