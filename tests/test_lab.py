"""`auditlib lab`: the packaged notebooks copied with the store filled in, the analyst's edits kept,
a one-line error without JupyterLab, and a real JupyterLab serving the copies."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditlib.cli import main
from auditlib.reports.lab import prepare_lab
from auditlib.reports.runner import packaged_notebooks

NOTEBOOKS = ["compliance.ipynb", "explore.ipynb", "staleness.ipynb"]


def _parameters(path: Path) -> str:
    doc = json.loads(path.read_text())
    (cell,) = [c for c in doc["cells"] if "parameters" in c["metadata"].get("tags", [])]
    return "".join(cell["source"])


def test_the_notebooks_are_package_data() -> None:
    assert sorted(p.name for p in packaged_notebooks().glob("*.ipynb")) == NOTEBOOKS
    # Their default store is the CLI's (None: store.layout.default_store), in every notebook.
    for name in NOTEBOOKS:
        assert 'store: "Optional[str]" = None' in _parameters(packaged_notebooks() / name)


def test_copies_have_the_store_and_edits_are_kept(tmp_path: Path) -> None:
    store, folder = tmp_path / "my-store", tmp_path / "nb"
    copies = prepare_lab(folder, store)
    assert [c.path.name for c in copies] == NOTEBOOKS and all(c.written for c in copies)
    for c in copies:
        assert f'store: "Optional[str]" = "{store.resolve()}"' in _parameters(c.path)
    (folder / "explore.ipynb").write_text((folder / "explore.ipynb").read_text()
                                          .replace("Explore the store", "My analysis"))
    again = prepare_lab(folder, tmp_path / "other")
    assert not any(c.written for c in again)
    assert "My analysis" in (folder / "explore.ipynb").read_text()
    assert any(c.written for c in prepare_lab(folder, store, refresh=True))
    assert "My analysis" not in (folder / "explore.ipynb").read_text()


def test_without_jupyterlab_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("auditlib.cli.lab._jupyter_lab", lambda: None)
    result = CliRunner().invoke(main, ["lab", "--store", str(tmp_path / "s"), "--dir",
                                       str(tmp_path / "nb")])
    assert result.exit_code == 2
    assert "JupyterLab is not installed: pip install 'auditlib[lab]'" in result.output
    assert "Traceback" not in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_a_real_jupyterlab_serves_the_copies(tmp_path: Path) -> None:
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (the [lab] extra)")
    port, token = _free_port(), "auditlib-test"
    cmd = [sys.executable, "-m", "auditlib.cli", "lab", "--store", str(tmp_path / "store"),
           "--dir", str(tmp_path / "nb"), "--", "--no-browser", f"--port={port}",
           f"--ServerApp.token={token}", "--ServerApp.ip=127.0.0.1"]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_DATA_DIR": str(tmp_path / "d")}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        listed: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=2) as r:
                    listed = sorted(c["name"] for c in json.load(r)["content"])
                    break
            except OSError:
                time.sleep(0.5)
        assert listed == NOTEBOOKS, proc.stdout.read().decode() if proc.poll() is not None else ""
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # `auditlib lab` passed SIGTERM on: JupyterLab stopped with it, nothing serves the port
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=2)
