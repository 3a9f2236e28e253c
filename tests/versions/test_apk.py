"""Alpine versions ordered as apk-tools orders them (`auditlib.versions.apk`)."""

from __future__ import annotations

import pytest

from auditlib.versions import apk


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1.2.3-r9", "1.2.3-r10", -1),               # revisions compare as numbers
    ("1.2.3", "1.2.3-r0", -1),
    ("1.1.1c-r0", "1.1.1d-r0", -1),              # one letter after the digits
    ("1.1.1k-r0", "1.1.1-r5", 1),
    ("7.61.0-r0", "7.61.1-r1", -1),
    ("3.0.4-r1", "3.0.6-r0", -1),
    ("1.2.3_rc1-r0", "1.2.3-r0", -1),            # a pre-release suffix is older
    ("1.2.3_alpha1", "1.2.3_beta1", -1),
    ("1.2.3_pre2", "1.2.3_rc1", -1),
    ("1.2.3_p1-r0", "1.2.3-r0", 1),              # a patch suffix is newer
    ("1.2.4_git20230717-r4", "1.2.4-r4", 1),     # musl's: `_git` is a post-release suffix
    ("0.0_git20230101", "0.0_git20230202", -1),
    ("1.2.4_git20230717", "1.2.4_p1", -1),       # git before p
    ("1.0_cvs1", "1.0_svn1", -1),
    ("1.01", "1.1", -1),                         # a leading zero compares as text
    ("1.0", "1.0.0", -1),
    ("0.1_pre2~1234abcd", "0.1_pre2", 1),        # a commit hash
    ("2.34", "0.1.0_alpha", 1),
])
def test_order(a: str, b: str, expected: int) -> None:
    assert apk.compare(a, b) == expected
    assert apk.compare(b, a) == -expected


@pytest.mark.parametrize("text", [
    "", "a", ".1", "1.", "1.0bc", "0.1a1", "0.1_foo", "0.1_", "0.1-r", "0.1-r2_pre1", "0.1-pre1",
    "0.1_pre2~", "0.1_pre2~1234xbcd", "1.0-r1-r2", "1.0~abc_pre1", "1.0A",
])
def test_what_apk_refuses_is_no_version(text: str) -> None:
    assert apk.tokens(text) is None
    assert apk.compare(text, "1.0") is None
