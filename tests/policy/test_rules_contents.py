"""license-policy, no-baked-secrets, minimal-image, oci-labels: pass, fail, warn and no-data."""

from __future__ import annotations

from typing import Any

import pytest

from auditlib.data import AuditData
from auditlib.policy import evaluate
from auditlib.policy.config import build_policy
from auditlib.policy.rules import contents, licenses
from auditlib.policy.rules.licenses import license_ids
from tests.policy.builders import AS_OF, image_id, make_data

RULES = (*licenses.RULES, *contents.RULES)

A, B, C, D, E = (image_id(n) for n in range(1, 6))


def _results(data: AuditData, rule: str, **params: Any) -> dict[str, tuple[str, str]]:
    if rule == "license-policy":
        # These tests review strong copyleft (the default leaves it to distribution packages).
        params = {"warn_classes": ["strong-copyleft"], **params}
    policy = build_policy({"rules": {rule: params}} if params else None, RULES, "test")
    r = evaluate(data, policy, as_of=AS_OF).results
    r = r[r["rule"] == rule]
    return {str(i): (str(s), str(e)) for i, s, e in zip(r["image_id"], r["status"], r["evidence"],
                                                      strict=True)}


# -- license-policy --------------------------------------------------------------------------


def _lic(image: str, pkg: str, license_: str | None, spdx: str | None, cls: str | None,
         scan: str = "s1", version: str = "1.0") -> dict[str, Any]:
    return {"image_id": image, "scan_id": scan, "package_id": f"{pkg}@{version}",
            "package_name": pkg, "package_version": version, "license": license_,
            "license_spdx": spdx, "license_class": cls, "license_source": "declared"}


def _pkg(image: str, name: str, cls: str = "permissive", scan: str = "s1",
         version: str = "1.0", ptype: str = "deb") -> dict[str, Any]:
    return {"image_id": image, "scan_id": scan, "package_id": f"{name}@{version}", "name": name,
            "version": version, "package_type": ptype, "license_class": cls}


def _licence_data() -> AuditData:
    return make_data(
        scans=[{"image_id": i} for i in (A, B, C, D, E)],
        packages=[_pkg(A, "musl"), _pkg(A, "busybox"), _pkg(B, "mongo", "network-copyleft"),
                  _pkg(C, "bash", "strong-copyleft"), _pkg(D, "left-pad", "unknown"),
                  _pkg(D, "zlib")],
        package_licenses=[
            _lic(A, "musl", "MIT", "MIT", "permissive"),
            _lic(A, "busybox", "Apache-2.0", "Apache-2.0", "permissive"),
            _lic(A, "busybox", "Apache-2.0", "Apache-2.0", "permissive", scan="s2"),
            _lic(B, "mongo", "AGPL-3.0", "AGPL-3.0-only", "network-copyleft"),
            _lic(B, "bash", "GPL-3.0+", "GPL-3.0-or-later", "strong-copyleft"),
            _lic(C, "bash", "GPL-3.0+", "GPL-3.0-or-later", "strong-copyleft"),
            _lic(C, "libfoo", "MIT OR GPL-2.0-only", "MIT OR GPL-2.0-only", "permissive"),
            _lic(D, "zlib", "Zlib", "Zlib", "permissive"),
            _lic(D, "weird", "Acme Corp Licence", None, "other"),
        ],
    )


def test_license_policy_statuses() -> None:
    results = _results(_licence_data(), "license-policy")
    assert results[A] == ("pass", "2 package(s) and 2 distinct licence(s) checked: none denied "
                                  "or to review")
    status, evidence = results[B]
    assert status == "fail"
    assert evidence == ("1 package(s) with a denied licence: mongo 1.0 (AGPL-3.0-only: "
                        "network-copyleft); 1 package(s) with a licence to review: bash 1.0 "
                        "(GPL-3.0-or-later: strong-copyleft)")
    status, evidence = results[C]
    assert status == "warn"  # `MIT OR GPL-2.0-only` is permissive: MIT may be chosen
    assert evidence == ("1 package(s) with a licence to review: bash 1.0 (GPL-3.0-or-later: "
                        "strong-copyleft)")
    # An unparsed licence and a package no document gave a licence for are unknown: warn.
    status, evidence = results[D]
    assert status == "warn"
    assert "2 package(s) with a licence to review" in evidence
    assert "weird 1.0 (Acme Corp Licence: unknown licence)" in evidence
    assert "left-pad 1.0 (no licence declared: unknown licence)" in evidence
    status, evidence = results[E]  # scanned, but no package data
    assert status == "no-data" and "SBOM" in evidence


