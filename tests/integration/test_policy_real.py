"""The default policy on the integration fleet (tests/integration/fleet.py), collected from the real
engine with the Dockerfiles that built it: each image gets the statuses its construction implies.
"""

from __future__ import annotations

import pytest

from auditlib.ingest.collect import CollectRequest, collect
from auditlib.policy import Evaluation, evaluate, load_policy
from tests.integration.fleet import REFS, SECRET_VALUE, Fleet

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def evaluation(engine_fleet: Fleet) -> Evaluation:
    dockerfiles = [f"{engine_fleet.dockerfiles[n]}={REFS[n]}" for n in engine_fleet.dockerfiles]
    data = collect(CollectRequest(engines=[engine_fleet.engine.url], dockerfiles=dockerfiles))
    assert not [f.error for f in data.files if f.error]
    return evaluate(data, load_policy(None))


def _result(ev: Evaluation, fleet: Fleet, image: str, rule: str) -> tuple[str, str]:
    r = ev.results
    row = r[(r["image_id"] == fleet.images[image]) & (r["rule"] == rule)].iloc[0]
    return str(row["status"]), str(row["evidence"])


def test_root_image_fails_non_root_user(evaluation: Evaluation, engine_fleet: Fleet) -> None:
    status, evidence = _result(evaluation, engine_fleet, "worker", "non-root-user")
    assert status == "fail" and "root" in evidence
    assert _result(evaluation, engine_fleet, "multi", "non-root-user")[0] == "pass"
    # app's image is non-root, but its container `drifter` was started with --user 0.
    status, evidence = _result(evaluation, engine_fleet, "app", "non-root-user")
    assert status == "fail" and "drifter" in evidence


def test_container_writing_into_its_filesystem_fails_no_config_drift(
    evaluation: Evaluation, engine_fleet: Fleet
) -> None:
    status, evidence = _result(evaluation, engine_fleet, "app", "no-config-drift")
    assert status == "fail" and "drifter:/etc/drift.conf" in evidence
    assert "/data/ok" not in evidence  # written into its volume
    assert _result(evaluation, engine_fleet, "busybox", "no-config-drift")[0] == "pass"


def test_image_used_directly_fails_derived_image(
    evaluation: Evaluation, engine_fleet: Fleet
) -> None:
    status, evidence = _result(evaluation, engine_fleet, "busybox", "derived-image")
    assert status == "fail" and "direct" in evidence
    for built in ("app", "worker", "leaky", "multi"):
        assert _result(evaluation, engine_fleet, built, "derived-image")[0] == "pass", built


def test_latest_tag_and_secrets(evaluation: Evaluation, engine_fleet: Fleet) -> None:
    assert _result(evaluation, engine_fleet, "worker", "no-latest-tag")[0] == "fail"
    assert _result(evaluation, engine_fleet, "app", "no-latest-tag")[0] == "pass"
    status, evidence = _result(evaluation, engine_fleet, "leaky", "no-baked-secrets")
    assert status == "fail" and "DB_PASSWORD" in evidence and SECRET_VALUE not in evidence
    assert _result(evaluation, engine_fleet, "app", "no-baked-secrets")[0] == "pass"


def test_every_image_scored_and_nothing_leaks(evaluation: Evaluation, engine_fleet: Fleet) -> None:
    assert set(engine_fleet.images.values()) <= set(evaluation.scores["image_id"])
    assert evaluation.errors == []
    text = evaluation.results.astype(str).to_csv()
    assert SECRET_VALUE not in text
