"""Image reference patterns with Docker Scout's glob semantics.

As in Scout's approved-base-images policy, a pattern is matched against the whole normalised
reference (`docker.io/library/node:20-slim`); `*` matches any run of characters, `/` and `:`
included, up to what follows it in the pattern or to the end (`docker.io/*`,
`docker.io/library/node:*-slim`); everything else matches itself. A pattern without a registry
is normalised the way a reference is (`node:*` means `docker.io/library/node:*`).
"""

from __future__ import annotations

import re
from functools import lru_cache


def _normalise(pattern: str) -> str:
    head = pattern.split("/", 1)[0]
    has_registry = "/" in pattern and ("." in head or ":" in head or head == "localhost")
    if has_registry or pattern.startswith("*") or pattern.startswith("sha256:"):
        return pattern
    if "/" not in pattern.split(":", 1)[0]:
        return f"docker.io/library/{pattern}"
    return f"docker.io/{pattern}"


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Return the compiled form of a Scout-style pattern (see the module docstring)."""
    parts = [re.escape(p) for p in _normalise(pattern.strip()).split("*")]
    return re.compile(".*".join(parts), re.DOTALL)


def matches(pattern: str, reference: str) -> bool:
    """Return whether `reference` (normalised) matches `pattern` as a whole."""
    return compile_pattern(pattern).fullmatch(reference) is not None


def matches_any(patterns: list[str] | tuple[str, ...], references: list[str]) -> bool:
    """Return whether any reference matches any pattern."""
    return any(matches(p, r) for p in patterns for r in references)
