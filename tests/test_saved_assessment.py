"""A saved assessment (`auditlib.assess.saved`): its frames come back with their dtypes, the
assessment read back equals the one saved, one that is not the assessment asked for is refused
(a new snapshot, another time, policy, filter or version), and a report page made from it is the
page the report makes when it assesses the store itself."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from auditlib import load
from auditlib.assess import (
    Assessment,
    StaleAssessmentError,
    assess,
    assessed,
    load_assessment,
    save_assessment,
)
from auditlib.assess.assessment import read_state
from auditlib.assess.saved import (
    ASSESSMENT_FRAMES,
    IDENTITY_FILE,
    VIEW_FRAMES,
    read_frame,
    reopen_assessment,
    saved_identity,
    write_frame,
)
from auditlib.data import DeferredData
from auditlib.deferred import deferred
from auditlib.demo import write_fleet
from auditlib.engine.aggregates import (
    IMAGE_LICENCES_TABLE,
    LICENCE_VIEW,
    RISK_IMAGES_TABLE,
    UNLICENSED_TABLE,
    licence_risks,
)
from auditlib.engine.tables import BIG_TABLES
from auditlib.history.trends import FRAMES as TREND_FRAMES
from auditlib.policy.config import load_policy
from auditlib.store import write_snapshot
from auditlib.store.manifest import list_snapshots
from tests.engine_store import demo_store as make_demo_store
from tests.reports.fleet import make_store
from tests.reports.page import Page, run_page

AS_OF = "2026-11-30T12:00:00+00:00"


def _frame() -> pd.DataFrame:
    """A frame with every kind of column an assessment's frames hold."""
    ids = pd.Index(["sha256:a", "sha256:b", "sha256:c"], name="image_id", dtype=object)
    return pd.DataFrame({
        "severity": pd.Categorical(["high", None, "low"],
                                   categories=["unknown", "low", "medium", "high", "critical"],
                                   ordered=True),
        "source": pd.Categorical(["trivy", "grype", "trivy"], categories=["trivy", "grype", "x"]),
        "nothing": pd.Categorical([None, None, None], categories=pd.Index([], dtype=float)),
        "at": pd.to_datetime(["2026-01-02T03:04:05.123456Z", None, "2025-12-31T23:59:59Z"],
                             utc=True, format="ISO8601").astype("datetime64[ns, UTC]"),
        "count": pd.array([3, None, 0], dtype="Int64"),
        "known": pd.array([True, None, False], dtype="boolean"),
        "label": pd.Series(["a<b>", None, "c"], dtype=object, index=ids),
        "why": pd.Series([np.nan, "x", np.nan], dtype=object, index=ids),
        "text": pd.array(["x", None, "z"], dtype="string"),
        "score": [1.5, np.nan, 0.0],
    }, index=ids)


def test_a_frame_comes_back_with_its_dtypes(tmp_path: Path) -> None:
    df = _frame()
    write_frame(df, tmp_path / "f.parquet")
    back = read_frame(tmp_path / "f.parquet")
    pd.testing.assert_frame_equal(back, df, check_exact=True, check_categorical=True)
    assert list(back["severity"].cat.categories) == list(df["severity"].cat.categories)
    assert back["severity"].cat.ordered and list(back["source"].cat.categories)[-1] == "x"
    assert back["nothing"].dtype == df["nothing"].dtype  # all missing: still a categorical
    assert str(back["at"].dtype) == "datetime64[ns, UTC]"
    assert df["label"].dtype == object
    assert back["label"].iloc[1] is None  # missing text stays None, not NaN
    assert isinstance(back["why"].iloc[0], float)  # ...and NaN stays NaN


