"""Dockerfiles read into `dockerfiles`, `dockerfile_stages`, `dockerfile_secret_names` and
`dockerfile_copies` rows.

The reading follows BuildKit's Dockerfile frontend (`frontend/dockerfile/parser`): parser
directives (`# escape=`, `# syntax=`, `# check=`) only at the very top; whole-line comments;
line continuations with the escape character, comment and blank lines inside them skipped;
instructions case-insensitive; heredocs (`RUN <<EOF`) on `RUN`, `COPY` and `ADD`, whose bodies are
not instructions. Global `ARG`s (before the first `FROM`) are substituted into `FROM`, as BuildKit
does, with their defaults only (there are no `--build-arg`s here).

Secrets: only the NAMES of `ENV` and `ARG` variables are ever put in a row. Values are read solely
to substitute them into `FROM` (global `ARG` defaults) and to decide whether `USER` is root; rows
keep `FROM` and `USER` as written. A `FROM` that uses a build argument whose name looks like a
secret (`FROM $BASE:${TOKEN}`), or whose substituted text holds something `redact` would mask, is
left unresolved (a warning names the argument, never its value), so no secret reaches
`base_ref` and what is built from it (the policy's evidence). Bad input never raises: what
cannot be read becomes a warning `(locator, reason)`, with the locator `line N`.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from auditlib.identity import Reference, normalize_reference, parse_reference
from auditlib.normalize.redact import redact
from auditlib.normalize.secret_env import is_secret_name
from auditlib.normalize.users import is_root_user
from auditlib.rows import Output, Row
from auditlib.sources._dockerfile_expand import _expand, _expand_or_none, _variable_names
from auditlib.sources._dockerfile_lexer import (
    _assignments,
    _Instruction,
    _instructions,
    _strip_flags,
)
from auditlib.sources._dockerfile_rules import (
    _copy_targets,
    _copy_words,
    _is_config_file,
    _run_text,
    _upgrades_packages,
)
from auditlib.sources.record import Collection, Record

FORMAT = "dockerfile"
"""The format id of a Dockerfile, for `scans.format` and `source_format`."""

_INSTRUCTIONS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    }
)


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
    copies: list[Row]
    """`dockerfile_copies` rows, one per `COPY`/`ADD` source, in order."""

    def rows(self) -> dict[str, list[Row]]:
        """Return the rows by table name, as a parser's `Output.rows` holds them."""
        return {
            "dockerfiles": self.dockerfiles,
            "dockerfile_stages": self.stages,
            "dockerfile_secret_names": self.secret_names,
            "dockerfile_copies": self.copies,
        }


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
    workdir: str | None = None
    """The WORKDIR relative COPY destinations are read from: `/` from scratch, None (unknown)
    from an image until a `WORKDIR` sets it, or when a variable leaves it unresolved."""
    upgrades: bool = False
    """Whether a RUN of this stage upgrades installed packages."""


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
    copies: list[tuple[int, Row]] = []

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
            stage.user_is_root = None if resolved is None else is_root_user(resolved)
        elif kw == "HEALTHCHECK":
            stage.healthcheck = _healthcheck(ins, warnings)
        elif kw == "WORKDIR":
            stage.workdir = _workdir(stage.workdir, ins.args.strip(), stage.variables)
        elif kw == "RUN":
            stage.upgrades = stage.upgrades or _upgrades_packages(_run_text(ins))
            upgrades = upgrades or stage.upgrades
        elif kw in ("COPY", "ADD"):
            mine = _copy_rows(source, stage, ins)
            config_copies += sum(1 for r in mine if r["is_config"])
            copies += [(stage.index, r) for r in mine]

    rows = [_stage_row(source, s) for s in stages]
    dockerfile = _dockerfile_row(source, stages, instructions, secrets, upgrades, config_copies)
    final = _final_chain(stages)
    for index, row in copies:
        row["in_final_image"] = index in final
    if not stages:
        warnings.append(("line 1", "no FROM instruction: not a Dockerfile that builds an image"))
    return DockerfileRows([dockerfile], rows, secrets, warnings, [r for _, r in copies])


def _final_chain(stages: list[_Stage]) -> set[int]:
    """Return the indexes of the final stage and of the stages it is built `FROM`: what they
    hold is in the image the Dockerfile builds."""
    out: set[int] = set()
    stage = stages[-1] if stages else None
    while stage is not None:
        out.add(stage.index)
        stage = stages[stage.parent] if stage.parent is not None else None
    return out


def _workdir(current: str | None, given: str, variables: dict[str, str | None]) -> str | None:
    """Return the WORKDIR after `WORKDIR given` (relative to `current`), or None when a
    variable leaves it unresolved."""
    resolved = _expand(given, variables)
    if not resolved:
        return None
    if resolved.startswith("/"):
        return posixpath.normpath(resolved)
    return None if current is None else posixpath.normpath(posixpath.join(current, resolved))


