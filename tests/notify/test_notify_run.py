"""`auditlib run --notify`: two runs of one store with known changes, the digest received by a
local HTTP receiver (webhook and Slack-compatible) and a local SMTP server, item by item.

The scan documents are written here, small Trivy reports with the changes the test asserts
(they stand for what a rescan finds; no real scanner made them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result

from auditlib.cli import main
from tests.notify.receivers import http_receiver, smtp_server

pytestmark = pytest.mark.slow  # each `auditlib run` takes a few seconds

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" /
                     "notify-webhook.schema.json").read_text())
APP, API = "sha256:" + "a1" * 32, "sha256:" + "b2" * 32
T1, T2 = "2026-09-01T12:00:00+00:00", "2026-10-20T12:00:00+00:00"
TOKEN = "XXXXhooktokenXXXX"  # the secret part of a Slack-style webhook URL


def _vuln(vid: str, pkg: str, version: str, fixed: str | None, severity: str,
          published: str) -> dict[str, Any]:
    v = {"VulnerabilityID": vid, "PkgName": pkg, "InstalledVersion": version,
         "Severity": severity, "PublishedDate": published}
    if fixed:
        v["FixedVersion"] = fixed
    return v


def _trivy(image_id: str, tag: str, os_name: str, vulns: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "SchemaVersion": 2, "ArtifactName": tag, "ArtifactType": "container_image",
        "Metadata": {"ImageID": image_id, "RepoTags": [tag],
                     "OS": {"Family": "alpine", "Name": os_name}},
        "Results": [{"Target": f"{tag} (alpine {os_name})", "Class": "os-pkgs",
                     "Type": "alpine", "Vulnerabilities": vulns or None}],
    }


MUSL = _vuln("CVE-2026-1001", "musl", "1.2.5-r8", "1.2.5-r9", "HIGH", "2026-08-12T00:00:00Z")
LIBX = _vuln("CVE-2026-1002", "libx<b>&y", "1.0-r0", "1.0-r1", "CRITICAL",
             "2026-10-18T00:00:00Z")
SSL = _vuln("CVE-2026-2001", "openssl", "3.3.1-r0", "3.3.2-r0", "CRITICAL",
            "2026-08-01T00:00:00Z")


def _write_scans(folder: Path, second: bool) -> None:
    folder.mkdir(exist_ok=True)
    app = [MUSL, LIBX] if second else [MUSL]
    api = [] if second else [SSL]
    (folder / "app.json").write_text(json.dumps(
        _trivy(APP, "team/app:1", "3.21.3", app)))
    (folder / "api.json").write_text(json.dumps(
        _trivy(API, "team/api:1", "3.23.2", api)))


def _run(tmp: Path, as_of: str, *extra: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(main, [
        "run", "--store", str(tmp / "store"), "--engine", f"unix://{tmp}/no-such.sock",
        "--ingest", str(tmp / "scans"), "--out", str(tmp / "reports"), "--reports", "none",
        "--as-of", as_of, "--fail-on", "never", "--quiet", *extra], env=env)
    assert "Traceback" not in result.output, result.output
    return result


def test_digest_of_two_runs_reaches_webhook_slack_and_mail(tmp_path: Path) -> None:
    """Two runs with known changes; then nothing changed; then failing targets."""
    with http_receiver() as (url, got), smtp_server() as (port, mails):
        env = {"AUDITLIB_SMTP_HOST": "127.0.0.1", "AUDITLIB_SMTP_PORT": str(port),
               "AUDITLIB_SMTP_FROM": "auditlib@test.invalid",
               "SLACK_HOOK": f"{url}/services/T000/B000/{TOKEN}"}
        targets = ["--notify", f"{url}/hook", "--notify", "slack:env:SLACK_HOOK",
                   "--notify", "mailto:team@test.invalid"]
        _write_scans(tmp_path / "scans", second=False)
        first = _run(tmp_path, T1, *targets, env=env)
        assert first.exit_code == 0, first.output
        assert "first run of this store: nothing to compare with" in first.output
        assert got.posts == [] and mails == []

        _write_scans(tmp_path / "scans", second=True)
        second = _run(tmp_path, T2, *targets, "--notify-page-url",
                      "https://reports.test.invalid/compliance.html?a=1&b=<2>", env=env)
        assert second.exit_code == 0, second.output
        assert TOKEN not in second.output
        assert "notified: " in second.output and "slack:env:SLACK_HOOK" in second.output

        posts = dict(got.posts)
        body = posts["/hook"]
        jsonschema.validate(body, SCHEMA)
        _assert_digest(body)
        _assert_slack(posts[f"/services/T000/B000/{TOKEN}"])
        [(envelope, mail)] = mails
        _assert_mail(envelope.rcpt_tos, mail)

        # Nothing changed since: nothing is sent, unless asked.
        third = _run(tmp_path, "2026-10-20T13:00:00+00:00", *targets, env=env)
        assert "nothing changed since the previous run: no digest sent" in third.output
        assert len(got.posts) == 2 and len(mails) == 1
        # Asked to send anyway, to a failing, an unreachable and a working target: each
        # failure is one line, the run's work is done and its exit code is its own.
        got.status[f"/broken/{TOKEN}"] = 500
        failing = ["--notify", f"{url}/broken/{TOKEN}", "--notify", "http://127.0.0.1:9/x"]
        always = _run(tmp_path, "2026-10-20T14:00:00+00:00", *failing, "--notify",
                      f"{url}/hook", "--notify-always", env=env)
        assert always.exit_code == 0, always.output
        assert "policy: 2 images" in always.output
        errors = [x for x in always.output.splitlines() if x.startswith("error:")]
        assert errors == [
            f"error: notify webhook {url}/<redacted>: HTTP 500 Internal Server Error",
            "error: notify webhook http://127.0.0.1:9/<redacted>: ConnectionError: cannot be "
            "reached"]
        assert TOKEN not in always.output
        assert [p for p, _ in got.posts[2:]] == [f"/broken/{TOKEN}", "/hook"]
        last = got.posts[-1][1]
        jsonschema.validate(last, SCHEMA)
        assert last["changed"] is False and last["counts"]["new_fixable"] == 0
        assert last["summary"] == "nothing changed since the previous run"
        strict = _run(tmp_path, "2026-10-20T15:00:00+00:00", *failing, "--notify-always",
                      "--notify-strict", env=env)
        assert strict.exit_code == 2, strict.output


def _assert_digest(body: dict[str, Any]) -> None:
    assert body["kind"] == "auditlib.digest" and body["changed"] is True
    assert body["as_of"].startswith("2026-10-20T12:00:00")
    assert body["previous"]["as_of"].startswith("2026-09-01T12:00:00")
    assert body["page"] == "https://reports.test.invalid/compliance.html?a=1&b=<2>"
    assert body["new_fixable"] == [
        {"image": "docker.io/team/app:1", "image_id": APP, "vuln_id": "CVE-2026-1002",
         "package": "libx<b>&y", "version": "1.0-r0", "severity": "critical",
         "fixed_version": "1.0-r1"}]
    # musl's fix was published 2026-08-12: 20 days at the first run (SLA 30), 69 at the second.
    assert body["sla_crossed"] == [
        {"image": "docker.io/team/app:1", "image_id": APP, "vuln_id": "CVE-2026-1001",
         "package": "musl", "version": "1.2.5-r8", "severity": "high", "sla_days": 30.0,
         "days": 69.0}]
    assert body["base_moved"] == []
    # Alpine 3.21 ends on 2026-11-01: 61 days after the first run, 12 after the second.
    assert body["eol_soon"] == [
        {"image": "docker.io/team/app:1", "image_id": APP, "os": "alpine 3.21.3",
         "eol_date": "2026-11-01", "days": 12.0}]
    failing = [(r["image"], r["rule"], r["was"]) for r in body["rules_failing"]]
    assert ("docker.io/team/app:1", "fixable-vulns-sla", "pass") in failing
    fixed = [(r["image"], r["rule"], r["was"], r["status"]) for r in body["rules_fixed"]]
    assert ("docker.io/team/api:1", "fixable-vulns-sla", "fail", "pass") in fixed
    assert all(r["image"] != "docker.io/team/api:1" for r in body["rules_failing"])
    assert body["counts"] == {
        "new_fixable": 1, "sla_crossed": 1, "base_moved": 0, "eol_soon": 1,
        "rules_failing": len(failing), "rules_fixed": len(fixed)}


def _assert_slack(payload: dict[str, Any]) -> None:
    assert set(payload) == {"text", "blocks"}
    text = json.dumps(payload)
    assert "libx<b>&y" not in text and "libx&lt;b&gt;&amp;y" in text
    sections = [b["text"]["text"] for b in payload["blocks"]]
    assert sections[0].startswith("*auditlib: 1 new fixable critical and high vulnerabilit")
    assert any(s.startswith("*New fixable critical and high vulnerabilities (1)*\n• "
                            "docker.io/team/app:1: CVE-2026-1002 (critical) in libx&lt;b&gt;"
                            "&amp;y 1.0-r0, fixed in 1.0-r1") for s in sections)
    assert sections[-1] == ("<https://reports.test.invalid/compliance.html?a=1&amp;b=&lt;2&gt;"
                            "|The compliance page>")


def _assert_mail(rcpt: list[str], mail: Any) -> None:
    assert rcpt == ["team@test.invalid"]
    assert mail["From"] == "auditlib@test.invalid"
    assert mail["Subject"].startswith("auditlib: 1 new fixable critical and high")
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert ("- docker.io/team/app:1: CVE-2026-1001 (high) in musl 1.2.5-r8, fixable for 69 "
            "days, SLA 30") in plain
    assert "- docker.io/team/app:1: alpine 3.21.3 reaches its end of life on 2026-11-01" in plain
    assert "libx<b>&y" in plain
    assert "libx&lt;b&gt;&amp;y" in html and "libx<b>" not in html
    assert 'href="https://reports.test.invalid/compliance.html?a=1&amp;b=&lt;2&gt;"' in html


def test_notify_section_of_the_policy_file(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    with http_receiver() as (url, got):
        policy.write_text(f"notify:\n  targets: ['{url}/from-policy']\n  always: true\n"
                          "  page_url: https://reports.test.invalid/\n")
        _write_scans(tmp_path / "scans", second=False)
        result = _run(tmp_path, T1, "--policy", str(policy))
        assert result.exit_code == 0, result.output
        [(path, body)] = got.posts
        assert path == "/from-policy" and body["previous"] is None
        assert body["summary"] == "first run of this store: nothing to compare with"
        jsonschema.validate(body, SCHEMA)
    policy.write_text("notify:\n  targets: [env:NO_SUCH_VARIABLE_H18]\n")
    bad = _run(tmp_path, T2, "--policy", str(policy))
    assert bad.exit_code == 2
    assert "notify.targets[0]: the environment variable NO_SUCH_VARIABLE_H18 is not set" in \
        bad.output
    policy.write_text("notify:\n  target: []\n")
    bad = _run(tmp_path, T2, "--policy", str(policy))
    assert bad.exit_code == 2 and "unknown key 'target'" in bad.output
