"""Notifications of change: after `auditlib run`, a digest of what changed since the previous run
of the same store, sent to webhooks, Slack-compatible incoming webhooks and mail.

    from auditlib.notify import make_digest, send_digest, notify_settings
"""

from auditlib.notify.digest import KINDS, Digest, Previous, make_digest
from auditlib.notify.previous import previous_assessment, read_last_run, write_last_run
from auditlib.notify.send import send_digest
from auditlib.notify.targets import (
    NotifyError,
    NotifySettings,
    Target,
    notify_settings,
    parse_target,
)

__all__ = [
    "KINDS",
    "Digest",
    "NotifyError",
    "NotifySettings",
    "Previous",
    "Target",
    "make_digest",
    "notify_settings",
    "parse_target",
    "previous_assessment",
    "read_last_run",
    "send_digest",
    "write_last_run",
]
