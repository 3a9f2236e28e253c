"""One redaction step: every text that comes from an image, a file or a server passes through
`redact` before it reaches a table, a log, an error or a page.

Tables get it in one place: `auditlib.tables` declares which columns carry untrusted free text
(`Column.redacted`), and `tables.frame` (every row that enters a table) and `tables.conform`
(every table read back from the store) pass those columns through `redact_values`.

What it masks (each becomes `<redacted>`, the words around it kept so the text still reads):

* credentials in HTTP headers and their echoes: `Basic <base64>`, `Bearer <token>`, `Token ...`
  (a value that looks like a credential: not a plain word such as `Basic authentication`, not a
  `sha256:` digest);
* whole PEM private-key blocks (`-----BEGIN ... PRIVATE KEY-----` or `PGP PRIVATE KEY BLOCK` to
  its END, or to the end of the text when it is cut);
* passwords in URLs (`scheme://user:password@host`);
* passwords in command lines: `--password <pw>`, `--password=<pw>`, `--token <t>` and the like,
  `-u user:pw` / `--user user:pw` (curl), `-p<pw>` after `mysql`/`mariadb`/`mysqldump`;
* `NAME=value` and Dockerfile `ENV NAME value` where the name or the value looks like a secret
  (`secret_env.check_env`: `DB_PASSWORD=...`, `GITHUB_TOKEN=...`);
* tokens of known shapes wherever they stand (GitHub, GitLab, AWS key ids, Slack, OpenAI, JWTs);
* AWS secret access keys (40 characters of the base64 alphabet): next to an `aws` or `secret`
  word, any such run with upper and lower case and a digit, `/` or `+`; elsewhere only one that
  cannot be much else (a `/` or `+` inside, at most three, several upper and lower case letters
  and a digit), so that hex digests (git commits, `sha256:`), base64 of plain words and paths
  stay as they are.

`redact` is idempotent and never raises; text with nothing to mask comes back unchanged (the
same object). Most text cannot hold any of these: a quick look for the words and characters every
rule needs (`_may_hold_secret`) returns it before any rule runs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from auditlib.normalize.secret_env import VALUE_RULES, check_env

REDACTED = "<redacted>"
"""What a masked value becomes."""

_PEM = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----.*?"
    r"(?:-----END (?P=kind)-----|\Z)",
    re.DOTALL)
_AUTH = re.compile(
    r"\b(?P<scheme>Basic|Bearer|Token|Digest)(?P<sep>\s+)(?P<value>[A-Za-z0-9._~+/=:-]{6,})",
    re.IGNORECASE)
_DIGEST = re.compile(r"(?:sha\d+|md5):[0-9a-f]+", re.IGNORECASE)
# Bounded, and a scheme starts where a word starts: unbounded runs made this rule quadratic on
# long labels (20 KB of letters took 4 s).
_URL_PASSWORD = re.compile(
    r"(?<![a-z0-9+.-])(?P<head>[a-z][a-z0-9+.-]{0,31}://[^/\s:@]{1,256}:)[^/\s@]{1,256}(?P<at>@)",
    re.IGNORECASE)
_FLAG_WORDS = (r"password|passwd|pass|pwd|secret|token|api[-_]?key|access[-_]?key|"
               r"secret[-_]?key|auth[-_]?token|client[-_]?secret|[a-z]+[-_]password|"
               r"[a-z]+[-_]token|[a-z]+[-_]secret")
_FLAG = re.compile(
    rf"(?P<flag>--?(?:{_FLAG_WORDS}))(?P<sep>=|\s+)(?P<value>\"[^\"]*\"|'[^']*'|\S+)",
    re.IGNORECASE)
_USER_PASS = re.compile(r"(?P<flag>(?:^|\s)(?:-u|--user))(?P<sep>=|\s+)(?P<user>[^\s:]+):"
                        r"(?P<value>\S+)")
_MYSQL_P = re.compile(r"(?P<head>\b(?:mysql|mariadb|mysqldump|mysqladmin)\b[^\n;|&]{0,256}?\s-p)"
                      r"(?P<value>[^\s;|&]+)")
_ENV_SPACE = re.compile(r"(?P<head>\bENV\s+)(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<sep>\s+)"
                        r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s=]\S*)")
_ASSIGNMENT = re.compile(r"""\b(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>"[^"]*"|'[^']*'|\S+)""")
# 40 characters of the base64 alphabet standing alone (an AWS secret access key's shape); a
# longer run (a digest, a base64 blob, padding after it) is not one.
_B64_40 = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_AWS_CONTEXT = re.compile(r"aws|secret", re.IGNORECASE)
_AWS_CONTEXT_REACH = 120
"""Characters either side of a 40-character run searched for an `aws` or `secret` word."""

