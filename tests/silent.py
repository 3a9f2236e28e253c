"""Servers that accept connections and never say a word: a source that never answers."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def silent_servers(unix_path: Path) -> Iterator[tuple[Path, int]]:
    """Listen on the unix socket `unix_path` and on a TCP port of 127.0.0.1, accept every
    connection and hold it open without answering; yield the socket path and the port."""
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(unix_path))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    for server in (unix, tcp):  # listening before the yield: a connection is never refused
        server.listen(16)
        server.settimeout(0.1)

    def accept(server: socket.socket) -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    threads = [threading.Thread(target=accept, args=(s,), daemon=True) for s in (unix, tcp)]
    for t in threads:
        t.start()
    try:
        yield unix_path, int(tcp.getsockname()[1])
    finally:
        stop.set()
        for t in threads:
            t.join(2)
        for s in [*held, unix, tcp]:
            s.close()
