"""no-latest-tag, pinned-base-image, trusted-registry: pass, fail, warn and no-data."""

from __future__ import annotations

from typing import Any

from auditlib.data import AuditData
from auditlib.policy import evaluate
from auditlib.policy.config import build_policy
from auditlib.policy.rules import tags
from tests.policy.builders import AS_OF, days_ago, image_id, make_data

A, B, C, D, E = (image_id(n) for n in range(1, 6))
DIGEST = "sha256:" + "ab" * 32
BASE_NAME = "org.opencontainers.image.base.name"


def _result(data: AuditData, rule: str, image: str, **params: Any) -> tuple[str, str]:
    policy = build_policy({"rules": {rule: params}}, tags.RULES, "test")
    evaluation = evaluate(data, policy, as_of=AS_OF)
    assert evaluation.errors == []  # a rule that raised gives no-data: that is not a pass
    r = evaluation.results
    row = r[(r["rule"] == rule) & (r["image_id"] == image)].iloc[0]
    return str(row["status"]), str(row["evidence"])


def _images(*ids: str) -> list[dict[str, Any]]:
    return [{"image_id": i, "host": "h"} for i in ids]


def _tag(image: str, ref: str) -> dict[str, Any]:
    return {"image_id": image, "reference": ref}


def _container(cid: str, image: str, ref: str | None, **kw: Any) -> dict[str, Any]:
    return {"host": "h", "container_id": cid, "name": kw.pop("name", cid), "image_id": image,
            "image_ref": ref, "state": kw.pop("state", "running"), **kw}


def _dockerfile(ref: str, final: str | None, *stages: tuple[str | None, int],
                sid: str = "sha256:df") -> dict[str, list[dict[str, Any]]]:
    """Rows of a Dockerfile building `ref` FROM `final`, with stages (base_ref, line)."""
    return {
        "dockerfiles": [{"path": "Dockerfile", "scan_id": sid, "context_image_ref": ref,
                         "final_base_ref": final, "stage_count": len(stages)}],
        "dockerfile_stages": [
            {"path": "Dockerfile", "scan_id": sid, "stage_index": n, "base_ref": b, "line": line,
             "is_scratch": b is None}
            for n, (b, line) in enumerate(stages)
        ],
    }


def test_rules_are_declared_in_order() -> None:
    assert [r.slug for r in tags.RULES] == ["no-latest-tag", "pinned-base-image",
                                           "trusted-registry"]
    for r in tags.RULES:
        assert r.rationale and r.no_data and r.scout and r.others and r.needs
        assert all(p.meaning for p in r.params)
    assert [(r.points, r.severity) for r in tags.RULES] == [
        (5, "medium"), (5, "medium"), (15, "high")]


# -- no-latest-tag ----------------------------------------------------------------------------


def test_no_latest_tag_pass_fail_and_no_data() -> None:
    data = make_data(
        image_tags=[_tag(A, "docker.io/team/app:1.2"), _tag(A, "docker.io/team/app:latest"),
                    _tag(B, "docker.io/team/b:latest")],
        images=_images(A, B), scans=[{"image_id": C}],
    )
    status, evidence = _result(data, "no-latest-tag", A)
    assert status == "pass" and "docker.io/team/app:1.2" in evidence
    status, evidence = _result(data, "no-latest-tag", B)
    assert status == "fail"
    assert evidence == "its only tags are floating: docker.io/team/b:latest"
    status, evidence = _result(data, "no-latest-tag", C)
    assert status == "no-data" and "no tag" in evidence


def test_no_latest_tag_fails_for_containers_started_from_latest() -> None:
    data = make_data(
        image_tags=[_tag(A, "docker.io/team/app:1.2")],
        containers=[_container("c1", A, "docker.io/team/app:latest", name="web"),
                    _container("c2", A, "docker.io/team/app:1.2", name="ok"),
                    _container("c3", A, "docker.io/team/app:latest", name="old",
                               state="exited")],
    )
    status, evidence = _result(data, "no-latest-tag", A)
    assert status == "fail"
    assert "web (docker.io/team/app:latest)" in evidence
    assert "ok" not in evidence and "old" not in evidence  # version tag; not running


