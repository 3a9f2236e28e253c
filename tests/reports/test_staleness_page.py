"""The staleness page says what it could not judge (issue 12, "Unknown is never good news").

The page's own cells run here in-process (`tests.reports.page`) on stores that lack one kind of
data each: no vulnerability scan at all, no SBOM, no engine, a single image, two snapshots, and
an engine scanned offline (3 of 50 images scanned). On every one, no unknown is shown as a zero
or a pass: a fixable count says how many images were not scanned, "nothing to rebuild" is never
said while anything is unknown, the charts draw the unknown as a grey category of their own
(the base drift chart from the same base facts as the table), count axes tick whole numbers,
ages start at 0, and the trends count the snapshots the store has.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from auditlib import load
from auditlib.assess import assess
from auditlib.demo import write_fleet
from auditlib.reports import staleness as s
from auditlib.reports import staleness_drift as d
from auditlib.reports import staleness_trends as t
from auditlib.reports import staleness_unknowns as u
from auditlib.reports.figures import UNKNOWN_COLOR
from auditlib.store import write_snapshot
from tests.reports.fleet import make_engine_store
from tests.reports.page import Page, run_page


@dataclass
class Case:
    """A store, its staleness page and its staleness table."""

    store: Path
    page: Page
    st: pd.DataFrame

    @property
    def headline(self) -> dict[str, Any]:
        return dict(self.page.summary["headline"])

    @property
    def assessment(self) -> dict[str, Any]:
        return dict(self.page.summary["assessment"])

    @property
    def cards(self) -> str:
        return self.page.texts[0]


def _documents(root: Path, images: int) -> Path:
    write_fleet(root, images=images, files_per_image=10)
    return root


def _no_vulnerability_scan(root: Path, fleet: Path) -> Path:
    write_snapshot(root / "store", load(fleet / "syft"), sources=[str(fleet / "syft")])
    return root / "store"


def _no_sbom(root: Path, fleet: Path) -> Path:
    """Trivy reports without their package list (Trivy's default without --list-all-pkgs)."""
    docs = root / "trivy"
    docs.mkdir()
    for f in (fleet / "trivy").glob("*.json"):
        doc = json.loads(f.read_text())
        for result in doc.get("Results") or []:
            result.pop("Packages", None)
        (docs / f.name).write_text(json.dumps(doc))
    write_snapshot(root / "store", load(docs), sources=[str(docs)])
    return root / "store"


def _no_engine(root: Path, fleet: Path) -> Path:
    write_snapshot(root / "store", load(fleet), sources=[str(fleet)])
    return root / "store"


def _one_image(root: Path, fleet: Path) -> Path:
    one = _documents(root / "fleet", images=1)
    write_snapshot(root / "store", load(one), sources=[str(one)])
    return root / "store"


def _two_snapshots(root: Path, fleet: Path) -> Path:
    """The same documents ingested twice: two snapshots, nothing changed."""
    for _ in range(2):
        write_snapshot(root / "store", load(fleet), sources=[str(fleet)])
    return root / "store"


def _engine_offline(root: Path, fleet: Path) -> Path:
    return make_engine_store(root, images=50, scanned=3)


STORES: dict[str, Callable[[Path, Path], Path]] = {
    "no-vulnerability-scan": _no_vulnerability_scan, "no-sbom": _no_sbom,
    "no-engine": _no_engine, "one-image": _one_image, "two-snapshots": _two_snapshots,
    "engine-offline": _engine_offline,
}


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Case]]:
    """Each store and its page, made on first use (five images' documents, written once)."""
    made: dict[str, Case] = {}
    fleet: list[Path] = []

    def get(name: str) -> Case:
        if name not in made:
            if not fleet:
                fleet.append(_documents(tmp_path_factory.mktemp("fleet"), images=5))
            store = STORES[name](tmp_path_factory.mktemp(name), fleet[0])
            with pytest.MonkeyPatch.context() as mp:
                page = run_page("staleness", mp, store=store)
            made[name] = Case(store, page, page.scope["st"])
        return made[name]

    yield get


def _axes(fig: dict[str, Any]) -> Iterator[dict[str, Any]]:
    return (v for k, v in fig["layout"].items() if k.startswith(("xaxis", "yaxis")))


