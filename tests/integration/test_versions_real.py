"""One package, one version (issue 13): a real Debian bookworm root filesystem (debootstrap
minbase, `docker import`ed into the real Docker Engine the tests start), scanned with the real
Syft and Trivy through `auditlib scan`, gives each tool's packages exactly the (name, version)
pairs `dpkg-query -W` prints inside the image.

Before versions were written as the distribution writes them, Syft's matched dpkg's and Trivy's
did not (Trivy gives `Version`, `Release` and `Epoch` apart: `bash` 5.2.15 for dpkg's
`5.2.15-2+b13`, `bsdutils` 2.38.1 for `1:2.38.1-5+deb12u3`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from auditlib.cli import main
from auditlib.store import list_snapshots, read_snapshot
from tests.integration.conftest import require_tool
from tests.integration.engine import Engine, debian_rootfs, import_image

pytestmark = pytest.mark.integration

HINT = "pip install 'auditlib[scanners]', which `make test` does"
REF = "versions/debian:bookworm"
DPKG_QUERY = ["dpkg-query", "-W", "-f", "${Package}\t${Version}\n"]


def _dpkg_packages(engine: Engine) -> set[tuple[str, str]]:
    """Return (name, version) of every package dpkg knows in the image, as dpkg-query prints."""
    out = engine.client.containers.run(REF, DPKG_QUERY, network_mode="none", remove=True)
    lines = out.decode().splitlines()
    pairs = {tuple(line.split("\t")) for line in lines if line}
    assert all(len(p) == 2 for p in pairs), lines[:5]
    return {(p[0], p[1]) for p in pairs}


def test_syft_and_trivy_packages_equal_dpkg_query(docker_engine: Engine, tmp_path: Path) -> None:
    for tool in ("syft", "trivy"):
        require_tool(tool, HINT)
    image_id = import_image(docker_engine, debian_rootfs().read_bytes(), REF, 'CMD ["bash"]')
    dpkg = _dpkg_packages(docker_engine)
    assert len(dpkg) > 50 and ("bash", "5.2.15-2+b13") in dpkg
    assert any(":" in version for _, version in dpkg)  # some have an epoch (bsdutils, login)

    store = tmp_path / "store"
    result = CliRunner().invoke(main, [
        "scan", REF, "--engine", docker_engine.url, "--store", str(store), "--tools", "syft,trivy"])
    assert result.exit_code == 0, result.output
    (snap,) = list_snapshots(store)
    data = read_snapshot(snap)
    assert set(data.scans["image_id"].astype(str)) == {image_id}

    pk = data.packages[data.packages["package_type"] == "deb"]
    for fmt in ("syft-json", "trivy-json"):
        rows = pk[pk["source_format"].astype(str).str.startswith(fmt)]
        found = set(zip(rows["name"].astype(str), rows["version"].astype(str), strict=True))
        assert len(found) == len(rows), f"{fmt}: a package listed twice"
        assert found - dpkg == set() and dpkg - found == set(), fmt
