"""Dockerfiles read into `dockerfiles`, `dockerfile_stages` and `dockerfile_secret_names` rows.

The reading follows BuildKit's Dockerfile frontend (`frontend/dockerfile/parser`): parser
directives (`# escape=`, `# syntax=`, `# check=`) only at the very top; whole-line comments;
line continuations with the escape character, comment and blank lines inside them skipped;
instructions case-insensitive; heredocs (`RUN <<EOF`) on `RUN`, `COPY` and `ADD`, whose bodies are
not instructions. Global `ARG`s (before the first `FROM`) are substituted into `FROM`, as BuildKit
does, with their defaults only (there are no `--build-arg`s here).

Secrets: only the NAMES of `ENV` and `ARG` variables are ever put in a row. Values are read solely
to substitute them into `FROM` (global `ARG` defaults) and to decide whether `USER` is root; rows
keep `FROM` and `USER` as written. Bad input never raises: what cannot be read becomes a warning
`(locator, reason)`, with the locator `line N`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from auditlib.identity import Reference, parse_reference
from auditlib.parsers.interface import Row

SOURCE_FORMAT = "dockerfile"
"""The format id of a Dockerfile, for `source_format` once the loader reads Dockerfiles."""

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_INSTRUCTIONS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    }
)
_HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
_HEREDOC = re.compile(r"^(\d*)<<(-?)(.+)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Trivy DS-0031: these names, also behind a VITE_ or REACT_APP_ prefix (front-end build tools
# bake such variables into the bundle they ship).
_SECRET_NAMES = frozenset(
    {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET", "GITHUB_TOKEN", "OPENAI_API_KEY", "HF_TOKEN",
    }
)
_SECRET_PREFIXES = ("VITE_", "REACT_APP_")
_SECRET_PARTS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "PRIVATE_KEY", "CREDENTIALS")
# Names that point at a secret rather than hold one (`POSTGRES_PASSWORD_FILE` is the safe way to
# pass a password), and Hugging Face's `TOKENIZERS_PARALLELISM`, are not secrets.
_NOT_SECRET_SUFFIXES = ("_FILE", "_PATH", "_DIR")
_NOT_SECRET_WORDS = ("TOKENIZER",)

_CONFIG_NAMES = frozenset({".env", "config.json", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"})
_CONFIG_SUFFIXES = (
    ".env", ".conf", ".ini", ".yaml", ".yml", ".properties", ".pem", ".key",
)

_SHELL_OPERATOR = re.compile(r"[;&|()\n]+")
_SHELL_WORD = re.compile(r"[^\s;&|()'\"`]+|[;&|()\n]+")
# Options of a package manager that take the next word as their value (so that it is not read as
# the subcommand): `apt-get -o Dpkg::Options::=--force-confnew upgrade`, `apk -X <repo> upgrade`.
_VALUE_OPTIONS = {
    "apt-get": {"-o", "-c", "-t", "--option", "--config-file", "--target-release"},
    "apt": {"-o", "-c", "-t", "--option", "--config-file", "--target-release"},
    "apk": {"-X", "-p", "-t", "--repository", "--root", "--virtual", "--arch", "--cache-dir"},
    "dnf": {"-c", "-d", "-e", "-x", "-R", "--exclude", "--setopt", "--releasever",
            "--installroot", "--enablerepo", "--disablerepo", "--repo"},
    "yum": {"-c", "-d", "-e", "-x", "-R", "--exclude", "--setopt", "--releasever",
            "--installroot", "--enablerepo", "--disablerepo"},
    "microdnf": {"--setopt", "--enablerepo", "--disablerepo", "--releasever", "--installroot"},
    "zypper": {"-r", "--repo", "--root", "-R"},
}
_UPGRADE_SUBCOMMANDS = {
    "apt-get": {"upgrade", "dist-upgrade", "full-upgrade"},
    "apt": {"upgrade", "dist-upgrade", "full-upgrade"},
    "apk": {"upgrade"},
    "dnf": {"upgrade", "update", "upgrade-minimal", "update-minimal", "distro-sync"},
    "yum": {"upgrade", "update", "upgrade-minimal", "update-minimal", "distro-sync"},
    "microdnf": {"upgrade", "update"},
    "zypper": {"update", "up", "dist-upgrade", "dup", "patch"},
}


class DockerfileRows(NamedTuple):
    """What `parse_dockerfile` read: rows by table, and warnings."""

    dockerfiles: list[Row]
    """The one `dockerfiles` row."""
    stages: list[Row]
    """`dockerfile_stages` rows, one per `FROM`, in order."""
    secret_names: list[Row]
    """`dockerfile_secret_names` rows, one per secret-looking `ENV`/`ARG` name declared."""
    warnings: list[tuple[str, str]]
    """`(locator, reason)` for what could not be read; the locator is `line N`."""

    def rows(self) -> dict[str, list[Row]]:
        """Return the rows by table name, as a parser's `Output.rows` holds them."""
        return {
            "dockerfiles": self.dockerfiles,
            "dockerfile_stages": self.stages,
            "dockerfile_secret_names": self.secret_names,
        }


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


