"""config-outside-image and upgrade-at-build: pass, warn, fail and no-data, with evidence."""

from __future__ import annotations

from typing import Any

import pytest

from auditlib.data import AuditData
from auditlib.policy import evaluate, load_policy
from auditlib.policy.config import PolicyError, build_policy
from auditlib.policy.rules import RULES
from tests.policy.builders import AS_OF, image_id, make_data

A, B, C, D = image_id(1), image_id(2), image_id(3), image_id(4)


def _result(data: AuditData, rule: str, image: str, **params: Any) -> tuple[str, str]:
    policy = build_policy({"rules": {rule: params}}, RULES, "test") if params else load_policy(None)
    r = evaluate(data, policy, as_of=AS_OF).results
    row = r[(r["rule"] == rule) & (r["image_id"] == image)].iloc[0]
    return str(row["status"]), str(row["evidence"])


def _built(image: str, ref: str, path: str, **dockerfile: Any) -> dict[str, list[dict[str, Any]]]:
    """Rows of an image tagged `ref` and the Dockerfile that builds it (same scan id)."""
    return {
        "image_tags": [{"image_id": image, "reference": ref}],
        "dockerfiles": [{"scan_id": f"df-{path}", "path": path, "context_image_ref": ref,
                         "final_upgrades_packages": False, "copies_recorded": True,
                         **dockerfile}],
    }


def _merge(*parts: dict[str, list[dict[str, Any]]], **more: list[dict[str, Any]]) -> AuditData:
    tables: dict[str, list[dict[str, Any]]] = {}
    for p in [*parts, more]:
        for k, v in p.items():
            tables.setdefault(k, []).extend(v)
    return make_data(**tables)


def _copy(path: str, line: int, src: str, target: str | None, final: bool = True) -> dict[str, Any]:
    return {"scan_id": f"df-{path}", "path": path, "line": line, "stage_index": 0,
            "instruction": "COPY", "source_path": src, "destination": target or ".",
            "target_path": target, "in_final_image": final}


def _run(cid: str, image: str, name: str) -> dict[str, Any]:
    return {"host": "h", "container_id": cid, "name": name, "image_id": image,
            "state": "running"}


def _config_data() -> AuditData:
    return _merge(
        _built(A, "docker.io/team/a:1", "a/Dockerfile"),
        _built(B, "docker.io/team/b:1", "b/Dockerfile"),
        _built(C, "docker.io/team/c:1", "c/Dockerfile"),
        images=[{"image_id": i, "host": "h"} for i in (A, B, C, D)],
        dockerfile_copies=[
            _copy("a/Dockerfile", 3, "app.py", "/app/app.py"),
            _copy("a/Dockerfile", 4, "nginx.conf", "/etc/nginx/nginx.conf"),
            _copy("a/Dockerfile", 5, "prod.yaml", "/etc/app/prod.yaml", final=False),
            _copy("b/Dockerfile", 2, "app.properties", "/srv/app.properties"),
            _copy("c/Dockerfile", 2, "main.go", "/src/main.go"),
        ],
        containers=[_run("c1", B, "b-web"), _run("c2", D, "db"), _run("c3", C, "c-api")],
        container_mounts=[
            {"host": "h", "container_id": "c1", "destination": "/srv"},
            {"host": "h", "container_id": "c3", "destination": "/var/lib/mysql"},
        ],
        container_changes=[
            {"host": "h", "container_id": "c2", "path": "/var/lib/postgresql/data",
             "kind": "changed"},
            {"host": "h", "container_id": "c2", "path": "/var/lib/postgresql/data/PG_VERSION",
             "kind": "added"},
            {"host": "h", "container_id": "c3", "path": "/var/lib/mysql/ibdata1",
             "kind": "added"},
        ],
    )


def test_config_baked_into_the_final_image_fails() -> None:
    status, evidence = _result(_config_data(), "config-outside-image", A)
    assert status == "fail"
    assert "line 4 COPY nginx.conf -> /etc/nginx/nginx.conf" in evidence
    assert "prod.yaml" not in evidence  # an earlier stage's copy is not in the image
    assert "app.py" not in evidence
    assert "no running container mounts over it" in evidence


def test_config_mounted_over_by_every_container_passes() -> None:
    status, evidence = _result(_config_data(), "config-outside-image", B)
    assert status == "pass"
    assert "every running container mounts over it: line 2 COPY app.properties" in evidence


def test_data_written_outside_a_volume_warns() -> None:
    # D has no Dockerfile: its container writes a database into its own layer.
    status, evidence = _result(_config_data(), "config-outside-image", D)
    assert status == "warn"
    assert "db:/var/lib/postgresql/data/PG_VERSION" in evidence
    assert "db:/var/lib/postgresql/data," not in evidence
    assert "whether configuration is baked in is unknown" in evidence
    # C writes its data under a mount: no configuration copied, nothing outside a volume.
    status, evidence = _result(_config_data(), "config-outside-image", C)
    assert status == "pass" and "copies no configuration file" in evidence


