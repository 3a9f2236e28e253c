"""`run_scans` and `auditlib scan` with stand-in scanners: small shell scripts put on PATH that
answer the version command and write (or fail to write) an output, so that every outcome of a job
can be made on purpose. The real scanners run in tests/integration/test_scan_real.py.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import docker
import pytest
from click.testing import CliRunner

import auditlib
from auditlib.cli import main
from auditlib.scanners import read_archive_image_id, tools
from auditlib.scanners.raw_store import RawStore, dockerfile_key, image_key
from auditlib.scanners.report import JobResult, JobStatus, ScanReport
from auditlib.scanners.runner import run_scans
from auditlib.scanners.targets import (
    Dockerfile,
    EngineImage,
    EngineUnreachableError,
    ImageArchive,
    connect_engine,
    engine_error_message,
)
from auditlib.scanners.tools import ScanSettings, TargetError, TargetKind
from auditlib.sources._archive_members import ArchiveLimits
from auditlib.store import list_snapshots, read_snapshot
from tests.scanners import image_archive, oci_archive
from tests.scanners.fakes import FILES, HADOLINT_DOC, SYFT_DOC, Fakes
from tests.test_hostile_input import _gzip_bomb


def statuses(report: ScanReport) -> list[tuple[str, str, str]]:
    return [(Path(j.target).name, j.tool, str(j.status)) for j in report.jobs]


# --- archives -------------------------------------------------------------------------------


def test_docker_archive_image_id_is_the_config_digest(archive: tuple[Path, str]) -> None:
    path, image_id = archive
    assert read_archive_image_id(path) == (TargetKind.DOCKER_ARCHIVE, image_id)


def test_compressed_and_oci_archives(tmp_path: Path) -> None:
    gz = tmp_path / "app.tar.gz"
    image_id = image_archive(gz, FILES, compress=True)
    assert read_archive_image_id(gz) == (TargetKind.DOCKER_ARCHIVE, image_id)
    oci = tmp_path / "oci.tar"
    config_digest = oci_archive(oci, FILES)
    assert read_archive_image_id(oci) == (TargetKind.OCI_ARCHIVE, config_digest)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda p: p.write_text("FROM x\n"), "not a readable image archive"),
        (lambda p: p.write_bytes(b""), "not a readable image archive"),
        (lambda p: image_archive(p, FILES, images=2), "holds 2 images; scan takes one"),
    ],
)
def test_unreadable_archives(tmp_path: Path, make: Any, error: str) -> None:
    path = tmp_path / "x.tar"
    make(path)
    with pytest.raises(TargetError, match=error):
        read_archive_image_id(path)


def test_archive_without_manifest(tmp_path: Path) -> None:
    import tarfile

    path = tmp_path / "plain.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(__file__, arcname="notes.txt")
    with pytest.raises(TargetError, match=r"no manifest\.json or index\.json"):
        read_archive_image_id(path)


# --- running, skipping ---------------------------------------------------------------------


def test_every_tool_runs_once_then_skips(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str], dockerfile: Path
) -> None:
    for name in ("syft", "trivy", "hadolint"):
        fakes.add(name)
    path, image_id = archive
    store = tmp_path / "store"
    seen: list[tuple[int, int, JobResult | None]] = []
    report = run_scans([ImageArchive(path), Dockerfile(dockerfile)], store,
                       progress=lambda d, t, r: seen.append((d, t, r)))
    assert statuses(report) == [
        ("app.tar", "syft", "ran"), ("app.tar", "trivy", "ran"), ("app.tar", "grype", "missing"),
        ("Dockerfile", "hadolint", "ran"),
    ]
    key = image_key(image_id)
    dkey = dockerfile_key(dockerfile.read_bytes())
    assert report.raw_files == [
        store / "raw" / key / "syft-1.18.1.syft-json.json",
        store / "raw" / key / "trivy-0.76.0.trivy-json.json",
        store / "raw" / dkey / "hadolint-2.15.1.hadolint-json.json",
    ]
    assert seen[0] == (1, 4, None) and [d for d, _, _ in seen] == [1, 2, 3, 4]
    assert len(fakes.calls()) == 3
    syft_call = fakes.calls("syft")[0].split()
    assert syft_call[1:3] == ["scan", f"docker-archive:{path}"]

    again = run_scans([ImageArchive(path), Dockerfile(dockerfile)], store)
    assert [j.status for j in again.jobs if j.tool != "grype"] == [JobStatus.SKIPPED] * 3
    assert again.raw_files == report.raw_files
    assert len(fakes.calls()) == 3  # nothing ran

    forced = run_scans([ImageArchive(path)], store, tools=["syft"], force=True)
    assert statuses(forced) == [("app.tar", "syft", "ran")]
    assert len(fakes.calls("syft")) == 2

    data = auditlib.load(*report.raw_files)
    assert [f.error for f in data.files] == [None] * 3
    assert sorted(data.scans["tool"].astype(str)) == ["hadolint", "syft", "trivy"]


def test_a_new_tool_version_runs_again(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    fakes.add("syft")
    path, _ = archive
    run_scans([ImageArchive(path)], tmp_path / "s", tools=["syft"])
    fakes.add("syft", version='{"version": "1.19.0"}')
    report = run_scans([ImageArchive(path)], tmp_path / "s", tools=["syft"])
    assert report.jobs[0].status is JobStatus.RAN and report.jobs[0].tool_version == "1.19.0"
    assert report.raw_files[0].name == "syft-1.19.0.syft-json.json"


def test_the_same_image_twice_is_scanned_once(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    fakes.add("syft")
    path, _ = archive
    copy = tmp_path / "copy.tar"
    copy.write_bytes(path.read_bytes())
    report = run_scans([ImageArchive(path), ImageArchive(copy)], tmp_path / "s", tools=["syft"])
    assert statuses(report) == [("app.tar", "syft", "ran")]
    assert report.notes == [f"{copy}: same content as {path}; scanned once"]


def test_trivy_scanners_and_what_an_output_covers(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    path, _ = archive
    store = tmp_path / "s"
    fakes.add("trivy")
    # No vulnerability database: vuln is left out (tests/scanners/test_limitations.py says how
    # that is said); asked alone, it is refused.
    report = run_scans([ImageArchive(path)], store, tools=["trivy"])
    call = fakes.calls("trivy")[0].split()
    assert call[call.index("--scanners") + 1] == "misconfig,secret,license"
    for flag in ("--skip-db-update", "--offline-scan", "--disable-telemetry", "--quiet"):
        assert flag in call
    assert call[call.index("--cache-backend") + 1] == "memory"
    record = RawStore(store).read_record(report.raw_files[0])
    assert record is not None and record["options"] == ["license", "misconfig", "secret"]

    asked = ScanSettings(trivy_scanners=("vuln",))
    refused = run_scans([ImageArchive(path)], store, tools=["trivy"], settings=asked)
    assert refused.jobs[0].status is JobStatus.FAILED
    assert "trivy image --download-db-only" in (refused.jobs[0].reason or "")

    # Asking less than the output covers: skipped. With a database, vuln is in by default.
    fewer = ScanSettings(trivy_scanners=("secret",))
    assert run_scans([ImageArchive(path)], store, tools=["trivy"], settings=fewer).jobs[
        0
    ].status is JobStatus.SKIPPED
    fakes.add("trivy", version='{"Version": "0.76.0", "VulnerabilityDB": {"Version": 2}}')
    report = run_scans([ImageArchive(path)], store, tools=["trivy"])
    assert report.jobs[0].status is JobStatus.RAN
    call = fakes.calls("trivy")[-1].split()
    assert call[call.index("--scanners") + 1] == "vuln,misconfig,secret,license"


def test_grype_command_line_and_output(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    fakes.add("grype")
    path, image_id = archive
    report = run_scans([ImageArchive(path)], tmp_path / "s", tools=["grype"])
    assert statuses(report) == [("app.tar", "grype", "ran")]
    (call,) = fakes.calls("grype")
    assert call.split()[1:] == [f"docker-archive:{path}", "--quiet", "--output", "json", "--file",
                                call.split()[-1]]
    assert report.raw_files == [
        tmp_path / "s" / "raw" / image_key(image_id) / "grype-0.86.1.grype-json.json"
    ]
    data = auditlib.load(*report.raw_files)
    assert data.files[0].error is None and data.scans["tool"].tolist() == ["grype"]


def test_oci_archives_are_scanned_as_such(fakes: Fakes, tmp_path: Path) -> None:
    fakes.add("syft")
    path = tmp_path / "oci.tar"
    oci_archive(path, FILES)
    run_scans([ImageArchive(path)], tmp_path / "s", tools=["syft"])
    assert f"oci-archive:{path}" in fakes.calls("syft")[0].split()


# --- what goes wrong -----------------------------------------------------------------------


def test_missing_tool_is_one_message_naming_it_and_how_to_install(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    path, _ = archive
    second = tmp_path / "b.tar"
    image_archive(second, {"x": b"y"})
    report = run_scans([ImageArchive(path), ImageArchive(second)], tmp_path / "s",
                       tools=["syft", "grype"])
    assert [j.status for j in report.jobs] == [JobStatus.MISSING] * 4
    assert report.messages == [
        f"syft: not found on PATH or in {tools.python_bin_dir()}; "
        "install it with `pip install 'auditlib[scanners]'`",
        f"grype: not found on PATH or in {tools.python_bin_dir()}; grype has no PyPI wheel: "
        "install it as https://github.com/anchore/grype#installation says",
    ]
    assert report.nothing_done and report.raw_files == []


def test_failing_tool_names_tool_target_exit_code_and_stderr_and_the_rest_goes_on(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    fakes.add("syft")
    lines = "".join(f"echo 'trivy log line {i}' >&2\n" for i in range(1, 10))
    fakes.add("trivy", f"echo '{{\"partial\": ' > \"$out\"\n{lines}exit 3\n")
    path, _ = archive
    report = run_scans([ImageArchive(path)], tmp_path / "s", tools=["syft", "trivy"])
    assert statuses(report) == [("app.tar", "syft", "ran"), ("app.tar", "trivy", "failed")]
    reason = report.jobs[1].reason or ""
    assert reason.startswith(f"trivy failed on {path} with exit code 3: ")
    assert "trivy log line 9" in reason and "trivy log line 5" in reason
    assert "trivy log line 4" not in reason  # the last lines only
    assert report.messages == [reason]
    # The half-written output is gone; the good one is kept.
    (folder,) = (tmp_path / "s" / "raw").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == [
        ".syft-1.18.1.syft-json.json.run.json", "syft-1.18.1.syft-json.json",
    ]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("exit 0\n", "it wrote no output"),
        ("echo '{\"artifacts\": [' > \"$out\"\n", "its output is not a complete JSON document"),
        ("echo 'Error: oops' > \"$out\"\n", "its output is not JSON"),
    ],
)
def test_a_tool_that_exits_0_without_a_report_failed(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str], body: str, problem: str
) -> None:
    fakes.add("syft", body)
    path, _ = archive
    report = run_scans([ImageArchive(path)], tmp_path / "s", tools=["syft"])
    assert report.jobs[0].status is JobStatus.FAILED
    assert report.jobs[0].reason == (
        f"syft failed on {path}: {problem} (exit code 0): (nothing on stderr)"
    )
    (folder,) = (tmp_path / "s" / "raw").iterdir()
    assert list(folder.iterdir()) == []


def test_a_run_past_its_timeout_is_stopped(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    fakes.add("syft", "echo 'cataloging' >&2\nexec /bin/sleep 30\n")
    path, _ = archive
    started = time.monotonic()
    report = run_scans([ImageArchive(path)], tmp_path / "s", tools=["syft"],
                       settings=ScanSettings(timeout=1))
    assert time.monotonic() - started < 20
    assert report.jobs[0].status is JobStatus.FAILED
    assert report.jobs[0].reason == (
        f"syft on {path}: stopped after the 1 s timeout; stderr ends: cataloging"
    )


def test_hadolint_exit_1_with_findings_is_a_report(
    fakes: Fakes, tmp_path: Path, dockerfile: Path
) -> None:
    fakes.add("hadolint", f"echo '{json.dumps(HADOLINT_DOC)}'\nexit 1\n")
    report = run_scans([Dockerfile(dockerfile)], tmp_path / "s")
    assert statuses(report) == [("Dockerfile", "hadolint", "ran")]
    (call,) = fakes.calls("hadolint")
    assert call.split()[1:] == ["--no-color", "--no-fail", "--format", "json", str(dockerfile)]
    data = auditlib.load(*report.raw_files)
    assert data.misconfigurations["rule_id"].tolist() == ["DL3007"]

    fakes.add("hadolint", "echo 'hadolint: Dockerfile: withBinaryFile: permission denied' >&2\n"
                          "exit 1\n")
    failed = run_scans([Dockerfile(dockerfile)], tmp_path / "s", force=True)
    assert failed.jobs[0].reason == (
        f"hadolint failed on {dockerfile}: it wrote no output (exit code 1): "
        "hadolint: Dockerfile: withBinaryFile: permission denied"
    )


def test_a_tool_whose_version_cannot_be_read_fails_its_jobs(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    fakes.add("syft", version="not json")
    path, _ = archive
    report = run_scans([ImageArchive(path)], tmp_path / "s", tools=["syft"])
    assert report.jobs[0].status is JobStatus.FAILED
    reason = report.jobs[0].reason or ""
    assert reason.startswith("syft: `syft version -o json` printed no version")


def test_unreadable_targets_fail_their_jobs_only(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    fakes.add("syft")
    bad = tmp_path / "notes.tar"
    bad.write_text("not a tar")
    path, _ = archive
    report = run_scans([ImageArchive(bad), ImageArchive(path)], tmp_path / "s", tools=["syft"])
    assert statuses(report) == [("notes.tar", "syft", "failed"), ("app.tar", "syft", "ran")]
    assert report.target_errors == [report.jobs[0].reason]
    assert (report.jobs[0].reason or "").startswith(f"{bad}: not a readable image archive")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown scanner clair"):
        run_scans([], "s", tools=["clair"])
    with pytest.raises(ValueError, match="workers must be at least 1"):
        run_scans([], "s", workers=0)
    with pytest.raises(ValueError, match="unknown trivy scanner rbac"):
        ScanSettings(trivy_scanners=("rbac",))


def test_jobs_run_in_parallel_up_to_workers(
    fakes: Fakes, tmp_path: Path
) -> None:
    fakes.add("syft", f"/bin/sleep 1\n/bin/cat > \"$out\" <<'EOF'\n{json.dumps(SYFT_DOC)}\nEOF\n")
    targets = []
    for i in range(4):
        p = tmp_path / f"{i}.tar"
        image_archive(p, {"f": str(i).encode()})
        targets.append(ImageArchive(p))
    started = time.monotonic()
    report = run_scans(targets, tmp_path / "s", tools=["syft"], workers=4)
    assert [j.status for j in report.jobs] == [JobStatus.RAN] * 4
    assert time.monotonic() - started < 3.5  # four 1 s runs at once, not one after another


# --- engine images (a stand-in client; tests/integration runs a real engine) ---------------


class _FakeImage:
    def __init__(self, image_id: str, tar: bytes) -> None:
        self.id = image_id
        self.tar = tar
        self.saved = 0

    def save(self, named: bool = False) -> Any:
        assert named is True
        self.saved += 1
        yield self.tar[:100]
        yield self.tar[100:]


class _FakeImages:
    def __init__(self, images: dict[str, _FakeImage]) -> None:
        self.images = images

    def get(self, ref: str) -> _FakeImage:
        if ref not in self.images:
            raise docker.errors.ImageNotFound(f"No such image: {ref}")
        return self.images[ref]


class _FakeClient:
    def __init__(self, images: dict[str, _FakeImage]) -> None:
        self.images = _FakeImages(images)


def test_engine_images_are_exported_once_scanned_and_deleted(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    fakes.add("syft")
    fakes.add("trivy")
    path, image_id = archive
    image = _FakeImage(image_id, path.read_bytes())
    client = _FakeClient({"team/app:1.0": image})
    store = tmp_path / "s"
    targets = [EngineImage("team/app:1.0", client, "unix:///x.sock"),
               EngineImage("team/gone:1", client, "unix:///x.sock")]
    report = run_scans(targets, store, tools=["syft", "trivy"])
    assert statuses(report) == [
        ("app:1.0", "syft", "ran"), ("app:1.0", "trivy", "ran"),
        ("gone:1", "syft", "failed"), ("gone:1", "trivy", "failed"),
    ]
    assert report.target_errors == ["team/gone:1: no such image on the Docker Engine at unix:///x.sock"]
    assert image.saved == 1  # one export for both tools
    assert report.raw_files[0].parent.name == image_key(image_id)
    exported = fakes.calls("syft")[0].split()[2].removeprefix("docker-archive:")
    assert Path(exported).parent == store / "tmp"
    assert list((store / "tmp").iterdir()) == []  # deleted after the last job

    again = run_scans(targets[:1], store, tools=["syft", "trivy"])
    assert [j.status for j in again.jobs] == [JobStatus.SKIPPED] * 2
    assert image.saved == 1  # nothing to scan: no export either


@pytest.mark.parametrize(
    ("error", "says"),
    [
        ("Error while fetching server API version: ('Connection aborted.', "
         "PermissionError(13, 'Permission denied'))",
         "permission denied; run as a user in the `docker` group"),
        ("Error while fetching server API version: ('Connection aborted.', "
         "FileNotFoundError(2, 'No such file or directory'))",
         "no such socket; is dockerd running?"),
        ("Error while fetching server API version: ... [Errno 111] Connection refused",
         "connection refused; is dockerd listening there?"),
    ],
)
def test_engine_error_says_which_engine_and_how_to_fix(error: str, says: str) -> None:
    sock = "unix:///var/run/docker.sock"
    message = engine_error_message(sock, docker.errors.DockerException(error))
    assert message.startswith(f"cannot connect to the Docker Engine at {sock}: ")
    assert says in message and "\n" not in message


def test_connect_engine_to_nothing(tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/docker.sock"
    with pytest.raises(EngineUnreachableError, match=f"at {url}: no such socket"):
        connect_engine(url, timeout=5)


# --- the command ---------------------------------------------------------------------------


def test_cli_scans_ingests_and_writes_a_snapshot(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str], dockerfile: Path
) -> None:
    for name in ("syft", "trivy", "hadolint"):
        fakes.add(name)
    path, _ = archive
    store = tmp_path / "store"
    args = ["scan", "--archive", str(path), "--dockerfile", str(dockerfile), "--store", str(store)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (snap,) = list_snapshots(store)
    assert result.output.splitlines()[-1] == (
        f"scan: 3 ran, 0 skipped (already done), 0 failed, 1 tool missing; "
        f"snapshot written: {snap}"
    )
    assert "missing: grype: not found on PATH" in result.output
    data = read_snapshot(snap)
    assert sorted(data.scans["tool"].astype(str)) == ["hadolint", "syft", "trivy"]
    manifest = json.loads((snap / "manifest.json").read_text())
    assert manifest["sources"] == [str(path), str(dockerfile)]

    again = CliRunner().invoke(main, [*args, "--tools", "syft,trivy,hadolint"])
    assert again.exit_code == 0
    assert again.output.splitlines()[-1].startswith(
        "scan: 0 ran, 3 skipped (already done), 0 failed, 0 tool missing; snapshot written: "
    )
    assert len(list_snapshots(store)) == 2


def test_cli_exit_codes(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = archive
    store = ["--store", str(tmp_path / "store")]
    run = CliRunner().invoke
    # Some runs failed: reported, exit 0.
    fakes.add("syft")
    fakes.add("trivy", "echo 'FATAL boom' >&2\nexit 1\n")
    some = run(main, ["scan", "--archive", str(path), "--tools", "syft,trivy", *store])
    assert some.exit_code == 0
    assert f"error: trivy failed on {path} with exit code 1: FATAL boom" in some.output
    # Every run failed: exit 2, no snapshot.
    every = run(main, ["scan", "--archive", str(path), "--tools", "trivy", *store])
    assert every.exit_code == 2
    assert every.output.splitlines()[-1] == (
        "scan: 0 ran, 0 skipped (already done), 1 failed, 0 tool missing; "
        "nothing to ingest, no snapshot written"
    )
    # Bad usage.
    for args in ([], ["img", "--all"], ["--archive", str(path), "--tools", "clair"],
                 ["--archive", str(tmp_path / "nope.tar")], ["--archive", str(path),
                 "--trivy-scanners", "vuln,rbac"]):
        assert run(main, ["scan", *args, *store]).exit_code == 2, args
    # The engine cannot be reached: one line, exit 2.
    sock = f"unix://{tmp_path}/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", sock)
    down = run(main, ["scan", "app:1", *store])
    assert down.exit_code == 2
    assert down.output.strip() == (
        f"error: cannot connect to the Docker Engine at {sock}: no such socket; "
        "is dockerd running? start it, or set --engine/DOCKER_HOST"
    )
    assert os.environ["DOCKER_HOST"] == sock


def test_scan_reads_an_archive_within_the_collectors_limits(tmp_path: Path) -> None:
    # `auditlib scan --archive` reads the archive as `collect --archive` does: a FIFO is refused
    # without waiting, a decompression bomb is stopped at its limit.
    fifo = tmp_path / "image.tar"
    os.mkfifo(fifo)
    with pytest.raises(TargetError, match="not a regular file"):
        read_archive_image_id(fifo)
    bomb = _gzip_bomb(tmp_path / "bomb.tar.gz", size=512 * 1024**2)
    with pytest.raises(TargetError, match="max_member_bytes|max_compression_ratio"):
        read_archive_image_id(bomb, ArchiveLimits(max_member_bytes=64 * 1024**2))