@pytest.mark.parametrize("name", list(STORES))
def test_no_unknown_is_a_zero_or_a_pass(cases: Callable[[str], Case], name: str) -> None:
    case = cases(name)
    h, unknown, text = case.headline, case.assessment["unknown"], case.page.text
    n = h["images"]
    # The page's unknowns are the assessment's (one definition of each).
    assert h["vuln_not_scanned"] == unknown["vulnerabilities"]
    assert h["base_unknown"] == unknown["base"]
    assert h["no_build_time"] == unknown["build_time"]
    assert h["os_eol_unknown"] == unknown["os_end_of_life"]
    # A fixable count says how many images were not scanned; none scanned: unknown, not 0.
    value, note = re.search(r"(\S+) fixable critical (.*?) \S+ running on an old build",
                            case.cards).groups()
    if h["vuln_not_scanned"]:
        assert f"{h['vuln_not_scanned']:,} not scanned" in note
    for m in re.finditer(r"\b0 fixable critical\b", text):
        assert not h["vuln_not_scanned"] or "not scanned" in text[m.end():m.end() + 80]
    if not h["vuln_scanned"]:
        assert value == "unknown" and h["fixable_critical"] is None
    # Base drift unknown for every image: the card says unknown, not 0.
    if h["base_drift_unknown"] == n:
        assert "unknown base moved on" in case.cards and h["base_drifted"] is None
    # Nothing to rebuild is a verdict on known data only.
    if h["vuln_not_scanned"] or h["base_drift_unknown"] or h["os_eol_unknown"]:
        assert "nothing to rebuild" not in text
    assert "1 images" not in text
    # Count axes tick whole numbers; ages start at 0.
    for fig in case.page.figures:
        for axis in _axes(fig):
            if axis.get("tickformat") == ",d" and "dtick" in axis:
                assert float(axis["dtick"]).is_integer() and axis["dtick"] >= 1
    for fig in case.page.figures:
        if fig["layout"]["title"]["text"].startswith(("Image age", "Base image age")):
            assert fig["layout"]["xaxis"]["range"][0] >= 0
            assert fig["layout"]["xaxis"]["title"]["text"].endswith("since the build") or \
                fig["layout"]["xaxis"]["title"]["text"].endswith("since the base was built")


@pytest.mark.parametrize("name", list(STORES))
def test_drift_chart_reads_the_tables_base_facts(cases: Callable[[str], Case], name: str
                                                 ) -> None:
    case = cases(name)
    fig = case.page.figure("Base image drift")
    bars = dict(zip(fig["data"][0]["y"], fig["data"][0]["x"], strict=True))
    colors = dict(zip(fig["data"][0]["y"], fig["data"][0]["marker"]["color"], strict=True))
    st = case.st
    assert sum(bars.values()) == len(st)
    assert bars.get(u.BASE_UNKNOWN, 0) == int(st["base_found_by"].isna().sum())
    assert bars.get(u.BASE_UNKNOWN, 0) == case.assessment["unknown"]["base"]
    known = st["base_found_by"].notna()
    drift_unknown = sum(v for k, v in bars.items() if k.startswith("base known, drift unknown"))
    assert drift_unknown == int((known & st["base_drifted"].isna()).sum())
    assert all(v > 0 for v in bars.values())  # no empty category drawn
    for state, color in colors.items():
        if state not in (u.DRIFTED, u.CURRENT):
            assert color in (UNKNOWN_COLOR, "#cfcfcf"), state


def test_base_found_by_label_is_not_base_unknown(cases: Callable[[str], Case]) -> None:
    """The demo fleet's bases come from OCI labels: the chart says the base is known and
    its tag not collected, as the table names them (it said "base unknown" for all)."""
    case = cases("no-engine")
    assert set(case.st["base_found_by"].astype(str)) == {"label"}
    fig = case.page.figure("Base image drift")
    assert list(fig["data"][0]["y"]) == [u.NOT_COLLECTED]
    assert list(fig["data"][0]["x"]) == [len(case.st)]
    assert "5 base tag not collected" in case.cards


def test_layer_split_says_why_it_is_unknown(cases: Callable[[str], Case]) -> None:
    table = s.priority_table(cases("no-engine").st)
    assert set(table["fixable in base / own layers"]) == {"unknown: no layer data for the base"}
    unscanned = s.priority_table(cases("no-vulnerability-scan").st)
    assert set(unscanned["fixable critical / high"]) == {u.NOT_SCANNED}
    assert set(unscanned["base moved on"]) == {"unknown"}


def test_no_vulnerability_scan(cases: Callable[[str], Case]) -> None:
    case = cases("no-vulnerability-scan")
    assert "unknown fixable critical no image has a vulnerability scan (5 not scanned)" in \
        case.cards
    # The Syft SBOMs carry each image's config: build times are known (5 ages on the page).
    assert case.headline["median_age_days"] is not None
    fig = case.page.figure("Rebuild priority")
    assert set(fig["data"][0]["marker"]["color"]) == {UNKNOWN_COLOR}
    assert "not vulnerability-scanned" in fig["layout"]["title"]["subtitle"]["text"]
    assert "5 images not vulnerability-scanned" in case.page.text


