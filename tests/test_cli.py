"""The command line: summarize's JSON shape, ingest's snapshot, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditlib.cli import main
from auditlib.policy.rules import RULES
from auditlib.store import list_snapshots, read_current, read_latest
from tests.samples import TRIVY


def _fleet(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "good.json").write_text(json.dumps(TRIVY))
    (d / "notes.md").write_text("# notes")
    return d


def test_summarize_prints_the_documented_shape(tmp_path: Path) -> None:
    d = _fleet(tmp_path)
    result = CliRunner().invoke(main, ["summarize", str(d)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out) == ["files"]
    (f,) = out["files"]
    assert list(f) == ["path", "format", "format_version", "rows", "error"]
    assert f["format"] == "trivy-json" and f["format_version"] == "2" and f["error"] is None
    assert f["rows"]["vulnerabilities"] == 1 and f["rows"]["scans"] == 1
    assert (f"skipped: {d / 'notes.md'}: not a JSON document (text that does not begin with "
            "'{' or '[', no .json name)") in result.stderr


def test_summarize_exits_2_when_a_file_cannot_be_read(tmp_path: Path) -> None:
    d = _fleet(tmp_path)
    (d / "broken.json").write_text("{")
    result = CliRunner().invoke(main, ["summarize", str(d)])
    assert result.exit_code == 2
    files = json.loads(result.stdout)["files"]
    assert [f["error"] is not None for f in files] == [True, False]


def test_summarize_exits_2_on_a_missing_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["summarize", str(tmp_path / "nope")])
    assert result.exit_code == 2


def test_ingest_writes_a_snapshot_that_reads_back(tmp_path: Path) -> None:
    d = _fleet(tmp_path)
    store = tmp_path / "store"
    result = CliRunner().invoke(main, ["ingest", str(d), "--store", str(store), "--quiet"])
    assert result.exit_code == 0, result.output
    (snap,) = list_snapshots(store)
    manifest = json.loads((snap / "manifest.json").read_text())
    assert manifest["rows"]["vulnerabilities"] == 1
    data = read_latest(store)
    assert data.vulnerabilities["vuln_id"].tolist() == ["CVE-2024-0001"]
    assert str(data.vulnerabilities["severity"].dtype) == "category"
    assert data.vulnerabilities["severity"].cat.ordered
    assert str(data.scans["generated_at"].dtype) == "datetime64[ns, UTC]"


def test_no_command_is_bad_usage() -> None:
    result = CliRunner().invoke(main, ["summarize"])
    assert result.exit_code == 2


@pytest.mark.slow  # both reports executed, twice
def test_demo_makes_a_synthetic_fleet_and_ingests_it(tmp_path: Path) -> None:
    for _ in range(2):  # a second demo into the same folder makes its history again
        result = CliRunner().invoke(main, ["demo", "--images", "8", "--out", str(tmp_path),
                                           "--store", str(tmp_path / "demo-store")])
        assert result.exit_code == 0, result.output
    assert "SYNTHETIC demo fleet: 8 app images of " in result.output
    # The figures printed are the assessment's, as every page of the run shows them.
    run = sorted(tmp_path.glob("run-*"))[-1]
    pages = {n: json.loads((run / f"{n}.json").read_text())["results"]
             for n in ("compliance", "staleness")}
    summary = pages["compliance"]["assessment"]
    assert pages["staleness"]["assessment"] == summary
    n, cov = summary["images"], summary["coverage"]
    assert (f"images: {n} in the store's current state: {cov['vuln_scanned']} with a "
            f"vulnerability scan, {cov['with_sbom']} with an SBOM") in result.output
    counts = summary["policy"]["results"]
    results = ", ".join(f"{counts[k]} {k}" for k in ("fail", "warn", "no-data", "waived", "pass"))
    assert f"policy: {n} images x {len(RULES)} rules: {results}" in result.output
    eol = summary["eol"]
    assert f"end of life: {eol['past']} images on an OS past its end of life" in result.output
    assert pages["staleness"]["headline"]["os_eol"] == eol["past"]
    assert f"store: {tmp_path / 'demo-store'}: 4 snapshots" in result.output
    assert len(list_snapshots(tmp_path / "demo-store")) == 4
    # images are images: each counted once, however many documents and sources name it
    data = read_current(tmp_path / "demo-store")
    named = set()
    for df in (data.images, data.scans, data.containers, data.registry_tags):
        named |= set(df["image_id"].dropna().astype(str))
    assert len(named) == n < len(data.scans)
    assert (data.image_labels["label"] == "org.auditlib.synthetic").sum() >= n
    assert data.load_errors.empty  # the fleet's README.txt is not ingested


def test_demo_leaves_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "demo-fleet").mkdir()
    (tmp_path / "demo-fleet" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(main, ["demo", "--images", "2", "--out", str(tmp_path),
                                       "--store", str(tmp_path / "demo-store")])
    assert result.exit_code == 2
    assert "demo-fleet: exists and is not a synthetic demo fleet an earlier `auditlib demo` made" \
        in result.output
    assert (tmp_path / "demo-fleet" / "notes.txt").read_text() == "mine"


def test_demo_never_writes_into_a_store_of_other_data(tmp_path: Path) -> None:
    real = tmp_path / "store"
    (real / "snapshots").mkdir(parents=True)
    (real / "snapshots" / "keep").write_text("real data")
    result = CliRunner().invoke(main, ["demo", "--images", "2", "--out", str(tmp_path / "out"),
                                       "--store", str(real)])
    assert result.exit_code == 2
    assert "not a demo store" in result.output and "give another --store" in result.output
    assert (real / "snapshots" / "keep").read_text() == "real data"
