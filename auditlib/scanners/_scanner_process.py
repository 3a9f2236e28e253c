"""`run_scanner`: one scanner process on one target, with a timeout and its output checked.

The process reads nothing on stdin; its stderr is kept to say why it failed. Its output (a file it
writes, or its stdout) must look like a whole JSON document, or the run fails.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from auditlib.scanners.tools import (
    Options,
    ScanError,
    TargetKind,
    Tool,
    ToolInfo,
    environment,
    last_lines,
)


class ScannerFailedError(ScanError):
    """A scanner run failed; the message names tool, target and why."""

    def __init__(self, message: str, stderr: str = "") -> None:
        """Say why the run failed (`message`), keeping all the tool wrote on stderr."""
        super().__init__(message)
        self.stderr = stderr
        """What the tool wrote on stderr (empty when it did not start)."""


def _check_json(path: Path) -> str | None:
    """Return what is wrong with a tool's output file, or None if it looks like a whole JSON
    document (first and last bytes; the parsers read it in full later)."""
    size = path.stat().st_size
    if size == 0:
        return "it wrote no output"
    with path.open("rb") as f:
        head = f.read(512).lstrip()
        f.seek(max(0, size - 512))
        tail = f.read().rstrip()
    if head[:1] not in (b"{", b"["):
        return "its output is not JSON"
    if tail[-1:] not in (b"}", b"]"):
        return "its output is not a complete JSON document"
    return None


def run_scanner(
    tool: Tool,
    info: ToolInfo,
    kind: TargetKind,
    source: Path,
    options: Options,
    out: Path,
    *,
    timeout: float,
    label: str,
) -> tuple[list[str], int]:
    """Run `tool` on the target file `source` (of `kind`), its output going to `out`.

    Args:
        tool: the scanner, found and probed (`info`).
        options: what the scan covers (`Tool.options`).
        timeout: seconds the process may run before it is killed.
        label: how messages name the target.

    Returns:
        The command line run and its exit code (one the tool says is not a failure).

    Raises:
        ScannerFailedError: if it cannot start, times out, exits with a failing code, or leaves
            no complete JSON document in `out`; the message names tool, target and why, with
            the end of its stderr (all of it in `stderr`).
        OSError: if `out` cannot be opened or read.
    """
    name = tool.name
    inv = tool.build(info, kind, source, out, options, timeout)
    stdout = out.open("wb") if inv.stdout_is_output else None
    try:
        proc = subprocess.Popen(
            inv.argv,
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=environment(inv),
        )
    except OSError as e:
        raise ScannerFailedError(f"{name} could not start on {label}: {e}") from e
    finally:
        if stdout is not None:
            stdout.close()  # the child holds its own copy
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        text = err.decode("utf-8", "replace")
        raise ScannerFailedError(
            f"{name} on {label}: stopped after the {timeout:g} s timeout; stderr ends: "
            f"{last_lines(text)}", text,
        ) from None
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    stderr = err.decode("utf-8", "replace")
    if proc.returncode not in inv.ok_exit_codes:
        raise ScannerFailedError(
            f"{name} failed on {label} with exit code {proc.returncode}: {last_lines(stderr)}",
            stderr,
        )
    problem = _check_json(out)
    if problem:
        raise ScannerFailedError(
            f"{name} failed on {label}: {problem} (exit code {proc.returncode}): "
            f"{last_lines(stderr)}", stderr,
        )
    return inv.argv, proc.returncode
