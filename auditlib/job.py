"""The jobs that run the whole path in one go: `run_job` (the scheduled job: collect, scan,
ingest, assess, report) and `demo_job` (the synthetic demo fleet, ingested, assessed and
reported). `auditlib run` and `auditlib demo` parse their words and call these.

Each job assesses the store once, at one as-of time, and hands that time and the policy to the
reports it runs, so `policy.json`, `assessment.json` and every page of a run give the same
numbers. `run_job` also saves the assessment in the run folder (`auditlib.assess.saved`) and
hands it to every report, which reads it back instead of assessing the store again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from auditlib.assess import Assessment, assess
from auditlib.assess.apart import run_apart
from auditlib.assess.saved import SAVED_NAME, reopen_assessment, save_assessment
from auditlib.demo import README_NAME, DemoHistory
from auditlib.engine.errors import EngineError
from auditlib.errors import ParameterError, StoreError
from auditlib.files import atomic_path, write_atomic
from auditlib.ingest.collect import CollectRequest
from auditlib.ingest.source_pool import SourceProgress
from auditlib.ingest.steps import collect_into, ingest_paths, scan_into
from auditlib.notify import (
    Digest,
    NotifySettings,
    Previous,
    make_digest,
    notify_settings,
    previous_assessment,
    read_last_run,
    send_digest,
    write_last_run,
)
from auditlib.policy.config import Policy, load_policy
from auditlib.policy.output import write_json, write_junit
from auditlib.reports.batch import Batch, StartReport, run_reports
from auditlib.reports.compliance import ahead_of_the_page
from auditlib.reports.params import parse_bool
from auditlib.reports.runner import ReportRun, new_run_dir, notebook_parameters, notebook_path
from auditlib.scanners.runner import ProgressCallback
from auditlib.scanners.targets import EngineUnreachableError, Target, connect_engine, tagged_images
from auditlib.sources.engine_endpoint import EngineEndpoint
from auditlib.sources.registry import RegistryLimits
from auditlib.store.layout import default_store
from auditlib.store.manifest import list_snapshots

Note = Callable[[str], None]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def write_summary(a: Assessment, folder: Path) -> Path:
    """Write the assessment's summary (`assessment.json`, `Assessment.summary`: it computes
    what every face shows) into `folder`; return the file."""
    write_atomic(folder / "assessment.json", json.dumps(a.summary(), indent=2))
    return folder / "assessment.json"


def write_results(a: Assessment, folder: Path) -> list[Path]:
    """Write the assessment's policy results (`policy.json`, JUnit `policy.xml`) into `folder`,
    each atomically; return the files. Reads the evaluation's frames only, never the engine, so
    it may run while the engine is set aside and the reports' kernels run."""
    ev = a.evaluation
    # Both one image at a time: at fleet scale each whole text is most of a gigabyte.
    with atomic_path(folder / "policy.json") as temp, temp.open("w", encoding="utf-8") as f:
        write_json(ev, f)
    with atomic_path(folder / "policy.xml") as temp, temp.open("w", encoding="utf-8") as f:
        write_junit(ev, f)
    return [folder / "policy.json", folder / "policy.xml"]


def report_parameters(a: Assessment, policy_file: str | None,
                      given: Mapping[str, Any]) -> dict[str, Any]:
    """Return the report parameters that make each page read the same assessment: `as_of` (the
    assessment's time, to the microsecond) and `policy` as an absolute path (papermill changes
    the process's working folder while a notebook runs, so a relative path would name another
    file to a report running beside it), over what was `given`."""
    out = dict(given)
    out["as_of"] = a.as_of.isoformat()
    if policy_file is not None:
        out["policy"] = str(Path(policy_file).resolve())
    return out


def reads_saved(names: list[str], notebooks: Path | None) -> bool:
    """Return whether any of the reports `names` (in `notebooks`, default the packaged ones)
    declares the `assessment` parameter (an older notebooks folder may not).

    Raises:
        ReportError: if a notebook is missing.
    """
    return any("assessment" in notebook_parameters(notebook_path(n, notebooks)) for n in names)