def test_license_policy_lists_and_overrides() -> None:
    data = _licence_data()
    r = _results(data, "license-policy", deny_licenses=["MIT"])
    assert r[A][0] == "fail" and "musl 1.0 (MIT: denied licence)" in r[A][1]
    assert r[C][0] == "fail" and "libfoo 1.0 (MIT OR GPL-2.0-only: denied licence)" in r[C][1]
    r = _results(data, "license-policy", warn_licenses=["Apache-2.0"])
    assert r[A][0] == "warn" and "busybox 1.0 (Apache-2.0: licence to review)" in r[A][1]
    # An id as people write it matches SPDX's spelling (GPL-3.0+ is GPL-3.0-or-later).
    r = _results(data, "license-policy", allow_licenses=["GPL-3.0+", "AGPL-3.0"])
    assert r[B][0] == "pass" and r[C][0] == "pass"
    r = _results(data, "license-policy", warn_classes=[], unknown="pass")
    assert r[C][0] == "pass" and r[D][0] == "pass"
    r = _results(data, "license-policy", unknown="fail", deny_classes=[])
    assert r[D][0] == "fail" and r[B][0] == "warn"
    r = _results(data, "license-policy", deny_classes=["permissive"], warn_classes=[])
    assert r[A][0] == "fail" and "musl 1.0 (MIT: permissive)" in r[A][1]


def test_license_policy_default_passes_distribution_gpl() -> None:
    policy = build_policy(None, RULES, "test")
    r = evaluate(_licence_data(), policy, as_of=AS_OF).results
    row = r[(r["rule"] == "license-policy") & (r["image_id"] == C)].iloc[0]
    assert row["status"] == "pass"


def test_license_policy_bad_unknown_value_is_an_error() -> None:
    policy = build_policy({"rules": {"license-policy": {"unknown": "maybe"}}}, RULES, "test")
    ev = evaluate(_licence_data(), policy, as_of=AS_OF)
    assert ev.errors and "maybe" in ev.errors[0]


def test_allowed_id_in_an_and_expression_leaves_the_rest() -> None:
    data = make_data(scans=[{"image_id": A}], package_licenses=[
        _lic(A, "x", "GPL-2.0-only AND AGPL-3.0-only", "GPL-2.0-only AND AGPL-3.0-only",
             "network-copyleft")])
    assert _results(data, "license-policy", allow_licenses=["GPL-2.0-only"])[A][0] == "fail"
    assert _results(data, "license-policy", allow_licenses=["AGPL-3.0-only"])[A][0] == "warn"


def test_license_evidence_lists_five() -> None:
    rows = [_lic(A, f"p{n}", "GPL-2.0", "GPL-2.0-only", "strong-copyleft") for n in range(7)]
    status, evidence = _results(make_data(scans=[{"image_id": A}], package_licenses=rows),
                                "license-policy")[A]
    assert status == "warn" and evidence.startswith("7 package(s) with a licence to review")
    assert evidence.endswith(" and 2 more")


def test_licence_files_outside_packages_are_judged() -> None:
    data = make_data(scans=[{"image_id": A}], package_licenses=[
        {"image_id": A, "package_id": "f", "license": "AGPL-3.0", "license_spdx": "AGPL-3.0-only",
         "license_class": "network-copyleft", "license_source": "scanner",
         "file_path": "/opt/app/LICENSE"},
        _lic(A, "musl", "MIT", "MIT", "permissive")])
    status, evidence = _results(data, "license-policy")[A]
    assert status == "fail"
    assert evidence == ("1 package(s) with a denied licence: file /opt/app/LICENSE "
                        "(AGPL-3.0-only: network-copyleft)")


def test_license_ids() -> None:
    assert license_ids("MIT OR (GPL-2.0-only WITH Classpath-exception-2.0 AND BSD-3-Clause)") \
        == ("MIT", "GPL-2.0-only", "BSD-3-Clause")


# -- no-baked-secrets ------------------------------------------------------------------------


