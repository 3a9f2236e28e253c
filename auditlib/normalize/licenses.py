"""Licences as SPDX expressions, and the class of risk each one carries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import msgspec
from license_expression import (
    ExpressionError,
    LicenseSymbol,
    Licensing,
    get_spdx_licensing,
    vendored_scancode_licensedb_index_location,
)

LICENSE_CLASSES: tuple[str, ...] = (
    "permissive",
    "weak-copyleft",
    "strong-copyleft",
    "network-copyleft",
    "other",
    "unknown",
)
"""The values of every `license_class` column."""

# Checked against the SPDX list and the Google licence classifier categories Trivy uses
# (anchors.md section 2.5): network copyleft = obligations triggered by network use.
_NETWORK = re.compile(r"^(AGPL|SSPL|OSL-3\.0|RPL|CPAL)", re.I)
_STRONG = re.compile(r"^(GPL|EUPL|OSL|Sleepycat|QPL|CC-BY-SA|CC-BY-NC-SA|RPSL|IPL|Watcom)", re.I)
_WEAK = re.compile(
    r"^(LGPL|MPL|EPL|CDDL|CPL|APSL|MS-RL|Ruby|NPL|Artistic|ErlPL|LPL|SPL|CECILL-C|FreeImage)", re.I
)
_PERMISSIVE = re.compile(
    r"^(MIT|Expat|X11|BSD|0BSD|Apache|ISC|Zlib|Unlicense|CC0|PSF|Python|BSL-1\.0|curl|OpenSSL|SSLeay|"
    r"PostgreSQL|NCSA|WTFPL|Beerware|FTL|IJG|Libpng|libpng|HPND|PHP|Unicode|W3C|bzip2|"
    r"BlueOak|CC-BY-[0-9]|AFL|Boost|JSON|TCL|MIT-0|Info-ZIP|ImageMagick|OLDAP|PIL|Vim|blessing|"
    r"public-domain|LicenseRef-Public-Domain|GFDL|Spencer|MirOS|Xnet|ZPL|FSFAP|FSFUL|X11)",
    re.I,
)
_UNKNOWN_WORDS = {"", "noassertion", "none", "unknown", "non-standard", "nonstandard", "other"}
_RANK = {name: i for i, name in enumerate(LICENSE_CLASSES)}


@dataclass(frozen=True, slots=True)
class LicenseInfo:
    """A licence as read, normalised and classified."""

    spdx: str | None
    """The SPDX expression, or None when the text is not one."""
    license_class: str
    """One of `LICENSE_CLASSES`."""


@lru_cache(maxsize=1)
def _licensing() -> Licensing:
    return get_spdx_licensing()


class _IndexEntry(msgspec.Struct):
    """An entry of license-expression's licence index: the fields its SPDX licensing reads."""

    spdx_license_key: str | None = None
    other_spdx_license_keys: list[str] = []


@lru_cache(maxsize=1)
def _spdx_ids() -> dict[str, str]:
    """Return every SPDX licence id and alias of the licence index that `_licensing` is built
    from, lower-cased, mapped to its SPDX id (`gpl-2.0+` -> `GPL-2.0-or-later`).

    The same index, read with the two fields `build_spdx_licensing` takes from it: about 4 ms,
    where building the licensing (2,447 symbols validated) and its tokenizer takes about 30, so
    a load whose licences are all SPDX ids never builds them (tests/test_load_caches.py checks
    every id and alias gives what the licensing gives).
    """
    with open(vendored_scancode_licensedb_index_location, "rb") as f:
        entries = msgspec.json.decode(f.read(), type=list[_IndexEntry])
    ids: dict[str, str] = {}
    for e in entries:
        if e.spdx_license_key:
            for name in (e.spdx_license_key, *e.other_spdx_license_keys):
                ids.setdefault(name.lower(), e.spdx_license_key)
    return ids


def _class_of_key(key: str) -> str:
    key = key.removesuffix("+")
    if key.lower().startswith("licenseref-"):
        # User-defined ids; Debian tooling writes well-known names this way (LicenseRef-Expat).
        key = key[len("licenseref-") :]
    for pattern, name in (
        (_NETWORK, "network-copyleft"),
        (_STRONG, "strong-copyleft"),
        (_WEAK, "weak-copyleft"),
        (_PERMISSIVE, "permissive"),
    ):
        if pattern.match(key):
            return name
    return "other"


def _combine(classes: list[str], op: str) -> str:
    # AND: every licence applies, so the strictest one counts; OR: the user may choose the least
    # strict.
    ranked = sorted(classes, key=_RANK.__getitem__)
    return ranked[-1] if op == "AND" else ranked[0]