def test_an_unreadable_frame_names_its_file(tmp_path: Path) -> None:
    bad = tmp_path / "f.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(StaleAssessmentError, match=r"f\.parquet: cannot read"):
        read_frame(bad)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 5 synthetic images over two snapshots (history clock and trends)."""
    return make_store(tmp_path_factory.mktemp("saved-store"), snapshots=2)


@pytest.fixture(scope="module")
def saved(store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Assessment, Path]:
    """The store assessed with every part computed, and saved."""
    a = assess(store, as_of=AS_OF)
    a.summary()
    _ = a.trends, a.view.bases, a.view.licence_classes, a.view.package_counts, a.findings
    folder = save_assessment(a, tmp_path_factory.mktemp("run") / "saved-assessment")
    return a, folder


def test_the_assessment_read_back_is_the_one_saved(store: Path,
                                                   saved: tuple[Assessment, Path]) -> None:
    a, folder = saved
    b = load_assessment(folder, store, as_of=AS_OF)
    for name in VIEW_FRAMES:
        assert name in deferred(b.view), name  # read back on first use, not computed again
        pd.testing.assert_frame_equal(getattr(b.view, name), getattr(a.view, name),
                                      check_exact=True)
    for name in ASSESSMENT_FRAMES:
        assert name in deferred(b), name
        pd.testing.assert_frame_equal(getattr(b, name), getattr(a, name), check_exact=True)
    # the findings and their history clock stay in the engine: made again there, the same
    assert b.has_history
    pd.testing.assert_frame_equal(b.view.fixable.rows(b.sla_params), a.findings)
    pd.testing.assert_frame_equal(b.evaluation.results, a.evaluation.results, check_exact=True)
    pd.testing.assert_frame_equal(b.evaluation.scores, a.evaluation.scores, check_exact=True)
    assert b.evaluation.waivers == a.evaluation.waivers
    assert "trends" in deferred(b) and "history" not in vars(b)  # the small frames, read back
    assert a.trends is not None and b.trends is not None
    for name in TREND_FRAMES:
        pd.testing.assert_frame_equal(getattr(b.trends, name), getattr(a.trends, name),
                                      check_exact=True, obj=name)
    assert not any(f.name.startswith("history.") for f in folder.iterdir())
    assert b.view.bases == a.view.bases
    assert "names" in deferred(b.view) and b.view.names == a.view.names
    assert "coverage" in deferred(b.view) and b.view.coverage == a.view.coverage
    assert b.view.coverage == assess(store, as_of=AS_OF).view.coverage  # computed afresh
    assert a.has_history and b.has_history
    assert b.summary() == a.summary()
    assert b.snapshots == a.snapshots and b.read_snapshots == a.read_snapshots
    # The engine is reopened over the store's files: the big tables are still there.
    assert b.in_engine == a.in_engine
    assert b.sql("SELECT count(*) AS n FROM vulnerabilities").equals(
        a.sql("SELECT count(*) AS n FROM vulnerabilities"))


def test_a_saved_frame_is_read_when_first_asked_for(store: Path,
                                                    saved: tuple[Assessment, Path],
                                                    tmp_path: Path) -> None:
    """A kernel holds the saved parts its page reads: none is read on load, each on first use;
    saved again, a loaded assessment writes every part, read or not; a damaged file is
    refused on load, not in a notebook cell."""
    a, folder = saved
    b = load_assessment(folder, store, as_of=AS_OF)
    waiting = set(deferred(b.view)) | set(deferred(b))
    assert waiting >= {*VIEW_FRAMES, "bases", "names", *ASSESSMENT_FRAMES, "evaluation"}
    assert not waiting & (set(vars(b.view)) | set(vars(b)))
    assert b.eol.equals(a.eol)  # read now, and only it
    assert "eol" in vars(b.view) and "eol" not in deferred(b.view)
    assert "staleness" in deferred(b) and "evaluation" in deferred(b)
    again = save_assessment(b, tmp_path / "again")
    assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in folder.iterdir())
    c = load_assessment(again, store, as_of=AS_OF)
    assert c.summary() == a.summary()
    damaged = tmp_path / "damaged"
    shutil.copytree(folder, damaged)
    (damaged / "staleness.parquet").write_bytes(b"not parquet")
    with pytest.raises(StaleAssessmentError, match=r"staleness\.parquet: cannot read"):
        load_assessment(damaged, store, as_of=AS_OF)


def test_the_tables_are_read_back_each_when_first_asked_for(
        store: Path, saved: tuple[Assessment, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A page's kernel does not read the store's state again: the run's tables (all but the
    big ones, which stay in the engine) come back from the saved assessment, none read on load,
    each on first use, equal to the run's and to the store's state read afresh."""
    import auditlib.assess.saved as saved_module

    def read_again(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the store's state read again")

    a, folder = saved
    monkeypatch.setattr(saved_module, "read_state", read_again)
    b = load_assessment(folder, store, as_of=AS_OF)
    assert isinstance(b.data, DeferredData)
    with_rows = {n for n, df in a.data.tables().items() if len(df)}
    assert {"scans", "images", "vulnerability_aliases"} <= with_rows
    # On load, only `scans` is read (the engine reopened over the store's files needs it);
    # the other saved tables wait, and the empty ones are their tables' empty frames.
    read = {n for n, df in b.data.read_now().items() if len(df)}
    assert read == {"scans"} and set(b.data.loaders) == with_rows - {"scans"}
    assert b.data.not_held == a.data.not_held
    assert set(b.data.not_held) == set(BIG_TABLES) and "vulnerabilities" in BIG_TABLES
    images = b.data.images
    assert images is b.data.images and "images" not in b.data.loaders
    assert {n for n, df in b.data.read_now().items() if len(df)} == {"scans", "images"}
    monkeypatch.undo()
    fresh, _, engine = read_state(store)
    engine.close()
    assert list(b.data.tables()) == list(a.data.tables()) == list(fresh.tables())
    for name, df in b.data.tables().items():  # the empty tables too: their empty frames
        pd.testing.assert_frame_equal(df, a.data.tables()[name], check_exact=True, obj=name)
        pd.testing.assert_frame_equal(df, fresh.tables()[name], check_exact=True, obj=name)
    assert b.summary() == a.summary()
    # One saved before the tables were is read as before: the store's state read again.
    old = tmp_path / "before-the-tables"
    doc = _copied(folder, old)
    del doc["data"]
    (old / IDENTITY_FILE).write_text(json.dumps(doc))
    c = load_assessment(old, store, as_of=AS_OF)
    assert not isinstance(c.data, DeferredData)
    pd.testing.assert_frame_equal(c.data.images, a.data.images, check_exact=True)


def test_a_filtered_assessment_reads_back_its_images_only(store: Path, tmp_path: Path) -> None:
    """An image filter's saved tables hold the images it kept, and the reopened engine's
    views only their rows."""
    a = assess(store, as_of=AS_OF, image_filter="*/synthetic/s*")
    a.summary()
    folder = save_assessment(a, tmp_path / "filtered")
    b = load_assessment(folder, store, as_of=AS_OF, image_filter="*/synthetic/s*")
    assert isinstance(b.data, DeferredData) and b.filtered_out == a.filtered_out > 0
    assert len(b.data.images) and len(b.data.images) < len(assess(store, as_of=AS_OF).data.images)
    for name, df in a.data.tables().items():
        got = b.data.tables()[name]
        if len(df):
            pd.testing.assert_frame_equal(got, df, check_exact=True, obj=name)
        else:  # not saved: the table's empty frame (without the categories the filter left)
            assert got.empty and list(got.columns) == list(df.columns), name
    count = "SELECT count(DISTINCT image_id) AS n FROM vulnerabilities"
    assert b.sql(count).equals(a.sql(count))
    assert int(b.sql(count)["n"].iloc[0]) < int(assess(store, as_of=AS_OF).sql(count)["n"].iloc[0])
    assert b.summary() == a.summary()


def test_the_headline_figures_are_read_back_not_computed_again(
        store: Path, saved: tuple[Assessment, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A page's kernel reads the run's `summary()` (every page shows it): the loaded assessment
    never computes it again, and what it gives is what computing it afresh gives."""
    a, folder = saved
    b = load_assessment(folder, store, as_of=AS_OF)

    def computed_again(self: Assessment) -> dict[str, Any]:
        raise AssertionError("summary computed again")

    monkeypatch.setattr(Assessment, "_summary", computed_again)
    got = b.summary()
    monkeypatch.undo()
    assert got == a.summary() == assess(store, as_of=AS_OF).summary()
    got["images"] = -1  # each call gives a copy of its own
    got["fix_first"]["top"].clear()
    assert b.summary() == a.summary()


def test_what_was_not_computed_is_computed_on_load(store: Path, tmp_path: Path) -> None:
    a = assess(store, as_of=AS_OF)
    folder = save_assessment(a, tmp_path / "saved")  # nothing computed yet
    b = load_assessment(folder, store, as_of=AS_OF)
    assert "staleness" not in vars(b)
    assert b.summary() == a.summary()


def _refusal(store: Path, folder: Path, **asked: Any) -> str:
    with pytest.raises(StaleAssessmentError) as e:
        load_assessment(folder, store, **{"as_of": AS_OF, **asked})
    return str(e.value)


def test_another_question_is_refused(store: Path, saved: tuple[Assessment, Path],
                                     tmp_path: Path) -> None:
    _, folder = saved
    assert "not 2026-11-29T00:00:00+00:00" in _refusal(store, folder, as_of="2026-11-29")
    assert "a given time" in _refusal(store, folder, as_of=None)
    assert "image filter" in _refusal(store, folder, image_filter="docker.io/*")
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  fixable-vulns-sla:\n    enabled: false\n", encoding="utf-8")
    assert "another policy" in _refusal(store, folder, policy=policy)
    assert str(folder) in _refusal(store, folder, as_of="2026-11-29")


def test_another_end_of_life_table_is_refused(store: Path, saved: tuple[Assessment, Path],
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`auditlib eol update` (or AUDITLIB_EOL_FILE) changes the verdicts with no new snapshot."""
    a, folder = saved
    t = a.view.table
    other = dataclasses.replace(t, generated_at=t.generated_at - dt.timedelta(days=1))
    path = tmp_path / "eol.json"
    path.write_text(other.to_text(), encoding="utf-8")
    assert "another end-of-life table" in _refusal(store, folder, eol_table=other)
    monkeypatch.setenv("AUDITLIB_EOL_FILE", str(path))
    assert "another end-of-life table" in _refusal(store, folder)


def test_the_same_policy_from_another_file_is_accepted(store: Path,
                                                       saved: tuple[Assessment, Path],
                                                       tmp_path: Path) -> None:
    _, folder = saved
    policy = tmp_path / "same.yaml"
    policy.write_text("rules: {}\n", encoding="utf-8")  # every rule with its defaults
    b = load_assessment(folder, store, as_of=AS_OF, policy=policy)
    assert b.policy.source == str(policy)


def _copied(folder: Path, copy: Path) -> dict[str, Any]:
    """Copy a saved assessment to `copy`; return its identity document, to change."""
    import shutil

    shutil.copytree(folder, copy)
    doc: dict[str, Any] = json.loads((copy / IDENTITY_FILE).read_text())
    return doc


def test_a_saved_assessment_of_another_version_is_refused(store: Path,
                                                          saved: tuple[Assessment, Path],
                                                          tmp_path: Path) -> None:
    _, folder = saved
    copy = tmp_path / "old"
    doc = _copied(folder, copy)
    doc["identity"]["version"] = "0.0.1"
    (copy / IDENTITY_FILE).write_text(json.dumps(doc))
    assert "auditlib 0.0.1 saved it" in _refusal(store, copy)
    (copy / IDENTITY_FILE).write_text("{")
    assert "not a saved assessment" in _refusal(store, copy)
    assert "no saved assessment here" in _refusal(store, tmp_path / "none")


def test_a_saved_assessment_of_the_old_layout_is_refused(store: Path,
                                                         saved: tuple[Assessment, Path],
                                                         tmp_path: Path) -> None:
    """One saved with the raw history (no `layout`) is never read as the trends."""
    _, folder = saved
    copy = tmp_path / "old-layout"
    doc = _copied(folder, copy)
    del doc["layout"], doc["trends"]
    doc["history_tables"] = ["snapshots", "vulnerabilities"]
    (copy / IDENTITY_FILE).write_text(json.dumps(doc))
    assert "saved in another layout (None, not 2" in _refusal(store, copy)


@pytest.mark.slow
def test_a_new_snapshot_makes_it_stale(tmp_path: Path) -> None:
    store = make_store(tmp_path / "s", snapshots=1)
    a = assess(store, as_of=AS_OF)
    a.summary()
    folder = save_assessment(a, tmp_path / "saved")
    assert saved_identity(folder).snapshots == tuple(p.name for p in list_snapshots(store))
    more = tmp_path / "more"
    write_fleet(more, images=2, seed=55, files_per_image=10)
    write_snapshot(store, load(more), sources=[str(more)])
    assert "the store changed: 1 new snapshot(s) since" in _refusal(store, folder)
    notes: list[str] = []
    fresh = assessed(folder, store, as_of=AS_OF, note=notes.append)  # never a stale page
    assert len(notes) == 1 and notes[0].startswith("assessed anew: ")
    assert fresh.summary()["images"] == a.summary()["images"] + 2


def test_the_run_reopens_its_own_even_after_a_new_snapshot(tmp_path: Path) -> None:
    """The run reopens the assessment its own process saved (`reopen_assessment`): a snapshot
    that lands meanwhile changes nothing of it, not even what its engine reads."""
    store = make_store(tmp_path / "s", snapshots=1)
    a = assess(store, as_of=AS_OF)
    a.summary()
    folder = save_assessment(a, tmp_path / "saved")
    more = tmp_path / "more"
    write_fleet(more, images=2, seed=55, files_per_image=10)
    write_snapshot(store, load(more), sources=[str(more)])
    assert "the store changed" in _refusal(store, folder)  # another question: refused
    b = reopen_assessment(folder, store, policy=a.policy)
    assert "evaluation" in deferred(b)  # read from its file when first asked for
    pd.testing.assert_frame_equal(b.evaluation.results, a.evaluation.results, check_exact=True)
    assert b.as_of == a.as_of and b.read_snapshots == a.read_snapshots
    assert b.summary() == a.summary()
    query = "SELECT count(DISTINCT image_id) AS n FROM vulnerabilities"
    assert b.sql(query).equals(a.sql(query))  # the state it read, not the store's now
    assert int(assess(store, as_of=AS_OF).sql(query)["n"].iloc[0]) > int(b.sql(query)["n"].iloc[0])
    with pytest.raises(StaleAssessmentError, match="another policy"):
        reopen_assessment(folder, store, policy=load_policy(_strict_policy(tmp_path)))


def _strict_policy(tmp_path: Path) -> Path:
    path = tmp_path / "strict.yaml"
    path.write_text("rules:\n  no-latest-tag:\n    severity: critical\n", encoding="utf-8")
    return path


def test_a_run_with_reports_assesses_in_a_process_of_its_own(store: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """`run_job` with reports assesses and saves in a process of its own, which gives its memory
    back when it ends; the run holds the saved assessment, each part read when first asked for.
    Its own process never assesses: an `assess` that fails there changes nothing."""
    from auditlib import job

    def refused(*args: Any, **kwargs: Any) -> Assessment:
        raise AssertionError("assessed in the run's own process")

    monkeypatch.setattr(job, "assess", refused)
    req = job.JobRequest(store=store, engines=(f"unix://{tmp_path}/no.sock",), scan=False,
                         as_of=pd.Timestamp(AS_OF), out=tmp_path / "out", reports=["staleness"])
    done = job.run_job(req, note=lambda _: None)
    assert not done.failed
    a = done.assessment
    assert isinstance(a.data, DeferredData) and "staleness" in deferred(a)  # the saved one
    fresh = assess(store, as_of=AS_OF)
    pd.testing.assert_frame_equal(a.evaluation.results, fresh.evaluation.results)
    pd.testing.assert_frame_equal(a.staleness, fresh.staleness)
    assert a.summary() == fresh.summary()
    assert json.loads((done.folder / "assessment.json").read_text()) == json.loads(
        json.dumps(fresh.summary()))
    assert json.loads((done.folder / "policy.json").read_text())["summary"]["images"] == len(
        fresh.evaluation.scores)


def test_a_run_whose_assessment_could_not_be_saved_assesses_once_more(
        store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the assessment's own process could not save it, its note is said once and the run
    assesses in its own process; the reports' parameters name no saved assessment."""
    from auditlib import job

    given = {"as_of": AS_OF}
    said = "the assessment could not be saved for the reports (disk full); each assesses anew"
    monkeypatch.setattr(job, "run_apart", lambda *args, **kwargs: job._Saved(given, [said]))
    notes: list[str] = []
    req = job.JobRequest(store=store, as_of=pd.Timestamp(AS_OF), out=tmp_path / "out",
                         reports=["staleness"])
    a, params = job._assessed(req, pd.Timestamp(AS_OF), load_policy(None), tmp_path,
                              notes.append)
    assert notes == [said] and params == given
    assert not isinstance(a.data, DeferredData)  # assessed here, not a saved one
    assert a.summary() == assess(store, as_of=AS_OF).summary()


def test_tables_given_directly_cannot_be_saved(store: Path, tmp_path: Path) -> None:
    from auditlib.assess import assess_data
    from auditlib.store.current import read_current

    a = assess_data(read_current(store), as_of=AS_OF, policy=load_policy(None))
    with pytest.raises(StaleAssessmentError, match="only an assessment of a store"):
        save_assessment(a, tmp_path / "saved")


# --- a page made from the saved assessment is the page made by assessing ----------------------

@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo fleet's store (`auditlib demo`'s data, without its reports): 12 images."""
    return make_demo_store(tmp_path_factory.mktemp("demo"))


def _shown(page: Page) -> dict[str, Any]:
    """Return what a page shows: its text, figures and summary, but how long it took."""
    summary = {k: v for k, v in page.summary.items() if k != "seconds"}
    return {"texts": page.texts, "figures": json.dumps(page.figures, sort_keys=True),
            "summary": json.dumps(summary, sort_keys=True, default=str)}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["compliance", "staleness"])
def test_the_page_is_the_same_both_ways(name: str, demo_store: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    policy = (demo_store.parent / "policy").read_text()
    a = assess(demo_store, as_of=AS_OF, policy=policy)
    a.summary()
    folder = save_assessment(a, tmp_path / "saved-assessment")
    del a
    loads: list[Path] = []
    import auditlib.assess.saved as saved_module

    real = saved_module.load_assessment

    def watched(folder: Path, *args: Any, **kwargs: Any) -> Assessment:
        loads.append(folder)
        return real(folder, *args, **kwargs)

    monkeypatch.setattr(saved_module, "load_assessment", watched)
    given = {"store": demo_store, "as_of": AS_OF, "policy": policy}
    itself = run_page(name, monkeypatch, **given)
    assert not loads
    read_back = run_page(name, monkeypatch, **given, assessment=str(folder))
    assert loads == [folder]  # read back, not assessed anew
    assert "staleness" in vars(read_back.scope["r"].assessment)
    assert len(itself.figures) > 2 and len(itself.texts) > 5
    assert _shown(read_back) == _shown(itself)


def test_a_run_saves_it_for_notebooks_that_take_it(store: Path, saved: tuple[Assessment, Path],
                                                   tmp_path: Path) -> None:
    import nbformat

    from auditlib.job import save_for_reports
    from auditlib.reports.runner import notebook_path

    a, _ = saved
    notes: list[str] = []
    given = {"as_of": AS_OF}
    params = save_for_reports(a, tmp_path / "run", ["compliance"], None, given, notes.append)
    assert params == {**given, "assessment": str((tmp_path / "run" / "saved-assessment").resolve())}
    assert saved_identity(Path(params["assessment"])).as_of == "2026-11-30T12:00:00+00:00"
    # An older notebooks folder, whose parameters cell has no `assessment`: nothing saved.
    old = tmp_path / "old-notebooks"
    old.mkdir()
    nb = nbformat.read(str(notebook_path("compliance")), as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = "\n".join(line for line in cell.source.splitlines()
                            if not line.startswith("assessment"))
    nbformat.write(nb, str(old / "compliance.ipynb"))
    assert save_for_reports(a, tmp_path / "run2", ["compliance"], old, given,
                            notes.append) == given
    assert not (tmp_path / "run2").exists() and not notes
    # A folder that cannot be written: a note, and each report assesses itself.
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert save_for_reports(a, blocked, ["compliance"], None, given, notes.append) == given
    assert len(notes) == 1 and "could not be saved" in notes[0]


def test_a_run_saves_what_the_compliance_page_reads_from_its_engine(store: Path,
                                                                     tmp_path: Path) -> None:
    """The compliance page's licence classes and its findings furthest over their SLA (at its
    severity threshold) are computed by the run, over the tables its engine keeps, and saved,
    so the page's kernel reads them back instead of making those tables again in its engine;
    the staleness page alone does not ask for them, and a threshold that is not a severity is
    left to the page."""
    from auditlib.fleet.findings import SEVERITY_RANK
    from auditlib.job import save_for_reports
    from auditlib.reports.compliance import SLA_WORST_SHOWN

    a = assess(store, as_of=AS_OF)
    a.summary()
    assert "licence_classes" not in vars(a.view) and not a.worst_kept

    def frames(params: dict[str, Any]) -> list[str]:
        return list(json.loads((Path(params["assessment"]) / IDENTITY_FILE).read_text())[
            "frames"])

    alone = frames(save_for_reports(a, tmp_path / "stale", ["staleness"], None, {}, pytest.fail))
    assert "view.licence_classes" not in alone and not any(f.startswith("worst") for f in alone)
    params = save_for_reports(a, tmp_path / "run", ["compliance", "staleness"], None,
                              {"severity_threshold": "High"}, pytest.fail)
    key = (SEVERITY_RANK["high"], SLA_WORST_SHOWN)
    assert "view.licence_classes" in frames(params) and f"worst.{key[0]}.{key[1]}" in frames(
        params)
    b = load_assessment(Path(params["assessment"]), store, as_of=AS_OF)
    assert "licence_classes" in deferred(b.view)  # read from its file on first use
    pd.testing.assert_frame_equal(b.view.licence_classes, a.view.licence_classes)
    assert int(a.view.licence_classes["packages"].sum()) > 0
    worst = b.sla_worst(*key)
    assert "fixable" not in vars(b.view)  # the fixable findings not made again in its engine
    pd.testing.assert_frame_equal(worst, a.view.fixable.worst(a.sla_params, *key))
    assert len(worst) > 0
    pd.testing.assert_frame_equal(b.sla_worst(0, 3), a.view.fixable.worst(a.sla_params, 0, 3))
    assert "fixable" in vars(b.view)  # one not saved: made in the engine, as before
    # The packages no document gives a licence, which the licence rule made in the run's
    # engine: given to the page's engine, not made again there, and its licence risks the same.
    assert {UNLICENSED_TABLE, RISK_IMAGES_TABLE} <= a.view.aggregate_engine.made
    assert {f"engine.{UNLICENSED_TABLE}", f"engine.{RISK_IMAGES_TABLE}"} <= set(frames(params))
    made: list[str] = []
    real_define = type(b.view.aggregate_engine).define

    def define(self: Any, view: str, query: str, *, keep: bool = False) -> None:
        made.append(view)
        real_define(self, view, query, keep=keep)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(type(b.view.aggregate_engine), "define", define)
        risks = licence_risks(b.view.aggregate_engine, 5)
    # neither they nor the licences of each image (what the images of each licence read)
    assert not {UNLICENSED_TABLE, RISK_IMAGES_TABLE, IMAGE_LICENCES_TABLE} & set(made)
    assert LICENCE_VIEW in made
    pd.testing.assert_frame_equal(risks, licence_risks(a.view.aggregate_engine, 5))
    fresh = assess(store, as_of=AS_OF)
    pd.testing.assert_frame_equal(risks, licence_risks(fresh.view.aggregate_engine, 5))
    assert len(a.sql(f"SELECT * FROM {UNLICENSED_TABLE}")) > 0
    assert (risks["licence"] == "(no licence declared)").any()  # the unlicensed packages' row
    bad = save_for_reports(assess(store, as_of=AS_OF), tmp_path / "bad", ["compliance"], None,
                           {"severity_threshold": "bogus"}, pytest.fail)
    assert "view.licence_classes" in frames(bad) and not any(
        f.startswith("worst") for f in frames(bad))


def test_the_policy_files_are_written_with_the_engine_closed(store: Path, tmp_path: Path) -> None:
    """`write_results` is what a run writes while its reports' kernels run and its engine is set
    aside: it reads the evaluation's frames only, so it writes the same bytes with the engine
    closed."""
    from auditlib.engine.errors import EngineError
    from auditlib.job import write_results

    a = assess(store, as_of=AS_OF)
    _ = a.evaluation
    (tmp_path / "open").mkdir()
    (tmp_path / "closed").mkdir()
    before = write_results(a, tmp_path / "open")
    a.view.aggregate_engine.close()
    with pytest.raises(EngineError):
        a.sql("SELECT count(*) AS n FROM vulnerabilities")  # the engine is gone
    after = write_results(a, tmp_path / "closed")
    assert [p.name for p in after] == [p.name for p in before] == ["policy.json", "policy.xml"]
    for b, f in zip(before, after, strict=True):
        assert f.read_bytes() == b.read_bytes() and len(b.read_bytes()) > 100