def test_no_latest_tag_container_by_digest_only() -> None:
    ref = f"docker.io/team/app@{DIGEST}"
    data = make_data(containers=[_container("c1", A, ref, name="web"),
                                 _container("c2", B, None, name="by-id")])
    status, evidence = _result(data, "no-latest-tag", A)
    assert status == "pass"
    assert evidence == ("running containers name it by version or digest: "
                        f"docker.io/team/app@{DIGEST[:19]}")
    assert _result(data, "no-latest-tag", B)[0] == "no-data"


def test_no_latest_tag_floating_tags_param() -> None:
    data = make_data(images=_images(A), image_tags=[_tag(A, "docker.io/team/app:stable")])
    assert _result(data, "no-latest-tag", A)[0] == "pass"
    status, evidence = _result(data, "no-latest-tag", A, floating_tags=["latest", "stable"])
    assert status == "fail" and "docker.io/team/app:stable" in evidence


# -- pinned-base-image ------------------------------------------------------------------------


def test_pinned_base_image_by_tag_passes_and_recommends_a_digest() -> None:
    data = make_data(
        images=_images(A), image_tags=[_tag(A, "docker.io/team/app:1")],
        **_dockerfile("docker.io/team/app:1", "docker.io/library/debian:12",
                      ("docker.io/library/debian:12", 3)),
    )
    status, evidence = _result(data, "pinned-base-image", A)
    assert status == "pass"
    assert "pinned by tag 12; a digest pin (@sha256) is recommended" in evidence
    assert "Dockerfile line 3" in evidence
    status, evidence = _result(data, "pinned-base-image", A, require_digest=True)
    assert status == "warn" and "digest pin" in evidence


def test_pinned_base_image_latest_fails_in_any_stage() -> None:
    data = make_data(
        images=_images(A, B),
        image_tags=[_tag(A, "docker.io/team/app:1"), _tag(B, "docker.io/team/b:1")],
        **_dockerfile("docker.io/team/app:1", f"docker.io/library/debian:12@{DIGEST}",
                      ("docker.io/library/node:latest", 1), (None, 5),
                      (f"docker.io/library/debian:12@{DIGEST}", 9)),
    )
    status, evidence = _result(data, "pinned-base-image", A)
    assert status == "fail"
    assert evidence.startswith("docker.io/library/node:latest (FROM in Dockerfile line 1) is "
                               "not pinned")
    assert f"pinned by digest {DIGEST[:19]}" in evidence and DIGEST not in evidence


def test_pinned_base_image_from_the_base_label() -> None:
    data = make_data(
        images=[{"image_id": A, "host": "h"}, {"image_id": B, "host": "h"},
                {"image_id": C, "host": "h"}],
        image_labels=[
            {"image_id": A, "label": BASE_NAME, "value": "debian"},
            {"image_id": B, "label": BASE_NAME, "value": f"debian:latest@{DIGEST}"},
            {"image_id": C, "label": BASE_NAME, "value": "alpine:edge"},
        ],
    )
    status, evidence = _result(data, "pinned-base-image", A)
    assert status == "fail" and "docker.io/library/debian:latest" in evidence
    assert "label org.opencontainers.image.base.name" in evidence
    status, evidence = _result(data, "pinned-base-image", B)
    assert status == "pass" and "its tag latest says nothing" in evidence
    assert _result(data, "pinned-base-image", C)[0] == "pass"
    assert _result(data, "pinned-base-image", C, floating_tags=["latest", "edge"])[0] == "fail"


