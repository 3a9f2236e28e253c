"""The run record beside a scanner output that `auditlib scan` made
(`auditlib.store.layout.run_record_file`): how the output was made, what its run covered and what
it was meant to cover and could not. Ingest lets it decide over what the document suggests
(`apply_run_record`): a Trivy report does not list the scanners that made it, so only the record
can say that Trivy without its vulnerability database made no vulnerability scan.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditlib.files import read_json_object
from auditlib.normalize.capabilities import capability_list, record_covered, record_skipped
from auditlib.rows import ScanInfo
from auditlib.store.layout import run_record_file


def read_run_record(output: Path) -> dict[str, Any] | None:
    """Return the run record of the scanner output `output`, or None when there is none (or it
    is not a small regular file holding a JSON object). Never waits on a FIFO."""
    return read_json_object(run_record_file(output))


def apply_run_record(scan: ScanInfo, record: Mapping[str, Any] | None, format_id: str) -> None:
    """Fill `scan`'s `scanners_*` from the record of the run that made its document, and let the
    record decide `vulnerability_scan` (whether `vuln` is among what ran).

    Does nothing when there is no record, when it is the record of another format's output, or
    when it does not say what the run covered.
    """
    if record is None or record.get("format") != format_id:
        return
    done = record_covered(record)
    if done is None:
        return
    scan.scanners_run = capability_list(done)
    scan.vulnerability_scan = "vuln" in done
    skipped, reason = record_skipped(record)
    if skipped:
        scan.scanners_skipped = capability_list(skipped)
        scan.scanners_skipped_reason = reason
