"""Slack-compatible incoming webhook target: `text` (the fallback and notification line) and
`blocks` (a header, one section per kind of change, the link), in mrkdwn with `&`, `<` and `>`
escaped as Slack asks, so that no text from an image can make a link or a mention."""

from __future__ import annotations

from typing import Any

from auditlib.notify.digest import Digest
from auditlib.notify.lines import sections, subject
from auditlib.notify.targets import Target
from auditlib.notify.webhook import post_json

SECTION_CHARS = 2900
"""A section block's text at most (Slack allows 3,000)."""

LINES = 10
"""Items shown per kind."""


def escape(text: str) -> str:
    """Return `text` escaped for Slack mrkdwn: `&` `<` `>` as `&amp;` `&lt;` `&gt;`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(d: Digest) -> dict[str, Any]:
    """Return the Slack message of a digest."""
    text = subject(d)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {
        "type": "mrkdwn", "text": f"*{escape(text)}*"}}]
    for title, lines in sections(d, LINES):
        body = f"*{escape(title)}*\n" + "\n".join(f"• {escape(x)}" for x in lines)
        if len(body) > SECTION_CHARS:
            body = body[: SECTION_CHARS - 1] + "…"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    if d.page:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": f"<{escape(d.page)}|The compliance page>"}})
    return {"text": escape(text), "blocks": blocks}


def send_slack(target: Target, d: Digest, timeout: float) -> None:
    """Post the digest to a Slack-compatible incoming webhook.

    Raises:
        NotifyError: when the server cannot be reached or answers other than 2xx.
    """
    post_json(target, slack_payload(d), timeout)