def test_pinned_base_image_no_data_without_a_from_reference() -> None:
    # B's base is known by shared layers only: how FROM named it is unknown.
    data = make_data(
        images=[{"image_id": A, "host": "h", "created_at": days_ago(10)},
                {"image_id": B, "host": "h", "created_at": days_ago(1)},
                {"image_id": C, "host": "h"}],
        image_tags=[_tag(A, "docker.io/library/debian:latest")],
        image_layers=[{"image_id": A, "layer_index": 0, "diff_id": "sha256:l1"},
                      {"image_id": B, "layer_index": 0, "diff_id": "sha256:l1"},
                      {"image_id": B, "layer_index": 1, "diff_id": "sha256:l2"}],
    )
    status, evidence = _result(data, "pinned-base-image", B)
    assert status == "no-data" and "Dockerfile" in evidence
    assert _result(data, "pinned-base-image", C)[0] == "no-data"


# -- trusted-registry -------------------------------------------------------------------------


def _labelled(*bases: tuple[str, str]) -> AuditData:
    return make_data(
        images=[{"image_id": i, "host": "h"} for i, _ in bases],
        image_labels=[{"image_id": i, "label": BASE_NAME, "value": v} for i, v in bases],
    )


def test_trusted_registry_base_pass_and_fail() -> None:
    data = _labelled((A, "debian:12"), (B, "docker.io/randomuser/base:1"),
                     (C, f"cgr.dev/chainguard/static:latest@{DIGEST}"))
    status, evidence = _result(data, "trusted-registry", A)
    assert status == "pass"
    assert evidence == "the base docker.io/library/debian:12 matches docker.io/library/*"
    status, evidence = _result(data, "trusted-registry", B)
    assert status == "fail" and "docker.io/randomuser/base:1" in evidence
    assert "none of the allowed patterns: docker.io/library/*" in evidence
    assert "cgr.dev/chainguard/*" in evidence
    assert _result(data, "trusted-registry", C)[0] == "pass"


def test_trusted_registry_allowed_and_denied_params() -> None:
    data = _labelled((A, "debian:9"), (B, "ghcr.io/team/base:1"),
                     (C, f"node:20-slim@{DIGEST}"))
    status, evidence = _result(data, "trusted-registry", A, denied=["debian:9*"])
    assert status == "fail" and "denied pattern debian:9*" in evidence
    assert _result(data, "trusted-registry", B, allowed=["ghcr.io/team/*"])[0] == "pass"
    # A digest-pinned base matches a pattern on its tag.
    status, evidence = _result(data, "trusted-registry", C, allowed=["node:*-slim"])
    assert status == "pass" and "node:*-slim" in evidence
    assert _result(data, "trusted-registry", A, allowed=[])[0] == "fail"


def test_trusted_registry_checks_every_from_stage() -> None:
    data = make_data(
        images=_images(A), image_tags=[_tag(A, "docker.io/team/app:1")],
        **_dockerfile("docker.io/team/app:1", "gcr.io/distroless/static:nonroot",
                      ("docker.io/someone/builder:1", 1),
                      ("gcr.io/distroless/static:nonroot", 8)),
    )
    status, evidence = _result(data, "trusted-registry", A)
    assert status == "fail"
    assert evidence.startswith("the base docker.io/someone/builder:1 (FROM in Dockerfile line 1)")
    assert "matches gcr.io/distroless/*" in evidence


def test_trusted_registry_images_run_directly_and_no_data() -> None:
    data = make_data(
        image_tags=[_tag(A, "docker.io/library/wordpress:6"), _tag(B, "ghcr.io/x/y:1"),
                    _tag(C, "docker.io/team/app:1")],
        images=_images(A, B, C),
        containers=[_container("c1", A, "docker.io/library/wordpress:6", name="wp"),
                    _container("c2", B, "ghcr.io/x/y:1", name="y")],
    )
    status, evidence = _result(data, "trusted-registry", A)
    assert status == "pass" and "run directly as docker.io/library/wordpress:6" in evidence
    status, evidence = _result(data, "trusted-registry", B)
    assert status == "fail" and "ghcr.io/x/y:1" in evidence and "allowed patterns" in evidence
    status, evidence = _result(data, "trusted-registry", C)  # no base, not run
    assert status == "no-data" and "base is unknown" in evidence
