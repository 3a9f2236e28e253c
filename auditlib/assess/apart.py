"""Run a function in a process of its own, so that the memory it took goes back whole.

A process keeps most of the memory it once used even after it lets go of the objects: the
allocators (pyarrow's mimalloc, glibc's arenas, Python's own) hold freed pages for reuse. After
a 100,000-image assessment the run's process still held 3.5 GB with nothing but the policy
results alive (0.9 GB of frames; by hand, `README`: "The run's assessment in a process of its
own"). A process that ends gives all of it back.

`run_apart(fn, ...)` calls `fn` in a new interpreter (`python -m auditlib.assess.apart`, with this
process's `sys.path`), never a fork of a process DuckDB's threads run in; and unlike
`multiprocessing`'s `spawn` it never imports the caller's `__main__` again (a script without a
`__main__` guard would run twice). The call and its answer go through two pickle files in a
temporary folder.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from auditlib.errors import AuditlibError

T = TypeVar("T")


class ApartError(AuditlibError):
    """The process of its own ended without an answer (killed, out of memory), or its answer
    cannot be read."""


class ApartTraceback(AuditlibError):
    """The traceback of what a function raised in its own process (the cause of the error
    raised again here)."""


def run_apart(fn: Callable[..., T], *args: Any, what: str = "the work") -> T:
    """Return `fn(*args)` called in a new process, which then ends.

    `fn` must be a module-level function, and its arguments and result picklable. The process
    inherits the environment (`AUDITLIB_*`, `DOCKER_HOST`), its standard output and error are
    this process's, and it never sees this process's monkeypatches or open connections.

    Args:
        what: what `fn` does, for the error if the process ends without an answer.

    Raises:
        ApartError: if the process ended without an answer (its exit code in the message), or
            its answer cannot be read.
        Exception: what `fn` raised, raised again here (its traceback in that process as the
            cause, `ApartTraceback`).
    """
    with tempfile.TemporaryDirectory(prefix="auditlib-apart-") as tmp:
        call, answer = Path(tmp) / "call.pickle", Path(tmp) / "answer.pickle"
        call.write_bytes(pickle.dumps((fn, args)))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        done = subprocess.run([sys.executable, "-m", "auditlib.assess.apart", str(call),
                               str(answer)], env=env, check=False)
        try:
            ok, value, trace = pickle.loads(answer.read_bytes())
        except FileNotFoundError:
            raise ApartError(f"{what}: its process ended without an answer (exit code "
                             f"{done.returncode}; killed, or out of memory?)") from None
        except Exception as e:  # noqa: BLE001 - an answer that cannot be unpickled
            raise ApartError(f"{what}: its answer cannot be read ({type(e).__name__}: {e})"
                             ) from None
    if ok:
        result: T = value
        return result
    raise value from ApartTraceback(trace)


def _serve(call: Path, answer: Path) -> None:
    """Call the function pickled in `call` and pickle `(ok, value, traceback)` into `answer`:
    its result, or what it raised (an exception that cannot be pickled as an `ApartError`
    with its text)."""
    fn, args = pickle.loads(call.read_bytes())
    try:
        out: tuple[bool, Any, str] = (True, fn(*args), "")
    except Exception as e:  # noqa: BLE001 - handed to the caller, raised there
        trace = "".join(traceback.format_exception(e))
        try:
            pickle.loads(pickle.dumps(e))  # an exception that cannot come back whole
            out = (False, e, trace)
        except Exception:  # noqa: BLE001
            out = (False, ApartError(f"{type(e).__name__}: {e}"), trace)
    answer.write_bytes(pickle.dumps(out))


if __name__ == "__main__":  # `python -m auditlib.assess.apart`: its names imported by name
    from auditlib.assess.apart import _serve as serve  # (`auditlib.assess.apart.ApartError`)

    serve(Path(sys.argv[1]), Path(sys.argv[2]))
