"""hadolint JSON (`hadolint -f json`): one finding per Dockerfile line and rule.

The document is a top-level array of `{file, line, column, level, code, message}` objects
(`src/Hadolint/Formatter/Json.hs`); a clean Dockerfile gives `[]`. One run may lint several
Dockerfiles, so every row carries its own file. The JSON names no hadolint version and no time.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from auditlib.normalize.severity import normalize_severity
from auditlib.parsers.interface import Document, Parser
from auditlib.rows import Output, Row

_HADOLINT_WIKI = "https://github.com/hadolint/hadolint/wiki/"
_SHELLCHECK_WIKI = "https://www.shellcheck.net/wiki/"

# A line number that fits the Int64 column: a larger one would fail the whole table, not a record.
_Line = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]

SEVERAL_FILES = "several Dockerfiles"
"""`scans.target` of a run that linted more than one Dockerfile."""


class _Finding(msgspec.Struct):
    """One hadolint finding; `column` is not read (rows are per line)."""

    code: str
    level: str
    line: _Line
    file: str = ""
    message: str = ""


def rule_url(code: str) -> str | None:
    """Return the documentation URL of a hadolint rule.

    Args:
        code: the rule code: `DL3006` (hadolint's own rules) or `SC2086` (ShellCheck rules, which
            hadolint runs on `RUN` instructions).

    Returns:
        The hadolint wiki page of a `DL` rule, the ShellCheck wiki page of an `SC` rule, else None.
    """
    if code.startswith("DL"):
        return _HADOLINT_WIKI + code
    if code.startswith("SC"):
        return _SHELLCHECK_WIKI + code
    return None


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
        """Read a hadolint array into `out`: one `misconfigurations` row per finding.

        Each row has tool `hadolint`, the rule code as `rule_id`, the message, the severity mapped
        from hadolint's level (error -> high, warning -> medium, info and style -> negligible),
        status `fail` (hadolint lists only failures), and the file and line as `file_path`,
        `target`, `start_line` and `end_line`. `out.scan` names the Dockerfile (or
        "several Dockerfiles") with target type `dockerfile`.

        Raises:
            MalformedInputError: if the document is not a JSON array (it is once identified).
        """
        out.scan.vulnerability_scan = False  # a Dockerfile linter
        # The whole document is the array: decode it in one typed pass, not element by element.
        findings = out.decode_list(msgspec.Raw(doc.data), _Finding, "$")
        files: set[str] = set()
        rows: list[Row] = []
        for f in findings:
            file = f.file or None
            if file is not None:
                files.add(file)
            rows.append({
                "target": file,
                "tool": "hadolint",
                "rule_id": f.code,
                "message": f.message or None,
                "severity": normalize_severity(f.level),
                # hadolint reports only rules that failed; passes and ignored rules are not listed.
                "status": "fail",
                "primary_url": rule_url(f.code),
                "file_path": file,
                "start_line": f.line,
                # A finding points at one instruction, which hadolint locates by its first line.
                "end_line": f.line,
            })
        out.extend("misconfigurations", rows)
        scan = out.scan
        scan.tool = "hadolint"
        scan.target_type = "dockerfile"
        if len(files) == 1:
            scan.target = next(iter(files))
        elif files:
            scan.target = SEVERAL_FILES
