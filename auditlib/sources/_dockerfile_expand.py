"""Variable substitution in Dockerfile words, as BuildKit substitutes `ARG` and `ENV` values.

Used by `dockerfile` to resolve `FROM` (with global `ARG` defaults) and `USER`, and to name the
variables a `FROM` uses (one whose name looks like a secret is never substituted into a row).
"""

from __future__ import annotations

import re

# --- variable substitution ---------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+?])(?P<word>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def _expand(text: str, variables: dict[str, str | None]) -> str | None:
    """Substitute `$VAR`, `${VAR}`, `${VAR:-default}` (and `-`, `:+`, `+`, `:?`, `?`) in `text`.

    Returns:
        The text, or None when a variable is unset (or has no value) and no default applies, or
        a `${...}` form is not supported.
    """
    unresolved = False

    def one(m: re.Match[str]) -> str:
        nonlocal unresolved
        name = m.group("braced") or m.group("bare")
        value = variables.get(name)
        is_set = name in variables and value is not None
        op, word = m.group("op"), m.group("word") or ""
        if op is None:
            if not is_set:
                unresolved = True
            return value or ""
        empty_counts = op.startswith(":")
        has_value = is_set and (bool(value) or not empty_counts)
        if op.endswith("-"):
            return (value or "") if has_value else (_expand(word, variables) or "")
        if op.endswith("+"):
            return (_expand(word, variables) or "") if has_value else ""
        if not has_value:  # `:?` / `?`: an error in BuildKit
            unresolved = True
        return value or ""

    if "${" in text and not _only_supported_braces(text):
        return None
    out = _VARIABLE.sub(one, text)
    return None if unresolved else out


def _only_supported_braces(text: str) -> bool:
    """Return whether every `${...}` in `text` is a form `_expand` supports."""
    return all(_VARIABLE.match(text, m.start()) for m in re.finditer(r"\$\{", text))


def _variable_names(text: str) -> list[str]:
    """Return the names of the variables `text` refers to (`$A`, `${B}`, `${C:-x}`), in order."""
    return [m.group("braced") or m.group("bare") for m in _VARIABLE.finditer(text)]


def _expand_or_none(value: str | None, variables: dict[str, str | None]) -> str | None:
    return None if value is None else _expand(value, variables)
