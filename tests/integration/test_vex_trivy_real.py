"""`auditlib vex export` understood by the real Trivy: a waived finding is gone from `trivy image
--vex`.

An image holding lodash 4.17.20 (a `node_modules` package.json) is pushed to the real registry
through its HTTP API; the real Trivy scans it from there (so it knows the image's manifest
digest, as it would any registry image). Offline, Trivy cannot download its vulnerability
database: it reads one written by the test (`tests.integration.trivy_db`) that holds one real
advisory, CVE-2021-23337 (lodash before 4.17.21, fixed in 4.17.21). auditlib ingests Trivy's
report, a policy waives `fixable-vulns-sla` for the image, `auditlib vex export` writes the
waiver as OpenVEX, and Trivy, given it with `--vex`, no longer reports the finding (it lists it
among its `ExperimentalModifiedFindings` as `not_affected`, with the document as its source).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditlib.cli.main import main
from tests.integration.conftest import require_tool
from tests.integration.registry_server import Pusher, RunningRegistry
from tests.integration.trivy_db import Advisory, write_trivy_db

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HINT = "pip install 'auditlib[scanners]', which `make test` does"
LODASH = Advisory("CVE-2021-23337", "npm", "lodash", "<4.17.21", "4.17.21", "HIGH",
                  "Command Injection in lodash")


def _layer() -> tuple[bytes, str]:
    """Return a gzipped layer with lodash 4.17.20 installed, and its diff id."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path, body in (
            ("app/package.json", {"name": "demo-app", "version": "1.0.0",
                                  "dependencies": {"lodash": "4.17.20"}}),
            ("app/node_modules/lodash/package.json",
             {"name": "lodash", "version": "4.17.20", "license": "MIT"}),
        ):
            data = json.dumps(body).encode()
            info = tarfile.TarInfo(path)
            info.size, info.mtime = len(data), 1700000000
            tar.addfile(info, io.BytesIO(data))
    plain = raw.getvalue()
    return gzip.compress(plain, mtime=0), "sha256:" + hashlib.sha256(plain).hexdigest()


def _push(registry: RunningRegistry) -> str:
    """Push the image as `team/node-app:1.0`; return its reference."""
    layer, diff_id = _layer()
    config: dict[str, Any] = {
        "architecture": "amd64", "os": "linux", "created": "2026-11-01T00:00:00Z",
        "config": {"User": "node", "WorkingDir": "/app"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2026-11-01T00:00:00Z", "created_by": "COPY app /app"}],
    }
    Pusher(registry).image("team/node-app", "1.0", config, [layer])
    return f"{registry.host}/team/node-app:1.0"


def _trivy(trivy: Path, cache: Path, ref: str, out: Path, *extra: str) -> dict[str, Any]:
    subprocess.run(
        [str(trivy), "image", "--image-src", "remote", "--insecure", "--cache-dir", str(cache),
         "--skip-db-update", "--skip-java-db-update", "--offline-scan", "--scanners", "vuln",
         "--format", "json", "--quiet", "--disable-telemetry", "-o", str(out), *extra, ref],
        check=True, timeout=300, capture_output=True,
    )
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def _found(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(v["VulnerabilityID"], v["PkgName"], v["InstalledVersion"])
            for r in report.get("Results") or [] for v in r.get("Vulnerabilities") or []]


def test_trivy_drops_the_finding_the_exported_waiver_accepts(
        registry_server: RunningRegistry, tmp_path: Path) -> None:
    trivy = require_tool("trivy", HINT)
    cache = tmp_path / "trivy-cache"
    write_trivy_db(cache, [LODASH])
    ref = _push(registry_server)
    before = _trivy(trivy, cache, ref, tmp_path / "scan.json")
    assert _found(before) == [("CVE-2021-23337", "lodash", "4.17.20")]
    assert before["Metadata"]["RepoDigests"], "scanned from the registry: the digest is known"

    store = tmp_path / "store"
    r = CliRunner().invoke(main, ["ingest", str(tmp_path / "scan.json"), "--store", str(store),
                                  "--quiet"])
    assert r.exit_code == 0, r.output
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "waivers:\n"
        "  - rule: fixable-vulns-sla\n"
        f"    image: \"{registry_server.host}/team/node-app:*\"\n"
        "    reason: \"lodash template() is never called with user input\"\n")
    vex = tmp_path / "waivers.openvex.json"
    # Far enough past the build that the high finding is over its 30-day SLA: the waiver is used.
    r = CliRunner().invoke(main, ["vex", "export", "--store", str(store), "--policy", str(policy),
                                  "--as-of", "2027-06-01", "-o", str(vex)])
    assert r.exit_code == 0, r.output
    doc = json.loads(vex.read_text())
    (stmt,) = doc["statements"]
    assert stmt["vulnerability"]["name"] == "CVE-2021-23337"
    assert stmt["products"][0]["subcomponents"] == [{"@id": "pkg:npm/lodash@4.17.20"}]

    after = _trivy(trivy, cache, ref, tmp_path / "scan-vex.json", "--vex", str(vex),
                   "--show-suppressed")
    assert _found(after) == []
    modified = [m for res in after.get("Results") or []
                for m in res.get("ExperimentalModifiedFindings") or []]
    assert [(m["Status"], m["Finding"]["VulnerabilityID"], m["Source"]) for m in modified] == [
        ("not_affected", "CVE-2021-23337", str(vex))], modified

    # The image named it: the same statement about another digest of the image leaves it.
    other = tmp_path / "other-digest.openvex.json"
    product = stmt["products"][0]["@id"]
    digest = product.split("@", 1)[1].split("?", 1)[0]
    other.write_text(vex.read_text().replace(digest, "sha256%3A" + "0" * 64)
                     .replace(digest.replace("%3A", ":"), "sha256:" + "0" * 64))
    assert digest.replace("%3A", ":") not in other.read_text()
    control = _trivy(trivy, cache, ref, tmp_path / "scan-other.json", "--vex", str(other))
    assert _found(control) == [("CVE-2021-23337", "lodash", "4.17.20")]
