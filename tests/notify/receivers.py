"""A local HTTP receiver and a local SMTP server for notification tests, both on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    """What the HTTP receiver was sent: (path, JSON body) per POST."""

    posts: list[tuple[str, Any]] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    """Path -> the status to answer (200 when absent)."""


@contextmanager
def http_receiver() -> Iterator[tuple[str, Received]]:
    """Yield the base URL of an HTTP server on 127.0.0.1 and what it receives."""
    got = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.posts.append((self.path, json.loads(body)))
            code = got.status.get(self.path, 200)
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", got
    finally:
        server.shutdown()
        server.server_close()


class _Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[Envelope, EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: Session,  # noqa: N802 - aiosmtpd's name
                          envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else \
            str(envelope.content).encode()
        msg = message_from_bytes(content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.mails.append((envelope, msg))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[tuple[Envelope, EmailMessage]]]]:
    """Yield the port of an SMTP server on 127.0.0.1 and the mails it received."""
    inbox = _Inbox()
    with socket.socket() as s:  # a free port (aiosmtpd checks it is up by connecting to it)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox.mails
    finally:
        controller.stop()