@dataclass(slots=True)
class _Stage:
    index: int
    line: int
    name: str | None
    base_raw: str
    platform: str | None
    ref: Reference | None = None
    is_scratch: bool = False
    parent: int | None = None
    """The earlier stage this one is built FROM, if any."""
    user: str | None = None
    """The last USER, as written."""
    user_is_root: bool | None = None
    """Whether that USER is root; None if it names an unresolved variable."""
    healthcheck: bool | None = None
    """True for the last HEALTHCHECK CMD, False for HEALTHCHECK NONE, None if none."""
    variables: dict[str, str | None] = field(default_factory=dict)
    """ARG defaults and ENV values in scope (held for substitution, never put in a row)."""


def parse_dockerfile(text: str, *, source: str) -> DockerfileRows:
    """Read a Dockerfile into rows of `dockerfiles`, `dockerfile_stages` and
    `dockerfile_secret_names`.

    Args:
        text: the Dockerfile's text.
        source: its path (or another name), written to every row's `path`.

    Returns:
        A `DockerfileRows` tuple: `(dockerfiles, stages, secret_names, warnings)`; `dockerfiles`
        always holds exactly one row, even for an empty file. The rows carry no provenance
        columns (the loader stamps them).

    Raises:
        Nothing for bad input: an unknown instruction, an unterminated heredoc, a `FROM` that does
        not resolve to an image, become warnings and the rest of the file is still read.
    """
    warnings: list[tuple[str, str]] = []
    instructions = _instructions(text, warnings)
    global_vars: dict[str, str | None] = {}
    stages: list[_Stage] = []
    secrets: list[Row] = []
    upgrades = False
    config_copies = 0

    for ins in instructions:
        where = f"line {ins.line}"
        kw = ins.keyword
        if kw not in _INSTRUCTIONS:
            # Not repeated: a stray line of a broken continuation may be a value.
            warnings.append((where, "unknown instruction (not shown); ignored"))
            continue
        stage = stages[-1] if stages else None
        if kw == "FROM":
            stages.append(_from(ins, len(stages), stages, global_vars, warnings))
            continue
        if kw == "ARG":
            for name, value in _assignments(ins, warnings, legacy=False):
                if stage is None:
                    global_vars[name] = _expand_or_none(value, global_vars)
                elif value is not None:
                    stage.variables[name] = _expand_or_none(value, stage.variables)
                else:
                    # `ARG NAME` inside a stage brings a global ARG's value into it.
                    stage.variables[name] = global_vars.get(name)
                _secret(secrets, source, stage, "ARG", name, ins.line)
            continue
        if stage is None:
            warnings.append((where, f"{kw} before the first FROM; only ARG may come first"))
            continue
        if kw == "ENV":
            for name, value in _assignments(ins, warnings, legacy=True):
                stage.variables[name] = _expand_or_none(value or "", stage.variables)
                _secret(secrets, source, stage, "ENV", name, ins.line)
        elif kw == "USER":
            stage.user = ins.args.strip() or None
            if stage.user is None:
                warnings.append((where, "USER without a user"))
            resolved = _expand(ins.args.strip(), stage.variables)
            stage.user_is_root = None if resolved is None else _is_root(resolved)
        elif kw == "HEALTHCHECK":
            stage.healthcheck = _healthcheck(ins, warnings)
        elif kw == "RUN":
            upgrades = upgrades or _upgrades_packages(_run_text(ins))
        elif kw in ("COPY", "ADD"):
            config_copies += sum(1 for s in _copy_sources(ins) if _is_config_file(s))

    rows = [_stage_row(source, s) for s in stages]
    dockerfile = _dockerfile_row(source, stages, instructions, secrets, upgrades, config_copies)
    if not stages:
        warnings.append(("line 1", "no FROM instruction: not a Dockerfile that builds an image"))
    return DockerfileRows([dockerfile], rows, secrets, warnings)


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


