"""The demo's history (`auditlib.demo.DemoHistory`): snapshots in the past and in order, the roles
every report section needs, collected sources in the collectors' own shapes, and everything
plainly synthetic. The pages made of it are checked in tests/reports/test_demo_pages.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from auditlib.data import AuditData
from auditlib.demo import README_NAME, DemoHistory, DemoStep
from auditlib.demo._dockerfile import SECRET_ARG
from auditlib.identity import SYNTHETIC_LABEL, SYNTHETIC_PREFIX
from auditlib.ingest.collect import to_audit_data
from auditlib.ingest.steps import ingest_paths
from auditlib.store import read_current
from auditlib.store.manifest import snapshot_infos

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _history(out: Path, images: int = 12, seed: int = 3) -> DemoHistory:
    return DemoHistory(out, images=images, seed=seed, now=NOW, vulns_per_image=20,
                       packages_per_image=40, files_per_image=20)


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[DemoHistory, list[DemoStep], list[AuditData]]:
    """A 12-image history walked to its end: each step, and what its collections gave."""
    fleet = _history(tmp_path_factory.mktemp("history"))
    steps, collected = [], []
    for step in fleet.steps():
        steps.append(step)
        collected.append(to_audit_data(step.collections, collected_at=step.at))
    return fleet, steps, collected


def test_snapshots_are_in_the_past_oldest_first(
        walked: tuple[DemoHistory, list[DemoStep], list[AuditData]]) -> None:
    fleet, steps, _ = walked
    times = [s.at for s in steps]
    assert times == sorted(times) and len(set(times)) == 4
    assert times[-1] == NOW and times[-1] - times[0] == timedelta(days=42)


def test_documents_of_a_step_are_from_before_it(tmp_path: Path) -> None:
    fleet = _history(tmp_path / "fleet")
    for step in fleet.steps():
        for path in (tmp_path / "fleet" / "trivy").glob("*.json"):
            created = orjson.loads(path.read_bytes())["CreatedAt"]
            assert datetime.fromisoformat(created[:19] + "+00:00") < step.at, path.name


def test_every_role_is_played(walked: tuple[DemoHistory, list[DemoStep], list[AuditData]]
                              ) -> None:
    fleet, steps, collected = walked
    world, last = fleet.world, collected[-1]
    assert set(world.roles) == {"rebuilt", "lagging", "unkept", "drifting", "floating"}
    running = last.containers[last.containers["state"].astype(str) == "running"]
    # the lagging app runs its first build while a newer one is pushed
    lagging = world.by_app[world.roles["lagging"]]
    ran = set(running["image_id"].astype(str))
    assert fleet.shipped(lagging[0]).image_id in ran
    assert fleet.shipped(lagging[-1]).image_id not in ran
    # the drifting container wrote outside its volumes from the second-last snapshot on
    drift = [set(d.container_changes["path"].astype(str)) for d in collected]
    assert "/etc/app/settings.yaml" not in drift[0] and "/etc/app/settings.yaml" in drift[-1]
    # the unkept repository lists its newest build only; the rebuilt one keeps both
    tags = last.registry_tags.assign(repo=last.registry_tags["repository"].astype(str))
    unkept = tags[tags["repo"].str.endswith("/" + world.roles["unkept"])]
    rebuilt = tags[tags["repo"].str.endswith("/" + world.roles["rebuilt"])]
    assert unkept["image_id"].nunique() == 1 and rebuilt["image_id"].nunique() == 2
    # a container started from `latest`, as root
    floating = last.containers[last.containers["name"].astype(str)
                               == world.roles["floating"] + "-1"]
    assert floating["image_ref"].astype(str).str.endswith(":latest").all()
    assert floating["user"].tolist() == ["0"]


def test_collections_are_the_collectors_records(
        walked: tuple[DemoHistory, list[DemoStep], list[AuditData]]) -> None:
    _, steps, collected = walked
    formats = {c.format for c in steps[-1].collections}
    assert formats == {"docker-engine", "oci-registry", "dockerfile"}
    last = collected[-1]
    assert not any(f.error for f in last.files)
    assert set(last.images["host"].dropna().astype(str)) == {
        "prod-1.demo.auditlib.invalid", "demo.auditlib.invalid"}
    assert len(last.image_layers) and len(last.image_history) and len(last.container_mounts)
    df = last.dockerfiles
    assert df["is_multi_stage"].any() and df["upgrades_packages"].any()
    assert df["final_base_is_pinned"].any() and df["final_base_is_latest"].any()
    assert SECRET_ARG in set(last.dockerfile_secret_names["name"].astype(str))


def test_base_tags_move_as_the_mirror_is_rebuilt(
        walked: tuple[DemoHistory, list[DemoStep], list[AuditData]]) -> None:
    _, _, collected = walked

    def points(d: AuditData) -> dict[str, str]:
        rt = d.registry_tags
        mirror = rt[rt["repository"].astype(str).str.startswith("synthetic/library/")]
        return {f"{r}:{t}": str(i) for r, t, i in zip(
            mirror["repository"], mirror["tag"], mirror["image_id"], strict=True)}

    first, last = points(collected[0]), points(collected[-1])
    moved = [k for k in first.keys() & last.keys() if first[k] != last[k]]
    assert moved, "no base tag points at another build at the last snapshot"


def test_everything_is_plainly_synthetic(
        walked: tuple[DemoHistory, list[DemoStep], list[AuditData]]) -> None:
    fleet, _, collected = walked
    assert (fleet.out_dir / README_NAME).read_text(encoding="utf-8").startswith("SYNTHETIC")
    assert fleet.policy_file.read_text(encoding="utf-8").startswith("# SYNTHETIC")
    for d in collected:
        refs = [*d.image_tags["reference"].astype(str), *d.containers["image_ref"].astype(str)]
        assert refs and all(r.startswith(SYNTHETIC_PREFIX) for r in refs), refs
        labelled = d.image_labels[(d.image_labels["label"].astype(str) == SYNTHETIC_LABEL)]
        assert set(labelled["image_id"]) == set(d.images["image_id"])
    for path in (fleet.out_dir / "trivy").glob("*.json"):
        meta = orjson.loads(path.read_bytes())["Metadata"]
        assert all(t.startswith(SYNTHETIC_PREFIX) for t in meta["RepoTags"]), path.name
        assert meta["ImageConfig"]["config"]["Labels"][SYNTHETIC_LABEL] == "true"


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        for _ in _history(tmp_path / name).steps():
            pass
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*")
                   if p.is_file())
    assert files
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_steps_ingest_into_a_dated_history(tmp_path: Path) -> None:
    fleet = _history(tmp_path / "fleet", images=8)
    store = tmp_path / "store"
    steps = []
    for step in fleet.steps():
        ing = ingest_paths(store, step.documents, collections=step.collections, at=step.at)
        assert not ing.errors
        steps.append(step)
    infos = snapshot_infos(store)
    assert [i.created_at.to_pydatetime() for i in infos] == fleet.times
    data = read_current(store)
    assert (data.scans["collected_at"] <= NOW).all()
    # the README and policy are not in the folders ingested: nothing is skipped or an error
    assert data.load_errors.empty
    trivy = data.scans[data.scans["format"].astype(str) == "trivy-json"]
    assert trivy["image_id"].nunique() == steps[-1].scanned  # an image is an image, once


def test_config_and_upgrade_rules_pass_and_fail_in_the_demo(
        walked: tuple[DemoHistory, list[DemoStep], list[AuditData]]) -> None:
    from auditlib import load
    from auditlib.data import merge
    from auditlib.policy import evaluate, load_policy

    fleet, steps, collected = walked
    world = fleet.world
    scans = load(fleet.out_dir / "trivy")
    r = evaluate(merge(collected[-1], scans), load_policy(None), as_of=steps[-1].at).results

    def statuses(rule: str, app: str) -> set[str]:
        mine = r[(r["rule"] == rule) & r["image_name"].astype(str).str.contains(f"/{app}:")]
        return set(mine["status"].astype(str))

    config = r[r["rule"] == "config-outside-image"]
    assert {"pass", "fail"} <= set(config["status"].astype(str))
    assert statuses("config-outside-image", world.roles["drifting"]) == {"fail"}
    drifting = config[config["image_name"].astype(str).str.contains(
        f"/{world.roles['drifting']}:") & (config["status"] == "fail")]
    # The container mounts /etc/app/conf.d over app.conf, not over settings.yaml.
    assert all("settings.yaml" in e and "conf.d/app.conf" not in e
               for e in drifting["evidence"].astype(str))
    upgrade = r[r["rule"] == "upgrade-at-build"]
    assert {"pass", "fail"} <= set(upgrade["status"].astype(str))
    assert "pass" in statuses("upgrade-at-build", world.roles["rebuilt"])