def test_no_baked_secrets() -> None:
    data = make_data(
        images=[{"image_id": A, "host": "h"}, {"image_id": B, "host": "h"},
                {"image_id": C, "host": "h"}],
        image_env=[
            {"image_id": A, "name": "PATH", "looks_secret": False},
            {"image_id": A, "name": "LANG", "looks_secret": False},
            {"image_id": B, "name": "DB_PASSWORD", "looks_secret": True,
             "secret_reason": "name:DB_PASSWORD"},
            {"image_id": B, "name": "HELPER", "looks_secret": True,
             "secret_reason": "value:github-pat"},
        ],
        scans=[{"image_id": D, "format": "trivy-json", "scan_id": "t1"},
               {"image_id": E, "format": "trivy-json", "scan_id": "t2"},
               {"image_id": image_id(6), "format": "syft-json"}],
        secrets=[{"image_id": E, "scan_id": "t2", "target": "t", "rule_id": "aws-access-key-id",
                  "file_path": "/app/.env", "start_line": 3},
                 {"image_id": E, "scan_id": "t2", "target": "t", "rule_id": "aws-access-key-id",
                  "file_path": "/app/.env", "start_line": 4},
                 {"image_id": E, "scan_id": "t2", "target": "t", "rule_id": "github-pat",
                  "file_path": "/root/.git-credentials", "start_line": 1}],
    )
    r = _results(data, "no-baked-secrets")
    assert r[A] == ("pass", "none of the 2 environment variable(s) of the image config looks "
                            "like a secret")
    status, evidence = r[B]
    assert status == "fail"
    assert evidence == ("secret-like environment variable(s) in the image config: DB_PASSWORD "
                        "(secret-like name), HELPER (value shaped like github-pat)")
    assert r[C][0] == "pass"  # collected: its config has no variables at all
    assert r[D] == ("pass", "the Trivy scan (secret scanning is on by default) found none")
    status, evidence = r[E]
    assert status == "fail"
    assert evidence == ("3 secret(s) found by a scanner (aws-access-key-id 2, github-pat 1) in "
                        "/app/.env, /root/.git-credentials")
    status, evidence = r[image_id(6)]
    assert status == "no-data" and "secret scan" in evidence


def test_no_baked_secrets_from_the_dockerfile() -> None:
    tags = [{"image_id": i, "reference": f"docker.io/team/{n}:1"} for i, n in ((A, "a"), (B, "b"),
                                                                             (C, "c"))]
    data = make_data(
        image_tags=tags, scans=[{"image_id": A}, {"image_id": B}, {"image_id": C}],
        dockerfiles=[{"scan_id": f"d{n}", "path": f"{name}/Dockerfile",
                      "context_image_ref": f"docker.io/team/{name}:1"}
                     for n, name in ((1, "a"), (2, "b"), (3, "c"))],
        dockerfile_secret_names=[
            {"scan_id": "d1", "path": "a/Dockerfile", "instruction": "ENV",
             "name": "AWS_SECRET_ACCESS_KEY", "line": 4},
            {"scan_id": "d1", "path": "a/Dockerfile", "instruction": "ARG",
             "name": "GITHUB_TOKEN", "line": 2},
            {"scan_id": "d2", "path": "b/Dockerfile", "instruction": "ARG",
             "name": "NPM_TOKEN", "line": 3},
        ],
    )
    r = _results(data, "no-baked-secrets")
    status, evidence = r[A]
    assert status == "fail"
    assert "Dockerfile a/Dockerfile line 4: ENV AWS_SECRET_ACCESS_KEY" in evidence
    assert "line 2: ARG GITHUB_TOKEN" in evidence
    status, evidence = r[B]
    assert status == "warn"
    assert evidence.startswith("Dockerfile b/Dockerfile line 3: ARG NPM_TOKEN (a build argument")
    # A Dockerfile with no secret-like name says nothing of the base image or the files: no data.
    assert r[C][0] == "no-data"


