"""Find the Jupyter kernel that runs this Python, or register one.

`NoSuchKernel` in virtual environments is papermill's most common failure, and a kernel named
`python3` may run another Python than the one auditlib is installed in (papermill#251, #625,
#761). A kernelspec fits when it starts this interpreter: its argv[0] is `python` / `python3`
(jupyter_client then runs `sys.executable`) or this very executable. When none fits, the
venv's ipykernel is registered as a kernelspec under a folder auditlib controls, which is put
on `JUPYTER_PATH` for this process: `AUDITLIB_KERNEL_HOME`, else the user's cache
(`~/.cache/auditlib/jupyter`), else, for a user who cannot write there, this user's own folder in
the temporary folder. Kernels get an IPython folder they can write (`IPYTHONDIR`) for the same
reason: a read-only home still gives reports.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from auditlib.errors import AuditlibError
from auditlib.files import private_temp_dir, user_cache_dir, writable_cache_dir


class KernelError(AuditlibError):
    """The kernel named does not exist, or none could be registered."""


def kernel_home() -> Path | None:
    """Return the folder auditlib registers kernelspecs under (`AUDITLIB_KERNEL_HOME`, else
    the user's cache); None when there is no home folder."""
    env = os.environ.get("AUDITLIB_KERNEL_HOME")
    if env:
        return Path(env)
    cache = user_cache_dir()
    return None if cache is None else cache / "jupyter"


def _kernel_homes(*, make: bool) -> Iterator[Path]:
    """Yield where a kernelspec may be registered, in order: `kernel_home()`, then (unless
    `AUDITLIB_KERNEL_HOME` is set) this user's own folder in the temporary folder (made when
    `make` and reached; else only when it exists)."""
    home = kernel_home()
    if home is not None:
        yield home
    if not os.environ.get("AUDITLIB_KERNEL_HOME"):
        temp = private_temp_dir("jupyter", make=make)
        if temp is not None:
            yield temp


def _writable(folder: Path) -> bool:
    """Return whether `folder` is a folder this user writes in, making it if missing (as IPython
    would on its first start)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def ipython_dir() -> None:
    """Give report kernels an IPython folder they can write: when `IPYTHONDIR` is not set and
    `~/.ipython` cannot be written (a read-only home), set it to a cache folder this user can
    write, rather than let IPython warn on every kernel start."""
    if os.environ.get("IPYTHONDIR"):
        return
    try:
        default = Path.home() / ".ipython"
    except RuntimeError:
        default = None
    if default is not None and _writable(default):
        return
    folder = writable_cache_dir("ipython")
    if folder is not None:
        os.environ["IPYTHONDIR"] = str(folder)


def own_kernel_name() -> str:
    """Return the name auditlib registers this Python's kernel as (one per interpreter)."""
    digest = hashlib.sha256(os.path.abspath(sys.executable).encode()).hexdigest()[:8]
    return f"auditlib-{digest}"


def fits(argv: list[str]) -> bool:
    """Return whether a kernelspec's argv starts this Python with ipykernel."""
    if not argv:
        return False
    first = argv[0]
    names = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info)}
    runs_this = first in names or os.path.abspath(first) == os.path.abspath(sys.executable)
    return runs_this and any("ipykernel" in a for a in argv[1:])


def _add_to_jupyter_path(data_dir: Path) -> None:
    current = os.environ.get("JUPYTER_PATH", "")
    parts = [p for p in current.split(os.pathsep) if p]
    if str(data_dir) not in parts:
        os.environ["JUPYTER_PATH"] = os.pathsep.join([str(data_dir), *parts])


def find_kernel(name: str | None = None) -> str:
    """Return the name of the kernel to run report notebooks with.

    Args:
        name: a kernel to use as it is; None to find one that runs this Python (`python3`
            first), or to register one.

    Returns:
        The kernel name, usable as papermill's `kernel_name` in this process.

    Raises:
        KernelError: if `name` is not an installed kernel, or no kernel could be registered.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ipython_dir()
    for home in reversed(list(_kernel_homes(make=False))):
        own_dir = home / "share" / "jupyter"
        try:
            if (own_dir / "kernels").is_dir():
                _add_to_jupyter_path(own_dir)
        except OSError:
            pass  # a folder this user cannot look into holds no kernel it can use
    ksm = KernelSpecManager()
    if name:
        try:
            ksm.get_kernel_spec(name)
        except NoSuchKernel:
            known = ", ".join(sorted(ksm.find_kernel_specs())) or "none"
            raise KernelError(f"{name}: no such Jupyter kernel (installed: {known}); omit "
                              "--kernel to use this Python's") from None
        return name
    specs = ksm.get_all_specs()
    for n in sorted(specs, key=lambda k: (k != "python3", k != own_kernel_name(), k)):
        if fits(list(specs[n].get("spec", {}).get("argv", []))):
            return n
    return register_kernel()


def register_kernel() -> str:
    """Register this Python's ipykernel as a kernelspec under `kernel_home()` and make it
    findable in this process.

    Returns:
        The kernel name.

    Raises:
        KernelError: if ipykernel is missing or the kernelspec cannot be written.
    """
    try:
        from ipykernel.kernelspec import install
    except ImportError as e:
        raise KernelError("ipykernel is not installed in this Python: pip install ipykernel") from e
    name = own_kernel_name()
    failed = []
    for home in _kernel_homes(make=True):
        try:
            install(kernel_name=name, display_name=f"Python (auditlib, {sys.prefix})",
                    prefix=str(home))
        except OSError as e:
            failed.append(f"{home}: {e.strerror or e}")
            continue
        _add_to_jupyter_path(home / "share" / "jupyter")
        return name
    raise KernelError("cannot register a Jupyter kernel (" + ("; ".join(failed) or
                      "no home folder and no temporary folder of this user") + "); set "
                      "AUDITLIB_KERNEL_HOME to a folder you can write, or name one with --kernel")



KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]
"""Arguments every report kernel gets: ipykernel 7 warns on each start that its TCP channels on
localhost are not encrypted (they are HMAC-signed with a key only this user can read); the
warning would be printed by every report, so only errors are logged."""

KERNEL_MANAGER = "auditlib.reports.kernel_manager.ReportKernelManager"
"""The kernel manager report kernels run under (`kernel_manager.ReportKernelManager`: no interrupt
before the shutdown), named by its import path as nbclient's `kernel_manager_class` takes it, so
that jupyter_client is imported only when a report runs."""
