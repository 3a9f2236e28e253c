"""Unknown is never good news: both reports, `check` and `staleness`, on stores that lack a kind of
data (no vulnerability scan at all, no SBOM, no engine data), on a single image and on the whole
corpus. No unknown is shown as a zero or a pass, and the fix-first list is ordered by risk and is
the same list on every face.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from auditlib.assess import assess
from auditlib.cli import main
from auditlib.ingest.steps import ingest_paths
from auditlib.reports import ReportRun, new_run_dir, run_report
from auditlib.store import read_current
from tests.conftest import corpus_path

AS_OF = "2026-12-01"

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

STORES: dict[str, list[str]] = {
    "no-vulnerability-scan": ["syft-json", "spdx-json"],
    "no-sbom": ["grype-json"],
    "no-engine": ["trivy-json"],
    "one-image": ["trivy-json/trivy-golden-debian-buster-image.json"],
    "corpus": ["."],
}


def _text(page: Path) -> str:
    """Return a page's visible text (scripts and tags out, entities decoded, spaces folded)."""
    s = re.sub(r"<script.*?</script>|<style.*?</style>", " ", page.read_text(), flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", s)))


@pytest.fixture(scope="module", params=list(STORES))
def faces(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> dict[str, Any]:
    name = str(request.param)
    root = tmp_path_factory.mktemp(name)
    store = root / "store"
    ingest_paths(store, [corpus_path(p) for p in STORES[name]])
    folder = new_run_dir(root / "out")
    runs: dict[str, ReportRun] = {
        r: run_report(r, store=store, run_dir=folder, parameters={"as_of": AS_OF})
        for r in ("compliance", "staleness")}
    for r in runs.values():
        assert r.ok, r.error
    cli = CliRunner()
    check = cli.invoke(main, ["check", "--store", str(store), "--as-of", AS_OF,
                              "--format", "json"], catch_exceptions=False)
    stale = cli.invoke(main, ["staleness", "--store", str(store), "--as-of", AS_OF,
                              "--format", "json"], catch_exceptions=False)
    assert stale.exit_code == 0, stale.output
    return {
        "name": name, "store": store, "assessment": assess(store, as_of=AS_OF),
        "data": read_current(store), "runs": runs,
        "text": {r: _text(run.html) for r, run in runs.items()},
        "check": json.loads(check.stdout), "staleness": json.loads(stale.stdout),
    }


def test_the_stores_lack_what_they_say(faces: dict[str, Any]) -> None:
    s = faces["assessment"].summary()
    cov = s["coverage"]
    if faces["name"] == "no-vulnerability-scan":
        assert cov["vuln_scanned"] == 0 and cov["with_sbom"] > 0
    if faces["name"] == "no-sbom":
        assert cov["with_sbom"] == 0 and cov["vuln_scanned"] > 0
    if faces["name"] in ("no-engine", "corpus"):
        assert cov["collected"] == 0
    if faces["name"] == "one-image":
        assert s["images"] == 1
    assert s["unknown"]["vulnerabilities"] == s["images"] - cov["vuln_scanned"]


def test_fixable_counts_say_how_many_images_were_not_scanned(faces: dict[str, Any]) -> None:
    s = faces["assessment"].summary()
    scanned, images = s["fixable"]["scanned_images"], s["images"]
    page = faces["text"]["compliance"]
    head = faces["runs"]["compliance"].details["headline"]
    assert head["vuln_scanned"] == scanned
    if scanned == 0:
        assert head["images_over_sla"] is None  # unknown, not 0
        assert "no image has a vulnerability scan" in page
        assert "no fixable vulnerability is over its SLA" not in page
    for sentence in re.findall(r"no fixable vulnerability[^.;]*", page):
        # Every "none" says over which images it was counted, and how many were not scanned.
        assert f"in the {scanned:,} images with a vulnerability scan" in sentence, sentence
        if scanned < images:
            assert "not scanned" in page[page.index(sentence):page.index(sentence) + 300]


def test_fix_first_is_ordered_by_risk_and_the_same_everywhere(faces: dict[str, Any]) -> None:
    st = faces["assessment"].staleness
    risk = st["rebuild_priority"].astype(float).tolist()
    assert risk == sorted(risk, reverse=True)
    assert st["priority_rank"].tolist() == list(range(1, len(st) + 1))
    listed = faces["runs"]["compliance"].details.get("fix_first", [])
    assert [x["risk"] for x in listed] == sorted((x["risk"] for x in listed), reverse=True)
    assert all(x["risk"] > 0 for x in listed)
    known = st[st["rebuild_priority"] > 0]
    assert [x["image"] for x in listed] == known["image_name"].head(len(listed)).tolist()
    # `auditlib staleness` and `auditlib check` give the same first image.
    top = faces["staleness"]["assessment"]["fix_first"]["top"]
    assert [t["image"] for t in top] == known["image_name"].head(len(top)).tolist()
    # An image not scanned is never ranked as known clean.
    scanned = faces["assessment"].summary()["fixable"]["scanned_images"]
    if scanned < len(st):
        unknown = st["priority_unknown"].astype("string").fillna("")
        assert unknown.str.contains("no vulnerability scan").sum() == len(st) - scanned


def test_unknown_is_never_a_grade_or_a_zero(faces: dict[str, Any]) -> None:
    scores = faces["assessment"].evaluation.scores
    ungraded = scores[scores["grade"].astype(str) == "N/A"]
    assert (ungraded["judged_share"].fillna(0) < 0.5).all()
    graded = scores[scores["grade"].astype(str) != "N/A"]
    assert graded["score"].notna().all()
    # No image is graded F for lack of data: a failing grade rests on judged rules.
    assert (graded["judged_share"] >= 0.5).all()
    check = faces["check"]
    assert sum(check["summary"]["grades"].values()) == len(scores)
    if len(ungraded):
        assert "too little data to grade (N/A)" in faces["text"]["compliance"]


def test_licences_of_packages_without_one_are_unknown(faces: dict[str, Any]) -> None:
    data = faces["data"]
    pk = data.packages.dropna(subset=["image_id"])
    pk = pk[pk["license_class"].isna() | (pk["license_class"].astype("string") == "unknown")]
    licensed = data.package_licenses.dropna(subset=["image_id"])
    have = set(zip(licensed["image_id"].astype(str), licensed["package_name"].astype(str),
                   licensed["package_version"].astype(str), strict=True))
    bare = {k for k in zip(pk["image_id"].astype(str), pk["name"].astype(str),
                           pk["version"].astype(str), strict=True) if k not in have}
    classes = {r["licence class"]: r for r in
               faces["runs"]["compliance"].details["licence_classes"]}
    assert classes["unknown"]["packages"] >= len(bare)
    if bare:
        assert classes["unknown"]["images"] > 0
    if not faces["assessment"].coverage.with_sbom and not len(licensed):
        assert "none of the" in faces["text"]["compliance"]  # says why there is no data


def test_no_summary_turns_unknown_into_zero(faces: dict[str, Any]) -> None:
    s = faces["assessment"].summary()
    st = faces["assessment"].staleness
    assert s["staleness"]["base_drift_known"] == int(st["base_drifted"].notna().sum())
    assert s["staleness"]["age_known"] == int(st["age_days"].notna().sum())
    if s["staleness"]["age_known"] == 0:
        assert s["staleness"]["median_age_days"] is None
    eol = s["eol"]
    assert eol["past"] + eol["supported"] + eol["unknown"] == s["images"]
    fixable = pd.to_numeric(st["fixable_count"], errors="coerce")
    # fixable_count is 0 only for scanned images; unscanned ones are missing.
    assert int(fixable.notna().sum()) <= s["fixable"]["scanned_images"]
