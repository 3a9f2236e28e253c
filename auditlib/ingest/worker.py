"""A `load` worker process: `python -m auditlib.ingest.worker`, driven by `auditlib.ingest.fanout`.

It reads requests from stdin and writes answers to stdout, each a length-prefixed pickle: a
request is `(candidates, collected_at)`, the answer the files and the tables with rows of those
files (`fanout.pack`). It exits when
stdin closes. Started as a fresh interpreter (never forked), so it neither re-imports the user's
main module nor inherits threads or locks from the parent. Nothing imports this module: it only
runs as `__main__` (the protocol is in `pipe`).
"""

from __future__ import annotations

import sys

from auditlib.ingest.fanout import pack
from auditlib.ingest.pipe import receive, send
from auditlib.ingest.reader import load_files


def main() -> None:
    """Serve requests until stdin closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers may reach the pipe
    while True:
        try:
            candidates, collected_at = receive(stdin)
        except EOFError:
            return
        send(stdout, pack(load_files(candidates, collected_at=collected_at)))


if __name__ == "__main__":
    main()
