"""Dockerfile text into instructions: parser directives, comments, continuation lines, heredocs,
and the words, quotes, flags and exec form of an instruction's arguments.

Used by `dockerfile`, which holds the public API; this module only splits text and never decides
what an instruction means.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
_HEREDOC = re.compile(r"^(\d*)<<(-?)(.+)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(slots=True)
class _Instruction:
    keyword: str
    """Upper-cased."""
    args: str
    """The text after the keyword, continuation lines joined as BuildKit joins them."""
    line: int
    """Line of the keyword, from 1."""
    escape: str = "\\"
    """The escape character of the file (`# escape=`)."""
    heredocs: list[str] = field(default_factory=list)
    """Bodies of the heredocs the instruction opened."""


# --- lines into instructions -------------------------------------------------------------------


def _instructions(text: str, warnings: list[tuple[str, str]]) -> list[_Instruction]:
    """Split the text into instructions: directives read, comments dropped, continuations joined,
    heredoc bodies attached to the instruction that opened them.
    """
    lines = text.removeprefix("\ufeff").split("\n")
    lines = [ln.removesuffix("\r") for ln in lines]
    n = len(lines)
    escape = "\\"
    i = 0
    seen: set[str] = set()
    while i < n:
        m = _DIRECTIVE.match(lines[i])
        if not m or m.group(1).lower() not in _DIRECTIVES:
            break
        name, value = m.group(1).lower(), m.group(2)
        if name in seen:
            warnings.append((f"line {i + 1}", f"only one {name} parser directive can be used"))
        seen.add(name)
        if name == "escape":
            if value in ("\\", "`"):
                escape = value
            else:
                warnings.append((f"line {i + 1}", f"invalid escape token {value!r}; using '\\'"))
        i += 1

    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[_Instruction] = []
    while i < n:
        raw = lines[i].lstrip(" \t")
        i += 1
        start = i
        if not raw or raw.startswith("#"):
            continue
        m = continuation.search(raw)
        logical = raw[: m.start()] if m else raw
        continued = m is not None
        while continued and i < n:
            nxt = lines[i]
            i += 1
            stripped = nxt.lstrip(" \t")
            if stripped.startswith("#") or not stripped.strip():
                continue  # comment and blank lines inside a continuation are skipped
            m = continuation.search(nxt)
            if m:
                logical += nxt[: m.start()]
            else:
                logical += nxt
                continued = False
        parts = logical.strip().split(None, 1)
        if not parts:
            continue
        ins = _Instruction(parts[0].upper(), parts[1] if len(parts) > 1 else "", start, escape)
        if ins.keyword in _HEREDOC_INSTRUCTIONS and not _is_json_form(ins.args):
            for name, chomp in _heredoc_names(ins.args, escape):
                body: list[str] = []
                while i < n:
                    line = lines[i]
                    i += 1
                    if chomp:
                        line = line.lstrip("\t")
                    if line == name:
                        break
                    body.append(line)
                else:
                    warnings.append(
                        (f"line {start}", f"heredoc {name!r} is not terminated; read to the end")
                    )
                ins.heredocs.append("\n".join(body))
        out.append(ins)
    return out


def _split_words(text: str, escape: str = "\\") -> list[str]:
    """Split `text` at unquoted whitespace; words keep their quotes and escapes."""
    words: list[str] = []
    current: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if c == escape and quote != "'" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c.isspace():
            if current:
                words.append("".join(current))
                current = []
            i += 1
            continue
        current.append(c)
        i += 1
    if current:
        words.append("".join(current))
    return words


def _unquote(word: str, escape: str = "\\") -> str:
    """Return `word` with its quotes and escapes removed, as the shell would read it."""
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(word):
        c = word[i]
        if c == escape and quote != "'" and i + 1 < len(word):
            out.append(word[i + 1])
            i += 2
            continue
        if quote and c == quote:
            quote = None
        elif not quote and c in "'\"":
            quote = c
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _heredoc_names(args: str, escape: str) -> list[tuple[str, bool]]:
    """Return `(delimiter, strip leading tabs)` of each heredoc the words of `args` open."""
    found = []
    for word in _split_words(args, escape):
        m = _HEREDOC.match(word)
        if not m or "<" in m.group(3):
            continue
        name = _unquote(m.group(3), escape)
        if name:
            found.append((name, m.group(2) == "-"))
    return found


def _is_json_form(args: str) -> bool:
    return _json_list(args) is not None


def _json_list(args: str) -> list[str] | None:
    """Return the exec-form (JSON array of strings) arguments, or None for the shell form."""
    text = args.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _strip_flags(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split leading `--flag=value` words (BuildKit's instruction flags) from the arguments."""
    flags: dict[str, str] = {}
    k = 0
    while k < len(words) and words[k].startswith("--"):
        name, _, value = words[k][2:].partition("=")
        flags[name.lower()] = value
        k += 1
    return flags, words[k:]


def _assignments(
    ins: _Instruction, warnings: list[tuple[str, str]], *, legacy: bool
) -> list[tuple[str, str | None]]:
    """Return the `(name, value)` pairs of an ENV or ARG instruction (value None: no default).

    `legacy` allows ENV's old one-pair form `ENV NAME value with spaces`.
    """
    where = f"line {ins.line}"
    words = _split_words(ins.args, ins.escape)
    if not words:
        warnings.append((where, f"{ins.keyword} without a name"))
        return []
    if legacy and "=" not in words[0]:
        return [(words[0], _unquote(ins.args.strip()[len(words[0]) :].strip(), ins.escape))]
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        name, eq, value = word.partition("=")
        if not _NAME.match(name) or (legacy and not eq):
            # The word itself may hold a value: never quote it back.
            warnings.append((where, f"{ins.keyword}: a word is not NAME=value; skipped"))
            continue
        pairs.append((name, _unquote(value, ins.escape) if eq else None))
    return pairs
