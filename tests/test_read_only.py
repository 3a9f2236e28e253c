"""Read-only use: a user who can only read the store, and cannot write (or even look into) their
home's cache, still gets `auditlib staleness`, `auditlib check` and the reports. Caches go where
the user can write (the XDG cache, else their own folder in the temporary folder) or are left
out with a one-line note.

The commands run in a subprocess as a user whom file modes stop: as is when not root; as root,
as `nobody` (setpriv) when that user can run this Python, else as root without capabilities
(setpriv --bounding-set=-all: file modes then stop root as they stop anyone). Where neither is
possible the tests are skipped, saying why (failed under CI=true).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditlib.eol.table import EolTable, cache_path
from auditlib.files import private_temp_dir, user_cache_dir, writable_cache_dir
from auditlib.ingest.incremental import commit_ingest, load_planned, plan_ingest
from auditlib.reports import kernel
from tests.samples import TRIVY
from tests.skip_or_fail import skip_or_fail
from tests.test_history import write_doc

READ_ONLY = "the read-only tests"
"""What CI must run, said when these tests cannot."""

UNWRITABLE = "/proc/auditlib-nowhere"
"""A folder nobody can make, root included."""


# --- where caches go ----------------------------------------------------------------------------

def test_caches_go_to_the_xdg_cache_else_a_private_temporary_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_dir() == tmp_path / "xdg" / "auditlib"
    assert writable_cache_dir("jupyter") == tmp_path / "xdg" / "auditlib" / "jupyter"
    assert cache_path() == tmp_path / "xdg" / "auditlib" / "eol.json"
    monkeypatch.setenv("XDG_CACHE_HOME", UNWRITABLE)
    private = tmp_path / "tmp" / f"auditlib-{os.getuid()}"
    assert writable_cache_dir("jupyter") == private / "jupyter"
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_cache_dir() == tmp_path / "home" / ".cache" / "auditlib"


def test_a_temporary_folder_someone_else_can_write_is_not_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = tmp_path / f"auditlib-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    assert private_temp_dir("jupyter") is None
    shared.rmdir()
    shared.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    assert private_temp_dir("jupyter") is None
    shared.unlink()
    assert private_temp_dir("jupyter", make=False) is None
    assert private_temp_dir("jupyter") == shared / "jupyter"


def test_a_cache_folder_that_cannot_be_looked_into_gives_the_bundled_eol_table_and_a_note(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDITLIB_EOL_FILE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cached = cache_path()
    real = Path.is_file

    def is_file(self: Path) -> bool:
        if self == cached:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "is_file", is_file)
    table = EolTable.load()
    assert table.origin == "bundled"
    assert table.note == (f"{cached}: cannot look for the cached EOL table (Permission denied); "
                          "using the bundled one")
    assert EolTable.bundled().note is None


def test_the_kernel_is_registered_in_a_private_temporary_folder_when_the_cache_is_read_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDITLIB_KERNEL_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", UNWRITABLE)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("JUPYTER_PATH", os.environ.get("JUPYTER_PATH", ""))
    name = kernel.register_kernel()
    spec = tmp_path / f"auditlib-{os.getuid()}" / "jupyter" / "share" / "jupyter" / "kernels"
    assert json.loads((spec / name / "kernel.json").read_text())["argv"][0] == sys.executable
    assert str(spec.parent) in os.environ["JUPYTER_PATH"].split(os.pathsep)


def test_report_kernels_get_an_ipython_folder_they_can_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPYTHONDIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    kernel.ipython_dir()
    assert "IPYTHONDIR" not in os.environ  # ~/.ipython can be made: IPython's own default
    monkeypatch.setenv("HOME", UNWRITABLE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    kernel.ipython_dir()
    assert os.environ["IPYTHONDIR"] == str(tmp_path / "xdg" / "auditlib" / "ipython")


# --- the commands, as a user who can only read --------------------------------------------------

def _runs(prefix: list[str]) -> bool:
    """Return whether `prefix` runs this very Python with auditlib (a user who cannot reach the
    interpreter a venv links to may get another one, or none)."""
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import sys, auditlib.cli.main; print(sys.version)"],
        capture_output=True, text=True, timeout=120)
    return probe.returncode == 0 and probe.stdout.strip() == sys.version


@pytest.fixture(scope="module")
def as_reader() -> list[str]:
    """Return the command prefix that runs a command as a user whom file modes stop."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        skip_or_fail("running as root without setpriv (util-linux): cannot run the commands as "
                     "a user whom file modes stop", READ_ONLY)
    nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    if _runs(nobody):
        return nobody
    # This Python cannot be run by nobody (it lives under /root, say): root without any
    # capability, whom file modes stop as they stop anyone.
    capless = [setpriv, "--bounding-set=-all", "--inh-caps=-all", "--"]
    if _runs(capless):
        return capless
    skip_or_fail("running as root, and neither nobody nor root without capabilities can run "
                 f"{sys.executable}", READ_ONLY)


