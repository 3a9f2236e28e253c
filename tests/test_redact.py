"""The one redaction step (`auditlib.normalize.redact`): credentials and secrets masked, the
words around them kept, text without secrets unchanged."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlib.normalize.redact import REDACTED, _may_hold_secret, _redact, redact, redact_values
from auditlib.normalize.secret_env import SECRET_NAMES, SECRET_PARTS

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example key
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"

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
    # A whole PEM block, body and END line included, in a label or a build step.
    (f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\nQ2xhc3NpYw==\n-----END PRIVATE KEY-----",
     "<redacted>", "MIIEvQ"),
    (f"deploy key: -----BEGIN EC PRIVATE KEY-----\n{PEM_BODY}\n-----END EC PRIVATE KEY----- (ci)",
     "deploy key: <redacted> (ci)", "MIIEvQ"),
    (f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{PEM_BODY}\n-----END PGP PRIVATE KEY BLOCK-----",
     "<redacted>", "MIIEvQ"),
    # AWS secret access keys: alone (a `/` or `+`, both cases, a digit) or next to aws/secret.
    (f"/bin/sh -c echo {AWS_SECRET}", "/bin/sh -c echo <redacted>", "wJalrX"),
    (f"RUN echo {AWS_SECRET} > /root/.aws/credentials",
     "RUN echo <redacted> > /root/.aws/credentials", "wJalrX"),
    (f"aws configure set aws_secret_access_key {AWS_SECRET}",
     "aws configure set aws_secret_access_key <redacted>", "wJalrX"),
    ("aws secret: AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCd", "aws secret: <redacted>", "AbCdEf"),
    (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", "AWS_SECRET_ACCESS_KEY=<redacted>", "wJalrX"),
    ("Authorization: Basic YWRtaW46aHVudGVyMg==", "Authorization: Basic <redacted>", "YWRtaW4"),
]


@pytest.mark.parametrize(("text", "expected", "secret"), CASES)
def test_secrets_are_masked(text: str, expected: str, secret: str) -> None:
    out = redact(text)
    assert out == expected and secret not in out
    assert redact(out) == out  # idempotent


@pytest.mark.parametrize("text", [
    "docker run -p 8080:80 nginx", "apt-get install -y curl", "ENV PATH /usr/local/bin",
    "sha256:" + "ab" * 32, "", "USER app", "--password-file /run/secrets/db",
    # Header words followed by plain words or a digest are not credentials.
    "Basic authentication server", "Bearer token required", "Token based login",
    "pinned by digest sha256:" + "ab" * 32, "org.opencontainers.image.description=Token service",
    # Not AWS secret keys: hex digests (git commits, sha256), base64 of plain words, paths,
    # versions, even next to an `aws` word.
    "git commit 0123456789abcdef0123456789abcdef01234567",
    "aws kms encrypt --key-id 0123456789ABCDEF0123456789ABCDEF01234567",
    "aws-cli/2.15.0 sha256:" + "0f" * 32,
    "echo " + base64.b64encode(b"The quick brown fox jumps over").decode(),
    "echo SGVsbG8gd29ybGQgdGhpcyBpcyBhIHRlc3Qgc3Ry",
    "/usr/lib/python3/dist-packages/Foo/Bar1x/abcd",
    "COPY usr/local/lib/Python3/SitePackages/Abc12 /app",
    "org/apache/commons/Lang3/StringUtilsTestX1",
    "com/Example/MyApp/Service/Impl/FooBar12Xy",
    "1.2.3-alpine3.19", "v1.24.1+incompatible", "github.com/aws/aws-sdk-go-v2 v1.30.3",
    "setuid file: urwxr-xr-x usr/bin/passwd, setgid file: grwxr-xr-x sbin/unix_chkpwd",
    "Suspicious ENV key found : DD_ADMIN_PASSWORD, Suspicious ENV key found : DD_DB_PASSWORD",
])
def test_text_without_secrets_is_unchanged(text: str) -> None:
    assert redact(text) == text
    assert REDACTED not in redact(text)


def test_unchanged_text_is_the_same_object() -> None:
    text = "".join(["nginx", ":1.25"])
    assert redact(text) is text


def test_redact_values_looks_at_each_distinct_value_once() -> None:
    values = ["plain", None, f"--password {AWS_SECRET}", "plain", f"--password {AWS_SECRET}"]
    assert redact_values(values) == ["plain", None, "--password <redacted>", "plain",
                                     "--password <redacted>"]
    clean = ["a", "b", None, "a"]
    assert redact_values(clean) is clean  # nothing masked: the same list, nothing copied
    assert redact_values([["not", "hashable"]]) == ["['not', 'hashable']"]


# Fragments that make up command lines, labels and messages, secrets and near-misses alike: the
# quick look (`_may_hold_secret`) must never let through a text some rule would mask.
_FRAGMENTS = st.sampled_from([
    " ", "=", ":", "@", "/", "-", "--", "-u ", "-p", "\n", "'", '"', "https://", "user:pw@host",
    "Basic ", "bearer ", "Token ", "digest ", "mysql ", "ENV ", "DB_PASSWORD", "api_key",
    "HF_TOKEN", "AZURE_CLIENT_ID", "x", "hunter2", "Zm9vOmJhcg==", "ghp_", "A1b2C3d4E5" * 4,
    "AKIA", "IOSFODNN7EXAMPLE", "xoxb-", "sk-", "eyJ", "abcdefgh", ".", AWS_SECRET, "aws",
    "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "--db-password",
    "--access-key", "secret", "0123456789abcdef" * 3,
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=12).map("".join))
def test_quick_look_never_skips_a_secret(text: str) -> None:
    if _redact(text) != text:
        assert _may_hold_secret(text)
    assert redact(text) == _redact(text)


@pytest.mark.parametrize("name", sorted({*SECRET_NAMES, *SECRET_PARTS}))
def test_quick_look_sees_every_secret_name(name: str) -> None:
    for text in (f"{name}=v4lue", f"ENV {name} v4lue", f"ENV VITE_{name.lower()} v4lue"):
        assert _redact(text) != text
        assert _may_hold_secret(text)


@pytest.mark.parametrize("text", [
    "a" * 200_000, "aB" * 100_000, "a" * 200_000 + "://", "a." * 100_000 + "://x",
    "-a" * 100_000, "eyJ" * 60_000, "mysql " * 30_000 + "-p", "a:" * 100_000, "Ab1/" * 50_000,
])
def test_redaction_is_linear_on_hostile_text(text: str) -> None:
    # A label or a history step can be long: no rule may backtrack over it (a quadratic rule
    # took minutes on 200 KB). The bound is generous; linear rules take a few milliseconds.
    import signal

    def too_slow(_signum: int, _frame: object) -> None:
        raise TimeoutError("redact took over 10 s: a rule backtracks")

    old = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(10)
    try:
        redact(text)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
