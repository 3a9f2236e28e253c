"""A `load` worker process: `python -m auditlib.ingest.worker`, driven by `auditlib.ingest.fanout`.

It reads requests from stdin and writes answers to stdout, each a length-prefixed pickle: a
request is `(candidates, collected_at)`, the answer the `AuditData` of those files. It exits when
stdin closes. Started as a fresh interpreter (never forked), so it neither re-imports the user's
main module nor inherits threads or locks from the parent.
"""

from __future__ import annotations

import pickle
import struct
import sys
from typing import IO, Any

from auditlib.ingest.reader import load_files

_HEADER = struct.Struct("!Q")


def send(stream: IO[bytes], obj: Any) -> None:
    """Write one length-prefixed pickle to `stream`."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """Read one length-prefixed pickle from `stream`.

    Raises:
        EOFError: if the stream ends before a whole message.
    """
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("stream closed")
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("stream closed in the middle of a message")
    return pickle.loads(data)


def main() -> None:
    """Serve requests until stdin closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers may reach the pipe
    while True:
        try:
            candidates, collected_at = receive(stdin)
        except EOFError:
            return
        send(stdout, load_files(candidates, collected_at=collected_at))


if __name__ == "__main__":
    main()
