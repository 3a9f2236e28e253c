"""Mail target: the digest as a plain-text part and an HTML part (every text escaped), through
SMTP (`targets.smtp_settings`)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from html import escape

from auditlib.notify.digest import Digest, summary_line
from auditlib.notify.lines import sections, subject
from auditlib.notify.targets import NotifyError, Smtp, Target


def mail_message(d: Digest, sender: str, to: list[str]) -> EmailMessage:
    """Return the mail of a digest: plain text, with an HTML alternative."""
    msg = EmailMessage()
    msg["Subject"] = subject(d)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    parts = sections(d)
    plain = [f"auditlib: {summary_line(d)}", f"Store: {d.store}", ""]
    for title, lines in parts:
        plain += [title, *(f"- {x}" for x in lines), ""]
    if d.page:
        plain.append(f"The compliance page: {d.page}")
    msg.set_content("\n".join(plain) + "\n")
    html = [f"<p><strong>auditlib: {escape(summary_line(d))}</strong><br>"
            f"Store: {escape(d.store)}</p>"]
    for title, lines in parts:
        html.append(f"<h3>{escape(title)}</h3><ul>"
                    + "".join(f"<li>{escape(x)}</li>" for x in lines) + "</ul>")
    if d.page:
        html.append(f'<p><a href="{escape(d.page, quote=True)}">The compliance page</a></p>')
    msg.add_alternative("<html><body>" + "".join(html) + "</body></html>\n", subtype="html")
    return msg


def send_mail(target: Target, d: Digest, smtp: Smtp, timeout: float) -> None:
    """Send the digest to the target's addresses through `smtp`.

    Raises:
        NotifyError: when the server cannot be reached, refuses the login or the mail; the
            message never holds the password.
    """
    to = target.address.split(",")
    msg = mail_message(d, smtp.sender, to)
    where = f"{target.shown()} via {smtp.host}:{smtp.port}"
    try:
        client: smtplib.SMTP = (
            smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout,
                             context=ssl.create_default_context())
            if smtp.ssl else smtplib.SMTP(smtp.host, smtp.port, timeout=timeout))
        with client:
            if smtp.starttls and not smtp.ssl:
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            client.send_message(msg)
    except smtplib.SMTPAuthenticationError as e:
        raise NotifyError(f"{where}: login refused ({e.smtp_code})") from None
    except smtplib.SMTPException as e:
        raise NotifyError(f"{where}: {type(e).__name__}") from None
    except OSError as e:
        raise NotifyError(f"{where}: cannot be reached: {e.strerror or type(e).__name__}"
                          ) from None
