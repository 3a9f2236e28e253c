"""non-root-user, no-config-drift, derived-image, rollback-ready: pass, fail and no-data."""

from __future__ import annotations

from typing import Any

from auditlib.data import AuditData
from auditlib.policy import evaluate, load_policy
from auditlib.policy.config import build_policy
from auditlib.policy.rules import RULES
from tests.policy.builders import AS_OF, days_ago, image_id, make_data

A, B, C = image_id(1), image_id(2), image_id(3)


def _result(data: AuditData, rule: str, image: str, **params: Any) -> tuple[str, str]:
    policy = build_policy({"rules": {rule: params}}, RULES, "test") if params else load_policy(None)
    r = evaluate(data, policy, as_of=AS_OF).results
    row = r[(r["rule"] == rule) & (r["image_id"] == image)].iloc[0]
    return str(row["status"]), str(row["evidence"])


def _container(cid: str, image: str, **kw: Any) -> dict[str, Any]:
    return {"host": "h", "container_id": cid, "name": kw.pop("name", cid), "image_id": image,
            "state": "running", **kw}


def test_non_root_user() -> None:
    data = make_data(images=[
        {"image_id": A, "user": "app", "host": "h"},
        {"image_id": B, "user": "", "host": "h"},
        {"image_id": C, "user": "0:0", "host": "h"},
    ], scans=[{"image_id": image_id(4)}])
    assert _result(data, "non-root-user", A) == ("pass", "the image runs as app")
    status, evidence = _result(data, "non-root-user", B)
    assert status == "fail" and "no USER (root by default)" in evidence
    assert _result(data, "non-root-user", C)[0] == "fail"
    assert _result(data, "non-root-user", image_id(4))[0] == "no-data"


def test_non_root_user_container_override() -> None:
    data = make_data(images=[{"image_id": A, "user": "1000", "host": "h"}],
                     containers=[_container("c1", A, name="web", user="0")])
    status, evidence = _result(data, "non-root-user", A)
    assert status == "fail" and "web" in evidence
    assert _result(data, "non-root-user", A, check_containers=False)[0] == "pass"


def test_non_root_user_from_the_dockerfile() -> None:
    data = make_data(
        image_tags=[{"image_id": A, "reference": "docker.io/team/app:1"}],
        scans=[{"image_id": A}],
        dockerfiles=[{"path": "Dockerfile", "context_image_ref": "docker.io/team/app:1",
                      "final_user_is_root": True}],
    )
    assert _result(data, "non-root-user", A)[0] == "fail"


def test_no_config_drift() -> None:
    data = make_data(
        images=[{"image_id": A, "host": "h"}, {"image_id": B, "host": "h"}],
        containers=[_container("c1", A, name="web"), _container("c2", B, name="db")],
        container_mounts=[{"host": "h", "container_id": "c1", "destination": "/data"}],
        container_changes=[
            {"host": "h", "container_id": "c1", "path": "/etc", "kind": "changed"},
            {"host": "h", "container_id": "c1", "path": "/etc/nginx.conf", "kind": "added"},
            {"host": "h", "container_id": "c1", "path": "/data/x", "kind": "added"},
            {"host": "h", "container_id": "c1", "path": "/tmp/y", "kind": "added"},
            {"host": "h", "container_id": "c2", "path": "/var/run/db.pid", "kind": "added"},
        ],
    )
    status, evidence = _result(data, "no-config-drift", A)
    assert status == "fail" and "web:/etc/nginx.conf" in evidence
    assert "/data/x" not in evidence and "/tmp/y" not in evidence and "web:/etc," not in evidence
    assert _result(data, "no-config-drift", B)[0] == "pass"
    assert _result(data, "no-config-drift", A, allowed_paths=["/etc", "/tmp"])[0] == "pass"


def test_no_config_drift_for_images_not_running() -> None:
    data = make_data(images=[{"image_id": A, "host": "h"}],
                     containers=[_container("c1", A, state="exited")])
    assert _result(data, "no-config-drift", A) == (
        "pass", "no running container of this image on the 1 engine(s) collected")


def test_runtime_rules_without_an_engine_have_no_data() -> None:
    # Scanner documents only: whether any container runs the image is unknown, not "no".
    data = make_data(scans=[{"image_id": A, "format": "grype-json"}])
    for rule in ("no-config-drift", "derived-image", "rollback-ready"):
        status, evidence = _result(data, rule, A)
        assert status == "no-data" and "no Docker Engine collected" in evidence, rule


def test_derived_image() -> None:
    base, app, public = A, B, C
    layer = "sha256:" + "a" * 64
    data = make_data(
        images=[
            {"image_id": base, "host": "h", "created_at": days_ago(10)},
            {"image_id": app, "host": "h", "created_at": days_ago(1)},
            {"image_id": public, "host": "h", "created_at": days_ago(5)},
        ],
        image_layers=[
            {"image_id": base, "layer_index": 0, "diff_id": layer},
            {"image_id": app, "layer_index": 0, "diff_id": layer},
            {"image_id": app, "layer_index": 1, "diff_id": "sha256:" + "b" * 64},
            {"image_id": public, "layer_index": 0, "diff_id": "sha256:" + "c" * 64},
        ],
        image_tags=[
            {"image_id": base, "reference": "docker.io/library/debian:12"},
            {"image_id": public, "reference": "docker.io/library/wordpress:latest"},
        ],
        containers=[_container("c1", app), _container("c2", public, name="blog")],
    )
    status, evidence = _result(data, "derived-image", app)
    assert status == "pass" and "docker.io/library/debian:12" in evidence
    status, evidence = _result(data, "derived-image", public)
    assert status == "fail" and "wordpress" in evidence and "blog" in evidence
    assert _result(data, "derived-image", base)[0] == "pass"  # not run directly
    own = ["docker.io/library/wordpress:*"]
    assert _result(data, "derived-image", public, own_repositories=own)[0] == "pass"


def test_rollback_ready() -> None:
    old, new, lonely = A, B, C
    data = make_data(
        images=[
            {"image_id": old, "host": "r", "created_at": days_ago(20)},
            {"image_id": new, "host": "r", "created_at": days_ago(1)},
            {"image_id": lonely, "host": "r", "created_at": days_ago(1)},
        ],
        image_tags=[
            {"image_id": new, "reference": "r.test/team/app:2"},
            {"image_id": lonely, "reference": "r.test/team/solo:1"},
        ],
        registry_tags=[
            {"registry": "r.test", "repository": "team/app", "tag": "1", "image_id": old},
            {"registry": "r.test", "repository": "team/app", "tag": "2", "image_id": new},
            {"registry": "r.test", "repository": "team/solo", "tag": "1", "image_id": lonely},
        ],
        containers=[_container("c1", new), _container("c2", lonely)],
    )
    status, evidence = _result(data, "rollback-ready", new)
    assert status == "pass" and "r.test/team/app" in evidence
    status, evidence = _result(data, "rollback-ready", lonely)
    assert status == "fail" and "no previous version" in evidence
    assert _result(data, "rollback-ready", old)[0] == "pass"  # not deployed
    assert _result(data, "rollback-ready", new, min_previous=2)[0] == "fail"


def test_rollback_ready_without_registry_data() -> None:
    data = make_data(images=[{"image_id": A, "host": "h"}], image_tags=[
        {"image_id": A, "reference": "docker.io/team/app:1"}], containers=[_container("c1", A)])
    assert _result(data, "rollback-ready", A)[0] == "no-data"
