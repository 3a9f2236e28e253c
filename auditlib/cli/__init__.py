"""The `auditlib` command line: one module per command; each parses its words, calls one library
function, and maps errors to the exit codes of `auditlib.cli.exits`.
"""

from auditlib.cli.main import main

__all__ = ["main"]