# --- instructions ------------------------------------------------------------------------------


def _from(
    ins: _Instruction,
    index: int,
    stages: list[_Stage],
    global_vars: dict[str, str | None],
    warnings: list[tuple[str, str]],
) -> _Stage:
    """Read `FROM [--platform=...] image [AS name]` into a stage."""
    where = f"line {ins.line}"
    flags, words = _strip_flags(ins.args.split())
    warnings.extend(
        (where, f"FROM flag --{flag} is not known; ignored") for flag in flags if flag != "platform"
    )
    name: str | None = None
    if len(words) == 3 and words[1].lower() == "as":
        name = words[2].lower()
    elif len(words) != 1:
        warnings.append((where, "FROM takes an image and optionally `AS name`"))
    raw = words[0] if words else ""
    stage = _Stage(index, ins.line, name, raw, flags.get("platform"))
    if name is not None and any(s.name == name for s in stages):
        warnings.append((where, f"stage name {name!r} is used by an earlier stage"))
    if not raw:
        warnings.append((where, "FROM without an image"))
        return stage
    base = _expand(raw, global_vars)
    if not base:
        warnings.append((where, f"FROM {raw}: build arguments leave the base unresolved"))
        return stage
    if base == "scratch":
        stage.is_scratch = True
        return stage
    parent = next((s for s in stages if s.name is not None and s.name == base.lower()), None)
    if parent is not None:
        stage.parent = parent.index
        stage.variables = dict(parent.variables)
        return stage
    stage.ref = parse_reference(base)
    if stage.ref is None:
        warnings.append((where, f"FROM {raw}: {base!r} is not a valid image reference"))
    return stage


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


def _secret(
    secrets: list[Row], path: str, stage: _Stage | None, instruction: str, name: str, line: int
) -> None:
    if is_secret_name(name):
        secrets.append(
            {
                "path": path,
                "stage_index": None if stage is None else stage.index,
                "instruction": instruction,
                "name": name,
                "line": line,
            }
        )


def is_secret_name(name: str) -> bool:
    """Return whether an ENV or ARG name looks like it holds a secret (Trivy DS-0031).

    Args:
        name: the variable name.

    Returns:
        True for the DS-0031 names (`AWS_SECRET_ACCESS_KEY`, `GITHUB_TOKEN`, `HF_TOKEN`, ...), also
        behind a `VITE_` or `REACT_APP_` prefix, and for names containing `PASSWORD`, `PASSWD`,
        `SECRET`, `TOKEN`, `API_KEY`, `PRIVATE_KEY` or `CREDENTIALS` (any case), except names that
        point at a secret (`..._FILE`, `..._PATH`, `..._DIR`) and `TOKENIZERS_...`.
    """
    upper = name.upper()
    for prefix in _SECRET_PREFIXES:
        upper = upper.removeprefix(prefix)
    if upper in _SECRET_NAMES:
        return True
    if upper.endswith(_NOT_SECRET_SUFFIXES):
        return False
    for word in _NOT_SECRET_WORDS:
        upper = upper.replace(word, "")
    return any(part in upper for part in _SECRET_PARTS)


def _is_root(user: str) -> bool:
    """Return whether a resolved USER value runs as root (`root`, `0`, with any group, or empty)."""
    who = user.strip().partition(":")[0]
    return who in ("", "root", "0")


def _healthcheck(ins: _Instruction, warnings: list[tuple[str, str]]) -> bool | None:
    _, words = _strip_flags(ins.args.split())
    first = words[0].upper() if words else ""
    if first == "NONE":
        return False
    if first == "CMD" and len(words) > 1:
        return True
    warnings.append((f"line {ins.line}", "HEALTHCHECK takes NONE or CMD <command>; ignored"))
    return None


def _run_text(ins: _Instruction) -> str:
    """Return the command a RUN runs, with its heredoc bodies (as one shell text)."""
    exec_form = _json_list(ins.args)
    if exec_form is not None:
        command = " ".join(exec_form)
    else:
        _, words = _strip_flags(_split_words(ins.args, ins.escape))
        command = " ".join(words)
    return "\n".join([command, *ins.heredocs])


