"""RPM versions ordered as rpm orders them (`auditlib.versions.rpm`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from auditlib.versions import rpm
from tests.versions.pairs import near_pairs


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1.0-1.el8", "1.0-1.el8_9.1", -1),          # a z-stream update is newer
    ("0.7-20.el8", "0.7-21.el8_9.1", -1),
    ("1:1.0.2k-16.el7", "1:1.0.2k-19.el7", -1),
    ("32:9.11.36-5.el8_7.2", "32:9.11.36-8.el8", -1),
    ("1:2.2.6-50.el8", "3.7.2", 1),              # epoch 1 beats the missing epoch (0)
    ("0:0.7-21.el8_9.1", "0.7-21.el8_9.1", 0),   # epoch 0 is no epoch
    ("1.0~rc1-1", "1.0-1", -1),                  # tilde sorts before the end
    ("1.0^git1-1", "1.0-1", 1),                  # caret sorts after the end
    ("1.0^git1", "1.0.1", -1),                   # ... but before anything more
    ("1.0-5", "1.0", 1),                         # a missing release is the lowest
    ("1.0a", "1.0", 1),
    ("1.0a", "1.0.1", -1),                       # letters before numbers
    ("1.010", "1.10", 0),
    ("2.0", "2_0", 0),                           # separators are only separators
    ("4.2.46-31.el7", "4.2.46-34.el7", -1),
])
def test_order(a: str, b: str, expected: int) -> None:
    assert rpm.compare(a, b) == expected
    assert rpm.compare(b, a) == -expected


def test_epoch_version_and_release() -> None:
    assert rpm.parse("32:9.11.36-5.el8_7.2") == rpm.RpmVersion("32", "9.11.36", "5.el8_7.2")
    assert rpm.parse("3.7.2") == rpm.RpmVersion(None, "3.7.2", None)
    assert rpm.parse(":1.0-1") == rpm.RpmVersion("0", "1.0", "1")
    assert rpm.parse("") is None and rpm.parse("1.0 -1") is None


@pytest.mark.skipif(shutil.which("rpm") is None, reason="rpm not installed (Debian package rpm)")
def test_the_port_agrees_with_rpm(tmp_path: Path) -> None:
    pairs = near_pairs(13, 2000, "0123456789a", "0012345679.._++~~^^aAzZ", hyphens=True)
    script = tmp_path / "cmp.lua"
    script.write_text("".join(
        f"print(rpm.vercmp({json.dumps(a)}, {json.dumps(b)}) .. '\\n')\n" for a, b in pairs))
    out = subprocess.run(["rpm", "--eval", f'%{{lua: dofile("{script}")}}'],
                         capture_output=True, text=True, check=True)
    found = [int(x) for x in out.stdout.split()]
    assert len(found) == len(pairs)
    assert [(a, b, rpm.compare(a, b)) for a, b in pairs] == [
        (a, b, r) for (a, b), r in zip(pairs, found, strict=True)]
