"""Report kernels are shut down without the interrupt jupyter_client sends first (which ipykernel
logs as `KeyboardInterrupt caught in kernel.` when it lands in a message handler), while an
interrupt asked for (nbclient's, when a cell runs out of time) still reaches the kernel."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from jupyter_client.manager import AsyncKernelManager
from traitlets.utils.importstring import import_item

from auditlib.reports.kernel import KERNEL_ARGUMENTS, KERNEL_MANAGER, find_kernel
from auditlib.reports.kernel_manager import ReportKernelManager

pytestmark = pytest.mark.slow  # two real kernels start

# In the kernel: note every SIGINT in a file, and keep that handler after the cell (ipykernel
# puts its own back after each message).
WATCH = """
import signal
_k = get_ipython().kernel
_k.pre_handler_hook = _k.post_handler_hook = lambda: None
def _note(*_):
    with open({path!r}, "a") as f:
        f.write("SIGINT\\n")
signal.signal(signal.SIGINT, _note)
"""


def _lines(path: Path, want: int) -> int:
    """Return the SIGINTs noted, waiting up to 10 s for `want` of them."""
    deadline = time.monotonic() + 10
    while True:
        n = len(path.read_text().splitlines()) if path.exists() else 0
        if n >= want or time.monotonic() > deadline:
            return n
        time.sleep(0.1)


async def _run(cls: type[AsyncKernelManager], path: Path, interrupt: bool) -> tuple[int, int]:
    """Start a kernel under `cls`, watch its SIGINTs, interrupt it if asked, shut it down;
    return the SIGINTs noted before and after the shutdown."""
    km = cls(kernel_name=find_kernel())
    await km.start_kernel(extra_arguments=KERNEL_ARGUMENTS)
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=120)
        reply = await kc.execute_interactive(WATCH.format(path=str(path)), timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        if interrupt:
            await km.interrupt_kernel()
        before = _lines(path, 1 if interrupt else 0)
    finally:
        kc.stop_channels()
        await km.shutdown_kernel()
    return before, _lines(path, 0)  # the kernel has exited: all it noted is written


def test_shutdown_sends_no_interrupt_but_an_interrupt_still_does(tmp_path: Path) -> None:
    assert import_item(KERNEL_MANAGER) is ReportKernelManager  # what run_report gives nbclient
    ours = asyncio.run(_run(ReportKernelManager, tmp_path / "ours", interrupt=True))
    assert ours == (1, 1)  # the interrupt asked for arrived; the shutdown sent none
    # jupyter_client's own manager interrupts before the shutdown: what the test guards against.
    theirs = asyncio.run(_run(AsyncKernelManager, tmp_path / "theirs", interrupt=False))
    assert theirs == (0, 1)