def _copy_rows(path: str, stage: _Stage, ins: _Instruction) -> list[Row]:
    """Return the `dockerfile_copies` rows of one COPY or ADD (`in_final_image` is set once the
    final stage is known)."""
    flags, words = _copy_words(ins)
    if len(words) < 2:
        return []
    sources, destination = words[:-1], words[-1]
    resolved = _expand(destination, stage.variables)
    relative_unknown = resolved is not None and not resolved.startswith("/") and \
        stage.workdir is None
    targets = (_copy_targets(sources, resolved, stage.workdir or "/")
               if resolved and not relative_unknown else [None] * len(sources))
    return [
        {
            "path": path,
            "line": ins.line,
            "stage_index": stage.index,
            "instruction": ins.keyword,
            "copy_from": flags.get("from") or None,
            "source_path": redact(src),
            "destination": redact(destination),
            "target_path": redact(target) if target else None,
            "is_config": _is_config_file(src),
        }
        for src, target in zip(sources, targets, strict=True)
    ]


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
    secret_args = sorted({n for n in _variable_names(raw) if is_secret_name(n)})
    if secret_args:
        warnings.append((where, f"FROM {raw}: build argument {', '.join(secret_args)} looks like "
                         "a secret; its value is not used and the base is left unresolved"))
        return stage
    base = _expand(raw, global_vars)
    if not base:
        warnings.append((where, f"FROM {raw}: build arguments leave the base unresolved"))
        return stage
    if redact(base) != base:
        warnings.append((where, f"FROM {raw}: build arguments give a value that looks like a "
                         "secret (not shown); the base is left unresolved"))
        return stage
    if base == "scratch":
        stage.is_scratch = True
        stage.workdir = "/"
        return stage
    parent = next((s for s in stages if s.name is not None and s.name == base.lower()), None)
    if parent is not None:
        stage.parent = parent.index
        stage.variables = dict(parent.variables)
        stage.workdir = parent.workdir
        return stage
    stage.ref = parse_reference(base)
    if stage.ref is None:
        warnings.append((where, f"FROM {raw}: {base!r} is not a valid image reference"))
    return stage


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


def _healthcheck(ins: _Instruction, warnings: list[tuple[str, str]]) -> bool | None:
    _, words = _strip_flags(ins.args.split())
    first = words[0].upper() if words else ""
    if first == "NONE":
        return False
    if first == "CMD" and len(words) > 1:
        return True
    warnings.append((f"line {ins.line}", "HEALTHCHECK takes NONE or CMD <command>; ignored"))
    return None


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
        "final_upgrades_packages": any(stages[i].upgrades for i in _final_chain(stages))
        if stages else None,
        "secret_env_names_count": len({r["name"] for r in secrets}),
        "config_copy_count": config_copies,
        "instruction_count": sum(1 for i in instructions if i.keyword in _INSTRUCTIONS),
        "copies_recorded": bool(stages),
    }


def collect_dockerfile(path: str | os.PathLike[str], *, image_ref: str | None = None) -> Collection:
    """Read one Dockerfile into a collection (format `dockerfile`).

    Args:
        path: the Dockerfile.
        image_ref: the image it builds, when known (`--dockerfile PATH=REF`); written to
            `dockerfiles.context_image_ref`, normalised.

    Returns:
        A collection with one record, or only an error naming the file when it cannot be read
        (missing, a folder, not UTF-8, larger than 10 MB).
    """
    source = str(path)
    col = Collection(source, FORMAT)
    try:
        p = Path(path)
        if p.is_dir():
            p = p / "Dockerfile"
        if p.stat().st_size > MAX_BYTES:
            col.error(f"{source}: {p.stat().st_size} bytes is too large for a Dockerfile")
            return col
        data = p.read_bytes()
        text = data.decode("utf-8-sig")
    except OSError as e:
        col.error(f"{source}: cannot read: {e.strerror or e}")
        return col
    except UnicodeDecodeError as e:
        col.error(f"{source}: not UTF-8 text at byte {e.start}")
        return col
    rows = parse_dockerfile(text, source=source)
    ref = normalize_reference(image_ref) if image_ref else None
    for row in rows.dockerfiles:
        row["context_image_ref"] = ref
    out = Output(source)
    out.scan.format_version = "1"
    out.scan.tool = "auditlib"
    out.scan.target = source
    out.scan.target_type = "dockerfile"
    for table, table_rows in rows.rows().items():
        out.extend(table, table_rows)
    out.warnings.extend(rows.warnings)
    col.records.append(Record(out, FORMAT, "1", data + b"\0" + (ref or "").encode()))
    return col


MAX_BYTES = 10 * 1024 * 1024
"""Largest Dockerfile read (a real one is a few KB)."""