# What `_may_hold_secret` looks for: lower-cased words of which every match of some rule above
# contains one (or both of a pair). Keep them a superset of the rules (tests/test_redact.py checks
# it on generated text); few and short, since each costs one substring search per distinct value.
_TRIGGER_WORDS: tuple[str, ...] = (
    "pass", "pwd", "secret", "token", "credentials", "private",  # _FLAG, names (SECRET_PARTS), _PEM
    "api_key", "api-key", "apikey", "access_key", "access-key", "accesskey", "client_id",  # names
    "basic", "bearer", "digest",                                 # _AUTH (and "token")
    "mysql", "mariadb",                                          # _MYSQL_P
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "akia", "asia", "xox",
    "sk-", "eyj",                                                # VALUE_RULES
)
_TRIGGER_PAIRS: tuple[tuple[str, str], ...] = (
    ("://", "@"),  # _URL_PASSWORD, url-with-password
    ("-u", ":"),   # _USER_PASS (`-u user:pw`, `--user user:pw`)
)
_TRIGGER_RUN = re.compile(r"[A-Za-z0-9/+]{40,}")  # _B64_40


def _may_hold_secret(text: str) -> bool:
    """Return False when no rule of `redact` can match `text` (most text: labels, versions)."""
    low = text.lower()
    for word in _TRIGGER_WORDS:
        if word in low:
            return True
    for first, second in _TRIGGER_PAIRS:
        if first in low and second in low:
            return True
    if len(text) < 40:
        return False
    # An AWS secret key has both cases; hex digests (the usual long runs) have one.
    return any(not run.islower() and not run.isupper()
               for run in _TRIGGER_RUN.findall(text))


def _is_mask(value: str) -> bool:
    return value.strip("\"'") in (REDACTED, "")


def _is_credential(value: str) -> bool:
    """Return whether the word after `Basic`/`Bearer`/`Token`/`Digest` looks like a credential
    rather than a word (`Basic authentication`) or a digest (`digest sha256:...`)."""
    if _is_mask(value) or _DIGEST.fullmatch(value):
        return False
    return (any(c.isdigit() for c in value) or any(c in "+/=~" for c in value)
            or (any(c.isupper() for c in value[1:]) and any(c.islower() for c in value)))


def _is_aws_secret(text: str, m: re.Match[str]) -> bool:
    """Return whether the 40-character run `m` in `text` is an AWS secret access key."""
    run = m.group(0)
    seps = run.count("/") + run.count("+")
    if seps > 3 or run.startswith("/") or run.endswith("/"):
        return False  # a path
    upper = sum(1 for c in run if "A" <= c <= "Z")
    lower = sum(1 for c in run if "a" <= c <= "z")
    digits = sum(1 for c in run if c.isdigit())
    near = text[max(0, m.start() - _AWS_CONTEXT_REACH):m.end() + _AWS_CONTEXT_REACH]
    if _AWS_CONTEXT.search(near):
        return upper > 0 and lower > 0 and (digits > 0 or seps > 0)
    # Alone: base64 of plain words has no `/` or `+`; hex digests have one case only.
    return seps > 0 and upper >= 4 and lower >= 4 and digits > 0


