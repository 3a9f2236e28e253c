"""The pipe between `fanout` and its worker processes: length-prefixed pickles."""

from __future__ import annotations

import pickle
import struct
from typing import IO, Any

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
