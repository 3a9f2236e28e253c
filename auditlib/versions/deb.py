"""Debian package versions, `[epoch:]upstream[-revision]`, ordered as dpkg orders them.

A port of dpkg's own rules (`lib/dpkg/parsehelp.c` `parseversion`, `lib/dpkg/version.c`
`verrevcmp`), not a reinterpretation: epochs compare as numbers; upstream and revision compare by
alternating runs of non-digits (character by character: `~` before the end of the run, the end
before letters, letters before everything else) and digits (as numbers, so `1.02` equals `1.2`).
The revision is what follows the last `-`. `tests/versions/test_deb.py` checks the port against
`dpkg --compare-versions` where dpkg is installed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

_INT_MAX = 2**31 - 1
_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_UPSTREAM_CHARS = _DIGITS | _LETTERS | frozenset(".-+~:")
_REVISION_CHARS = _DIGITS | _LETTERS | frozenset(".+~")


class DebVersion(NamedTuple):
    """A parsed Debian version."""

    epoch: int
    upstream: str
    revision: str
    """Empty when the version has no `-` (a native package)."""


@lru_cache(maxsize=65536)
def parse(text: str) -> DebVersion | None:
    """Return `text` as a Debian version, or None when dpkg would not take it as one.

    Returns None for what dpkg refuses (empty, embedded blanks, an epoch that is not a number,
    nothing after the epoch's colon, an empty revision after `-`) and for what it only warns about
    (an upstream version not starting with a digit, characters outside `[A-Za-z0-9.+~:-]`, or
    outside `[A-Za-z0-9.+~]` in the revision): neither is a version dpkg would install.
    """
    text = text.strip(" \t")
    if not text or " " in text or "\t" in text:
        return None
    epoch = 0
    head, colon, rest = text.partition(":")
    if colon:
        if not head or not set(head) <= _DIGITS or not rest:
            return None
        epoch = int(head)
        if epoch > _INT_MAX:
            return None
        text = rest
    upstream, hyphen, revision = text.rpartition("-")
    if not hyphen:
        upstream, revision = text, ""
    elif not revision:
        return None
    if (not upstream or upstream[0] not in _DIGITS or not set(upstream) <= _UPSTREAM_CHARS
            or not set(revision) <= _REVISION_CHARS):
        return None
    return DebVersion(epoch, upstream, revision)


def _order(c: str) -> int:
    """dpkg's weight of a non-digit character: `~` lowest, letters by code, others after."""
    if c in _LETTERS:
        return ord(c)
    if c == "~":
        return -1
    return ord(c) + 256


def verrevcmp(a: str, b: str) -> int:
    """Compare two upstream versions (or two revisions) as dpkg does.

    Returns:
        A negative number, 0 or a positive number as `a` is below, equal to or above `b`.
    """
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        # A run of non-digits, character by character; the end of a string weighs 0.
        while (i < la and a[i] not in _DIGITS) or (j < lb and b[j] not in _DIGITS):
            ac = _order(a[i]) if i < la and a[i] not in _DIGITS else 0
            bc = _order(b[j]) if j < lb and b[j] not in _DIGITS else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        # A run of digits, as a number: leading zeros skipped, the longer number is larger.
        while i < la and a[i] == "0":
            i += 1
        while j < lb and b[j] == "0":
            j += 1
        first_diff = 0
        while i < la and j < lb and a[i] in _DIGITS and b[j] in _DIGITS:
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < la and a[i] in _DIGITS:
            return 1
        if j < lb and b[j] in _DIGITS:
            return -1
        if first_diff:
            return first_diff
    return 0


def compare(a: str, b: str) -> int | None:
    """Compare two Debian versions as `dpkg --compare-versions` does.

    Returns:
        -1, 0 or 1 as `a` is below, equal to or above `b`; None when either is not a Debian
        version (`parse`).
    """
    va, vb = parse(a), parse(b)
    if va is None or vb is None:
        return None
    if va.epoch != vb.epoch:
        return -1 if va.epoch < vb.epoch else 1
    rc = verrevcmp(va.upstream, vb.upstream) or verrevcmp(va.revision, vb.revision)
    return (rc > 0) - (rc < 0)