def save_for_reports(a: Assessment, folder: Path, names: list[str], notebooks: Path | None,
                     parameters: dict[str, Any], note: Note) -> dict[str, Any]:
    """Save the assessment in `folder` (`SAVED_NAME`) for the reports `names` to read back, and
    return `parameters` with the `assessment` parameter naming it; unchanged when no notebook
    declares that parameter (an older notebooks folder) or the assessment cannot be saved (then
    `note` says why, and each report assesses the store itself).

    Raises:
        ReportError: if a notebook is missing.
    """
    if not reads_saved(names, notebooks):
        return parameters
    try:
        if "staleness" in names and parse_bool(parameters.get("history", True), "history"):
            _ = a.trends  # the page's trends: small frames, computed here once and saved
        if "compliance" in names:  # what it reads that this engine keeps: made here once
            ahead_of_the_page(a, parameters)
        saved = save_assessment(a, folder / SAVED_NAME)
    except (OSError, StoreError, EngineError, ParameterError) as e:
        note(f"the assessment could not be saved for the reports ({e}); each assesses anew")
        return parameters
    return {**parameters, "assessment": str(saved.resolve())}


@dataclass
class JobRequest:
    """What `run_job` does."""

    store: Path
    engines: tuple[str, ...] = ()
    """Docker Engines to collect and scan; empty: DOCKER_HOST or the local socket."""
    registries: tuple[str, ...] = ()
    registry_limits: RegistryLimits | None = None
    """Limits of registry reads (default: `RegistryLimits()`)."""
    cosign_keys: tuple[str, ...] = ()
    """Public keys (`cosign.pub`) that verify the signatures and attestations in registries."""
    ingest: tuple[str, ...] = ()
    """Files and folders of scanner outputs and SBOMs."""
    scan: bool = True
    policy_file: str | None = None
    as_of: pd.Timestamp | None = None
    """The moment to assess at (default: now, taken once)."""
    out: Path = Path("reports")
    reports: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    kernel: str | None = None
    notebooks: Path | None = None
    cell_timeout: int | None = None
    report_workers: int = 2
    """Reports run at once, each in its own kernel (`run_reports`' `workers`)."""
    notify: tuple[str, ...] = ()
    """Targets of the digest of changes (`auditlib.notify.targets`), beside the policy file's."""
    notify_always: bool = False
    """Send the digest even when nothing changed."""
    notify_page_url: str | None = None
    """The link the digest gives (default: the policy file's `notify.page_url`, else a
    `file://` URI of the page)."""
    fleet: CollectRequest | None = None
    """More sources to collect: contexts, an inventory file's (`auditlib.ingest.inventory`);
    when it names an engine, DOCKER_HOST is not added for want of one."""


@dataclass
class JobResult:
    """What `run_job` did."""

    steps: list[str]
    """One phrase per step (`collected 1 source`, `policy: 12 images x 16 rules: ...`)."""
    assessment: Assessment
    folder: Path
    """The run folder."""
    written: list[Path]
    """Files written into it (pages, policy.json, policy.xml, assessment.json)."""
    batch: Batch | None = None
    """The reports, when any were asked for."""
    digest: Digest | None = None
    """What changed since the previous run, when targets were given."""
    notify_sent: list[str] = field(default_factory=list)
    """The targets the digest went to (shown without credentials)."""
    notify_failed: list[str] = field(default_factory=list)
    """One line per target the digest could not be sent to."""

    @property
    def failed(self) -> list[ReportRun]:
        """Return the reports that did not run to their end."""
        return self.batch.failed if self.batch else []


def _scan_targets(engine: str | None, note: Note) -> list[Target]:
    try:
        client, address = connect_engine(engine)
        targets: list[Target] = list(tagged_images(client, address))
    except EngineUnreachableError as e:
        note(f"not scanned: {e}")
        return []
    if not targets:
        note(f"not scanned: no tagged image on the Docker Engine at {address}")
    return targets


