"""The kernel manager report notebooks run under: jupyter_client's, without the interrupt it
sends before every shutdown.

jupyter_client 8 interrupts a kernel (SIGINT) before it asks it to shut down
(`KernelManager.shutdown_wait_time`: "the kernel will be immediately sent an interrupt"), and
nbclient shuts every kernel down that way when a notebook is done. ipykernel ignores SIGINT while
it waits for a message, but when the signal lands while it is still handling one (a machine
busy with two reports at once makes that likely), it logs `[IPKernelApp] ERROR |
KeyboardInterrupt caught in kernel.` on standard error: an error line for a run that went well.

A report's kernel has nothing to interrupt when nbclient shuts it down (every cell has ended, or
nbclient has already interrupted the cell that ran out of time, through `interrupt_kernel`, which
still signals), so here the shutdown goes without it: the shutdown request, then, if the kernel
does not exit in `shutdown_wait_time`, SIGTERM and SIGKILL as before. The kernel's log level is
untouched: a real error in it is still printed.
"""

from __future__ import annotations

from jupyter_client.manager import AsyncKernelManager


class ReportKernelManager(AsyncKernelManager):
    """`AsyncKernelManager` (nbclient's default) whose shutdown sends no interrupt first."""

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt the kernel, except as the first step of a shutdown (`shutting_down`)."""
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()