@pytest.fixture(scope="module")
def read_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder anyone may look into, holding a store of one image made read-only (`store`),
    a read-only home (`home`), a home whose cache cannot be looked into (`home-closed`) and a
    folder anyone can write reports to (`out`)."""
    root = Path(tempfile.mkdtemp(prefix="auditlib-read-only-"))
    root.chmod(0o755)
    fleet, store = root / "fleet", root / "store"
    write_doc(fleet / "alpine.json", TRIVY)
    plan = plan_ingest(store, [str(fleet)])
    commit_ingest(plan, load_planned(plan))
    (root / "home").mkdir()
    (root / "home-closed" / ".cache").mkdir(parents=True)
    (root / "out").mkdir(mode=0o777)
    (root / "out").chmod(0o777)
    for p in [store, *store.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    (root / "home").chmod(0o555)
    (root / "home-closed" / ".cache").chmod(0o000)
    try:
        yield root
    finally:
        for p in [root, *root.rglob("*")]:
            if not p.is_symlink():
                p.chmod(0o755 if p.is_dir() else 0o644)
        shutil.rmtree(root, ignore_errors=True)


def _run(prefix: list[str], root: Path, home: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XDG_", "AUDITLIB_", "JUPYTER", "IPYTHON"))}
    env.update(HOME=str(root / home), COLUMNS="200")
    return subprocess.run([*prefix, sys.executable, "-m", "auditlib.cli", *args], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)


def test_the_store_and_home_are_read_only_for_the_reader(as_reader: list[str],
                                                         read_only: Path) -> None:
    probe = subprocess.run(
        [*as_reader, sys.executable, "-c",
         "import os, sys; sys.exit(sum(os.access(p, os.W_OK) for p in sys.argv[1:]))",
         str(read_only / "store" / "snapshots"), str(read_only / "home")],
        capture_output=True, timeout=60)
    assert probe.returncode == 0, "the reader can write the store or the home"


def test_staleness_on_a_read_only_store_with_a_read_only_home(as_reader: list[str],
                                                              read_only: Path) -> None:
    done = _run(as_reader, read_only, "home", "staleness", "--store", str(read_only / "store"))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "docker.io/library/alpine:3.19" in done.stdout


def test_check_on_a_read_only_store_whose_home_cache_cannot_be_read(as_reader: list[str],
                                                                    read_only: Path) -> None:
    done = _run(as_reader, read_only, "home-closed", "check", "--store",
                str(read_only / "store"), "--fail-on", "never")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "docker.io/library/alpine:3.19" in done.stdout
    closed = read_only / "home-closed" / ".cache" / "auditlib" / "eol.json"
    assert (f"note: {closed}: cannot look for the cached EOL table (Permission denied); using "
            "the bundled one") in done.stderr


@pytest.mark.slow  # a notebook executed with papermill
def test_a_report_on_a_read_only_store_from_a_read_only_home(as_reader: list[str],
                                                             read_only: Path) -> None:
    done = _run(as_reader, read_only, "home-closed", "report", "staleness", "--store",
                str(read_only / "store"), "--out", str(read_only / "out"), "--quiet")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr
    (page,) = (read_only / "out").glob("run-*/staleness.html")
    assert "docker.io/library/alpine:3.19" in page.read_text()