def run_job(req: JobRequest, *, note: Note,
            collecting: Callable[[str], None] | SourceProgress | None = None,
            scanning: ProgressCallback | None = None, reading: Callable[[str], None] | None = None,
            started: StartReport | None = None,
            finished: Callable[[ReportRun], None] | None = None) -> JobResult:
    """Collect, scan, ingest, assess and report, into one store and one run folder.

    Collects the engines (an engine that cannot be reached is a note, not a failure) and the
    registry repositories; scans the engine's tagged images with the scanners on PATH; ingests
    the files given; assesses the store once (`auditlib.assess`) and writes `policy.json`,
    `policy.xml` and `assessment.json`; runs the reports at the assessment's as-of time and
    policy, each reading the assessment back (saved in the run folder, `SAVED_NAME`) instead of
    assessing again (the assessment is then made and saved in a process of its own, and the run
    holds the saved one: `_assessed`), and rebuilds the index. Each step writes its own
    snapshot. With notification targets (`req.notify`, the policy file's `notify` section),
    sends the digest of what changed since the store's previous run (`auditlib.notify`); a
    target that fails is a line in `JobResult.notify_failed`, never an exception. Records the
    run in `STORE/last-run.json`.

    Args:
        req: what to do.
        note: called with each thing a user should read (a source not reached, a tool missing,
            what a scanner could not do).
        collecting, scanning, reading, started, finished: progress callbacks.

    Raises:
        PolicyError: if the policy file is bad (before any work).
        NotifyError: if a notification target or setting is bad (before any work).
        StoreError: if the store cannot be written, or holds no snapshot after the steps.
        ParameterError, ReportError: if a report parameter, notebook or kernel is wrong.
    """
    policy = load_policy(req.policy_file)
    settings = notify_settings(policy.notify, policy.source, targets=req.notify,
                               always=req.notify_always, page_url=req.notify_page_url)
    previous = read_last_run(req.store) if settings.targets else None
    when = req.as_of if req.as_of is not None else pd.Timestamp(dt.datetime.now(dt.UTC))
    steps: list[str] = []
    fleet = req.fleet or CollectRequest()
    given = req.engines or (() if fleet.names_engines() else ("default",))
    engines = [None if e == "default" else e for e in given]
    request = dataclasses.replace(
        fleet, engines=[*fleet.engines, *engines], registries=[*fleet.registries, *req.registries],
        registry_limits=req.registry_limits or fleet.registry_limits,
        cosign_keys=[*fleet.cosign_keys, *req.cosign_keys])
    col = collect_into(req.store, request, progress=collecting, write_empty=False)
    for message in col.failed:
        note(f"not collected: {message}")
    steps.append(f"collected {_plural(col.read, 'source')}")
    engine_ok = any(f.format == "docker-engine" and not f.error for f in col.data.files)
    # Scanned: the first engine named by URL (or DOCKER_HOST); a context's is not (yet).
    urls = [e for e in request.engines if not isinstance(e, EngineEndpoint)]
    if req.scan and engine_ok and urls:
        targets = _scan_targets(urls[0], note)
        scanned = scan_into(req.store, targets, progress=scanning) if targets else None
        if scanned is not None:
            report = scanned.report
            for message in [*report.notes, *report.messages, *report.limitations]:
                note(message)
        outputs = len(scanned.report.raw_files) if scanned else 0
        steps.append(f"scanned {_plural(outputs, 'output')}")
    elif req.scan:
        steps.append("scan skipped (no engine)")
    if req.ingest:
        ing = ingest_paths(req.store, req.ingest, progress=reading)
        for message in ing.errors:
            note(f"not ingested: {message}")
        steps.append(f"ingested {ing.files_read} files")
    if not list_snapshots(req.store):
        raise StoreError(f"{req.store}: no snapshot in this store: no source gave any data")
    folder = new_run_dir(req.out)
    a, params = _assessed(req, when, policy, folder, note)
    written = [folder / "assessment.json"]
    ev = a.evaluation
    counts = ", ".join(f"{ev.count(s)} {s}" for s in ("fail", "warn", "no-data", "waived",
                                                      "pass"))
    steps.append(f"policy: {len(ev.scores)} images x {len(policy.enabled())} rules: {counts}")
    batch = None
    if req.reports:
        # The run's assessment is the saved one, the pages' too, pinned to the snapshots it read:
        # read back as `load_assessment` does, a snapshot that landed meanwhile would make the
        # run's verdict, its digest and assessment.json speak of another assessment (review).
        # While the kernels run, the run's engine moves what it keeps to disk: the memory is
        # theirs (the run's process and a kernel's at once were 4.8 GB at 20,000 images); and
        # this process writes policy.json and policy.xml meanwhile (a core's work of most of a
        # minute at 100,000 images, which the kernels' wait for cells leaves room for).
        with a.view.aggregate_engine.set_aside(), \
                ThreadPoolExecutor(1, thread_name_prefix="auditlib-reports") as pool:
            pages = pool.submit(run_reports, req.reports, store=req.store, out=req.out,
                                parameters=params, kernel=req.kernel, notebooks=req.notebooks,
                                cell_timeout=req.cell_timeout, run_dir=folder, started=started,
                                finished=finished, workers=req.report_workers)
            try:
                results = write_results(a, folder)
            finally:
                batch = pages.result()  # the pages' error, if any, after the files are written
        written = [*(r.html for r in batch.runs), *results, *written]
    else:
        written = [*write_results(a, folder), *written]
    done = JobResult(steps, a, folder, written, batch)
    if settings.targets:
        _notify(done, req, settings, previous, policy, note)
    write_last_run(req.store, a.as_of)
    return done


