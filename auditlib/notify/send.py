"""Send a digest to every target: each failure is one line, and never stops the others."""

from __future__ import annotations

from collections.abc import Callable

from auditlib.notify.digest import Digest
from auditlib.notify.mail import send_mail
from auditlib.notify.slack import send_slack
from auditlib.notify.targets import NotifyError, NotifySettings
from auditlib.notify.webhook import send_webhook


def send_digest(d: Digest, settings: NotifySettings, *, note: Callable[[str], None]
                ) -> tuple[list[str], list[str]]:
    """Send `d` to each target of `settings` (nothing when nothing changed, unless `always`).

    Args:
        d: the digest.
        settings: the targets and how to reach them.
        note: called with one line per target sent to or skipped (the target shown without
            credentials).

    Returns:
        (targets sent to, failures): each failure is one line naming the target (shown without
        its credentials) and why.
    """
    sent: list[str] = []
    failed: list[str] = []
    if not settings.targets:
        return sent, failed
    if not d.changed and not settings.always:
        note("notify: nothing changed since the previous run: no digest sent"
             if d.previous is not None else
             "notify: first run of this store: nothing to compare with, no digest sent")
        return sent, failed
    for t in settings.targets:
        try:
            if t.kind == "webhook":
                send_webhook(t, d, settings.timeout)
            elif t.kind == "slack":
                send_slack(t, d, settings.timeout)
            elif settings.smtp is None:
                raise NotifyError("mail: no SMTP settings were read (`notify_settings` reads "
                                  "them for a mail target)")
            else:
                send_mail(t, d, settings.smtp, settings.timeout)
        except NotifyError as e:
            failed.append(f"notify {t.kind} {e}" if str(e).startswith(t.shown())
                          else f"notify {t.kind} {t.shown()}: {e}")
            continue
        sent.append(t.shown())
    return sent, failed