def _upgrades_packages(command: str) -> bool:
    """Return whether a shell command upgrades installed packages with a package manager."""
    words = _SHELL_WORD.findall(command)
    for k, word in enumerate(words):
        tool = word.rsplit("/", 1)[-1]
        if tool not in _UPGRADE_SUBCOMMANDS:
            continue
        # The words of this simple command, up to the next operator.
        args: list[str] = []
        for w in words[k + 1 :]:
            if _SHELL_OPERATOR.fullmatch(w):
                break
            args.append(w)
        subcommand, rest = _subcommand(tool, args)
        if subcommand in _UPGRADE_SUBCOMMANDS[tool]:
            return True
        if tool == "apk" and subcommand == "add" and any(_is_apk_upgrade_flag(w) for w in rest):
            return True
    return False


def _subcommand(tool: str, args: list[str]) -> tuple[str | None, list[str]]:
    """Return a package manager's subcommand and the words after it."""
    takes_value = _VALUE_OPTIONS.get(tool, set())
    k = 0
    while k < len(args):
        word = args[k]
        if word.startswith("-"):
            k += 2 if word in takes_value else 1
            continue
        return word, args[k + 1 :]
    return None, []


def _is_apk_upgrade_flag(word: str) -> bool:
    """`apk add --upgrade` or `-u` (`-U` is `--update-cache`, not an upgrade)."""
    if word == "--upgrade":
        return True
    return word.startswith("-") and not word.startswith("--") and "u" in word[1:]


def _copy_sources(ins: _Instruction) -> list[str]:
    """Return the sources of a COPY or ADD (not its destination, not heredocs)."""
    exec_form = _json_list(ins.args)
    if exec_form is not None:
        words = exec_form
    else:
        _, raw_words = _strip_flags(_split_words(ins.args, ins.escape))
        words = [_unquote(w, ins.escape) for w in raw_words if not _HEREDOC.match(w)]
    return words[:-1]


def _is_config_file(path: str) -> bool:
    """Return whether a COPY/ADD source names a configuration or key file."""
    base = path.rstrip("/").rsplit("/", 1)[-1].lower()
    if not base:
        return False
    return (
        base in _CONFIG_NAMES
        or base.startswith(".env.")
        or base.endswith(_CONFIG_SUFFIXES)
    )


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


def _expand_or_none(value: str | None, variables: dict[str, str | None]) -> str | None:
    return None if value is None else _expand(value, variables)


# --- rows --------------------------------------------------------------------------------------


def _stage_row(path: str, s: _Stage) -> Row:
    ref = s.ref
    return {
        "path": path,
        "stage_index": s.index,
        "stage_name": s.name,
        "base_raw": s.base_raw or None,
        "base_ref": str(ref) if ref else None,
        "base_registry": ref.registry if ref else None,
        "base_repository": ref.repository if ref else None,
        "base_tag": ref.tag if ref else None,
        "base_digest": ref.digest if ref else None,
        "platform": s.platform,
        "is_scratch": s.is_scratch,
        "is_stage_ref": s.parent is not None,
        "is_latest": ref.tag == "latest" if ref else None,
        "is_pinned_digest": ref.digest is not None if ref else None,
        "line": s.line,
    }


def _dockerfile_row(
    path: str,
    stages: list[_Stage],
    instructions: list[_Instruction],
    secrets: list[Row],
    upgrades: bool,
    config_copies: int,
) -> Row:
    user: str | None = None
    user_is_root: bool | None = None
    healthcheck: bool | None = None
    ref: Reference | None = None
    if stages:
        # Walk from the final stage back through `FROM <stage>`: the nearest USER and HEALTHCHECK
        # win, and the first stage built from an image (or scratch) gives the base.
        user_is_root = True
        stage: _Stage | None = stages[-1]
        seen_user = seen_health = False
        while stage is not None:
            if not seen_user and stage.user is not None:
                user, user_is_root, seen_user = stage.user, stage.user_is_root, True
            if not seen_health and stage.healthcheck is not None:
                healthcheck, seen_health = stage.healthcheck, True
            ref = stage.ref
            stage = stages[stage.parent] if stage.parent is not None else None
        healthcheck = bool(healthcheck)
    return {
        "path": path,
        "stage_count": len(stages),
        "is_multi_stage": len(stages) > 1,
        "final_base_ref": str(ref) if ref else None,
        "final_base_is_latest": ref.tag == "latest" if ref else None,
        "final_base_is_pinned": ref.digest is not None if ref else None,
        "final_user": user,
        "final_user_is_root": user_is_root,
        "has_healthcheck": healthcheck,
        "upgrades_packages": upgrades,
        "secret_env_names_count": len({r["name"] for r in secrets}),
        "config_copy_count": config_copies,
        "instruction_count": sum(1 for i in instructions if i.keyword in _INSTRUCTIONS),
    }
