"""The synthetic demo fleet (`auditlib.demo.write_fleet`) and the ingest benchmark script."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditlib.demo import FleetInfo, write_fleet
from auditlib.demo._vulns import cvss31_score

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PREFIX = "demo.auditlib.invalid/synthetic/"
VULN_KEYS = {"VulnerabilityID", "PkgID", "PkgName", "PkgIdentifier", "InstalledVersion", "Status",
             "Layer", "SeveritySource", "PrimaryURL", "DataSource", "Fingerprint", "Title",
             "Description", "Severity", "CweIDs", "VendorSeverity", "References", "PublishedDate",
             "LastModifiedDate"}
BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "ingest.py"


Fleet = tuple[FleetInfo, dict[str, Any], dict[str, Any]]


def _small(out: Path, images: int = 3, seed: int = 11) -> FleetInfo:
    return write_fleet(out, images=images, seed=seed, vulns_per_image=20, packages_per_image=30,
                       files_per_image=60, now=NOW)


def _docs(folder: Path) -> dict[str, Any]:
    return {p.name: orjson.loads(p.read_bytes()) for p in sorted(folder.glob("*.json"))}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """Return a 3-image fleet: what write_fleet said, the Trivy documents and the Syft documents."""
    info = _small(tmp_path_factory.mktemp("fleet"))
    return info, _docs(info.out_dir / "trivy"), _docs(info.out_dir / "syft")


def test_same_seed_gives_same_bytes_and_another_seed_others(tmp_path: Path) -> None:
    a, b = _small(tmp_path / "a", seed=5), _small(tmp_path / "b", seed=5)
    c = _small(tmp_path / "c", seed=6)
    files = sorted(p.relative_to(a.out_dir) for p in a.out_dir.rglob("*") if p.is_file())
    assert len(files) == 7  # 3 Trivy + 3 Syft + README.txt
    for rel in files:
        assert (a.out_dir / rel).read_bytes() == (b.out_dir / rel).read_bytes(), rel
    assert a.total_bytes == b.total_bytes
    docs_a = {p.read_bytes() for p in a.out_dir.rglob("*.json")}
    assert not docs_a & {p.read_bytes() for p in c.out_dir.rglob("*.json")}


def test_fleet_info_says_what_was_written(fleet: Fleet) -> None:
    info, trivy, syft = fleet
    assert (info.images, info.files, info.seed) == (3, 6, 11)
    written = [*info.out_dir.glob("trivy/*.json"), *info.out_dir.glob("syft/*.json")]
    assert info.total_bytes == sum(p.stat().st_size for p in written)
    assert sorted(trivy) == sorted(syft) and len(trivy) == 3
    assert not list(info.out_dir.rglob(".*.tmp"))


def test_trivy_documents_have_trivy_0_76_shape(fleet: Fleet) -> None:
    for name, doc in fleet[1].items():
        assert list(doc)[:8] == ["SchemaVersion", "Trivy", "ReportID", "CreatedAt", "ArtifactID",
                                 "ArtifactName", "ArtifactType", "Metadata"], name
        assert (doc["SchemaVersion"], doc["Trivy"]["Version"]) == (2, "0.76.0")
        assert doc["ArtifactType"] == "container_image"
        meta = doc["Metadata"]
        assert {"Size", "OS", "ImageID", "DiffIDs", "RepoTags", "Reference", "ImageConfig",
                "Layers"} <= set(meta)
        assert meta["ImageConfig"]["rootfs"]["diff_ids"] == meta["DiffIDs"]
        config = meta["ImageConfig"]
        assert {"architecture", "created", "history", "os", "rootfs", "config"} <= set(config)
        os_result = doc["Results"][0]
        assert (os_result["Class"], os_result["Type"]) == ("os-pkgs", meta["OS"]["Family"])
        for pkg in os_result["Packages"]:
            assert {"ID", "Name", "Identifier", "Version", "Arch", "SrcName", "SrcVersion",
                    "Licenses", "Maintainer", "DependsOn", "Layer", "Digest",
                    "InstalledFiles"} <= set(pkg)
            assert pkg["Layer"]["DiffID"] in meta["DiffIDs"]
        for result in doc["Results"]:
            for v in result.get("Vulnerabilities", []):
                assert VULN_KEYS <= set(v)
                assert len(v["Description"]) >= 200 and len(v["References"]) >= 4
                assert ("FixedVersion" in v) == (v["Status"] == "fixed")
                if "CVSS" in v:
                    nvd = v["CVSS"]["nvd"]
                    assert cvss31_score(nvd["V3Vector"]) == nvd["V3Score"]


def test_syft_documents_have_syft_1_18_shape(fleet: Fleet) -> None:
    for name, doc in fleet[2].items():
        assert list(doc) == ["artifacts", "artifactRelationships", "files", "source", "distro",
                             "descriptor", "schema"], name
        assert doc["schema"]["version"].startswith("16.")
        assert doc["descriptor"]["version"] == "1.18.1"
        ids = {a["id"] for a in doc["artifacts"]} | {f["id"] for f in doc["files"]}
        for a in doc["artifacts"]:
            assert {"id", "name", "version", "type", "foundBy", "locations", "licenses", "language",
                    "cpes", "purl", "metadataType", "metadata"} <= set(a)
            assert all({"value", "spdxExpression", "type", "locations"} <= set(lic)
                       for lic in a["licenses"])
        for f in doc["files"]:
            assert set(f) >= {"id", "location", "metadata", "digests"}
            assert {"mode", "type", "userID", "groupID", "mimeType", "size"} <= set(f["metadata"])
            assert [d["algorithm"] for d in f["digests"]] == ["sha1", "sha256"]
        assert doc["files"] and doc["artifactRelationships"]
        assert all(r["parent"] in ids and r["child"] in ids for r in doc["artifactRelationships"])
        src = doc["source"]
        assert src["type"] == "image"
        assert {"userInput", "imageID", "manifestDigest", "mediaType", "tags", "imageSize",
                "layers", "manifest", "config", "repoDigests", "architecture",
                "os"} <= set(src["metadata"])


def test_both_documents_of_an_image_name_the_same_config_digest(fleet: Fleet) -> None:
    _, trivy, syft = fleet
    for name in trivy:
        meta = syft[name]["source"]["metadata"]
        config = base64.b64decode(meta["config"])
        assert trivy[name]["Metadata"]["ImageID"] == meta["imageID"]
        assert meta["imageID"] == "sha256:" + hashlib.sha256(config).hexdigest()
        assert orjson.loads(config) == trivy[name]["Metadata"]["ImageConfig"]
        assert [x["digest"] for x in meta["layers"]] == trivy[name]["Metadata"]["DiffIDs"]


def test_everything_is_marked_synthetic(fleet: Fleet) -> None:
    info, trivy, syft = fleet
    assert "SYNTHETIC" in (info.out_dir / "README.txt").read_text(encoding="utf-8")
    for name in trivy:
        meta = trivy[name]["Metadata"]
        refs = [trivy[name]["ArtifactName"], meta["Reference"], *meta["RepoTags"],
                *meta.get("RepoDigests", [])]
        assert all(r.startswith(PREFIX) for r in refs), refs
        assert meta["ImageConfig"]["config"]["Labels"]["org.auditlib.synthetic"] == "true"
        src = syft[name]["source"]["metadata"]
        assert src["userInput"].startswith(PREFIX)
        assert all(t.startswith(PREFIX) for t in src["tags"])
        assert src["labels"]["org.auditlib.synthetic"] == "true"


def test_a_fleet_is_varied_the_way_reports_need(tmp_path: Path) -> None:
    info = write_fleet(tmp_path, images=40, seed=7, vulns_per_image=20, packages_per_image=30,
                       files_per_image=10, now=NOW)
    docs = list(_docs(info.out_dir / "trivy").values())
    metas = [d["Metadata"] for d in docs]
    vulns = [v for d in docs for r in d["Results"] for v in r.get("Vulnerabilities", [])]
    licenses = {lic for d in docs for r in d["Results"] for p in r["Packages"]
                for lic in p["Licenses"]}
    assert len({m["OS"]["Family"] for m in metas}) == 3
    assert len({(m["OS"]["Family"], m["OS"]["Name"]) for m in metas}) >= 5
    assert any(m["OS"].get("EOSL") for m in metas) and not all(m["OS"].get("EOSL") for m in metas)
    assert any(t.endswith(":latest") for m in metas for t in m["RepoTags"])
    users = Counter(m["ImageConfig"]["config"].get("User", "") for m in metas)
    assert users[""] + users["root"] > 0 and sum(users.values()) > users[""] + users["root"]
    ages = [(NOW - datetime.fromisoformat(m["ImageConfig"]["created"][:19] + "+00:00")).days
            for m in metas]
    assert min(ages) < 30 and max(ages) > 365
    assert {"CRITICAL", "HIGH", "MEDIUM", "LOW"} <= {v["Severity"] for v in vulns}
    assert {"fixed", "affected", "will_not_fix"} <= {v["Status"] for v in vulns}
    assert {"GPL-2.0-only", "MIT", "Apache-2.0"} <= licenses
    assert any(r["Class"] == "lang-pkgs" for d in docs for r in d["Results"])


def test_write_fleet_refuses_an_empty_fleet(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="images must be at least 1"):
        write_fleet(tmp_path, images=0)


@pytest.mark.parametrize(("vector", "score"), [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:L/A:N", 3.7),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
])
def test_cvss_scores_follow_the_3_1_formula(vector: str, score: float) -> None:
    assert cvss31_score(vector) == score


@pytest.mark.slow  # runs a benchmark script
def test_benchmark_runs_end_to_end_on_two_images(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARK), "--images", "2", "--fleet", str(tmp_path / "fleet"),
         "--vulns", "20", "--packages", "30", "--files-per-package", "2", "--repeat", "1"],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    lines = out.splitlines()
    assert "generated in" in out and "4 documents (2 Trivy, 2 Syft)" in out
    for label in ("trivy-json", "syft-json", "(a) orjson.loads", "(b) orjson + json_normalize",
                  "(c) auditlib.load", "(d) auditlib.load(workers=1)"):
        line = next(ln for ln in lines if ln.startswith(label))
        assert "FAILED" not in line and "did not finish" not in line, line
        if label.endswith("-json"):
            assert line.endswith((" PASS", " FAIL")), line
    if (Path(__file__).resolve().parents[2] / "shared" / "corpus").is_dir():
        assert any(ln.startswith("spdx-json (Syft 1.18)") for ln in lines)
    first = next(ln for ln in lines if ln.startswith("first load: "))
    assert "import auditlib" in first and "interpreter start excluded" in first
    assert "ratio auditlib / orjson:" in out and "ratio auditlib / json_normalize:" in out
    goals = [ln for ln in lines if ln.startswith("GOAL")]
    assert len(goals) == 4 and all(" PASS" in g or " FAIL" in g for g in goals), goals
    assert (tmp_path / "fleet" / ".gitignore").read_text() == "*\n"
