"""What a scanner run could not do is recorded, reported and counted: Trivy without its
vulnerability database (stand-in scanners, `tests.scanners.fakes`; the real Trivy in
tests/integration/test_scan_real.py).

Trivy's words are those of v0.76 (pkg/db/db.go, pkg/commands/artifact/run.go): with
`--skip-db-update` and no database in its cache it exits 1 after one line,
`<time>\tFATAL\tFatal error\trun error: init error: DB error: database error: --skip-db-update
cannot be specified on the first run`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import auditlib
import auditlib.job as job
from auditlib.cli import main
from auditlib.data import AuditData, FileResult
from auditlib.fleet.coverage import coverage
from auditlib.ingest.run_record import apply_run_record, read_run_record
from auditlib.ingest.steps import Collected
from auditlib.job import JobRequest
from auditlib.normalize.capabilities import limitation_line
from auditlib.rows import ScanInfo
from auditlib.scanners import JobStatus, Limitation
from auditlib.scanners._trivy_db import NO_DATABASE, database_failure
from auditlib.scanners.raw_store import RawStore
from auditlib.scanners.runner import run_scans
from auditlib.scanners.targets import ImageArchive
from auditlib.scanners.tools import ScanSettings
from auditlib.store.layout import run_record_file
from tests.scanners import image_archive
from tests.scanners.fakes import TRIVY_DOC, Fakes

OFFLINE = (
    "trivy: no vulnerability database (offline): images scanned for packages, licences, secrets "
    "and misconfigurations only; no vulnerability scan"
)
WITH_DB = '{"Version": "0.76.0", "VulnerabilityDB": {"Version": 2}}'
FIRST_RUN = ("run error: init error: DB error: database error: --skip-db-update cannot be "
             "specified on the first run")
OLD_SCHEMA = ("run error: init error: DB error: database error: validate error: --skip-db-update "
              "cannot be specified with the old DB schema. Local DB: 1, Expected: 2")
BROKEN = ("run error: init error: DB error: error in vulnerability DB initialization: failed to "
          "open db: write /c/db/trivy.db: bad file descriptor")


def _report(image_id: str) -> str:
    """Return a stand-in Trivy body that writes a report of the image `image_id`."""
    doc = {**TRIVY_DOC, "Metadata": {"ImageID": image_id}}
    return f"/bin/cat > \"$out\" <<'EOF'\n{json.dumps(doc)}\nEOF\n"


def _failing_on_vuln(fakes: Fakes, fatal: str, image_id: str) -> str:
    """Return a stand-in Trivy body that fails as the real one does when `--scanners` has vuln
    (`fatal`: what follows `Fatal error`), and writes a report of `image_id` otherwise. Only
    shell builtins: PATH holds the stand-ins alone."""
    return (
        f"while IFS= read -r line; do last=$line; done < '{fakes.log}'\n"
        'case "$last" in *"--scanners vuln"*)\n'
        f"  printf '2026-12-06T09:39:29Z\\tFATAL\\tFatal error\\t%s\\n' '{fatal}' >&2\n"
        "  exit 1;;\nesac\n" + _report(image_id)
    )


def _scanners(call: str) -> str:
    words = call.split()
    return words[words.index("--scanners") + 1]


def test_trivy_without_its_database_leaves_vuln_out_and_says_so(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    path, image_id = archive
    store = tmp_path / "s"
    fakes.add("trivy", _report(image_id))  # `trivy version -f json` lists no VulnerabilityDB
    report = run_scans([ImageArchive(path)], store, tools=["trivy"])
    (job,) = report.jobs
    assert job.status is JobStatus.RAN
    assert _scanners(fakes.calls("trivy")[0]) == "misconfig,secret,license"
    assert job.limitation == Limitation(
        "trivy", ("packages", "license", "secret", "misconfig"), ("vuln",), NO_DATABASE)
    assert report.limitations == [OFFLINE]
    assert report.messages == []  # not a failure
    record = RawStore(store).read_record(report.raw_files[0])
    assert record is not None
    assert record["scanners_run"] == ["packages", "license", "secret", "misconfig"]
    assert record["scanners_skipped"] == ["vuln"]
    assert record["skipped_reason"] == "no vulnerability database (offline)"

    # Ingested, the record decides: no vulnerability scan (the report alone cannot tell).
    data = auditlib.load(*report.raw_files)
    (scan,) = data.scans.to_dict("records")
    assert scan["vulnerability_scan"] is False
    assert scan["scanners_run"] == "packages,license,secret,misconfig"
    assert scan["scanners_skipped"] == "vuln"
    assert scan["scanners_skipped_reason"] == NO_DATABASE
    cov = coverage(data, [image_id])
    assert (cov.vuln_scanned, cov.vuln_skipped, cov.limitations) == (0, 1, [OFFLINE])

    # Already made: skipped, and still said.
    again = run_scans([ImageArchive(path)], store, tools=["trivy"])
    assert again.jobs[0].status is JobStatus.SKIPPED and again.limitations == [OFFLINE]
    assert len(fakes.calls("trivy")) == 1


def test_what_is_asked_beside_vuln_still_runs(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    path, _ = archive
    fakes.add("trivy")
    asked = ScanSettings(trivy_scanners=("vuln", "secret"))
    report = run_scans([ImageArchive(path)], tmp_path / "s", tools=["trivy"], settings=asked)
    assert report.jobs[0].status is JobStatus.RAN
    assert _scanners(fakes.calls("trivy")[0]) == "secret"
    assert report.limitations == [
        "trivy: no vulnerability database (offline): images scanned for packages and secrets "
        "only; no vulnerability scan"
    ]
    # Not asked for vulnerabilities: nothing is missing, nothing said.
    chosen = ScanSettings(trivy_scanners=("secret", "license"))
    other = run_scans([ImageArchive(path)], tmp_path / "t", tools=["trivy"], settings=chosen)
    assert other.jobs[0].status is JobStatus.RAN and other.limitations == []
    (scan,) = auditlib.load(*other.raw_files).scans.to_dict("records")
    assert scan["vulnerability_scan"] is False and pd.isna(scan["scanners_skipped"])


def test_with_its_database_trivy_scans_for_vulnerabilities(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    path, image_id = archive
    fakes.add("trivy", _report(image_id), version=WITH_DB)
    report = run_scans([ImageArchive(path)], tmp_path / "s", tools=["trivy"])
    assert _scanners(fakes.calls("trivy")[0]) == "vuln,misconfig,secret,license"
    assert report.jobs[0].limitation is None and report.limitations == []
    data = auditlib.load(*report.raw_files)
    # A report with no result cannot say its vulnerability scanner ran; the record does.
    assert data.scans["vulnerability_scan"].tolist() == [True]
    assert data.scans["scanners_skipped"].isna().all()
    assert coverage(data, [image_id]).vuln_scanned == 1


@pytest.mark.parametrize(
    ("fatal", "reason"),
    [
        (FIRST_RUN, NO_DATABASE),
        (OLD_SCHEMA, "vulnerability database unusable (database error: validate error: "
                     "--skip-db-update cannot be specified with the old DB schema. Local DB: 1, "
                     "Expected: 2)"),
        (BROKEN, "vulnerability database unusable (error in vulnerability DB initialization: "
                 "failed to open db: write /c/db/trivy.db: bad file descriptor)"),
    ],
)
def test_a_run_that_fails_on_the_database_runs_again_without_vuln(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str], fatal: str, reason: str
) -> None:
    # `trivy version` lists a database, but the scan cannot use it.
    path, image_id = archive
    fakes.add("trivy", _failing_on_vuln(fakes, fatal, image_id), version=WITH_DB)
    report = run_scans([ImageArchive(path)], tmp_path / "s", tools=["trivy"])
    first, second = fakes.calls("trivy")
    assert _scanners(first) == "vuln,misconfig,secret,license"
    assert _scanners(second) == "misconfig,secret,license"
    (job,) = report.jobs
    assert job.status is JobStatus.RAN and report.messages == []
    assert report.limitations == [
        f"trivy: {reason}: images scanned for packages, licences, secrets and misconfigurations "
        "only; no vulnerability scan"
    ]
    (scan,) = auditlib.load(*report.raw_files).scans.to_dict("records")
    assert scan["vulnerability_scan"] is False
    assert scan["scanners_skipped"] == "vuln" and scan["scanners_skipped_reason"] == reason


def test_other_failures_are_failures(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    path, _ = archive
    fakes.add("trivy", "echo 'FATAL image scan error: no space left' >&2\nexit 1\n",
              version=WITH_DB)
    report = run_scans([ImageArchive(path)], tmp_path / "s", tools=["trivy"])
    assert report.jobs[0].status is JobStatus.FAILED and len(fakes.calls("trivy")) == 1
    assert report.limitations == []
    # Asked for vulnerabilities only: nothing smaller would run, so the failure stands.
    fakes.add("trivy", _failing_on_vuln(fakes, FIRST_RUN, "sha256:" + "0" * 64),
              version=WITH_DB)
    only = run_scans([ImageArchive(path)], tmp_path / "s", tools=["trivy"],
                     settings=ScanSettings(trivy_scanners=("vuln",)))
    assert only.jobs[0].status is JobStatus.FAILED
    assert "--skip-db-update cannot be specified on the first run" in (only.jobs[0].reason or "")


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        (f"2026-12-06T09:39:29Z\tFATAL\tFatal error\t{FIRST_RUN}\n", NO_DATABASE),
        ("2026-12-06T09:39:31Z\tFATAL\tFatal error\trun error: init error: DB error: failed to "
         "download vulnerability DB: OCI artifact error: failed to download vulnerability DB\n"
         "\t* Get \"https://mirror.gcr.io/v2/\": dial tcp: lookup mirror.gcr.io: no such host\n",
         "no vulnerability database (download failed)"),
        ("FATAL\tFatal error\trun error: image scan error: unable to analyze\n", None),
        ("", None),
    ],
)
def test_database_failure_reads_trivys_words(stderr: str, reason: str | None) -> None:
    assert database_failure(stderr) == reason


def test_the_record_decides_only_for_its_own_output(tmp_path: Path) -> None:
    out = tmp_path / "trivy-0.76.0.trivy-json.json"
    out.write_text("{}")
    record = {"tool": "trivy", "format": "trivy-json", "options": ["secret"]}
    run_record_file(out).write_text(json.dumps(record))
    # A record written before runs listed what they covered: Trivy's options say it.
    scan = ScanInfo(vulnerability_scan=True)
    apply_run_record(scan, read_run_record(out), "trivy-json")
    assert (scan.vulnerability_scan, scan.scanners_run) == (False, "packages,secret")
    # Another format's record, none, or one that is not an object: the document decides.
    for given in ({**record, "format": "syft-json"}, None):
        scan = ScanInfo(vulnerability_scan=True)
        apply_run_record(scan, given, "trivy-json")
        assert (scan.vulnerability_scan, scan.scanners_run) == (True, None)
    run_record_file(out).write_text("[1, 2]")
    assert read_run_record(out) is None
    run_record_file(out).unlink()
    os.mkfifo(run_record_file(out))  # never waited on
    assert read_run_record(out) is None


def test_limitation_line() -> None:
    assert limitation_line("trivy", NO_DATABASE, ["misconfig", "packages"], ["vuln"]) == (
        "trivy: no vulnerability database (offline): images scanned for packages and "
        "misconfigurations only; no vulnerability scan")
    assert limitation_line("trivy", "x", [], ["vuln"]) == (
        "trivy: x: nothing scanned; no vulnerability scan")


def test_cli_scan_prints_one_line_per_limitation(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str]
) -> None:
    path, _ = archive
    second = tmp_path / "b.tar"
    image_archive(second, {"x": b"y"})
    fakes.add("syft")
    fakes.add("trivy")
    result = CliRunner().invoke(main, ["scan", "--archive", str(path), "--archive", str(second),
                                       "--store", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines.count(f"warning: {OFFLINE}") == 1  # two images, one limitation
    assert "missing: grype: not found on PATH" in result.output


def test_run_notes_the_limitation_and_its_summary_counts_it(
    fakes: Fakes, tmp_path: Path, archive: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # `auditlib run` scans the engine's tagged images: here, the engine is an archive.
    path, image_id = archive
    fakes.add("syft")
    fakes.add("trivy", _report(image_id))
    engine = AuditData(files=[FileResult("unix:///x.sock", "docker-engine", "1")])
    monkeypatch.setattr(job, "collect_into", lambda *_a, **_k: Collected(engine, None))
    monkeypatch.setattr(job, "_scan_targets", lambda _e, _n: [ImageArchive(path)])
    notes: list[str] = []
    done = job.run_job(JobRequest(store=tmp_path / "s", out=tmp_path / "out"), note=notes.append)
    assert OFFLINE in notes
    summary = json.loads((done.folder / "assessment.json").read_text())
    assert summary["coverage"]["vuln_scanned"] == 0
    assert summary["coverage"]["vuln_skipped"] == 1
    assert summary["coverage"]["limitations"] == [OFFLINE]
    assert summary["unknown"]["vulnerabilities"] == 1
    assert image_id in done.assessment.view.image_ids
