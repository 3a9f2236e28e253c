"""Where digests go: the targets of `auditlib run --notify TARGET` and of the policy file's
`notify` section, and the SMTP settings of mail targets.

A target is one of:

* `https://...` (or `http://`): a webhook, sent the digest as JSON
  (docs/notify-webhook.schema.json);
* `slack:https://...`, or any `https://hooks.slack.com/...` URL: a Slack-compatible incoming
  webhook (Slack, Mattermost, Rocket.Chat), sent `text` and `blocks`;
* `mailto:a@example.com,b@example.com`: mail through the SMTP server of `smtp` settings.

A URL may be given as `env:NAME` (or `slack:env:NAME`) to read it from the environment variable
NAME, or `file:PATH` to read it from a file, so that a webhook URL (a secret: whoever has it may
post) need not be on a command line or in a policy file. Credentials are never printed: a target
is shown as `shown(target)`, its scheme and host only.

```yaml
notify:
  targets: [env:AUDITLIB_WEBHOOK, "slack:env:SLACK_WEBHOOK_URL", "mailto:team@example.com"]
  always: false                 # send even when nothing changed
  page_url: https://reports.example.com/compliance.html
  timeout: 10                   # seconds per target
  smtp: {host: smtp.example.com, port: 587, sender: auditlib@example.com,
         username: auditlib, password_env: SMTP_PASSWORD, starttls: true}
```

SMTP settings the section does not give come from the environment: `AUDITLIB_SMTP_HOST`,
`AUDITLIB_SMTP_PORT`, `AUDITLIB_SMTP_FROM`, `AUDITLIB_SMTP_USER`, `AUDITLIB_SMTP_PASSWORD`
(or `AUDITLIB_SMTP_PASSWORD_FILE`), `AUDITLIB_SMTP_STARTTLS=1`, `AUDITLIB_SMTP_SSL=1`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from auditlib.errors import AuditlibError

Kind = Literal["webhook", "slack", "mail"]


class NotifyError(AuditlibError):
    """A notification target or setting is not valid; the message never holds a credential."""


@dataclass(frozen=True, slots=True)
class Target:
    """One place a digest goes."""

    kind: Kind
    address: str
    """The URL, or the comma-separated mail addresses (a secret for webhooks: never printed)."""
    given: str
    """The target as written (`env:NAME`, `mailto:...`, or a URL): what `shown` starts from."""

    def shown(self) -> str:
        """Return the target as messages show it: no path, query or user (tokens live there)."""
        if self.kind == "mail":
            return f"mailto:{self.address}"
        if self.given.removeprefix("slack:").startswith(("env:", "file:")):
            return self.given
        return shown_url(self.address)


def shown_url(url: str) -> str:
    """Return `scheme://host[:port]/...` of a URL: the path, query and credentials left out."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<a URL that cannot be read>"
    tail = "/<redacted>" if (parts.path.strip("/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{tail}"


@dataclass(frozen=True, slots=True)
class Smtp:
    """How mail is sent."""

    host: str
    port: int = 25
    sender: str = "auditlib@localhost"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """The `notify` section, merged with the command line's options."""

    targets: tuple[Target, ...] = ()
    always: bool = False
    page_url: str | None = None
    timeout: float = 10.0
    smtp: Smtp | None = None
    """How mail is sent (`smtp_settings`: the section's `smtp`, then the environment), read and
    checked with the rest of the settings when a target is mail; None when none is."""


def _read(ref: str, where: str, env: Mapping[str, str]) -> str:
    """Return the value an `env:NAME` or `file:PATH` reference names (other text as it is)."""
    if ref.startswith("env:"):
        name = ref[4:]
        value = env.get(name, "").strip()
        if not value:
            raise NotifyError(f"{where}: the environment variable {name} is not set")
        return value
    if ref.startswith("file:"):
        path = ref[5:]
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise NotifyError(f"{where}: cannot read {path}: {getattr(e, 'strerror', None) or e}"
                              ) from None
        if not value:
            raise NotifyError(f"{where}: {path} is empty")
        return value
    return ref


def parse_target(text: str, where: str, env: Mapping[str, str] | None = None) -> Target:
    """Return the target `text` names, reading `env:`/`file:` references.

    Raises:
        NotifyError: naming `where` and why, for a target of no known kind, an unset variable,
            an unreadable file, or a mailto without an address. The message shows the target
            only as `shown` would.
    """
    env = os.environ if env is None else env
    given = text.strip()
    if given.startswith("mailto:"):
        addresses = [a.strip() for a in given[7:].split("?")[0].split(",") if a.strip()]
        if not addresses or not all("@" in a for a in addresses):
            raise NotifyError(f"{where}: {given!r}: expected mailto:NAME@HOST[,NAME@HOST...]")
        return Target("mail", ",".join(addresses), given)
    slack = given.startswith("slack:")
    url = _read(given.removeprefix("slack:"), where, env)
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        shown = given if given.removeprefix("slack:").startswith(("env:", "file:")) else \
            shown_url(url)
        raise NotifyError(f"{where}: {shown}: expected an http(s) URL, `slack:URL` or "
                          "`mailto:ADDRESS` (a URL may be `env:NAME` or `file:PATH`)")
    kind: Kind = "slack" if slack or parts.hostname == "hooks.slack.com" else "webhook"
    return Target(kind, url, given)


_KEYS = ("targets", "always", "page_url", "timeout", "smtp")
_SMTP_KEYS = ("host", "port", "sender", "username", "password_env", "password_file",
              "starttls", "ssl")


def notify_settings(raw: Any, source: str, *, targets: tuple[str, ...] = (),
                    always: bool = False, page_url: str | None = None,
                    env: Mapping[str, str] | None = None) -> NotifySettings:
    """Return the settings of a policy file's `notify` section (None: none) with the command
    line's targets added (and its `always` and `page_url` taking over); with a mail target, the
    SMTP settings read (`smtp_settings`), so that a bad one is an error before any work.

    Raises:
        NotifyError: naming `source` and the key, for an unknown key, a value of the wrong type,
            or a target that cannot be read; for a mail target, an SMTP setting that is missing
            or bad (`smtp_settings`).
    """
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise NotifyError(f"{source}: notify: expected a mapping with {', '.join(_KEYS)}")
    for key in raw:
        if key not in _KEYS:
            raise NotifyError(f"{source}: notify: unknown key {key!r}; valid keys are "
                              f"{', '.join(_KEYS)}")
    listed = raw.get("targets") or []
    if not isinstance(listed, list) or not all(isinstance(t, str) for t in listed):
        raise NotifyError(f"{source}: notify.targets: expected a list of targets (text)")
    smtp = raw.get("smtp") or {}
    if not isinstance(smtp, Mapping) or any(k not in _SMTP_KEYS for k in smtp):
        raise NotifyError(f"{source}: notify.smtp: expected a mapping with keys among "
                          f"{', '.join(_SMTP_KEYS)}")
    timeout = raw.get("timeout", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise NotifyError(f"{source}: notify.timeout: expected a positive number of seconds")
    if not isinstance(raw.get("always", False), bool):
        raise NotifyError(f"{source}: notify.always: expected true or false")
    url = page_url or raw.get("page_url")
    if url is not None and not isinstance(url, str):
        raise NotifyError(f"{source}: notify.page_url: expected a URL (text)")
    parsed = [parse_target(t, f"{source}: notify.targets[{i}]", env)
              for i, t in enumerate(listed)]
    parsed += [parse_target(t, "--notify", env) for t in targets]
    mail = smtp_settings(smtp, env) if any(t.kind == "mail" for t in parsed) else None
    return NotifySettings(tuple(parsed), always or bool(raw.get("always", False)), url,
                          float(timeout), mail)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def smtp_settings(section: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Smtp:
    """Return the SMTP settings: the `notify.smtp` section, then the environment
    (`AUDITLIB_SMTP_*`) for what it does not give.

    Raises:
        NotifyError: when no host is given, the port is not a number, or the password file
            cannot be read.
    """
    env = os.environ if env is None else env
    host = section.get("host") or env.get("AUDITLIB_SMTP_HOST")
    if not host:
        raise NotifyError("mail: no SMTP server: set notify.smtp.host in the policy file or "
                          "AUDITLIB_SMTP_HOST")
    port_text = section.get("port", env.get("AUDITLIB_SMTP_PORT", 25))
    try:
        port = int(port_text)
    except (TypeError, ValueError):
        raise NotifyError(f"mail: SMTP port {port_text!r} is not a number") from None
    password = None
    if section.get("password_env"):
        password = _read(f"env:{section['password_env']}", "mail: notify.smtp.password_env",
                         env)
    elif section.get("password_file"):
        password = _read(f"file:{section['password_file']}", "mail: notify.smtp.password_file",
                         env)
    elif env.get("AUDITLIB_SMTP_PASSWORD"):
        password = env["AUDITLIB_SMTP_PASSWORD"]
    elif env.get("AUDITLIB_SMTP_PASSWORD_FILE"):
        password = _read(f"file:{env['AUDITLIB_SMTP_PASSWORD_FILE']}",
                         "mail: AUDITLIB_SMTP_PASSWORD_FILE", env)
    return Smtp(
        host=str(host), port=port,
        sender=str(section.get("sender") or env.get("AUDITLIB_SMTP_FROM")
                   or "auditlib@localhost"),
        username=section.get("username") or env.get("AUDITLIB_SMTP_USER") or None,
        password=password,
        starttls=bool(section.get("starttls", _flag(env.get("AUDITLIB_SMTP_STARTTLS")))),
        ssl=bool(section.get("ssl", _flag(env.get("AUDITLIB_SMTP_SSL")))),
    )