def test_config_patterns_are_the_policy_s() -> None:
    assert _result(_config_data(), "config-outside-image", A,
                   config_patterns=["*.yaml"])[0] == "pass"
    status, evidence = _result(_config_data(), "config-outside-image", C,
                               config_patterns=["/src/*.go"])
    assert status == "fail" and "main.go" in evidence and "c-api" in evidence


def test_config_no_data_for_a_dockerfile_read_without_its_copies() -> None:
    # A `dockerfiles` row of an auditlib that did not record `dockerfile_copies` yet (the
    # upgrade rule's column known: it is not what decides).
    data = _merge(_built(A, "docker.io/team/a:1", "a/Dockerfile", copies_recorded=None),
                  images=[{"image_id": A}])
    status, evidence = _result(data, "config-outside-image", A)
    assert status == "no-data" and "collect it again" in evidence
    # Recorded, copying nothing: a pass, whatever the upgrade rule's column says.
    data = _merge(_built(A, "docker.io/team/a:1", "a/Dockerfile", final_upgrades_packages=None),
                  images=[{"image_id": A}])
    status, evidence = _result(data, "config-outside-image", A)
    assert status == "pass" and "copies no configuration file" in evidence


def test_config_no_data_without_dockerfile_or_container() -> None:
    data = make_data(images=[{"image_id": A, "host": "h"}])
    status, evidence = _result(data, "config-outside-image", A)
    assert status == "no-data" and "Dockerfile" in evidence
    data = _merge(_built(A, "docker.io/team/a:1", "a/Dockerfile"),
                  images=[{"image_id": A}],
                  dockerfile_copies=[_copy("a/Dockerfile", 2, ".env", "/app/.env")])
    status, evidence = _result(data, "config-outside-image", A)
    assert status == "fail" and "no Docker Engine collected" in evidence


def _vuln(image: str, vuln: str, pkg: str, ptype: str, state: str = "fixed") -> dict[str, Any]:
    return {"image_id": image, "vuln_id": vuln, "pkg_name": pkg, "pkg_version": "1",
            "package_type": ptype, "severity": "high", "fix_state": state,
            "fixed_version": "2" if state == "fixed" else None}


def _upgrade_data() -> AuditData:
    return _merge(
        _built(A, "docker.io/team/a:1", "a/Dockerfile", final_upgrades_packages=True),
        _built(B, "docker.io/team/b:1", "b/Dockerfile", final_upgrades_packages=False),
        _built(C, "docker.io/team/c:1", "c/Dockerfile", final_upgrades_packages=False),
        images=[{"image_id": i} for i in (A, B, C, D)],
        scans=[{"image_id": i, "format": "grype-json"} for i in (A, B, D)],
        vulnerabilities=[
            _vuln(A, "CVE-2026-1", "openssl", "deb"),
            _vuln(B, "CVE-2026-2", "libc6", "deb"),
            _vuln(B, "CVE-2026-3", "requests", "pypi"),
            _vuln(D, "CVE-2026-4", "musl", "apk", state="not-fixed"),
        ],
    )


def test_upgrade_at_build_default_stance() -> None:
    data = _upgrade_data()
    status, evidence = _result(data, "upgrade-at-build", A)
    assert status == "pass" and "a/Dockerfile upgrades" in evidence
    status, evidence = _result(data, "upgrade-at-build", B)
    assert status == "fail" and "CVE-2026-2 in libc6" in evidence
    assert "requests" not in evidence and "1 fixable vulnerability of distribution" in evidence
    status, evidence = _result(data, "upgrade-at-build", C)  # not scanned
    assert status == "warn" and "no vulnerability scan" in evidence
    status, evidence = _result(data, "upgrade-at-build", D)  # no Dockerfile, nothing fixable
    assert status == "pass" and "no fixable vulnerability" in evidence


def test_upgrade_at_build_no_data() -> None:
    data = make_data(images=[{"image_id": A, "host": "h"}])
    assert _result(data, "upgrade-at-build", A)[0] == "no-data"


def test_upgrade_at_build_pin_stance() -> None:
    data = _upgrade_data()
    status, evidence = _result(data, "upgrade-at-build", A, stance="pin")
    assert status == "fail" and "pin versions" in evidence
    assert _result(data, "upgrade-at-build", B, stance="pin")[0] == "pass"
    assert _result(data, "upgrade-at-build", D, stance="pin")[0] == "no-data"


def test_upgrade_stance_is_checked_when_the_policy_is_read() -> None:
    with pytest.raises(PolicyError, match="upgrade-at-build.stance: 'sometimes' is not one of"):
        build_policy({"rules": {"upgrade-at-build": {"stance": "sometimes"}}}, RULES, "p.yaml")
