"""Webhook target: the digest POSTed as JSON (docs/notify-webhook.schema.json)."""

from __future__ import annotations

import requests

from auditlib.notify.digest import Digest
from auditlib.notify.targets import NotifyError, Target


def post_json(target: Target, body: object, timeout: float) -> None:
    """POST `body` as JSON to the target's URL.

    Raises:
        NotifyError: when the server cannot be reached or answers other than 2xx; the message
            shows the target without its path (`Target.shown`).
    """
    try:
        r = requests.post(target.address, json=body, timeout=timeout,
                          headers={"User-Agent": "auditlib-notify"})
    except requests.RequestException as e:
        raise NotifyError(f"{target.shown()}: {type(e).__name__}: cannot be reached") from None
    if not 200 <= r.status_code < 300:
        raise NotifyError(f"{target.shown()}: HTTP {r.status_code} {r.reason or ''}".rstrip())


def send_webhook(target: Target, d: Digest, timeout: float) -> None:
    """Send the digest's JSON body (`Digest.to_json`) to a webhook.

    Raises:
        NotifyError: as `post_json`.
    """
    post_json(target, d.to_json(), timeout)
