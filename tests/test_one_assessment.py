"""One assessment, every face: the whole shared corpus, ingested twice (the second time
re-serialised, so the store has a history), then `check --format json`, `staleness --format
json`, `report all` and `run` on that store at one as-of time. Nothing raises, and the status
counts, end-of-life verdicts, SLA verdicts and headline figures are equal on every face.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auditlib.cli import main
from tests.conftest import corpus_path

AS_OF = "2026-12-01"

pytestmark = [pytest.mark.corpus, pytest.mark.slow]


def _invoke(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output, result.output
    return result


def _files_read(output: str) -> int:
    match = re.search(r"^(\d+) files read", output, re.MULTILINE)
    assert match, output
    return int(match.group(1))


def _reserialise(src: Path, dst: Path) -> None:
    """Copy the corpus, every JSON document written again with other whitespace (same data,
    other bytes: the store reads them again and keeps both snapshots)."""
    shutil.copytree(src, dst)
    for f in dst.rglob("*"):
        if not f.is_file():
            continue
        try:
            doc = json.loads(f.read_bytes())
        except (ValueError, UnicodeDecodeError):
            continue  # the malformed corpus stays malformed
        f.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    corpus = corpus_path("MANIFEST.tsv").parent
    root = tmp_path_factory.mktemp("one-assessment")
    docs, store, out = root / "corpus", root / "store", root / "reports"
    shutil.copytree(corpus, docs)
    first = _invoke("ingest", str(docs), "--store", str(store), "--quiet")
    assert first.exit_code == 2  # the corpus holds malformed files on purpose
    shutil.rmtree(docs)
    _reserialise(corpus, docs)
    second = _invoke("ingest", str(docs), "--store", str(store), "--quiet")
    # Every document was read again (only files that are not JSON were carried over).
    assert _files_read(second.output) == _files_read(first.output) > 70
    check = _invoke("check", "--store", str(store), "--as-of", AS_OF, "--format", "json")
    assert check.exit_code == 1, check.output  # the corpus breaks the policy
    stale = _invoke("staleness", "--store", str(store), "--as-of", AS_OF, "--format", "json")
    assert stale.exit_code == 0, stale.output
    stale_table = _invoke("staleness", "--store", str(store), "--as-of", AS_OF)
    assert stale_table.exit_code == 0, stale_table.output
    # one page after the other here; the run below writes both side by side (the default)
    report = _invoke("report", "all", "--store", str(store), "--as-of", AS_OF, "--out", str(out),
                     "--report-workers", "1", "--quiet")
    assert report.exit_code == 0, report.output
    run = _invoke("run", "--store", str(store), "--as-of", AS_OF, "--out", str(out), "--no-scan",
                  "--engine", f"unix://{root}/no-such.sock", "--fail-on", "never", "--quiet")
    assert run.exit_code == 0, run.output
    runs = sorted(p for p in out.iterdir() if p.name.startswith("run-"))
    assert len(runs) == 2
    rep, job = runs

    def read(p: Path) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(p.read_text())
        return data

    return {
        "check": json.loads(check.stdout), "staleness": json.loads(stale.stdout),
        "compliance": read(rep / "compliance.json"), "staleness_page": read(rep / "staleness.json"),
        "run_policy": read(job / "policy.json"), "run_assessment": read(job / "assessment.json"),
        "run_compliance": read(job / "compliance.json"),
        "run_staleness_page": read(job / "staleness.json"),
        "check_stderr": check.stderr, "staleness_table": stale_table.stdout,
        "run_output": run.stdout, "runs": {"report": rep, "run": job},
    }


def test_every_face_reports_the_same_assessment(faces: dict[str, Any]) -> None:
    summary = faces["run_assessment"]
    assert summary["history_clock"] is True  # two snapshots: the SLA clock uses the history
    assert summary["images"] > 20 and summary["policy"]["results"]["fail"] > 0
    assert summary["as_of"].startswith(AS_OF)
    for face in (faces["check"]["assessment"], faces["staleness"]["assessment"],
                 faces["compliance"]["results"]["assessment"],
                 faces["staleness_page"]["results"]["assessment"],
                 faces["run_compliance"]["results"]["assessment"],
                 faces["run_staleness_page"]["results"]["assessment"]):
        assert face == summary


def test_status_counts_are_equal(faces: dict[str, Any]) -> None:
    counts = faces["check"]["summary"]["results"]
    assert counts == faces["run_policy"]["summary"]["results"]
    assert counts == faces["run_assessment"]["policy"]["results"]
    for page in ("compliance", "run_compliance"):
        assert faces[page]["results"]["results"] == counts
        headline = faces[page]["results"]["headline"]
        assert headline["images"] == faces["run_assessment"]["images"]
        assert headline["failures"] == counts["fail"]


def _rule_status(check: dict[str, Any], rule: str) -> dict[str, str]:
    return {img["image_id"]: r["status"] for img in check["images"] for r in img["results"]
            if r["rule"] == rule}


def test_end_of_life_verdicts_are_equal(faces: dict[str, Any]) -> None:
    supported = _rule_status(faces["check"], "supported-os")
    images = {r["image_id"]: r for r in faces["staleness"]["images"]}
    assert set(supported) == set(images)
    for image_id, status in supported.items():
        eol = images[image_id]["os_is_eol"]
        expected = {True: {"fail"}, False: {"pass", "warn"}, None: {"no-data"}}[eol]
        assert status in expected, (image_id, status, eol)
    eol = faces["run_assessment"]["eol"]
    assert eol["past"] == sum(1 for s in supported.values() if s == "fail")
    assert eol["unknown"] == sum(1 for s in supported.values() if s == "no-data")
    for page in ("staleness_page", "run_staleness_page"):
        headline = faces[page]["results"]["headline"]
        assert headline["os_eol"] == eol["past"]
        assert headline["os_eol_unknown"] == eol["unknown"]


def test_sla_verdicts_are_equal(faces: dict[str, Any]) -> None:
    sla = _rule_status(faces["check"], "fixable-vulns-sla")
    failing = {i for i, s in sla.items() if s == "fail"}
    fixable = faces["run_assessment"]["fixable"]
    assert fixable["images_over_sla"] == len(failing) > 0
    for page in ("compliance", "run_compliance"):
        rows = faces[page]["results"]["fixable_by_severity"]
        assert sum(r["over"] for r in rows) == fixable["over"]
    priorities = {r["image_id"]: r for r in faces["staleness"]["images"]}
    assert sum(r["fixable_critical"] or 0 for r in priorities.values()) == fixable["critical"]


def test_the_pages_of_a_run_read_its_one_assessment(faces: dict[str, Any]) -> None:
    """`report all` and `run` save the assessment in the run folder and both pages read it
    back (a page that assessed anew would say so)."""
    for folder in faces["runs"].values():
        assert (folder / "saved-assessment" / "identity.json").is_file()
        for page in ("compliance.html", "staleness.html"):
            assert "assessed anew" not in (folder / page).read_text()


def _words(text: str) -> str:
    return " ".join(text.split())


def test_run_prints_check_and_staleness_headlines(faces: dict[str, Any]) -> None:
    out = faces["run_output"]
    counts = re.search(r"images, \d+ rules: ([^;\n]*)", faces["check_stderr"])
    assert counts is not None, faces["check_stderr"]
    assert re.search(r"policy: \d+ images x \d+ rules: " + re.escape(counts.group(1)), out)
    first = out[out.index("fix first:\n"):]
    assert first.count("\n") > 2
    assert _words(first) in _words(faces["staleness_table"])  # as `auditlib staleness` says it
