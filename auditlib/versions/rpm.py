"""RPM versions, `[epoch:]version[-release]`, ordered as rpm orders them.

A port of rpm's own rules (`rpmio/rpmvercmp.c` `rpmvercmp`, `rpmio/rpmver.c` `parseEVR` and
`rpmverCmp`): the epoch is the leading digits before a `:` (missing means 0), the release is what
follows the last `-`; epoch, version and release compare in turn, a missing release below any
release. Each part compares by alternating alphabetic and numeric segments, separators ignored:
numbers as numbers, letters as ASCII, a number above letters, `~` below everything (even the
end: `1.0~rc1` < `1.0`), `^` above the end but below anything else (`1.0^git1` > `1.0`).
`tests/versions/test_rpm.py` checks the port against rpm's `rpm.vercmp` where rpm is installed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

_DIGITS = frozenset("0123456789")
_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ALNUM = _DIGITS | _ALPHA


class RpmVersion(NamedTuple):
    """A parsed EVR."""

    epoch: str | None
    """The epoch's digits; None when the EVR has none (it compares as 0)."""
    version: str
    release: str | None
    """None when the EVR has no `-`."""


@lru_cache(maxsize=65536)
def parse(text: str) -> RpmVersion | None:
    """Split an EVR as rpm's `parseEVR` does; None for an empty or blank string (rpm takes no
    empty version) or one with whitespace (no rpm tag holds one)."""
    if not text or any(c.isspace() for c in text):
        return None
    n = 0
    while n < len(text) and text[n] in _DIGITS:
        n += 1
    epoch: str | None = None
    version = text
    if n < len(text) and text[n] == ":":
        epoch, version = text[:n] or "0", text[n + 1:]
    head, hyphen, release = version.rpartition("-")
    if hyphen:
        version = head
        return RpmVersion(epoch, version, release)
    return RpmVersion(epoch, version, None)


def rpmvercmp(a: str, b: str) -> int:
    """Compare two version (or release) strings as rpm's `rpmvercmp` does.

    Returns:
        -1, 0 or 1 as `a` is below, equal to or above `b`.
    """
    if a == b:
        return 0
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        while i < la and a[i] not in _ALNUM and a[i] not in "~^":
            i += 1
        while j < lb and b[j] not in _ALNUM and b[j] not in "~^":
            j += 1
        ca = a[i] if i < la else ""
        cb = b[j] if j < lb else ""
        # Tilde: sorts before everything else, the end included.
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i += 1
            j += 1
            continue
        # Caret: like tilde, but the end of the other string sorts lower still.
        if ca == "^" or cb == "^":
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i += 1
            j += 1
            continue
        if not (ca and cb):
            break
        # One segment: all digits or all letters, as the first string's segment starts.
        kind = _DIGITS if ca in _DIGITS else _ALPHA
        si, sj = i, j
        while i < la and a[i] in kind:
            i += 1
        while j < lb and b[j] in kind:
            j += 1
        one, two = a[si:i], b[sj:j]
        if not two:
            # Segments of different kinds: a number is newer than letters.
            return 1 if kind is _DIGITS else -1
        if kind is _DIGITS:
            one, two = one.lstrip("0"), two.lstrip("0")
            if len(one) != len(two):
                return 1 if len(one) > len(two) else -1
        if one != two:
            return 1 if one > two else -1
    # Every segment equal: whichever string still has characters left wins.
    ra, rb = i < la, j < lb
    if not ra and not rb:
        return 0
    return -1 if not ra else 1


def compare(a: str, b: str) -> int | None:
    """Compare two EVRs as rpm's `rpmverCmp` does (what `rpm.vercmp` in rpm's Lua gives).

    Returns:
        -1, 0 or 1 as `a` is below, equal to or above `b`; None when either is empty or blank.
    """
    va, vb = parse(a), parse(b)
    if va is None or vb is None:
        return None
    rc = rpmvercmp(va.epoch or "0", vb.epoch or "0") or rpmvercmp(va.version, vb.version)
    if rc:
        return rc
    if va.release is None or vb.release is None:
        return (va.release is not None) - (vb.release is not None)
    return rpmvercmp(va.release, vb.release)
