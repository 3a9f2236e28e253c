"""Targets, their credentials and how they are shown; the base-moved item of a digest; each
channel's escaping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditlib.assess import assess_data
from auditlib.cli.main import main
from auditlib.notify import Previous, make_digest, notify_settings, parse_target
from auditlib.notify.mail import mail_message
from auditlib.notify.slack import escape, slack_payload
from auditlib.notify.targets import NotifyError, smtp_settings
from auditlib.store import list_snapshots
from tests.conftest import corpus_path
from tests.policy.builders import AS_OF, image_id, make_data

B1, B2, X = image_id(1), image_id(2), image_id(3)
HOOK = "https://hooks.slack.com/services/T0/B0/s3cretT0ken"


def test_targets_by_kind_and_shown_without_credentials(tmp_path: Path) -> None:
    t = parse_target(HOOK, "--notify", {})
    assert (t.kind, t.address) == ("slack", HOOK)
    assert t.shown() == "https://hooks.slack.com/<redacted>"
    t = parse_target("https://user:pw@ci.example.com:8443/hook?token=abc", "--notify", {})
    assert t.kind == "webhook" and t.shown() == "https://ci.example.com:8443/<redacted>"
    t = parse_target("slack:env:HOOK", "--notify", {"HOOK": "https://chat.example.com/h/1"})
    assert (t.kind, t.address, t.shown()) == ("slack", "https://chat.example.com/h/1",
                                               "slack:env:HOOK")
    secret = tmp_path / "hook"
    secret.write_text(HOOK + "\n")
    t = parse_target(f"file:{secret}", "p.yaml", {})
    assert t.address == HOOK and t.shown() == f"file:{secret}"
    t = parse_target("mailto:a@example.com,b@example.com", "--notify", {})
    assert (t.kind, t.address) == ("mail", "a@example.com,b@example.com")


@pytest.mark.parametrize(("given", "env", "message"), [
    ("env:HOOK", {}, "--notify: the environment variable HOOK is not set"),
    ("ftp://x.example.com/s3cretT0ken", {}, "--notify: ftp://x.example.com/<redacted>: "
     "expected an http(s) URL"),
    ("env:HOOK", {"HOOK": "not a url s3cretT0ken"}, "--notify: env:HOOK: expected an http(s)"),
    ("mailto:", {}, "expected mailto:NAME@HOST"),
])
def test_bad_targets_are_errors_that_show_no_secret(given: str, env: dict[str, str],
                                                     message: str) -> None:
    with pytest.raises(NotifyError) as e:
        parse_target(given, "--notify", env)
    assert message in str(e.value) and "s3cretT0ken" not in str(e.value)


def test_smtp_settings_from_the_section_then_the_environment(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("hunter2\n")
    s = smtp_settings({"host": "mail.example.com", "password_file": str(pw)},
                      {"AUDITLIB_SMTP_PORT": "2525", "AUDITLIB_SMTP_USER": "bot",
                       "AUDITLIB_SMTP_STARTTLS": "1"})
    assert (s.host, s.port, s.username, s.password, s.starttls) == (
        "mail.example.com", 2525, "bot", "hunter2", True)
    assert "hunter2" not in repr(s)
    with pytest.raises(NotifyError, match="no SMTP server"):
        smtp_settings({}, {})
    with pytest.raises(NotifyError, match="notify.smtp: expected a mapping with keys among"):
        notify_settings({"smtp": {"password": "x"}}, "p.yaml", env={})


@pytest.mark.parametrize(("env", "message"), [
    ({"AUDITLIB_SMTP_HOST": None}, "no SMTP server"),
    ({"AUDITLIB_SMTP_HOST": "127.0.0.1", "AUDITLIB_SMTP_PORT": "twenty-five"},
     "SMTP port 'twenty-five' is not a number"),
])
def test_a_bad_smtp_setting_fails_the_run_before_any_work(
        tmp_path: Path, env: dict[str, str | None], message: str) -> None:
    store = tmp_path / "store"
    result = CliRunner().invoke(main, [
        "run", "--store", str(store), "--engine", f"unix://{tmp_path}/no-such.sock",
        "--ingest", str(corpus_path("trivy-json/trivy-golden-alpine-310-image.json")),
        "--out", str(tmp_path / "reports"), "--reports", "none", "--fail-on", "never",
        "--notify", "mailto:team@test.invalid"], env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    # Nothing was collected or ingested: the store holds no snapshot.
    assert not store.exists() or list_snapshots(store) == []


def _fleet(base_now: str) -> Any:
    """An engine's images: x built FROM base:1 (its Dockerfile), and what base:1 is now."""
    imgs = [B1, X] + ([B2] if base_now == B2 else [])
    return make_data(
        images=[{"image_id": i, "host": "unix:///e.sock", "created_at": "2026-11-01T00:00:00Z"}
                for i in imgs],
        scans=[{"image_id": i, "format": "docker-engine"} for i in imgs],
        image_tags=[{"image_id": base_now, "reference": "docker.io/library/base:1"},
                    {"image_id": X, "reference": "docker.io/team/x:1"}],
        dockerfiles=[{"path": "x/Dockerfile", "context_image_ref": "docker.io/team/x:1",
                      "final_base_ref": "docker.io/library/base:1"}],
        image_layers=[{"image_id": B1, "layer_index": 0, "diff_id": "sha256:l1"},
                      {"image_id": X, "layer_index": 0, "diff_id": "sha256:l1"},
                      {"image_id": X, "layer_index": 1, "diff_id": "sha256:l2"}],
    )


def test_base_tag_moved() -> None:
    before = assess_data(_fleet(B1), as_of=AS_OF)
    after = assess_data(_fleet(B2), as_of=AS_OF)
    d = make_digest(before, after, previous=Previous("s1", AS_OF), store="st", page=None)
    assert d.items["base_moved"] == [{"base": "docker.io/library/base:1", "was": B1, "now": B2,
                                      "images": ["docker.io/team/x:1"]}]
    same = make_digest(after, after, previous=Previous("s1", AS_OF), store="st", page=None)
    assert not same.changed and same.counts["base_moved"] == 0
    first = make_digest(None, after, previous=None, store="st", page=None)
    assert not first.changed and first.to_json()["previous"] is None


def test_channels_escape_untrusted_text() -> None:
    assert escape("a&b<c>d") == "a&amp;b&lt;c&gt;d"
    before = assess_data(_fleet(B1), as_of=AS_OF)
    after = assess_data(_fleet(B2), as_of=AS_OF)
    d = make_digest(before, after, previous=Previous("s1", AS_OF), store="<store>",
                    page="file:///r/<x>.html")
    payload = slack_payload(d)
    assert payload["text"].startswith("auditlib: 1 base tags that moved, ")
    assert payload["text"].endswith(" (&lt;store&gt;)")
    assert "<store>" not in str(payload)
    msg = mail_message(d, "a@example.com", ["b@example.com"])
    assert "&lt;store&gt;" in msg.get_body(("html",)).get_content()
    assert "Store: <store>" in msg.get_body(("plain",)).get_content()
