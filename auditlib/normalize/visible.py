"""Untrusted text made visible for display: characters that change how the text around them is
shown without showing themselves become escapes (`<U+202E>`).

Package names, labels, paths, titles and evidence come from images and scanners. A right-to-left
override (U+202E) in a package name turns `gpj.exe` into what reads as `exe.jpg`; a zero-width
space makes two names that look the same differ; an escape sequence rewrites a terminal. Pages and
the command line's tables show such text through `visible`: bidirectional controls (U+202A-U+202E,
U+2066-U+2069, U+200E, U+200F, U+061C), the other invisible format characters (Unicode category
Cf: zero-width spaces and joiners, the word joiner, invisible operators, the byte order mark, tag
characters...), line and paragraph separators, invisible fillers (Hangul fillers, the combining
grapheme joiner, Khmer inherent vowels) and control characters other than tab and newline. The
data itself is kept as it is; only what is shown changes.
"""

from __future__ import annotations

import re
from typing import Any

_RANGES = (
    (0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F),  # control characters but tab and newline
    (0xAD, 0xAD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2),
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180E, 0x180E),
    (0x200B, 0x200F),  # zero-width space, non-joiner, joiner; LRM, RLM
    (0x2028, 0x202E),  # line and paragraph separators; LRE, RLE, PDF, LRO, RLO
    (0x2060, 0x2064), (0x2066, 0x206F),  # word joiner, invisible operators; LRI..PDI, ...
    (0x3164, 0x3164),  # Hangul filler
    (0xFEFF, 0xFEFF),  # zero-width no-break space (byte order mark)
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001), (0xE0020, 0xE007F),  # language tag, tag characters
)
"""The code points `visible` escapes: Unicode 15.1's category Cf, Zl and Zp, the C0 and C1
controls but tab and newline, and invisible fillers."""

_HIDDEN = re.compile("[" + "".join(
    re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
    for a, b in _RANGES) + "]")


def _escape(m: re.Match[str]) -> str:
    return f"<U+{ord(m.group()):04X}>"


def visible(text: Any) -> str:
    """Return `text` (as `str`) with every character that would not show itself, or would change
    how the text around it shows (bidirectional controls, zero-width and other format characters,
    controls but tab and newline), written as `<U+XXXX>`."""
    s = text if isinstance(text, str) else str(text)
    return _HIDDEN.sub(_escape, s) if _HIDDEN.search(s) else s


def is_visible(text: str) -> bool:
    """Return whether `visible` leaves `text` as it is."""
    return _HIDDEN.search(text) is None
