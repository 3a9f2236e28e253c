"""The one redaction step (`auditlib.normalize.redact`): credentials and secrets masked, the
words around them kept, text without secrets unchanged."""

from __future__ import annotations

import pytest

from auditlib.normalize.redact import REDACTED, redact

CASES = [
    ("access denied (HTTP 403 DENIED: denied for Basic ZmFrZXVzZXI6ZmFrZXB3)",
     "access denied (HTTP 403 DENIED: denied for Basic <redacted>)", "ZmFrZXVz"),
    ("Authorization: Bearer eyJhbGciOi.abc.def123", "Authorization: Bearer <redacted>", "eyJhbG"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
     "<redacted>", "MIIEow"),
    ("label: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk", "label: <redacted>",
     "b3BlbnNz"),
    ("curl -u admin:S3cr3t! https://x", "curl -u admin:<redacted> https://x", "S3cr3t"),
    ("mysql -uroot -pS3cr3t db", "mysql -uroot -p<redacted> db", "S3cr3t"),
    ("run --password hunter2 --db-password=zz9 --port 80",
     "run --password <redacted> --db-password=<redacted> --port 80", "hunter2"),
    ("/bin/sh -c #(nop)  ENV PASSWORD=hunter2", "/bin/sh -c #(nop)  ENV PASSWORD=<redacted>",
     "hunter2"),
    ("ENV PASSWORD hunter2", "ENV PASSWORD <redacted>", "hunter2"),
    ("git clone https://bob:pa55word@github.com/x.git",
     "git clone https://bob:<redacted>@github.com/x.git", "pa55word"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token <redacted>", "ghp_"),
    ("key AKIAIOSFODNN7EXAMPLE", "key <redacted>", "AKIAIOSF"),
]


@pytest.mark.parametrize(("text", "expected", "secret"), CASES)
def test_secrets_are_masked(text: str, expected: str, secret: str) -> None:
    out = redact(text)
    assert out == expected and secret not in out
    assert redact(out) == out  # idempotent


@pytest.mark.parametrize("text", [
    "docker run -p 8080:80 nginx", "apt-get install -y curl", "ENV PATH /usr/local/bin",
    "sha256:" + "ab" * 32, "", "USER app", "--password-file /run/secrets/db",
])
def test_text_without_secrets_is_unchanged(text: str) -> None:
    assert redact(text) == text
    assert REDACTED not in redact(text)
