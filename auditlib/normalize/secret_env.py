"""Whether an environment variable of an image looks like a baked-in secret: by its name
(`is_secret_name`, Trivy DS-0031, also used for Dockerfile `ENV`/`ARG` names) or by its value.

Only the verdict and its reason are kept; the value is looked at here and never stored.
"""

from __future__ import annotations

import functools
import re

# Trivy DS-0031: these names, also behind a VITE_ or REACT_APP_ prefix (front-end build tools
# bake such variables into the bundle they ship).
SECRET_NAMES = frozenset(
    {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET", "GITHUB_TOKEN", "OPENAI_API_KEY", "HF_TOKEN",
    }
)
"""Names that hold a secret (Trivy DS-0031), also behind one of `_SECRET_PREFIXES`."""
_SECRET_PREFIXES = ("VITE_", "REACT_APP_")
SECRET_PARTS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "PRIVATE_KEY", "CREDENTIALS")
"""Words that make a name look like it holds a secret wherever they stand in it."""
# Names that point at a secret rather than hold one (`POSTGRES_PASSWORD_FILE` is the safe way to
# pass a password), and Hugging Face's `TOKENIZERS_PARALLELISM`, are not secrets.
_NOT_SECRET_SUFFIXES = ("_FILE", "_PATH", "_DIR")
_NOT_SECRET_WORDS = ("TOKENIZER",)

# Token shapes of the most common providers (the same families Trivy's secret rules find);
# `auditlib.normalize.redact` masks them wherever they stand.
VALUE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("github-pat", re.compile(r"\b(ghp|gho|ghu|ghs|ghr)_[0-9A-Za-z]{36}\b")),
    ("github-fine-grained-pat", re.compile(r"\bgithub_pat_[0-9A-Za-z_]{82}\b")),
    ("gitlab-pat", re.compile(r"\bglpat-[0-9A-Za-z_\-]{20}\b")),
    ("aws-access-key-id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("slack-token", re.compile(r"\bxox[baprs]-[0-9A-Za-z-]{10,}\b")),
    ("private-key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("openai-api-key", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b")),
    ("jwt", re.compile(r"\beyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}\b")),
    ("url-with-password", re.compile(
        r"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,31}://[^/\s:@]{1,256}:[^/\s@]{1,256}@")),
)

# Values that say "set me at run time" rather than hold a secret.
_PLACEHOLDERS = frozenset(
    {"", "changeme", "change-me", "xxx", "none", "null", "empty", "secret", "password", "todo"}
)


@functools.lru_cache(maxsize=4096)  # the same names recur in every image (PATH, HOME, ...)
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
    if upper in SECRET_NAMES:
        return True
    if upper.endswith(_NOT_SECRET_SUFFIXES):
        return False
    for word in _NOT_SECRET_WORDS:
        upper = upper.replace(word, "")
    return any(part in upper for part in SECRET_PARTS)


def check_env(name: str, value: str | None) -> str | None:
    """Return why `name=value` looks like a secret, or None when it does not.

    Returns:
        `value:<rule>` when the value has a known token shape (whatever the name);
        `name:<NAME>` when the name looks like it holds a secret (`DB_PASSWORD`, `GITHUB_TOKEN`)
        and the value is not empty, a placeholder (`changeme`) or a reference to another variable
        (`$OTHER`, `${OTHER}`); else None.
    """
    if value:
        for rule, pattern in VALUE_RULES:
            if pattern.search(value):
                return f"value:{rule}"
    if is_secret_name(name):
        v = (value or "").strip()
        placeholder = v.startswith("$") or (v.startswith("<") and v.endswith(">"))
        if placeholder or v.lower() in _PLACEHOLDERS:
            return None
        return f"name:{name}"
    return None