@dataclass(frozen=True)
class _Saved:
    """What the assessment's own process (`_assess_and_save`) hands back to the run."""

    parameters: dict[str, Any]
    """The reports' parameters (`save_for_reports`): `assessment` names the saved one."""
    notes: list[str]
    """What a user should read (why it could not be saved)."""


def _assess_and_save(store: Path, as_of: pd.Timestamp, policy_file: str | None, folder: Path,
                     reports: list[str], notebooks: Path | None, given: dict[str, Any]
                     ) -> _Saved:
    """Assess `store` at `as_of` under `policy_file`, write its summary into `folder`
    (`write_summary`) and save it there for the `reports` (`save_for_reports`); return the
    reports' parameters and the notes. What `run_job` runs in a process of its own.

    Raises:
        StoreError, DamagedStoreError, PolicyError, EolDataError, EngineError: as `assess`.
        ReportError: if a notebook is missing.
    """
    a = assess(store, as_of=as_of, policy=load_policy(policy_file))
    write_summary(a, folder)  # the summary first: the pages read what it computes
    notes: list[str] = []
    params = save_for_reports(a, folder, reports, notebooks,
                              report_parameters(a, policy_file, given), notes.append)
    return _Saved(params, notes)


def _assessed(req: JobRequest, when: pd.Timestamp, policy: Policy, folder: Path, note: Note
              ) -> tuple[Assessment, dict[str, Any]]:
    """Return the run's assessment of `req.store` at `when`, its summary written into
    `folder`, and the reports' parameters (`save_for_reports`'s).

    With reports that read a saved assessment, it is made and saved in a process of its own
    (`auditlib.assess.apart`), which gives back all the memory it took when it ends: the run then
    holds the saved one (`reopen_assessment`: each part read from its file when first asked
    for) while the reports' kernels run. At 100,000 images the run's process held 4.5 GB
    there when it kept its own (`README`: "The run's assessment in a process of its own").
    Where the assessment could not be saved, `note` says why, and the run assesses the store
    in its own process too.

    Raises:
        StoreError, DamagedStoreError, EolDataError, EngineError: as `assess`.
        ApartError: if the assessment's process ended without an answer.
        ReportError: if a notebook is missing.
    """
    if req.reports and reads_saved(req.reports, req.notebooks):
        saved = run_apart(_assess_and_save, req.store, when, req.policy_file, folder,
                          req.reports, req.notebooks, dict(req.parameters),
                          what="the assessment")
        for message in saved.notes:
            note(message)
        if "assessment" in saved.parameters:
            return (reopen_assessment(saved.parameters["assessment"], req.store, policy=policy),
                    saved.parameters)
        # Not saved (the note says why): each report assesses the store, and so does the run;
        # its summary is written, and a second try to save would only say the same again.
        return assess(req.store, as_of=when, policy=policy), saved.parameters
    a = assess(req.store, as_of=when, policy=policy)
    write_summary(a, folder)
    params = report_parameters(a, req.policy_file, req.parameters)
    if req.reports:
        params = save_for_reports(a, folder, req.reports, req.notebooks, params, note)
    return a, params


def _page(done: JobResult, settings: NotifySettings) -> str | None:
    """Return the link a digest gives: the configured URL, else the compliance page (or the
    index, or the run folder) as a `file://` URI."""
    if settings.page_url:
        return settings.page_url
    pages = [r.html for r in done.batch.runs if r.html is not None] if done.batch else []
    page = next((p for p in pages if p.name.startswith("compliance")), None) or (
        done.batch.index if done.batch else None) or done.folder
    return Path(page).resolve().as_uri()


