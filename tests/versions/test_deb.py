"""Debian versions ordered as dpkg orders them (`auditlib.versions.deb`)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from auditlib.versions import deb
from tests.versions.pairs import near_pairs


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1.0~rc1", "1.0", -1),                     # tilde sorts before the end
    ("1.0~rc1", "1.0~rc1~1", 1),
    ("1.0", "1.0+dfsg", -1),
    ("1.0", "1.0a", -1),                        # the end before letters
    ("1.0a", "1.0+", -1),                       # letters before other characters
    ("1.02", "1.2", 0),                         # numbers compare as numbers
    ("1.9", "1.10", -1),
    ("2.38.1-5+deb12u3", "1:2.38.1-5+deb12u3", -1),  # epoch 1 beats any epoch-0 version
    ("0:2.38.1-5", "2.38.1-5", 0),              # epoch 0 is no epoch
    ("2:1.0", "10:0.1", -1),
    ("5.2.15-2", "5.2.15-2+b13", -1),           # a binNMU is newer
    ("2.0.5-1", "2.0.5-1+deb10u1", -1),         # a stable update is newer
    ("1.2.3-1~deb12u1", "1.2.3-1", -1),         # a backport-style revision is older
    ("1.0-1", "1.0", 1),                        # an empty revision is the lowest
    ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1),
    ("1:9.18.28-1~deb12u2", "1:9.18.33-1~deb12u2", -1),
    ("2.36-9+deb12u4", "2.36-9+deb12u10", -1),
    ("1.2.3-a-b", "1.2.3-a-c", None),           # the upstream part may hold `-`: upstream 1.2.3-a
])
def test_order(a: str, b: str, expected: int | None) -> None:
    if expected is None:  # the last `-` starts the revision
        assert deb.parse(a) == deb.DebVersion(0, "1.2.3-a", "b")
        assert deb.compare(a, b) == -1
        return
    assert deb.compare(a, b) == expected
    assert deb.compare(b, a) == -expected


@pytest.mark.parametrize("text", [
    "", " ", "1.0 2", ":1.0", "a:1.0", "1:", "1.0-", "abc", "~1", "1.0_1", "1.0-1_2", "1:-1",
    "99999999999:1.0",
])
def test_what_dpkg_refuses_or_warns_about_is_no_version(text: str) -> None:
    assert deb.parse(text) is None
    assert deb.compare(text, "1.0") is None


def test_epoch_upstream_and_revision() -> None:
    assert deb.parse("1:2.38.1-5+deb12u3") == deb.DebVersion(1, "2.38.1", "5+deb12u3")
    assert deb.parse("2:6.2.1+dfsg1-1.1") == deb.DebVersion(2, "6.2.1+dfsg1", "1.1")
    assert deb.parse("3.134") == deb.DebVersion(0, "3.134", "")
    assert deb.parse("1:2:3-4") == deb.DebVersion(1, "2:3", "4")  # a colon after the epoch's


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg not installed (not a Debian system)")
def test_the_port_agrees_with_dpkg() -> None:
    pairs = [(a, b) for a, b in near_pairs(13, 400, "0123456789", "0012345679.+~aAzZ-",
                                            hyphens=True)
             if deb.compare(a, b) is not None]
    script = "".join(
        f"if dpkg --compare-versions '{a}' lt '{b}'; then echo -1; "
        f"elif dpkg --compare-versions '{a}' eq '{b}'; then echo 0; else echo 1; fi\n"
        for a, b in pairs)
    out = subprocess.run(["sh"], input=script, capture_output=True, text=True, check=True)
    dpkg = [int(x) for x in out.stdout.split()]
    assert len(pairs) > 300 and len(dpkg) == len(pairs)
    assert [(a, b, deb.compare(a, b)) for a, b in pairs] == [
        (a, b, r) for (a, b), r in zip(pairs, dpkg, strict=True)]
