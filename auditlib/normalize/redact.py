"""One redaction step: every text that comes from an image, a file or a server passes through
`redact` before it reaches a table, a log, an error or a page.

What it masks (each becomes `<redacted>`, the words around it kept so the text still reads):

* credentials in HTTP headers and their echoes: `Basic <base64>`, `Bearer <token>`, `Token ...`;
* whole PEM private-key blocks (`-----BEGIN ... PRIVATE KEY-----` to its END, or to the end of
  the text when it is cut);
* passwords in URLs (`scheme://user:password@host`);
* passwords in command lines: `--password <pw>`, `--password=<pw>`, `--token <t>` and the like,
  `-u user:pw` / `--user user:pw` (curl), `-p<pw>` after `mysql`/`mariadb`/`mysqldump`;
* `NAME=value` and Dockerfile `ENV NAME value` where the name or the value looks like a secret
  (`secret_env.check_env`: `DB_PASSWORD=...`, `GITHUB_TOKEN=...`);
* tokens of known shapes wherever they stand (GitHub, GitLab, AWS key ids, Slack, OpenAI, JWTs).

`redact` is idempotent and never raises; text with nothing to mask comes back unchanged.
"""

from __future__ import annotations

import re

from auditlib.normalize.secret_env import VALUE_RULES, check_env

REDACTED = "<redacted>"
"""What a masked value becomes."""

_PEM = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*PRIVATE KEY)-----.*?(?:-----END (?P=kind)-----|\Z)",
    re.DOTALL)
_AUTH = re.compile(
    r"\b(?P<scheme>Basic|Bearer|Token|Digest)(?P<sep>\s+)(?P<value>[A-Za-z0-9._~+/=:-]{6,})",
    re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(?P<at>@)",
                           re.IGNORECASE)
_FLAG_WORDS = (r"password|passwd|pass|pwd|secret|token|api[-_]?key|access[-_]?key|"
               r"secret[-_]?key|auth[-_]?token|client[-_]?secret|[a-z]+[-_]password|"
               r"[a-z]+[-_]token|[a-z]+[-_]secret")
_FLAG = re.compile(
    rf"(?P<flag>--?(?:{_FLAG_WORDS}))(?P<sep>=|\s+)(?P<value>\"[^\"]*\"|'[^']*'|\S+)",
    re.IGNORECASE)
_USER_PASS = re.compile(r"(?P<flag>(?:^|\s)(?:-u|--user))(?P<sep>=|\s+)(?P<user>[^\s:]+):"
                        r"(?P<value>\S+)")
_MYSQL_P = re.compile(r"(?P<head>\b(?:mysql|mariadb|mysqldump|mysqladmin)\b[^\n;|&]*?\s-p)"
                      r"(?P<value>[^\s;|&]+)")
_ENV_SPACE = re.compile(r"(?P<head>\bENV\s+)(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<sep>\s+)"
                        r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s=]\S*)")
_ASSIGNMENT = re.compile(r"""\b(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>"[^"]*"|'[^']*'|\S+)""")


def _is_mask(value: str) -> bool:
    return value.strip("\"'") in (REDACTED, "")


def redact(text: str) -> str:
    """Return `text` with every credential and secret-looking value masked (module docstring)."""
    if not text:
        return text
    out = _PEM.sub(REDACTED, text)
    out = _URL_PASSWORD.sub(lambda m: f"{m['head']}{REDACTED}{m['at']}", out)
    out = _AUTH.sub(lambda m: m.group(0) if _is_mask(m["value"])
                    else f"{m['scheme']}{m['sep']}{REDACTED}", out)
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
    return out


def redact_optional(text: str | None) -> str | None:
    """Return `redact(text)`, or None for None."""
    return None if text is None else redact(text)
