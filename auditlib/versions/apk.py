"""Alpine package versions, `digit{.digit}{letter}{_suffix{n}}{~hash}{-rN}`, ordered as apk does.

A port of apk-tools' own rules (`src/version.c`, apk-tools 3, which also orders the versions of
Alpine releases that ship apk-tools 2): a version is a sequence of tokens compared in turn
(numbers as numbers, except that a number with a leading zero after a `.` compares as text; one
letter; a suffix, `_alpha` < `_beta` < `_pre` < `_rc` < no suffix < `_cvs` < `_svn` < `_git` <
`_hg` < `_p`, with an optional number; a `~` commit hash, as text; the `-rN` revision). When one
version runs out first, the other is newer unless what follows is a pre-release suffix.
Gentoo's order, which some libraries use for Alpine, knows none of `_cvs`, `_svn`, `_git`, `_hg`
or `~hash`, all common in Alpine and Wolfi.
"""

from __future__ import annotations

from functools import lru_cache

# Token kinds, in apk's order: a version that runs out compares by these (a later kind is older).
_INITIAL_DIGIT, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _COMMIT_HASH, _REVISION_NO, _END, _INVALID = (
    range(9))

_SUFFIXES = {"alpha": 0, "beta": 1, "pre": 2, "rc": 3, "cvs": 5, "svn": 6, "git": 7, "hg": 8,
             "p": 9}
"""Suffix ranks; 4 is "no suffix", so ranks below 4 are pre-releases."""
_NO_SUFFIX = 4

_DIGITS = frozenset("0123456789")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_HEX = frozenset("0123456789abcdef")

Token = tuple[int, int, str]
"""(kind, number or rank, text) of one token."""


def _digits(text: str, i: int) -> int:
    """Return the end of the run of digits starting at `i`."""
    while i < len(text) and text[i] in _DIGITS:
        i += 1
    return i


@lru_cache(maxsize=65536)
def tokens(text: str) -> tuple[Token, ...] | None:
    """Return the tokens of an apk version, or None when apk would not take it as a version.

    The last token is always an `_END` one.
    """
    end = _digits(text, 0)
    if end == 0:
        return None
    out: list[Token] = [(_INITIAL_DIGIT, int(text[:end]), text[:end])]
    kind, i, n = _INITIAL_DIGIT, end, len(text)
    while i < n:
        c = text[i]
        if c in _LOWER:
            if kind > _DIGIT:
                return None
            kind = _LETTER
            out.append((kind, ord(c), c))
            i += 1
        elif c == "." or c in _DIGITS:
            if c == ".":
                if kind > _DIGIT:
                    return None
                i += 1
            if kind in (_INITIAL_DIGIT, _DIGIT):
                kind = _DIGIT
            elif kind == _SUFFIX:
                kind = _SUFFIX_NO
            else:
                return None
            end = _digits(text, i)
            if end == i:
                return None
            out.append((kind, int(text[i:end]), text[i:end]))
            i = end
        elif c == "_":
            if kind > _SUFFIX_NO:
                return None
            end = i + 1
            while end < n and text[end] in _LOWER:
                end += 1
            rank = _SUFFIXES.get(text[i + 1:end])
            if rank is None:
                return None
            kind = _SUFFIX
            out.append((kind, rank, text[i + 1:end]))
            i = end
        elif c == "~":
            if kind >= _COMMIT_HASH:
                return None
            end = i + 1
            while end < n and text[end] in _HEX:
                end += 1
            if end == i + 1:
                return None
            kind = _COMMIT_HASH
            out.append((kind, 0, text[i + 1:end]))
            i = end
        elif c == "-":
            if kind >= _REVISION_NO or not text.startswith("-r", i):
                return None
            end = _digits(text, i + 2)
            if end == i + 2:
                return None
            kind = _REVISION_NO
            out.append((kind, int(text[i + 2:end]), text[i + 2:end]))
            i = end
        else:
            return None
    out.append((_END, 0, ""))
    return tuple(out)


def _token_cmp(a: Token, b: Token) -> int:
    """Compare two tokens of the same kind."""
    kind = a[0]
    if kind in (_DIGIT, _COMMIT_HASH) and (kind == _COMMIT_HASH or a[2][0] == "0"
                                           or b[2][0] == "0"):
        # A commit hash, or a number with a leading zero (Gentoo's rule): compared as text.
        return (a[2] > b[2]) - (a[2] < b[2])
    return (a[1] > b[1]) - (a[1] < b[1])


def compare(a: str, b: str) -> int | None:
    """Compare two apk versions as `apk version -t` does.

    Returns:
        -1, 0 or 1 as `a` is below, equal to or above `b`; None when either is not a valid apk
        version.
    """
    ta, tb = tokens(a), tokens(b)
    if ta is None or tb is None:
        return None
    for x, y in zip(ta, tb, strict=False):
        if x[0] != y[0]:
            # One version has run out, or its next part is of another kind.
            if x[0] == _SUFFIX and x[1] < _NO_SUFFIX:
                return -1
            if y[0] == _SUFFIX and y[1] < _NO_SUFFIX:
                return 1
            return -1 if x[0] > y[0] else 1
        if x[0] == _END:
            return 0
        rc = _token_cmp(x, y)
        if rc:
            return rc
    return 0
