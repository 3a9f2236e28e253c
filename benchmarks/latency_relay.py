"""A TCP relay that adds network latency: the far end of a link to a host of `fleet.py`.

    python benchmarks/latency_relay.py --listen 10.77.1.2:2375 --to unix:/tmp/x/docker.sock \
                                       --rtt-ms 10

It accepts connections on `--listen` and forwards each to `--to` (`unix:PATH` or `HOST:PORT`),
holding every chunk of bytes, each way, for half of `--rtt-ms` before passing it on, in order;
a new connection waits one round trip before its first byte goes through (the TCP handshake a
real link costs). Bandwidth is not limited.

`fleet.py` runs one in each host's network namespace because this machine's kernel has no
`netem` qdisc (`tc qdisc add ... netem` answers "Specified qdisc kind is unknown"), which is how
the delay would otherwise be made. It costs a little CPU on the same cores as the collector;
`fleet.py` prints how much.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

CHUNK = 1 << 16


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
                ) -> None:
    """Copy `reader` to `writer`, each chunk `delay` seconds after it was read; end with EOF."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                with contextlib.suppress(OSError):
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    out = asyncio.create_task(deliver())
    try:
        while data := await reader.read(CHUNK):
            queue.put_nowait((loop.time() + delay, data))
    except OSError:
        pass
    queue.put_nowait((loop.time() + delay, b""))
    with contextlib.suppress(OSError):
        await out


async def _serve(listen: str, to: str, rtt: float) -> None:
    host, _, port = listen.rpartition(":")

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.sleep(rtt)  # the handshake
            if to.startswith("unix:"):
                up_r, up_w = await asyncio.open_unix_connection(to[len("unix:"):])
            else:
                up_host, _, up_port = to.rpartition(":")
                up_r, up_w = await asyncio.open_connection(up_host, int(up_port))
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pump(reader, up_w, rtt / 2), _pump(up_r, writer, rtt / 2))
        for w in (writer, up_w):
            w.close()

    server = await asyncio.start_server(one, host, int(port), backlog=256)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
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
    asyncio.run(_serve(args.listen, args.to, args.rtt_ms / 1000))


if __name__ == "__main__":
    main()