def test_engine_scanned_offline(cases: Callable[[str], Case]) -> None:
    """The issue's case: an engine's 47 images and no vulnerability scan of them, then 3
    images scanned."""
    case = cases("engine-offline")
    h = case.headline
    assert (h["images"], h["vuln_scanned"], h["vuln_not_scanned"]) == (50, 3, 47)
    assert "fixable critical in 3 images scanned; 47 not scanned" in case.cards
    assert h["deployment_lag"] == 0  # an engine was read: a known zero
    assert "no engine collected" not in case.page.text
    trend = case.page.figure("Vulnerabilities by severity")
    assert "47 of 50 images not vulnerability-scanned" in \
        trend["layout"]["title"]["subtitle"]["text"]
    severities = [tr for tr in trend["data"] if tr["name"] in t.SEVERITY_ORDER]
    assert severities and all(tr["y"][0] is None for tr in severities)  # no scan: a gap, not 0
    grey = next(tr for tr in trend["data"] if tr["name"].startswith("images not"))
    assert list(grey["y"]) == [47, 47] and grey["line"]["color"] == UNKNOWN_COLOR
    bars = case.page.figure("Rebuild priority")["data"][0]["marker"]["color"]
    assert UNKNOWN_COLOR in bars and "#d62728" in bars
    assert "47 images not vulnerability-scanned" in case.page.text
    assert [(c["images"], c["vuln_scanned"]) for c in case.page.summary["history_coverage"]] == \
        [(47, 0), (50, 3)]
    assert "counted over the scanned images only: 47 of 50 images" in case.page.text


def test_no_engine(cases: Callable[[str], Case]) -> None:
    case = cases("no-engine")
    assert case.headline["deployment_lag"] is None
    assert "unknown running on an old build no engine collected" in case.cards
    assert "deployment lag unknown: no engine collected" in case.page.text


def test_no_sbom(cases: Callable[[str], Case]) -> None:
    case = cases("no-sbom")
    a = case.assessment
    assert a["coverage"]["with_sbom"] == 0 and a["unknown"]["packages"] == 5
    assert case.headline["vuln_scanned"] == 5 and "not scanned" not in case.cards


def test_one_image(cases: Callable[[str], Case]) -> None:
    case = cases("one-image")
    age = float(case.st["age_days"].iloc[0])
    fig = case.page.figure("Image age")
    assert fig["layout"]["xaxis"]["range"][0] == 0
    assert fig["layout"]["xaxis"]["range"][1] >= age  # in days: the demo image is 2 weeks old
    assert fig["layout"]["xaxis"]["title"]["text"] == "days since the build"
    assert [int(v) for v in fig["data"][0]["y"] if v] == [1]
    for f in case.page.figures:
        for axis in _axes(f):
            if axis.get("title", {}).get("text") == "images":  # one image: ticks 0 and 1
                assert (axis["tickformat"], axis["dtick"]) == (",d", 1)
    assert "the image" in case.cards


def test_two_snapshots_are_counted(cases: Callable[[str], Case]) -> None:
    case = cases("two-snapshots")
    assert case.page.summary["history_snapshots"] == 2
    assert "one snapshot only" not in case.page.text
    assert "no vulnerability new, fixed or gone across the 2 snapshots" in case.page.text
    assert "the 2 snapshots span" in case.page.text  # never rebuilt: not enough time seen
    case.page.figure("Vulnerabilities by severity")
    case.page.figure("Age of the current image")


def test_one_snapshot_says_so(cases: Callable[[str], Case]) -> None:
    text = cases("no-engine").page.text
    assert "one snapshot only: nothing to compare yet" in text
    assert cases("no-engine").page.summary["history_snapshots"] == 1


def test_changes_across_snapshots_are_drawn(small_store: Path) -> None:
    h = assess(small_store).trends
    assert h is not None
    assert t.snapshot_count(h) == 2
    fig = t.changes_figure(h)
    assert fig is not None and fig.layout.yaxis.tickformat == ",d"
    assert "one snapshot" not in t.no_changes_text(h)


def test_nothing_to_rebuild_only_when_all_is_known(cases: Callable[[str], Case]) -> None:
    st = cases("no-engine").st
    assert "nothing to rebuild" not in s.no_priority_text(st.assign(rebuild_priority=0.0))
    known = st.assign(rebuild_priority=0.0, fixable_count=0, base_drifted=False,
                      os_is_eol=False, newer_tag_count=0).astype({"fixable_count": "Int64"})
    assert s.no_priority_text(known).startswith("nothing to rebuild")
    assert d.no_drift_text(known) == "no image has a drifted base or a newer tag"
    assert s.priority_unknown_text(known) == ""
