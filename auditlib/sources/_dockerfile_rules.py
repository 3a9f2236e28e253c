"""What the Dockerfile reader detects in instructions: `RUN` commands that upgrade packages, and
`COPY`/`ADD` of configuration or key files.

Used by `dockerfile`. Secret-looking `ENV`/`ARG` names are `auditlib.normalize.secret_env`'s
`is_secret_name`; a root `USER` is `auditlib.normalize.users`' `is_root_user`.
"""

from __future__ import annotations

import posixpath
import re

from auditlib.sources._dockerfile_lexer import (
    _HEREDOC,
    _Instruction,
    _json_list,
    _split_words,
    _strip_flags,
    _unquote,
)

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


def _copy_words(ins: _Instruction) -> tuple[dict[str, str], list[str]]:
    """Return a COPY or ADD's flags (`--from`, `--chown`...) and its words: the sources, then
    the destination (heredoc markers left out)."""
    exec_form = _json_list(ins.args)
    if exec_form is not None:
        return {}, exec_form
    flags, raw_words = _strip_flags(_split_words(ins.args, ins.escape))
    return flags, [_unquote(w, ins.escape) for w in raw_words if not _HEREDOC.match(w)]


def _copy_targets(sources: list[str], destination: str, workdir: str) -> list[str]:
    """Return where each COPY/ADD source lands in the image: the destination itself for one
    source and a destination not ending in `/`, else the destination folder and the source's
    last name. A relative destination is read from `workdir` (BuildKit's WORKDIR, `/` when
    none)."""
    dest = destination if destination.startswith("/") else posixpath.join(workdir, destination)
    as_folder = destination.endswith("/") or destination in (".", "./") or len(sources) > 1
    dest = posixpath.normpath(dest)
    if not as_folder:
        return [dest for _ in sources]
    return [posixpath.join(dest, s.rstrip("/").rsplit("/", 1)[-1]) for s in sources]


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
