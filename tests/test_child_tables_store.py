"""The child tables (`package_dependencies`, `vulnerability_cwes`, `vulnerability_aliases`) and the
Syft image config's rows flow end to end: read on worker processes as in one, ingested into a
store, read back by `read_latest` and `read_current`, carried over unchanged by a second run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import auditlib
from auditlib.ingest.steps import ingest_paths
from auditlib.store import read_current, read_latest
from tests.conftest import corpus_path

pytestmark = pytest.mark.corpus

FILES = {
    "syft.json": "syft-json/syft-1.18.1-schema-16-debian-bookworm-image.json",
    "trivy.json": "trivy-json/trivy-0.76.0-licenses-pkgs-debian-bookworm-image.json",
    "trivy-vulns.json": "trivy-json/dd-schema2-debian-13vulns-issue9333.json",
    "centos.json": "trivy-json/trivy-golden-centos-7-image.json",
    "grype.json": "grype-json/dd-grype-0.96.0-image-35-matches.json",
    "cdx.json": "cyclonedx-json/trivy-cdx-1.7-head-pom-with-vulns.json",
    "spdx.json": "spdx-json/trivy-0.76.0-spdx-debian-bookworm-image.json",
}
CHILDREN = ("package_dependencies", "vulnerability_cwes", "vulnerability_aliases",
            "image_layers", "image_history")


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, rel in FILES.items():
        shutil.copyfile(corpus_path(rel), folder / name)
    return folder


def _count(rel: str, table: str) -> int:
    """Rows a file should give, counted here from the raw JSON."""
    doc = json.loads(corpus_path(rel).read_bytes())
    if table == "package_dependencies" and rel.startswith("syft-json"):
        return sum(r["type"] == "dependency-of" for r in doc["artifactRelationships"])
    if table == "vulnerability_cwes" and rel.startswith("trivy-json"):
        return len({(v["VulnerabilityID"], c) for r in doc["Results"]
                    for v in r.get("Vulnerabilities") or [] for c in v.get("CweIDs") or []})
    if table == "vulnerability_aliases" and rel.startswith("grype-json"):
        return len({(m["vulnerability"]["id"], x["id"]) for m in doc["matches"]
                    for x in m.get("relatedVulnerabilities") or []
                    if x["id"] != m["vulnerability"]["id"]})
    if table == "image_history" and rel.startswith("syft-json"):
        return len(json.loads(base64.b64decode(doc["source"]["metadata"]["config"]))["history"])
    raise AssertionError(f"no count for {table} of {rel}")


def _per_source(df: pd.DataFrame) -> dict[str, int]:
    return {Path(str(s)).name: int(n)
            for s, n in df.groupby("source", observed=True).size().items()}


def _same(a: pd.DataFrame, b: pd.DataFrame, name: str) -> None:
    cols = [c for c in a.columns if c != "collected_at"]
    key = [c for c in cols if c not in ("image_id",)]
    pd.testing.assert_frame_equal(
        a[cols].astype(object).sort_values(key).reset_index(drop=True),
        b[cols].astype(object).sort_values(key).reset_index(drop=True), obj=name)


def test_workers_read_the_child_tables_as_one_process(inputs: Path) -> None:
    one = auditlib.load(inputs, workers=1)
    two = auditlib.load(inputs, workers=3)
    for name in CHILDREN:
        assert len(getattr(one, name)), name
        _same(getattr(one, name), getattr(two, name), name)


def test_ingest_into_a_store_and_read_back(inputs: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = ingest_paths(store, [inputs])
    assert not first.errors
    loaded = first.data
    assert _per_source(loaded.package_dependencies)["syft.json"] == _count(
        FILES["syft.json"], "package_dependencies")
    assert _per_source(loaded.vulnerability_cwes)["trivy-vulns.json"] == _count(
        FILES["trivy-vulns.json"], "vulnerability_cwes")
    assert _per_source(loaded.vulnerability_aliases)["grype.json"] == _count(
        FILES["grype.json"], "vulnerability_aliases")
    assert _per_source(loaded.image_history)["syft.json"] == _count(
        FILES["syft.json"], "image_history")

    for back in (read_latest(store), read_current(store)):
        for name in CHILDREN:
            _same(getattr(loaded, name), getattr(back, name), name)
    # The Syft SBOM alone dates its image (no collector, no Trivy metadata needed).
    images = read_current(store).images
    syft = images[images["source"].astype(str).str.endswith("syft.json")]
    raw = base64.b64decode(json.loads(corpus_path(FILES["syft.json"]).read_bytes())
                           ["source"]["metadata"]["config"])
    assert syft["image_id"].tolist() == ["sha256:" + hashlib.sha256(raw).hexdigest()]
    assert syft["created_at"].iloc[0] == pd.Timestamp(json.loads(raw)["created"])

    # A second run over unchanged files carries them over: the rows read back the same.
    second = ingest_paths(store, [inputs])
    assert second.carried == len(FILES)
    again = read_current(store)
    for name in CHILDREN:
        _same(getattr(loaded, name), getattr(again, name), name)