def _notify(done: JobResult, req: JobRequest, settings: NotifySettings,
            previous: Previous | None, policy: Policy, note: Note) -> None:
    """Make the digest of what changed since `previous` and send it; a target that fails is a
    line in `done.notify_failed`, never an exception."""
    try:
        before = previous_assessment(req.store, previous, policy,
                                     done.assessment.view.first_seen_fixed) if previous else None
    except StoreError as e:
        note(f"notify: the previous run's state cannot be read ({e}); compared with nothing")
        before, previous = None, None
    done.digest = make_digest(before, done.assessment, previous=previous,
                              store=str(req.store), page=_page(done, settings))
    done.notify_sent, done.notify_failed = send_digest(done.digest, settings, note=note)


@dataclass
class DemoResult:
    """What `demo_job` did."""

    fleet: DemoHistory
    """The synthetic fleet over its snapshots (what was written, and its plan)."""
    fleet_dir: Path
    store: Path
    snapshots: list[Path]
    """The store's snapshots, oldest first: one per step of the fleet's history."""
    errors: list[str]
    """Files and sources of the fleet that could not be read (none, unless it is broken)."""
    assessment: Assessment
    batch: Batch

    @property
    def snapshot(self) -> Path:
        """Return the newest snapshot."""
        return self.snapshots[-1]


def _fresh(folder: Path) -> None:
    """Remove the synthetic fleet an earlier demo left in `folder` (its history is made again
    from the start).

    Raises:
        StoreError: if `folder` exists and is not a fleet folder a demo made (its README.txt says
            SYNTHETIC).
    """
    if not folder.exists():
        return
    readme = folder / README_NAME
    if not (folder.is_dir() and readme.is_file()
            and readme.read_text(errors="replace").startswith("SYNTHETIC")):
        raise StoreError(f"{folder}: exists and is not a synthetic demo fleet an earlier "
                         "`auditlib demo` made; give another --out")
    shutil.rmtree(folder)


DEMO_MARK = "SYNTHETIC-DEMO-STORE"
"""A file in a store `demo_job` made: only such a store may be replaced by the next demo."""


def demo_store_ready(store: Path) -> None:
    """Make `store` ready for the demo: a store an earlier demo made is emptied; an empty or
    missing folder is fine.

    Raises:
        StoreError: if `store` holds anything else (a real store is never mixed with or replaced
            by synthetic data).
    """
    if store.is_dir() and any(store.iterdir()):
        if not (store / DEMO_MARK).is_file():
            raise StoreError(f"{store}: not a demo store (it holds other data): the demo never "
                             "writes synthetic data into it; give another --store")
        shutil.rmtree(store)
    store.mkdir(parents=True, exist_ok=True)
    (store / DEMO_MARK).write_text("This store holds auditlib's SYNTHETIC demo fleet; the next "
                                   "`auditlib demo` replaces it.\n", encoding="utf-8")


def demo_job(out: Path, *, images: int = 50, seed: int = 7, store: Path | None = None,
             reading: Callable[[str], None] | None = None,
             started: StartReport | None = None,
             finished: Callable[[ReportRun], None] | None = None) -> DemoResult:
    """Make the synthetic demo fleet's history under `out/demo-fleet`, ingest each of its
    snapshots (documents and collected sources, dated at the snapshot's time) into `store`
    (default: the default store, `store.layout.default_store()`, so the notebooks and `auditlib
    lab` find it with their defaults), assess it under the fleet's policy, and write both reports
    and `out/index.html`.

    The fleet and the store of an earlier demo are made again from the start (a history cannot
    be appended to); a fleet folder or a store a demo did not make is left alone and is an error.

    Raises:
        StoreError: if the store cannot be written, holds data other than an earlier demo's, or
            `out` holds a folder of another kind where the demo's fleet goes.
        ReportError: if a notebook or the kernel is missing.
    """
    fleet_dir = out / "demo-fleet"
    _fresh(fleet_dir)
    store = store if store is not None else default_store()
    demo_store_ready(store)
    fleet = DemoHistory(fleet_dir, images=images, seed=seed)
    snapshots: list[Path] = []
    errors: list[str] = []
    for step in fleet.steps():
        ing = ingest_paths(store, step.documents, progress=reading,
                           collections=step.collections, at=step.at)
        snapshots.append(ing.snapshot)
        errors += ing.errors
    policy = str(fleet.policy_file)
    a = assess(store, policy=policy)
    # The two reports at once: each kernel spends most of its time starting and importing.
    batch = run_reports(["compliance", "staleness"], store=store, out=out,
                        parameters=report_parameters(a, policy, {}), started=started,
                        finished=finished, workers=2)
    return DemoResult(fleet, fleet_dir, store, snapshots, errors, a, batch)