def test_secret_values_never_reach_the_evidence() -> None:
    secret = "ghp_" + "a" * 36
    data = make_data(images=[{"image_id": A, "host": "h", "entrypoint": f"run --t={secret}"}],
                     image_env=[{"image_id": A, "name": "TOKEN", "looks_secret": True,
                                 "secret_reason": "value:github-pat"}],
                     image_labels=[{"image_id": A, "label": "x", "value": secret}])
    ev = evaluate(data, build_policy(None, RULES, "test"), as_of=AS_OF)
    assert not ev.results["evidence"].str.contains(secret).any()
    assert not ev.results["evidence"].str.contains("ghp_").any()


# -- minimal-image ---------------------------------------------------------------------------


def test_minimal_image() -> None:
    big_sbom = [_pkg(C, f"p{n}") for n in range(600)]
    # The same package in two SBOMs counts once; another type or version counts again.
    pk = [_pkg(A, "zlib"), _pkg(A, "zlib", scan="s2"), _pkg(A, "zlib", ptype="apk"),
          _pkg(A, "zlib", version="2.0")]
    data = make_data(
        images=[{"image_id": A, "size_bytes": 120_000_000},
                {"image_id": B, "size_bytes": 1_500_000_000},
                {"image_id": C}, {"image_id": D, "size_bytes": 700_000_000}],
        scans=[{"image_id": E}], packages=pk + big_sbom,
    )
    r = _results(data, "minimal-image")
    assert r[A] == ("pass", "120 MB, within the budget of 500 MB; 3 packages, within the budget "
                            "of 500 packages")
    assert r[B] == ("fail", "1,500 MB, over the failure budget of 1,000 MB; package count "
                            "unknown (no SBOM)")
    assert r[C] == ("warn", "size unknown; 600 packages, over the warning budget of 500 (fail "
                            "above 1,000)")
    assert r[D][0] == "warn" and "700 MB, over the warning budget of 500" in r[D][1]
    assert r[E][0] == "no-data"
    r = _results(data, "minimal-image", warn_size_mb=100, fail_packages=599)
    assert r[A][0] == "warn" and r[C][0] == "fail" and r[D][0] == "warn"


# -- oci-labels ------------------------------------------------------------------------------

SOURCE, REVISION = "org.opencontainers.image.source", "org.opencontainers.image.revision"
CREATED, BASE = "org.opencontainers.image.created", "org.opencontainers.image.base.name"


@pytest.fixture
def labelled() -> AuditData:
    def labels(image: str, **kv: str) -> list[dict[str, Any]]:
        return [{"image_id": image, "label": k, "value": v} for k, v in kv.items()]

    return make_data(
        images=[{"image_id": A}, {"image_id": B}, {"image_id": C}, {"image_id": D, "host": "h"},
                {"image_id": E}],
        image_labels=[
            *labels(A, **dict.fromkeys([SOURCE, REVISION, CREATED, BASE], "x")),
            *labels(B, **{SOURCE: "https://git", REVISION: "abc", CREATED: "2026-01-01"}),
            *labels(C, **{SOURCE: "https://git", REVISION: " ", BASE: "debian:12"}),
        ],
    )


def test_oci_labels(labelled: AuditData) -> None:
    r = _results(labelled, "oci-labels")
    assert r[A] == ("pass", f"has every label asked for: {SOURCE}, {REVISION}, {CREATED}, {BASE}")
    assert r[B] == ("warn", f"missing recommended label(s): {BASE}")
    # An empty value is as good as missing.
    assert r[C] == ("fail", f"missing required label(s): {REVISION}; missing recommended "
                            f"label(s): {CREATED}")
    assert r[D][0] == "fail"  # collected from an engine: its labels are known to be none
    assert r[E][0] == "no-data"  # a scan file with no labels: unknown


def test_oci_labels_params(labelled: AuditData) -> None:
    r = _results(labelled, "oci-labels", required=[SOURCE], recommended=[])
    assert r[B][0] == "pass" and r[C][0] == "pass" and r[D][0] == "fail"
    r = _results(labelled, "oci-labels", required=[], recommended=[])
    assert r[D] == ("pass", "no label is asked for")


def test_rule_declarations() -> None:
    assert [r.slug for r in RULES] == ["license-policy", "no-baked-secrets", "minimal-image",
                                       "oci-labels"]
    assert [(r.points, r.severity) for r in RULES] == [
        (5, "medium"), (20, "critical"), (3, "low"), (2, "low")]
    for r in RULES:
        assert r.title and r.rationale and r.no_data and r.scout and r.others and r.needs
