"""The policy engine: the policy file, waivers, scores and grades, output formats, the CLI."""

from __future__ import annotations

import importlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from auditlib.cli import main
from auditlib.fleet.glob import matches
from auditlib.policy import PolicyError, evaluate, grade, load_policy
from auditlib.policy.config import build_policy, default_policy_yaml
from auditlib.policy.docs import policy_reference
from auditlib.policy.model import Rule, Verdict
from auditlib.policy.output import to_dict, to_junit
from auditlib.policy.rules import RULES
from auditlib.store import write_snapshot
from tests.policy.builders import AS_OF, image_id, make_data

A, B = image_id(1), image_id(2)
ROOT = make_data(
    images=[{"image_id": A, "user": "", "host": "h"}, {"image_id": B, "user": "app", "host": "h"}],
    image_tags=[{"image_id": A, "reference": "docker.io/team/legacy:3"},
                {"image_id": B, "reference": "docker.io/team/app:1"}],
)


def _status(ev, rule: str, image: str) -> str:  # type: ignore[no-untyped-def]
    r = ev.results
    return str(r[(r["rule"] == rule) & (r["image_id"] == image)].iloc[0]["status"])


def test_every_rule_of_the_issue_is_declared_once() -> None:
    slugs = [r.slug for r in RULES]
    assert len(slugs) == len(set(slugs))
    assert set(slugs) >= {"non-root-user", "no-config-drift", "derived-image", "rollback-ready"}
    for r in RULES:
        assert r.title and r.rationale.endswith(".") and r.points > 0, r.slug
        assert r.scout and r.others and r.needs, r.slug


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rules": {"no-such-rule": {}}}, "unknown rule 'no-such-rule'; rules are "),
        ({"rules": {"non-root-user": {"bogus": 1}}},
         "unknown key 'bogus'; valid keys are enabled, severity, check_containers"),
        ({"rules": {"non-root-user": {"check_containers": "yes"}}}, "expected true or false"),
        ({"rules": {"non-root-user": {"severity": "urgent"}}}, "is not one of critical, high"),
        ({"waivers": [{"rule": "nope", "image": "*", "reason": "x"}]}, "unknown rule 'nope'"),
        ({"waivers": [{"rule": "*", "image": "*"}]}, "waivers[0].reason: required"),
        ({"waivers": [{"rule": "*", "image": "*", "reason": "x", "expires": "soon"}]},
         "is not a date"),
        ({"rulez": {}}, "unknown key 'rulez'; valid keys are rules, waivers, notify"),
    ],
)
def test_bad_policy_is_an_error_listing_what_is_valid(raw: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(PolicyError, match="^policy.yaml: ") as e:
        build_policy(raw, RULES, "policy.yaml")
    assert message in str(e.value)


def test_policy_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("rules: [unclosed")
    with pytest.raises(PolicyError, match=r"p.yaml: not valid YAML"):
        load_policy(bad)
    with pytest.raises(PolicyError, match=r"missing.yaml: cannot read"):
        load_policy(tmp_path / "missing.yaml")


def test_overrides_and_disabled_rules(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("rules:\n  non-root-user:\n    severity: critical\n  no-config-drift:\n"
                 "    enabled: false\n")
    policy = load_policy(f)
    ev = evaluate(ROOT, policy, as_of=AS_OF)
    assert "no-config-drift" not in set(ev.results["rule"])
    row = ev.results[(ev.results["rule"] == "non-root-user") & (ev.results["image_id"] == A)]
    assert row["severity"].tolist() == ["critical"]


def test_default_policy_yaml_round_trips() -> None:
    import yaml

    raw = yaml.safe_load(default_policy_yaml(RULES))
    # Every parameter is written out with its default (not left to build_policy to fill in).
    assert {slug: {k: v for k, v in cfg.items() if k not in ("enabled", "severity")}
            for slug, cfg in raw["rules"].items()} == {r.slug: r.defaults() for r in RULES}
    policy = build_policy(raw, RULES, "default")
    assert [r.params for r in policy.rules] == [r.defaults() for r in RULES]


def test_waivers_apply_until_they_expire() -> None:
    raw = {"waivers": [{"rule": "non-root-user", "image": "docker.io/team/legacy:*",
                        "reason": "vendor image", "expires": "2026-12-31"}]}
    ev = evaluate(ROOT, build_policy(raw, RULES, "p"), as_of=AS_OF)
    assert _status(ev, "non-root-user", A) == "waived"
    row = ev.results[(ev.results["rule"] == "non-root-user") & (ev.results["image_id"] == A)]
    assert "vendor image" in row["evidence"].iloc[0] and not row["waiver_expired"].iloc[0]
    assert ev.waivers[0].applied_to == [(A, "non-root-user")]
    later = evaluate(ROOT, build_policy(raw, RULES, "p"), as_of="2027-01-01")
    assert _status(later, "non-root-user", A) == "fail"
    r = later.results
    row = r[(r["rule"] == "non-root-user") & (r["image_id"] == A)]
    assert "expired on 2026-12-31" in row["evidence"].iloc[0] and row["waiver_expired"].iloc[0]
    assert later.waivers[0].expired


def test_scores_and_grades() -> None:
    assert [grade(s) for s in (100, 90.5, 90, 71, 70, 51, 31, 11, 10, 0)] == [
        "A", "A", "B", "B", "C", "C", "D", "E", "F", "F"]
    always = Rule("always-pass", "t", "r.", "low", 10, lambda ctx, p: [
        Verdict(i, "pass", "ok") for i in ctx.image_ids])
    half = Rule("warns", "t", "r.", "low", 10, lambda ctx, p: [
        Verdict(i, "warn", "hm") for i in ctx.image_ids])
    silent = Rule("silent", "t", "r.", "high", 20, lambda ctx, p: [])
    ev = evaluate(ROOT, build_policy({}, [always, half, silent], "p"), as_of=AS_OF)
    s = ev.scores.set_index("image_id").loc[A]
    # no-data is unknown: 10 + 5 of the 20 judged points, which are half of the 40.
    assert s["score"] == 75.0 and s["judged_share"] == 0.5 and s["grade"] == "B"
    assert (s["pass_count"], s["warn_count"], s["no_data_count"]) == (1, 1, 1)
    # Less than half judged: too little data to grade, never an F.
    ev = evaluate(ROOT, build_policy({}, [always, silent], "p"), as_of=AS_OF)
    s = ev.scores.set_index("image_id").loc[A]
    assert s["score"] == 100.0 and round(s["judged_share"], 3) == 0.333 and s["grade"] == "N/A"
    # Nothing judged: no score at all.
    ev = evaluate(ROOT, build_policy({}, [silent], "p"), as_of=AS_OF)
    s = ev.scores.set_index("image_id").loc[A]
    assert pd.isna(s["score"]) and s["judged_share"] == 0 and s["grade"] == "N/A"


def test_a_rule_that_raises_gives_no_data_not_a_crash() -> None:
    def boom(ctx, params):  # type: ignore[no-untyped-def]
        raise RuntimeError("bug")

    broken = Rule("broken", "t", "r.", "low", 1, boom)
    ev = evaluate(ROOT, build_policy({}, [broken], "p"), as_of=AS_OF)
    assert set(ev.results["status"]) == {"no-data"}
    assert ev.errors == ["broken: RuntimeError: bug"]


def test_scout_glob() -> None:
    assert matches("docker.io/library/*", "docker.io/library/nginx:1.25")
    assert matches("docker.io/*", "docker.io/team/app:1")
    assert matches("docker.io/library/node:*-slim", "docker.io/library/node:20-slim")
    assert not matches("docker.io/library/node:*-slim", "docker.io/library/node:20")
    assert matches("node:*", "docker.io/library/node:20")
    assert matches("registry.example.com/*", "registry.example.com/a/b:1")
    assert not matches("docker.io/library/*", "ghcr.io/library/x:1")


def test_junit_and_json_outputs_escape_untrusted_text() -> None:
    data = make_data(images=[{"image_id": A, "user": "", "host": "h"}],
                     image_tags=[{"image_id": A, "reference": "docker.io/team/x:<b>&"}])
    ev = evaluate(data, load_policy(None), as_of=AS_OF)
    root = ET.fromstring(to_junit(ev).split("\n", 1)[1])
    cases = root.findall(".//testcase")
    assert len(cases) == len(ev.results)
    failures = [c for c in cases if c.find("failure") is not None]
    assert {c.get("name") for c in failures} >= {"non-root-user"}
    doc = to_dict(ev)
    json.dumps(doc)
    assert doc["summary"]["images"] == 1 and doc["images"][0]["results"]


def test_docs_policy_md_is_generated_from_the_declarations() -> None:
    path = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
    assert path.read_text() == policy_reference(RULES), (
        "docs/policy.md is stale: run `make docs`"
    )


def test_cli_check_exit_codes_and_formats(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_snapshot(store, ROOT, sources=["test"])
    runner = CliRunner()
    args = ["check", "--store", str(store), "--as-of", "2026-11-29"]
    failed = runner.invoke(main, args)
    assert failed.exit_code == 1, failed.output
    assert "policy broken" in failed.output
    never = runner.invoke(main, [*args, "--fail-on", "never", "--format", "json"])
    assert never.exit_code == 0
    doc = json.loads(never.stdout)
    assert doc["summary"]["images"] == 2
    out = tmp_path / "junit.xml"
    junit = runner.invoke(main, [*args, "--format", "junit", "--output", str(out)])
    assert junit.exit_code == 1 and ET.parse(out).getroot().tag == "testsuites"
    bad = tmp_path / "p.yaml"
    bad.write_text("rules:\n  nope: {}\n")
    broken = runner.invoke(main, [*args, "--policy", str(bad)])
    assert broken.exit_code == 2 and "unknown rule 'nope'" in broken.output
    empty = runner.invoke(main, ["check", "--store", str(tmp_path / "none")])
    assert empty.exit_code == 2 and "no snapshot" in empty.output


def test_check_takes_the_sla_clock_from_the_store_history(tmp_path: Path) -> None:
    import pandas as pd

    from tests.policy.builders import days_ago

    store = tmp_path / "store"
    doc = {"scan_id": "sha256:grype-doc", "source": "test/grype.json"}  # one document's rows
    vuln = {"image_id": A, "target": "t", "vuln_id": "CVE-9", "pkg_name": "openssl",
            "pkg_version": "1", "severity": "high", "fix_state": "fixed", **doc}
    data = make_data(images=[{"image_id": A, "host": "h"}], vulnerabilities=[vuln],
                     scans=[{"image_id": A, "format": "grype-json", **doc}])
    write_snapshot(store, data, sources=["scan"], created_at=pd.Timestamp(days_ago(40)))
    write_snapshot(store, data, sources=["scan"], created_at=pd.Timestamp(days_ago(1)))
    out = CliRunner().invoke(main, ["check", "--store", str(store), "--as-of", "2026-11-29T12:00",
                                    "--format", "json", "--fail-on", "never"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    sla = next(r for r in doc["images"][0]["results"] if r["rule"] == "fixable-vulns-sla")
    # Without a fix or publication date, the first snapshot that saw it fixable bounds the
    # clock: at least 40 days > 30.
    assert sla["status"] == "fail"
    assert "at least 40 days since the first snapshot that saw it fixable" in sla["evidence"]


def test_check_and_run_say_a_rule_that_could_not_be_evaluated(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    """A rule that raises (at fleet scale: the engine out of memory) leaves its results no-data,
    and every command says so on standard error, not only the table and the JSON's `errors`."""
    evaluate_module = importlib.import_module("auditlib.policy.evaluate")  # the function
    # `auditlib.policy.evaluate` hides the module of that name
    store = tmp_path / "store"
    write_snapshot(store, ROOT, sources=["test"])
    real = evaluate_module._verdicts

    def failing(rc, ctx, errors):  # type: ignore[no-untyped-def]
        if rc.rule.slug == "non-root-user":
            errors.append("non-root-user: EngineError: duckdb: Out of Memory Error")
            return {}
        return real(rc, ctx, errors)

    monkeypatch.setattr(evaluate_module, "_verdicts", failing)
    runner = CliRunner()
    args = ["check", "--store", str(store), "--as-of", "2026-11-29", "--fail-on", "never"]
    for fmt in ("json", "junit", "table"):
        got = runner.invoke(main, [*args, "--format", fmt, "--output", str(tmp_path / fmt)])
        assert got.exit_code == 0, got.output
        assert "rule error: non-root-user: EngineError: duckdb: Out of Memory" in got.stderr
    for fmt in ("json", "junit"):
        got = runner.invoke(main, [*args, "--format", fmt])
        assert "rule error: non-root-user: EngineError: duckdb: Out of Memory" in got.stderr
    run = runner.invoke(main, ["run", "--store", str(store), "--no-scan", "--reports", "none",
                               "--engine", f"unix://{tmp_path}/none.sock", "--out",
                               str(tmp_path / "out"), "--fail-on", "never", "--quiet"])
    assert run.exit_code == 0, run.output
    assert "rule error: non-root-user: EngineError" in run.stderr
