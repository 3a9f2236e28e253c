"""A TCP relay that adds network latency: the far end of a link to a host of `fleet.py`.

    python benchmarks/latency_relay.py --listen 10.77.1.2:2375 --to unix:/tmp/x/docker.sock \
                                       --rtt-ms 10

It accepts connections on `--listen` and forwards each to `--to` (`unix:PATH` or `HOST:PORT`),
holding the bytes, each way, for half of `--rtt-ms` before passing them on, in order; a new
connection waits one round trip before its first byte goes through (the TCP handshake a real
link costs). Bandwidth is not limited.

`fleet.py` runs one in each host's network namespace because this machine's kernel has no
`netem` qdisc (`tc qdisc add ... netem` answers "Specified qdisc kind is unknown"), which is how
the delay would otherwise be made. It costs CPU on the same cores as the collector (a real
network costs none), so it is kept cheap: asyncio protocols (no stream objects, no task per
connection direction or chunk), libuv's event loop (`uvloop`, a dev dependency) when it is
installed, and one timer per burst: bytes that arrive while a delivery is pending join it, and
every chunk due within `SLACK` of the first goes out in one write. `fleet.py` prints how much
CPU the relays spent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections import deque
from collections.abc import Callable

SLACK = 0.0005
"""Seconds by which a chunk may go out early to join the write of the chunk before it."""

_EOF, _CLOSE = b"", None


class _Side(asyncio.Protocol):
    """One end of a relayed connection: what its transport receives goes to `peer`'s transport
    `delay` seconds later."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.pending: deque[tuple[float, bytes | None]] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.ended = False  # no more bytes will come from this end
        self.delivered = False  # the end of this direction has reached the peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's: not a subclass
        transport.set_write_buffer_limits(high=1 << 22)

    def data_received(self, data: bytes) -> None:
        self._queue(data)

    def eof_received(self) -> bool:
        self._queue(_EOF)
        return True  # keep the transport open for the other direction

    def connection_lost(self, exc: Exception | None) -> None:
        self._queue(_CLOSE)

    def pause_writing(self) -> None:  # the peer's bytes come faster than this end takes them
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            with contextlib.suppress(RuntimeError):
                self.peer.transport.resume_reading()

    def _queue(self, data: bytes | None) -> None:
        if self.ended:
            return
        self.ended = data is _EOF or data is _CLOSE
        self.pending.append((self.loop.time() + self.delay, data))
        self.arm()

    def arm(self) -> None:
        """Schedule the delivery of the oldest pending bytes, unless one is scheduled already
        or there is no peer yet."""
        if self.timer is None and self.pending and self.peer is not None \
                and self.peer.transport is not None:
            self.timer = self.loop.call_at(self.pending[0][0], self._deliver)

    def _deliver(self) -> None:
        self.timer = None
        assert self.peer is not None and self.peer.transport is not None
        out = self.peer.transport
        due = self.loop.time() + SLACK
        chunks: list[bytes] = []
        while self.pending and self.pending[0][0] <= due:
            data = self.pending.popleft()[1]
            if data:
                chunks.append(data)
                continue
            if chunks:
                out.write(b"".join(chunks))
                chunks = []
            self.delivered = True
            if data is _CLOSE or self.peer.delivered or not out.can_write_eof():
                self._close_both()
                return
            with contextlib.suppress(OSError, RuntimeError):
                out.write_eof()
            return
        if chunks:
            out.write(b"".join(chunks) if len(chunks) > 1 else chunks[0])
        self.arm()

    def _close_both(self) -> None:
        for side in (self, self.peer):
            if side is not None and side.transport is not None:
                side.transport.close()
            if side is not None and side.timer is not None:
                side.timer.cancel()
                side.timer = None


class _Client(_Side):
    """The accepted end: after one round trip (the handshake), connects to the upstream."""

    def __init__(self, delay: float, to: str) -> None:
        super().__init__(delay)
        self.to = to

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.loop.call_later(2 * self.delay, self._connect)

    def _connect(self) -> None:
        up = _Side(self.delay)
        up.peer, self.peer = self, up
        if self.to.startswith("unix:"):
            made = self.loop.create_unix_connection(lambda: up, self.to[len("unix:"):])
        else:
            host, _, port = self.to.rpartition(":")
            made = self.loop.create_connection(lambda: up, host, int(port))
        task = self.loop.create_task(made)
        task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[object]) -> None:
        if task.cancelled() or task.exception() is not None:
            if self.transport is not None:
                self.transport.close()
            return
        self.arm()  # what the client sent during the handshake
        if self.peer is not None:
            self.peer.arm()


async def _serve(listen: str, to: str, rtt: float) -> None:
    host, _, port = listen.rpartition(":")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Client(rtt / 2, to), host, int(port),
                                      backlog=256)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("listening", flush=True)  # fleet.py waits for this line
    async with server:
        await stop.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--listen", required=True, help="HOST:PORT to accept on")
    ap.add_argument("--to", required=True, help="unix:PATH or HOST:PORT to forward to")
    ap.add_argument("--rtt-ms", type=float, required=True, help="round trip added, ms")
    args = ap.parse_args()
    try:  # libuv's loop: a fraction of the CPU of asyncio's own (a dev dependency)
        import uvloop
        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_serve(args.listen, args.to, args.rtt_ms / 1000))


if __name__ == "__main__":
    main()
