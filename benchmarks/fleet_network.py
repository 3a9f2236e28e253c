"""Hosts for `fleet.py`: each in a network namespace of its own, reached across a link with latency.

`Network(rtt_ms)` is a context manager; `add()` makes a host: a namespace (`ip netns add`), a veth
pair from the root namespace into it (`10.77.N.1` on the root side, `10.77.N.2` in the host,
a /24 of its own), loopback up. `relay()` starts `latency_relay.py` in a host's namespace, so
that what the collector sends to `10.77.N.2:PORT` reaches the host's server a half round trip
later and its answer comes back after another (the kernel here has no `netem` qdisc, see
`latency_relay.py`). Everything made is removed at the end, also after an error or a signal.
Needs root and iproute2.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

RELAY = Path(__file__).with_name("latency_relay.py")
SUBNET = "10.77"


@dataclass(frozen=True)
class Host:
    """A host of the fleet: its namespace and addresses."""

    namespace: str
    address: str
    """Its own address, `10.77.N.2`: what the collector connects to."""
    index: int

    @property
    def wrap(self) -> list[str]:
        """Return the command prefix that runs a program in the host's network namespace.

        `nsenter --net`, not `ip netns exec`: the latter also makes a mount namespace with a
        sysfs of its own, without the cgroup mounts dockerd needs ("Devices cgroup isn't
        mounted").
        """
        return ["nsenter", f"--net=/run/netns/{self.namespace}"]


def _ip(*args: str) -> None:
    """Run `ip ARGS`.

    Raises:
        RuntimeError: with ip's message, when it fails.
    """
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # runs the `finally`s that remove the namespaces


class Network:
    """The namespaces, links and relays of one benchmark run."""

    def __init__(self, rtt_ms: float) -> None:
        """Keep the round trip each host's link adds (milliseconds)."""
        self.rtt_ms = rtt_ms
        self.tag = f"alf{os.getpid() % 100000}"
        self.hosts: list[Host] = []
        self.relays: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Network:
        """Make sure a SIGTERM still removes what was made."""
        signal.signal(signal.SIGTERM, _terminated)
        return self

    def __exit__(self, *exc: object) -> None:
        """Remove everything."""
        self.close()

    def add(self) -> Host:
        """Make one more host; return it.

        Raises:
            RuntimeError: `ip` failed (no root, address taken): what it said.
        """
        n = len(self.hosts) + 1
        ns, outside, inside = f"{self.tag}-h{n}", f"{self.tag}o{n}", f"{self.tag}i{n}"
        _ip("netns", "add", ns)
        host = Host(ns, f"{SUBNET}.{n}.2", n)
        self.hosts.append(host)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", ns)
        _ip("addr", "add", f"{SUBNET}.{n}.1/24", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("-n", ns, "addr", "add", f"{host.address}/24", "dev", inside)
        _ip("-n", ns, "link", "set", inside, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        return host

    def relay(self, host: Host, port: int, to: str) -> str:
        """Start a relay in `host` from `host.address:port` to `to` (`unix:PATH`, `HOST:PORT`)
        adding the network's round trip; return `host.address:port` once it listens.

        Raises:
            RuntimeError: the relay did not start (with what it printed).
        """
        proc = subprocess.Popen(
            [*host.wrap, sys.executable, str(RELAY), "--listen", f"{host.address}:{port}",
             "--to", to, "--rtt-ms", str(self.rtt_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.relays.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "listening":
            raise RuntimeError(f"latency relay in {host.namespace} did not start: "
                               f"{line}{proc.stdout.read()[-500:]}")
        return f"{host.address}:{port}"

    def relay_cpu(self) -> float:
        """Return the CPU seconds the relays have spent so far (user and system)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for proc in self.relays:
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def close(self) -> None:
        """Stop the relays and remove the namespaces (and so their links)."""
        for proc in self.relays:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.relays:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.relays = []
        for host in self.hosts:  # the link goes with either end, even if a process lingers
            subprocess.run(["ip", "link", "del", f"{self.tag}o{host.index}"],
                           capture_output=True, check=False)
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True,
                           check=False)
        self.hosts = []
