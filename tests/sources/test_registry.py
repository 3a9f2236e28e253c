"""`collect_registry` against the canned registry: one collection per repository, one image record
per config, `registry_tags` rows per tag, errors per tag and per repository, and no credential in
any table or error.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests

from auditlib.data import AuditData
from auditlib.ingest.collect import to_audit_data
from auditlib.sources.registry import FORMAT, RetryPolicy, collect_registry
from auditlib.tables import DATA_TABLES
from tests.sources.fake_registry import OCI_INDEX, FakeRegistry, Resp, ScriptedAdapter, config_for

USER, PASSWORD = "collector-bot", "Pa55-unique-8d7c6b"
FAST = RetryPolicy(retries=1, backoff=0.0)


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    with FakeRegistry() as f:
        yield f


def _tables_text(data: AuditData) -> str:
    frames = [getattr(data, t.name) for t in DATA_TABLES]
    assert all(isinstance(f, pd.DataFrame) for f in frames)
    return "\n".join(f.astype(str).to_csv() for f in frames) + repr(data.files)


def test_repository_tags_grouped_by_image(fake: FakeRegistry) -> None:
    m1, c1 = fake.image("team/app", "1.0", config_for(created="2024-01-01T00:00:00Z"))
    fake.manifest("team/app", "latest", json.loads(fake.manifests[("team/app", m1)][1]))
    m2, c2 = fake.image("team/app", "2.0", config_for(created="2024-02-01T00:00:00Z",
                                                     labels={"org.opencontainers.image.x": "y"}))
    cols = collect_registry([f"{fake.host}/team/app"], retry=FAST)
    assert len(cols) == 1
    col = cols[0]
    assert (col.source, col.format, col.errors) == (f"http://{fake.host}/team/app", FORMAT, [])
    assert len(col.records) == 2
    data = to_audit_data(cols)
    tags = data.registry_tags.sort_values("tag").reset_index(drop=True)
    assert list(tags["tag"]) == ["1.0", "2.0", "latest"]
    assert list(tags["image_id"].astype(str)) == [c1, c2, c1]
    assert list(tags["manifest_digest"]) == [m1, m2, m1]
    assert list(tags["platform_manifest_digest"]) == [m1, m2, m1]
    assert set(tags["registry"].astype(str)) == {fake.host}
    assert set(tags["repository"].astype(str)) == {"team/app"}
    assert not tags["is_index"].any()
    assert set(tags["platform"].astype(str)) == {"linux/amd64"}
    assert str(tags["created_at"][1]) == "2024-02-01 00:00:00+00:00"
    images = data.images.set_index(data.images["image_id"].astype(str))
    assert len(images) == 2
    assert images.loc[c1, "repo_digest"] == m1
    assert images.loc[c1, "image_ref"] == f"{fake.host}/team/app:1.0"
    assert images.loc[c1, "size_bytes"] == len(b"layer-one") + len(b"layer-two!")
    assert images.loc[c1, "host"] == fake.host
    refs = set(data.image_tags["reference"])
    assert refs == {
        f"{fake.host}/team/app:1.0", f"{fake.host}/team/app:latest",
        f"{fake.host}/team/app:2.0", f"{fake.host}/team/app@{m1}", f"{fake.host}/team/app@{m2}",
    }
    assert set(data.images["source_format"].astype(str)) == {"oci-registry@oci-manifest-v1"}
    assert list(data.image_labels["label"]) == ["org.opencontainers.image.x"]
    assert data.load_errors.empty


def test_one_tag_and_one_digest(fake: FakeRegistry) -> None:
    fake.image("team/app", "1")
    m2, c2 = fake.image("team/app", "2", config_for("arm64"))
    m3, c3 = fake.image("team/app", "3", config_for(user="root"))
    cols = collect_registry(
        [f"{fake.host}/team/app:2", f"{fake.host}/team/app@{m3}"], platform="linux/arm64",
        retry=FAST,
    )
    assert len(cols) == 1  # both strings name one repository
    data = to_audit_data(cols)
    assert list(data.registry_tags["tag"]) == ["2"]
    assert set(data.images["image_id"].astype(str)) == {c2, c3}
    assert not [r for r in fake.requests if r.path.endswith("/tags/list")]
    by_id = data.images.set_index(data.images["image_id"].astype(str))
    assert by_id.loc[c3, "image_ref"] == f"{fake.host}/team/app@{m3}"


def test_index_resolved_for_the_platform(fake: FakeRegistry) -> None:
    amd, amd_cfg = fake.image("team/multi", None, config_for("amd64"))
    arm, arm_cfg = fake.image("team/multi", None, config_for("arm64", variant="v8"))
    index = fake.manifest("team/multi", "1", {"schemaVersion": 2, "mediaType": OCI_INDEX,
                                              "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd, "size": 1,
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm, "size": 1,
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    ]})
    for platform, manifest, cfg in (("linux/amd64", amd, amd_cfg),
                                    ("linux/arm64/v8", arm, arm_cfg)):
        data = to_audit_data(collect_registry([f"{fake.host}/team/multi"], platform=platform))
        row = data.registry_tags.iloc[0]
        assert row["manifest_digest"] == index and bool(row["is_index"])
        assert row["media_type"] == OCI_INDEX
        assert row["platform_manifest_digest"] == manifest and row["image_id"] == cfg
        assert row["platform"] == platform.removesuffix("/v8")
        assert data.images["repo_digest"].iloc[0] == index
        assert data.images["source_format"].iloc[0] == "oci-registry@oci-index-v1"


def test_failing_tag_is_named_and_the_rest_goes_on(fake: FakeRegistry) -> None:
    fake.image("team/app", "good")
    fake.image("team/app", "bad")
    fake.hooks.append(
        lambda req: Resp(500, b"boom") if req.path.endswith("/manifests/bad") else None
    )
    cols = collect_registry([f"{fake.host}/team/app"], retry=FAST)
    assert len(cols[0].records) == 1
    assert cols[0].errors == [
        f"{fake.host}/team/app:bad: registry error (HTTP 500) after 2 attempts"
    ]
    data = to_audit_data(cols)
    assert list(data.registry_tags["tag"]) == ["good"]
    assert list(data.load_errors["level"]) == ["warning"]


def test_unreachable_repository_gives_errors_only(fake: FakeRegistry) -> None:
    with FakeRegistry() as gone:
        host = gone.host
    fake.image("team/app", "1")
    cols = collect_registry(
        [f"{host}/team/app", f"{fake.host}/team/app", "Not A Reference", f"{fake.host}/team/none"],
        retry=RetryPolicy(retries=0),
    )
    assert [c.source for c in cols] == [
        f"http://{host}/team/app", f"http://{fake.host}/team/app", "Not A Reference",
        f"http://{fake.host}/team/none",
    ]
    assert not cols[0].records and len(cols[0].errors) == 1
    assert cols[0].errors == [
        f"{host}/team/app: https: cannot connect (connection refused); "
        "http: cannot connect (connection refused)"
    ]
    assert cols[1].records and not cols[1].errors
    assert cols[2].errors == ["Not A Reference: not a valid repository reference"]
    assert cols[3].errors[0].startswith(f"{fake.host}/team/none: repository not found")
    data = to_audit_data(cols)
    assert [f.error is not None for f in data.files] == [True, False, True, True]


def test_tag_filter_max_tags_and_progress(fake: FakeRegistry) -> None:
    for tag in ("1.9", "1.10", "1.11", "2.0", "latest"):
        fake.image("team/app", tag, config_for(created=f"2024-01-01T00:00:{len(tag):02d}Z"))
    seen: list[str] = []
    cols = collect_registry(
        [f"{fake.host}/team/app"], tag_filter="1.*", max_tags=2, progress=seen.append, workers=2,
    )
    data = to_audit_data(cols)
    assert sorted(data.registry_tags["tag"]) == ["1.10", "1.11"]
    assert sorted(seen) == [f"{fake.host}/team/app:1.10", f"{fake.host}/team/app:1.11"]
    data = to_audit_data(collect_registry([f"{fake.host}/team/app"], tag_filter=lambda t: "." not
                                          in t))
    assert list(data.registry_tags["tag"]) == ["latest"]


def test_same_result_with_one_or_many_workers(fake: FakeRegistry) -> None:
    for i in range(20):
        fake.image("team/app", f"t{i}", config_for(created=f"2024-01-01T00:00:{i:02d}Z"))
    one = collect_registry([f"{fake.host}/team/app"], workers=1)
    many = collect_registry([f"{fake.host}/team/app"], workers=8)
    assert sorted(r.payload for r in one[0].records) == sorted(r.payload for r in many[0].records)
    assert len(one[0].records) == 20


def test_credentials_from_docker_config_never_in_tables(fake: FakeRegistry, tmp_path: Path) -> None:
    issued: list[str] = []
    fake.bearer(user=USER, password=PASSWORD, issued=issued)
    fake.image("team/app", "1")
    fake.hooks.append(lambda req: Resp(500) if req.path.endswith("/manifests/2") else None)
    fake.image("team/app", "2")
    config = tmp_path / "config.json"
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config.write_text(json.dumps({"auths": {fake.host: {"auth": auth}}}))
    cols = collect_registry([f"{fake.host}/team/app"], docker_config=config, retry=FAST)
    assert len(cols[0].records) == 1 and len(cols[0].errors) == 1
    text = _tables_text(to_audit_data(cols)) + "\n".join(cols[0].errors) + repr(cols)
    for secret in (USER, PASSWORD, auth, *issued):
        assert secret not in text


def test_wrong_credentials_message(fake: FakeRegistry, tmp_path: Path) -> None:
    fake.bearer(user=USER, password=PASSWORD)
    fake.image("team/app", "1")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {fake.host: {"username": USER, "password": "nope"}}}))
    cols = collect_registry([f"{fake.host}/team/app"], docker_config=config)
    assert cols[0].errors == [
        f"{fake.host}/team/app: token service http://{fake.host}: authentication failed; run "
        f"`docker login {fake.host}`"
    ]
    none = collect_registry([f"{fake.host}/team/app"], docker_config=tmp_path / "missing.json")
    assert none[0].errors == [
        f"{fake.host}/team/app: token service http://{fake.host}: authentication required; run "
        f"`docker login {fake.host}`"
    ]


def test_credentials_helper_failure_is_a_repository_error(
    fake: FakeRegistry, tmp_path: Path
) -> None:
    fake.basic(USER, PASSWORD)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {fake.host: "absent-helper-xyz"}}))
    cols = collect_registry([f"{fake.host}/team/app"], docker_config=config)
    assert cols[0].errors == [
        f"{fake.host}/team/app: credential helper docker-credential-absent-helper-xyz "
        f"(for {fake.host}) is not installed or not on PATH"
    ]


def test_explicit_credentials_and_hooks_see_no_secret_in_urls(fake: FakeRegistry) -> None:
    from auditlib.sources.registry import Credentials

    fake.basic(USER, PASSWORD)
    fake.image("team/app", "1")
    cols = collect_registry(
        [f"{fake.host}/team/app"], credentials={fake.host: Credentials(USER, PASSWORD)}
    )
    assert cols[0].records and not cols[0].errors
    assert all(PASSWORD not in r.path and not r.query.get("password") for r in fake.requests)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="platform"):
        collect_registry(["nginx"], platform="amd64")
    with pytest.raises(ValueError, match="workers"):
        collect_registry(["nginx"], workers=0)


def test_docker_hub_names() -> None:
    # No network here: what `nginx` becomes, seen through an adapter that refuses everything.
    adapter = ScriptedAdapter(lambda req: requests.ConnectionError("Connection refused"))
    cols = collect_registry(["nginx"], session=adapter.mount_on(), retry=RetryPolicy(retries=0))
    assert cols[0].source == "https://docker.io/library/nginx"
    assert cols[0].errors == ["docker.io/library/nginx: cannot connect (connection refused)"]
    assert adapter.urls == ["https://registry-1.docker.io/v2/"]
