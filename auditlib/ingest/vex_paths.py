"""Which of the files named as VEX documents (`auditlib run --vex`) are none."""

from __future__ import annotations

import os

from auditlib.errors import AuditlibError
from auditlib.ingest.documents import decode_document, find_files, read_file
from auditlib.parsers import identify

VEX_FORMATS = ("openvex-json", "cyclonedx-vex", "csaf-vex")
"""The format ids of VEX documents (`auditlib.parsers`)."""


def not_vex(*paths: str | os.PathLike[str]) -> list[str]:
    """Return, for each file under `paths` (folders walked) that is no OpenVEX, CycloneDX VEX
    or CSAF 2.0 VEX document, why: `<file>: <reason>`; an empty list when every one is."""
    out = []
    for c in find_files(*paths):
        if c.error:
            out.append(c.error)
            continue
        try:
            found = identify(decode_document(read_file(c.path)))
        except AuditlibError as e:
            out.append(str(e))
            continue
        if found is None or found.parser.format_id not in VEX_FORMATS:
            what = found.parser.format_id if found else "no format auditlib reads"
            out.append(f"{c.path}: not a VEX document (OpenVEX, CycloneDX VEX or CSAF 2.0 "
                       f"VEX): {what}")
    return out
