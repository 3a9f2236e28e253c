"""Whether an environment variable of an image looks like a baked-in secret.

Only the verdict and its reason are kept; the value is looked at here and never stored.
"""

from __future__ import annotations

import re

from auditlib.sources._dockerfile_rules import is_secret_name

# Token shapes of the most common providers (the same families Trivy's secret rules find).
_VALUE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("github-pat", re.compile(r"\b(ghp|gho|ghu|ghs|ghr)_[0-9A-Za-z]{36}\b")),
    ("github-fine-grained-pat", re.compile(r"\bgithub_pat_[0-9A-Za-z_]{82}\b")),
    ("gitlab-pat", re.compile(r"\bglpat-[0-9A-Za-z_\-]{20}\b")),
    ("aws-access-key-id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("slack-token", re.compile(r"\bxox[baprs]-[0-9A-Za-z-]{10,}\b")),
    ("private-key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("openai-api-key", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b")),
    ("jwt", re.compile(r"\beyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}\b")),
    ("url-with-password", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
)

# Values that say "set me at run time" rather than hold a secret.
_PLACEHOLDERS = frozenset(
    {"", "changeme", "change-me", "xxx", "none", "null", "empty", "secret", "password", "todo"}
)


def check_env(name: str, value: str | None) -> str | None:
    """Return why `name=value` looks like a secret, or None when it does not.

    Returns:
        `value:<rule>` when the value has a known token shape (whatever the name);
        `name:<NAME>` when the name looks like it holds a secret (`DB_PASSWORD`, `GITHUB_TOKEN`)
        and the value is not empty, a placeholder (`changeme`) or a reference to another variable
        (`$OTHER`, `${OTHER}`); else None.
    """
    if value:
        for rule, pattern in _VALUE_RULES:
            if pattern.search(value):
                return f"value:{rule}"
    if is_secret_name(name):
        v = (value or "").strip()
        placeholder = v.startswith("$") or (v.startswith("<") and v.endswith(">"))
        if placeholder or v.lower() in _PLACEHOLDERS:
            return None
        return f"name:{name}"
    return None


_ASSIGNMENT = re.compile(r"""\b(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>"[^"]*"|'[^']*'|\S+)""")


def redact(text: str) -> str:
    """Return `text` (a build step, a command line) with secret-looking values replaced.

    Every `NAME=value` whose name or value looks like a secret (`check_env`) gets the value
    `<redacted>`, and any other token of a known shape (`ghp_...`, `AKIA...`, a private key
    header) becomes `<redacted>` too, so that `ENV DB_PASSWORD=...` in an image's history never
    reaches a table.
    """

    def assignment(m: re.Match[str]) -> str:
        value = m.group("value").strip("\"'")
        if check_env(m.group("name"), value) is None:
            return m.group(0)
        return f"{m.group('name')}=<redacted>"

    out = _ASSIGNMENT.sub(assignment, text)
    for _, pattern in _VALUE_RULES:
        out = pattern.sub("<redacted>", out)
    return out
