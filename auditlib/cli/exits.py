"""The exit codes of every `auditlib` command, declared once.

0 done; 1 the policy was broken (`check`, `run` with `--fail-on`); 2 bad usage, bad
configuration, or a source, store or report that could not be read, written or made at all.
"""

from __future__ import annotations

import sys
from enum import IntEnum
from typing import NoReturn


class Exit(IntEnum):
    """What a command's exit code means."""

    OK = 0
    """Done."""
    POLICY = 1
    """The policy was broken at `--fail-on`."""
    BAD_INPUT = 2
    """Bad usage or configuration, or a source, store or report that failed."""


def leave(code: Exit | int) -> NoReturn:
    """Exit the command with `code`."""
    sys.exit(int(code))
