"""Atomic file writes (`auditlib.files`): all or nothing, the old mode kept, no temporary left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from auditlib.files import atomic_path, remove_stale_temps, write_atomic


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_atomic_writes_text_as_utf8_and_bytes_as_they_are(tmp_path: Path) -> None:
    write_atomic(tmp_path / "sub" / "a.txt", "é\n")
    write_atomic(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "sub" / "a.txt").read_bytes() == "é\n".encode()
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.txt", "b.bin", "sub"]


def test_a_new_file_gets_the_umask_mode_and_a_rewrite_keeps_the_old_mode(tmp_path: Path) -> None:
    f = tmp_path / "t.json"
    write_atomic(f, "{}")
    assert _mode(f) == 0o666 & ~_umask()  # not mkstemp's 0600
    f.chmod(0o640)
    write_atomic(f, "[]")
    assert _mode(f) == 0o640 and f.read_text() == "[]"
    write_atomic(f, "1", mode=0o600)
    assert _mode(f) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    f = tmp_path / "t.json"
    write_atomic(f, "old")
    with pytest.raises(KeyboardInterrupt), atomic_path(f) as temp:
        assert temp.parent == tmp_path and temp.name.startswith(".t.json.")
        temp.write_text("half")
        raise KeyboardInterrupt
    assert f.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_atomic_path_renames_what_the_writer_made(tmp_path: Path) -> None:
    f = tmp_path / "out.json"
    with atomic_path(f, sync=False) as temp:
        assert temp.is_file() and not f.exists()  # made empty; nothing visible yet
        temp.write_text('{"a": 1}')
    assert f.read_text() == '{"a": 1}' and not temp.exists()


def test_remove_stale_temps_removes_only_old_temporaries_of_that_file(tmp_path: Path) -> None:
    f = tmp_path / "cache.parquet"
    old, young = tmp_path / ".cache.parquet.aaaa.tmp", tmp_path / ".cache.parquet.bbbb.tmp"
    other = tmp_path / ".other.parquet.cccc.tmp"
    for p in (old, young, other):
        p.write_text("x")
    os.utime(old, (0, 0))
    os.utime(other, (0, 0))
    remove_stale_temps(f, older_than=3600)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([young.name, other.name])