def redact(text: str) -> str:
    """Return `text` with every credential and secret-looking value masked (module docstring);
    `text` itself when there is nothing to mask."""
    if not text or not _may_hold_secret(text):
        return text
    out = _redact(text)
    return text if out == text else out


def _redact(text: str) -> str:
    """Apply every rule (no quick look first)."""
    out = _PEM.sub(REDACTED, text)
    out = _URL_PASSWORD.sub(lambda m: f"{m['head']}{REDACTED}{m['at']}", out)
    out = _AUTH.sub(lambda m: f"{m['scheme']}{m['sep']}{REDACTED}" if _is_credential(m["value"])
                    else m.group(0), out)
    out = _USER_PASS.sub(lambda m: m.group(0) if _is_mask(m["value"])
                         else f"{m['flag']}{m['sep']}{m['user']}:{REDACTED}", out)
    out = _MYSQL_P.sub(lambda m: f"{m['head']}{REDACTED}", out)
    out = _FLAG.sub(lambda m: m.group(0) if _is_mask(m["value"])
                    else f"{m['flag']}{m['sep']}{REDACTED}", out)

    def env_space(m: re.Match[str]) -> str:
        value = m["value"].strip("\"'")
        if _is_mask(value) or check_env(m["name"], value) is None:
            return m.group(0)
        return f"{m['head']}{m['name']}{m['sep']}{REDACTED}"

    def assignment(m: re.Match[str]) -> str:
        value = m["value"].strip("\"'")
        if _is_mask(value) or check_env(m["name"], value) is None:
            return m.group(0)
        return f"{m['name']}={REDACTED}"

    out = _ENV_SPACE.sub(env_space, out)
    out = _ASSIGNMENT.sub(assignment, out)
    for rule, pattern in VALUE_RULES:
        if rule != "url-with-password":  # masked above, keeping the host
            out = pattern.sub(REDACTED, out)
    if len(out) >= 40:
        src = out
        out = _B64_40.sub(lambda m: REDACTED if _is_aws_secret(src, m) else m.group(0), src)
    return out


def redact_optional(text: str | None) -> str | None:
    """Return `redact(text)`, or None for None."""
    return None if text is None else redact(text)


_CACHED_UP_TO = 4096
"""Only values up to this many characters are cached: a cache of a few huge strings (a 60 MB
label) would hold them for the life of the process."""


@lru_cache(maxsize=4096)
def _redact_short(text: str) -> str:
    return redact(text)


def _redact_cached(text: str) -> str:
    return _redact_short(text) if len(text) <= _CACHED_UP_TO else redact(text)


def redact_values(values: list[Any]) -> list[Any]:
    """Return the cells of a text column with `redact` applied to each: `values` itself when
    nothing is masked (the usual case), else a new list.

    Each distinct value is looked at once (a column repeats its values: labels, messages), and
    the answers are cached across calls. None stays None; any other value that is not `str` is
    read as its text (which is what a `string` column would hold).
    """
    try:
        distinct = set(values)
    except TypeError:  # an unhashable cell (a parser bug): look at each one
        distinct = None
    if distinct is not None:
        changed: dict[Any, str] = {}
        for v in distinct:
            if v is None:
                continue
            text = v if isinstance(v, str) else str(v)
            masked = _redact_cached(text)
            if masked != text:
                changed[v] = masked
        if not changed:
            return values
        return [changed.get(v, v) if v is not None else None for v in values]
    return [None if v is None else _redact_cached(v if isinstance(v, str) else str(v))
            for v in values]


def redact_json(value: Any) -> Any:
    """Return a decoded JSON document with `redact` applied to every string in it (keys and
    values); numbers, booleans and nulls as they are. The shape stays the same, so the document
    still reads as the tool wrote it."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(k) if isinstance(k, str) else k: redact_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v) for v in value]
    return value