def _classify_node(node: object) -> str:
    args = getattr(node, "args", None)
    if args:
        op = type(node).__name__.upper()
        return _combine([_classify_node(a) for a in args], "AND" if "AND" in op else "OR")
    key = getattr(node, "key", None) or str(node)
    return _class_of_key(str(key))


_PLAIN = re.compile(r"[^\s()]+")
"""A licence id alone: no spaces (so no operator) and no brackets."""
_OPERATORS = {"and", "or", "with"}


@dataclass(frozen=True, slots=True)
class _Symbol:
    """One licence id as the licence parser reads it."""

    text: str
    """How an expression writes it (`mit` -> `MIT`, `GPL-2.0+` -> `GPL-2.0-or-later`)."""
    known: bool
    """Whether it is an SPDX licence id (or a `LicenseRef-`)."""
    license_class: str


@lru_cache(maxsize=65536)
def _symbol(token: str) -> _Symbol | None:
    """Return how the licence parser reads `token` (a plain id, see `_PLAIN`) as one operand of an
    expression, or None when it is not read as a single licence."""
    if token.lower() in _OPERATORS:
        return None
    spdx_id = _spdx_ids().get(token.lower())
    if spdx_id is not None:  # a licence id of the index: read as the licensing reads it
        return _Symbol(spdx_id, True, _class_of_key(spdx_id))
    return _parsed_symbol(token)


def _parsed_symbol(token: str) -> _Symbol | None:
    """Return how the licence parser reads `token` (`_symbol` without the index shortcut)."""
    licensing = _licensing()
    try:
        parsed = licensing.parse(token, validate=False, simple=False)
    except (ExpressionError, Exception):  # noqa: BLE001 - license-expression raises plain errors too
        return None
    if not isinstance(parsed, LicenseSymbol):
        return None
    unknown = [k for k in licensing.unknown_license_keys(parsed) if not k.startswith("LicenseRef-")]
    return _Symbol(str(parsed), not unknown, _classify_node(parsed))


def _classify_conjunction(text: str) -> LicenseInfo | None:
    """Return what parsing `text` would give when it is one plain id, or plain ids joined by
    ` AND ` (how the parsers join a package's licences), from each id read once (an SPDX id of
    the index without building the licensing, `_symbol`); None for any other text.

    Parsing a joined list costs a millisecond per list, and a fleet has a distinct list for
    almost every package version; its ids are a few hundred. The result is the one the parser
    gives for the whole text: the ids as it writes them, joined by ` AND `, the expression None
    when one id is not an SPDX id, and the strictest class of the ids.
    """
    parts = text.strip().split(" AND ")
    if not all(_PLAIN.fullmatch(p) for p in parts):  # at least one part, never empty
        return None
    symbols = [_symbol(p) for p in parts]
    if any(s is None for s in symbols):
        return None
    known = [s for s in symbols if s is not None]
    spdx = " AND ".join(s.text for s in known) if all(s.known for s in known) else None
    return LicenseInfo(spdx, _combine([s.license_class for s in known], "AND"))


@lru_cache(maxsize=65536)
def classify_license(text: str | None) -> LicenseInfo:
    """Normalise a licence string to an SPDX expression and classify it.

    Results are cached: a fleet repeats a few hundred licence strings hundreds of thousands of
    times.

    Args:
        text: a licence name or expression as a tool wrote it (`"GPL-2.0-or-later"`,
            `"MIT OR Apache-2.0"`, `"BSD-3-Clause AND GPL-2.0-only"`, `"NOASSERTION"`).

    Returns:
        The SPDX expression (None when the text is not a valid one, or says nothing) and the class:
        `permissive`, `weak-copyleft`, `strong-copyleft`, `network-copyleft`, `other` (a known
        licence of another kind, or a licence that is not in the SPDX list) or `unknown`.
    """
    if text is None or text.strip().lower() in _UNKNOWN_WORDS:
        return LicenseInfo(None, "unknown")
    quick = _classify_conjunction(text)
    if quick is not None:
        return quick
    licensing = _licensing()
    try:
        parsed = licensing.parse(text.strip(), validate=False, simple=False)
    except (ExpressionError, Exception):  # noqa: BLE001 - license-expression raises plain errors too
        return LicenseInfo(None, _class_of_key(text.strip()))
    if parsed is None:
        return LicenseInfo(None, "unknown")
    # LicenseRef-* ids are valid SPDX (user-defined), though not on the licence list.
    unknown = [k for k in licensing.unknown_license_keys(parsed) if not k.startswith("LicenseRef-")]
    spdx = None if unknown else str(parsed)
    return LicenseInfo(spdx, _classify_node(parsed))
