"""The analyses of `auditlib.history`: vulnerability counts, changes, time
to fix, first seen fixed, images never rebuilt, staleness trend.

Common definitions:

* A *finding* (`fleet.findings.FINDING_KEY`), its severity (the highest any document gives) and
  whether it is fixable (any says `fixed`) are the assessment's; rows without an image id (scans
  of folders) are left out.
* An image is *present* in a state when a document or collected row names it (`scans`,
  `images`); it is *vulnerability-scanned* as `fleet.coverage.is_vulnerability_scan` says.
* An image's *repository* is `registry/repository` of the tag its name shows
  (`fleet.names.shown_tag`: a version tag before `latest`, then the first by reference), else of
  a repo digest, else of the reference it was scanned as. Images are followed
  over time by repository: the repository's *current image* in a state is its newest present
  image (by build time; undated images by when first seen). An image with no repository is
  followed by its own id.

The vulnerabilities are never held in pandas: every analysis that reads them is SQL
(`auditlib.engine.trends`) run by an engine over each snapshot's vulnerability files, each read
once (a store), or over the frame of a history read into memory; pandas holds the small tables
(`SMALL`) and the small results. `auditlib.history.trends.trends_of` gives what the staleness
page draws, all at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditlib.data import AuditData
from auditlib.engine import Engine, FrameTables, open_engine
from auditlib.engine.history import frames_clock, history_clock, history_engine, times_at
from auditlib.engine.trends import (
    CURRENT_VIEW,
    FIX_TIMES,
    IMAGE_COUNTS,
    SCAN_IDS,
    SEVERITY_COUNTS,
    Snapshots,
    changes_sql,
    frames_trends,
    store_trends,
)
from auditlib.errors import StoreError
from auditlib.fleet.coverage import is_vulnerability_scan
from auditlib.fleet.findings import FINDING_KEY
from auditlib.history.read import SNAPSHOTS as _SNAPSHOTS
from auditlib.history.read import read_history
from auditlib.identity import parse_reference
from auditlib.normalize.severity import SEVERITIES, SEVERITY_DTYPE
from auditlib.store.location import Location
from auditlib.store.manifest import usable_snapshots

History = Mapping[str, pd.DataFrame]
StoreOrHistory = str | os.PathLike[str] | Mapping[str, pd.DataFrame]

KEYS = FINDING_KEY


NEEDED = ("scans", "images", "image_tags", "vulnerabilities")
"""The tables the analyses read."""

_SEVERITIES_DOWN = list(reversed(SEVERITY_DTYPE.categories))


def _days(delta: pd.Series) -> pd.Series:
    """Return a time difference in days (Float64; missing stays missing)."""
    return (pd.to_timedelta(delta).dt.total_seconds() / 86400).astype("Float64")


def _history(x: StoreOrHistory, tables: Iterable[str] = NEEDED) -> History:
    """Return the history `x` is, or read it from the store `x` is.

    Raises:
        ValueError: if a given history lacks a table the analysis needs.
        StoreError: if the store cannot be read.
    """
    names = list(tables)
    if isinstance(x, Mapping):
        missing = [t for t in (*names, _SNAPSHOTS) if t not in x]
        if missing:
            raise ValueError(
                f"the history lacks {', '.join(missing)}: read it with read_history(store) (all "
                f"tables) or read_history(store, tables={names!r})"
            )
        return x
    return read_history(x, names)


def _snaps(h: History) -> pd.DataFrame:
    """Return snapshot_id (str), snapshot_at and idx (position), oldest first."""
    s = h[_SNAPSHOTS]
    return pd.DataFrame({
        "snapshot_id": s["snapshot_id"].astype(str).to_numpy(),
        "snapshot_at": pd.to_datetime(s["snapshot_at"], utc=True).to_numpy(),
        "idx": np.arange(len(s)),
    }).astype({"snapshot_at": "datetime64[ns, UTC]"})


def _text(s: pd.Series) -> pd.Series:
    return s.astype("string")


SMALL = ("scans", "images", "image_tags")
"""The tables the analyses read in pandas (one row per document, image or tag in each state);
the vulnerabilities stay in the engine (`auditlib.engine.trends`)."""


@dataclass
class Opened:
    """A history opened for the analyses: its small tables (and `SNAPSHOTS`: snapshot_id,
    snapshot_at, oldest first, state k the k-th) in pandas, its vulnerabilities in `engine`
    (`auditlib.engine.trends`' views)."""

    h: History
    engine: Engine
    scanned: pd.DataFrame | None = None
    """`scanned_images`, once worked out (every snapshot's files are read for it)."""

    @property
    def ids(self) -> list[str]:
        """Return the snapshot ids, state k the k-th."""
        return [str(i) for i in self.h[_SNAPSHOTS]["snapshot_id"]]

    def sql(self, query: str) -> pd.DataFrame:
        """Return the result of `query`, its column state (when it has one) turned into
        snapshot_id."""
        out = self.engine.sql(query)
        if "state" in out.columns:
            ids = np.asarray(self.ids, dtype=object)
            out.insert(0, "snapshot_id", ids[out.pop("state").astype("int64").to_numpy()]
                       if len(out) else pd.Series([], dtype=object))
        return out


@contextmanager
def opened(x: StoreOrHistory, tables: Iterable[str] = SMALL, *, engine_name: str = "duckdb",
           spark_master: str | None = None, states: Sequence[int] | None = None
           ) -> Iterator[Opened]:
    """Open the history `x` is (a store folder: its vulnerability files read by the engine
    `engine_name` where they are, only those of `states` when given, its small `tables` by
    `read_history`; or what `read_history` returned, its vulnerabilities registered in DuckDB),
    closing the engine after.

    Raises:
        StoreError: if the store cannot be read.
        ValueError: if a given history lacks a table the analysis needs.
        EngineError: if the engine cannot read the files.
    """
    names = list(tables)
    if isinstance(x, Mapping):
        h = _history(x, (*names, "vulnerabilities"))
        engine = open_engine("duckdb", FrameTables(AuditData()))
        try:
            frames_trends(h["vulnerabilities"], list(_snaps(h)["snapshot_id"]), engine)
            yield Opened(h, engine)
        finally:
            engine.close()
        return
    engine = history_engine(x, engine_name, spark_master=spark_master)
    try:
        snaps = store_trends(x, engine, states)
        small = dict(read_history(x, names)) if names else {}
        small[_SNAPSHOTS] = _snapshots_frame(snaps)
        yield Opened(small, engine)
    finally:
        engine.close()


def _snapshots_frame(snaps: Snapshots) -> pd.DataFrame:
    f = snaps.frame()
    return f[["snapshot_id", "snapshot_at"]]


def severity_of(ranks: pd.Series) -> pd.Series:
    """Return severity ranks (`aggregates.SEVERITY_RANK_SQL`) as severities (missing stays)."""
    names = pd.Series(list(SEVERITIES), dtype=object)
    r = pd.to_numeric(ranks).astype("Float64")
    out = pd.Series(pd.NA, index=ranks.index, dtype=object)
    known = r.notna().to_numpy(bool)
    out[known] = names.iloc[r[known].astype("int64").to_numpy()].to_numpy()
    return out.astype(SEVERITY_DTYPE)


def image_counts(o: Opened) -> pd.DataFrame:
    """Return per snapshot and image with vulnerability rows its findings' counts
    (`engine.trends.IMAGE_COUNTS`): snapshot_id, image_id, vulnerabilities, critical, high,
    fixable (int64)."""
    out = o.sql(IMAGE_COUNTS)
    out["image_id"] = out["image_id"].astype(str)
    return out.astype(dict.fromkeys(("vulnerabilities", "critical", "high", "fixable"), "int64"))


def _only_snapshots(h: History, ids: set[str]) -> dict[str, pd.DataFrame]:
    """Return the history restricted to the snapshots `ids`."""
    return {name: df[df["snapshot_id"].isin(list(ids)).to_numpy()] for name, df in h.items()}


def _pairs(df: pd.DataFrame) -> pd.DataFrame:
    """Return the distinct (snapshot_id, image_id) of `df`, image id known, as text."""
    df = df.loc[df["image_id"].notna().to_numpy(), ["snapshot_id", "image_id"]]
    df = df.drop_duplicates()  # on the categories' codes: cheap, then little to convert
    return pd.DataFrame({
        "snapshot_id": df["snapshot_id"].astype(str).to_numpy(),
        "image_id": df["image_id"].astype(str).to_numpy(),
    }).drop_duplicates()


def _present(h: History) -> pd.DataFrame:
    """Return (snapshot_id, image_id) of every image present in each state."""
    return pd.concat([_pairs(h["scans"]), _pairs(h["images"])]).drop_duplicates()


def scanned_images(o: Opened, counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return (snapshot_id, image_id) of every vulnerability-scanned image in each state (what a
    vulnerability scan is: `fleet.coverage.is_vulnerability_scan`, given the documents with a
    vulnerability row, `engine.trends.SCAN_IDS`; a `scan_id` names the same document in every
    snapshot), from `counts` (`image_counts`) when given; worked out once per opened history."""
    if o.scanned is None:
        sc = o.h["scans"]
        with_rows = o.engine.sql(SCAN_IDS)
        counts = image_counts(o) if counts is None else counts
        o.scanned = pd.concat([_pairs(sc[is_vulnerability_scan(sc, with_rows)]),
                               counts[["snapshot_id", "image_id"]]]).drop_duplicates()
    return o.scanned


def _repositories(h: History) -> dict[str, str]:
    """Return image id -> repository (`registry/repository`), for images that have one."""
    t = h["image_tags"]
    t = t[t["image_id"].notna().to_numpy() & t["repository"].notna().to_numpy()]
    out: dict[str, str] = {}
    if len(t):
        reg = _text(t["registry"])
        name = (reg + "/").where(reg.notna(), "") + _text(t["repository"])
        tag = _text(t["tag"])
        tags = pd.DataFrame({"image_id": t["image_id"].astype(str).to_numpy(),
                             "untagged": tag.isna().to_numpy(),
                             "latest": (tag == "latest").fillna(False).to_numpy(bool),
                             "reference": _text(t["reference"]).fillna("").to_numpy(),
                             "name": name.to_numpy()})
        # The order of `fleet.names.shown_tag`: the repository of the image's name.
        tags = tags.sort_values(["image_id", "untagged", "latest", "reference", "name"])
        tags = tags.drop_duplicates("image_id")
        out.update(zip(tags["image_id"], tags["name"], strict=True))
    for df in (h["images"], h["scans"]):
        refs = df[df["image_id"].notna().to_numpy() & df["image_ref"].notna().to_numpy()]
        pairs = pd.DataFrame({"image_id": refs["image_id"].astype(str).to_numpy(),
                              "ref": refs["image_ref"].astype(str).to_numpy()}).drop_duplicates()
        for image, ref in sorted(zip(pairs["image_id"], pairs["ref"], strict=True)):
            if image not in out:
                parsed = parse_reference(ref)
                if parsed is not None and not _is_id_ref(parsed.repository, parsed.tag):
                    out[image] = parsed.name
    return out


def _is_id_ref(repository: str, tag: str | None) -> bool:
    """Return whether a parsed reference is an image id taken for a name (`sha256:<hex>` reads
    as repository `library/sha256`, tag `<hex>`)."""
    return repository.rsplit("/", 1)[-1] == "sha256" and bool(
        tag and re.fullmatch(r"[0-9a-f]{64}", tag))


def _created(h: History) -> pd.Series:
    """Return image id -> when it was built (the earliest time any row gives)."""
    img = h["images"]
    img = img[img["image_id"].notna().to_numpy() & img["created_at"].notna().to_numpy()]
    return img["created_at"].groupby(img["image_id"].astype(str).to_numpy()).min()


def _current(h: History, present: pd.DataFrame) -> pd.DataFrame:
    """Return, per snapshot and unit (repository, else image id), the unit's current image:
    columns snapshot_id, snapshot_at, idx, unit, repository, image_id, created_at."""
    p = present.merge(_snaps(h), on="snapshot_id")
    repos = _repositories(h)
    p["repository"] = p["image_id"].map(repos).astype("string")
    p["unit"] = p["repository"].fillna(p["image_id"])
    p["created_at"] = p["image_id"].map(_created(h)).astype("datetime64[ns, UTC]")
    first_seen = p.groupby("image_id")["snapshot_at"].transform("min")
    p["_order"] = p["created_at"].fillna(first_seen)
    p = p.sort_values(["idx", "unit", "_order", "image_id"]).groupby(["idx", "unit"]).tail(1)
    return p.drop(columns="_order").sort_values(["unit", "idx"]).reset_index(drop=True)


def vulnerability_counts(store_or_history: StoreOrHistory) -> pd.DataFrame:
    """Return vulnerability counts over time, by severity.

    Args:
        store_or_history: a store folder, or what `read_history` returned.

    Returns:
        One row per snapshot and severity (every severity, critical first, zeros included):
        snapshot_id, snapshot_at, severity, vulnerabilities (distinct findings: image,
        vulnerability, package, version), fixable (of them), images (with at least one).

    Raises:
        StoreError: if the store cannot be read.
        ValueError: if a given history lacks the vulnerabilities table.
    """
    with opened(store_or_history, ()) as o:
        return vulnerability_counts_of(o)


def vulnerability_counts_of(o: Opened) -> pd.DataFrame:
    """Return `vulnerability_counts` of an opened history (`engine.trends.SEVERITY_COUNTS`)."""
    snaps = _snaps(o.h)
    grid = pd.MultiIndex.from_product([snaps["snapshot_id"], _SEVERITIES_DOWN],
                                      names=["snapshot_id", "severity"])
    got = o.sql(SEVERITY_COUNTS)
    got["severity"] = severity_of(got.pop("severity_rank")).astype(str)
    counts = got.set_index(["snapshot_id", "severity"])[
        ["vulnerabilities", "fixable", "images"]].reindex(grid, fill_value=0)
    out = counts.reset_index().merge(snaps[["snapshot_id", "snapshot_at"]], on="snapshot_id")
    out["severity"] = out["severity"].astype(SEVERITY_DTYPE)
    out = out.astype(dict.fromkeys(("vulnerabilities", "fixable", "images"), "int64"))
    return out[["snapshot_id", "snapshot_at", "severity", "vulnerabilities", "fixable", "images"]]


def scan_coverage(store_or_history: StoreOrHistory) -> pd.DataFrame:
    """Return, per snapshot, how many images were present and how many of them a vulnerability
    scan covered (module docstring): a count of vulnerabilities is a count over the scanned
    ones only, and unknown where none was.

    Args:
        store_or_history: a store folder, or what `read_history` returned.

    Returns:
        One row per snapshot, oldest first: snapshot_id, snapshot_at, images, vuln_scanned,
        not_scanned.

    Raises:
        StoreError: if the store cannot be read.
        ValueError: if a given history lacks a table (scans, images, vulnerabilities).
    """
    with opened(store_or_history, ("scans", "images")) as o:
        return scan_coverage_of(o)


def scan_coverage_of(o: Opened, counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return `scan_coverage` of an opened history (`counts`: its `image_counts`, when at
    hand)."""
    h = o.h
    snaps = _snaps(h)[["snapshot_id", "snapshot_at"]]
    scanned = scanned_images(o, counts)
    present = pd.concat([_present(h), scanned]).drop_duplicates()
    ids = snaps["snapshot_id"]
    images = present.groupby("snapshot_id").size().reindex(ids, fill_value=0).to_numpy()
    vuln = scanned.groupby("snapshot_id").size().reindex(ids, fill_value=0).to_numpy()
    return snaps.assign(images=images.astype("int64"), vuln_scanned=vuln.astype("int64"),
                        not_scanned=(images - vuln).astype("int64"))


def _pick(ids: list[str], older: str | None, newer: str | None) -> tuple[str, str]:
    def find(x: str) -> int:
        name = os.path.basename(os.fspath(x).rstrip("/"))
        if name not in ids:
            raise ValueError(f"{x}: no such snapshot")
        return ids.index(name)

    j = len(ids) - 1 if newer is None else find(newer)
    i = j - 1 if older is None else find(older)
    if i < 0:
        raise StoreError("vulnerability_changes needs two snapshots; the store has "
                         f"{len(ids)} up to the one asked for")
    if i >= j:
        raise ValueError(f"{ids[i]} is not older than {ids[j]}")
    return ids[i], ids[j]


def vulnerability_changes(
    store_or_history: StoreOrHistory, older: str | None = None, newer: str | None = None
) -> pd.DataFrame:
    """Return the vulnerabilities new and gone between two snapshots.

    Args:
        store_or_history: a store folder (only the two states are read), or what
            `read_history` returned.
        older: a snapshot id (default: the one before `newer`).
        newer: a snapshot id (default: the newest).

    Returns:
        One row per finding that changed: image_id, vuln_id, pkg_name, pkg_version, severity
        (in the state it is in), change (`new`; `fixed`: the image is still there, scanned, and
        no longer has it; `gone`: the image itself is gone or no longer scanned), repository.
        `attrs` holds `older` and `newer`. Sorted by change, severity (worst first), image.

    Raises:
        StoreError: if there are fewer than two snapshots, or the store cannot be read.
        ValueError: if a snapshot id is unknown or `older` is not older than `newer`.
    """
    if isinstance(store_or_history, Mapping):
        ids = list(_snaps(_history(store_or_history))["snapshot_id"])
    else:
        ids = [s.snapshot_id for s in usable_snapshots(store_or_history).snapshots]
        if not ids:
            raise StoreError(f"{store_or_history}: no snapshot in this store")
    a, b = _pick(ids, older, newer)
    i, j = ids.index(a), ids.index(b)
    with opened(store_or_history, SMALL, states=[i, j]) as o:
        return vulnerability_changes_of(o, i, j)


def vulnerability_changes_of(o: Opened, older: int, newer: int) -> pd.DataFrame:
    """Return `vulnerability_changes` between the states `older` and `newer` of an opened
    history (`engine.trends.changes_sql`)."""
    ids = o.ids
    a, b = ids[older], ids[newer]
    m = o.engine.sql(changes_sql(older, newer))
    scanned = scanned_images(o)
    still = set(scanned.loc[scanned["snapshot_id"] == b, "image_id"])
    new = m["is_new"].astype(int).to_numpy() == 1
    image = m["image_id"].astype(str)
    change = np.where(new, "new", np.where(image.isin(still), "fixed", "gone"))
    out = pd.DataFrame({k: m[k].astype(object).where(m[k].notna(), None) for k in KEYS})
    out["severity"] = severity_of(m["severity_rank"])
    out["change"] = pd.Categorical(change, categories=["new", "fixed", "gone"])
    two = _only_snapshots(o.h, {a, b})  # the names the two states give
    out["repository"] = out["image_id"].map(_repositories(two)).astype("string")
    out = out.sort_values(["change", "severity", "image_id", "vuln_id", "pkg_name"],
                          ascending=[True, False, True, True, True], kind="stable")
    out = out.reset_index(drop=True)
    out.attrs.update(older=a, newer=b)
    return out


def time_to_fix(store_or_history: StoreOrHistory) -> pd.DataFrame:
    """Return how long each vulnerability took to be fixed, per repository (or image).

    A vulnerability of a package is followed in the repository's current image (newest build)
    at each snapshot: it is fixed at the first later snapshot whose current image (the same one,
    or a newer build) is vulnerability-scanned and no longer has it. Only its first appearance
    is measured (a vulnerability that comes back is not a new row).

    Args:
        store_or_history: a store folder, or what `read_history` returned.

    Returns:
        One row per (repository or image, vuln_id, pkg_name): repository (missing for an image
        without one), image_id (where first seen), vuln_id, pkg_name, severity (highest),
        first_seen_at, first_fixable_at (first snapshot where a scanner said `fixed`; missing
        if none did), fixed_at and fixed_in_image_id (missing while not fixed), days_to_fix
        (fixed_at - first_seen_at, in days). Sorted by first_seen_at.

    Raises:
        StoreError: if the store cannot be read.
        ValueError: if a given history lacks a table (scans, images, image_tags,
            vulnerabilities).
    """
    with opened(store_or_history, SMALL) as o:
        return time_to_fix_of(o)


def define_current(o: Opened, counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Register the current scanned image of each unit in each state (`engine.trends.
    CURRENT_VIEW`); return it (`_current` with rank, the unit's n-th such state)."""
    cur = _current(o.h, scanned_images(o, counts))
    cur["rank"] = cur.groupby("unit").cumcount()
    o.engine.register(CURRENT_VIEW, pd.DataFrame({
        "state": cur["idx"].astype(str), "image_id": cur["image_id"].astype(str),
        "unit": cur["unit"].astype(str), "pos": cur["rank"].astype(str)}))
    return cur


def time_to_fix_of(o: Opened, counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return `time_to_fix` of an opened history (`engine.trends.FIX_TIMES`)."""
    cols = ["repository", "image_id", "vuln_id", "pkg_name", "severity", "first_seen_at",
            "first_fixable_at", "fixed_at", "fixed_in_image_id", "days_to_fix"]
    cur = define_current(o, counts)
    got = o.engine.sql(FIX_TIMES)
    if got.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    at = list(_snaps(o.h)["snapshot_at"])
    repo = cur.drop_duplicates("unit").set_index("unit")["repository"]
    out = pd.DataFrame({
        "unit": got["unit"].astype(str),
        "repository": got["unit"].astype(str).map(repo).astype("string"),
        "image_id": got["image_id"].astype(str),
        "vuln_id": got["vuln_id"].astype(object).where(got["vuln_id"].notna(), None),
        "pkg_name": got["pkg_name"].astype(object).where(got["pkg_name"].notna(), None),
        "severity": severity_of(got["severity_rank"]),
        "first_seen_at": times_at(at, got["first_state"]),
        "first_fixable_at": times_at(at, got["fixable_state"]),
        "fixed_at": times_at(at, got["fixed_state"]),
        "fixed_in_image_id": got["fixed_image_id"].astype("string"),
    })
    out["days_to_fix"] = _days(out["fixed_at"] - out["first_seen_at"])
    out = out.sort_values(["first_seen_at", "unit", "vuln_id", "pkg_name"], kind="stable")
    return out[cols].reset_index(drop=True)


def first_seen_fixed(store_or_history: StoreOrHistory | Location) -> pd.DataFrame:
    """Return when each fixable finding's fix was first seen: the `first_seen_fixed` that the
    SLA clock accepts (`fleet.findings.fixable_findings`).

    The fix of a vulnerability in a package version exists for every image that has that
    version, so the time is the first snapshot in which any image was seen with it fixable (a
    rebuild that keeps the vulnerable version does not restart the clock). Whether the fix was
    seen to appear matters: when an earlier snapshot saw the same vulnerability of the same
    package version not fixable, the fix appeared between the two (`fix_seen_appearing`); when
    it was fixable the first time it was seen, the fix may be much older, and the first sight is
    only a bound (the store's first snapshot is not when every fix appeared).

    Computed by SQL (`auditlib.engine.history.FIRST_SEEN_FIXED`, on an embedded DuckDB): over a
    store, each vulnerability file of any snapshot's state is read once, where it is; an
    assessment keeps it in its own engine instead (`history_clock`).

    Args:
        store_or_history: a store (a folder, or a `Location` on any pyarrow filesystem), or
            what `read_history` returned.

    Returns:
        One row per finding ever seen fixable: image_id, vuln_id, pkg_name, pkg_version (text),
        first_seen_fixed_at (UTC), fix_seen_appearing (bool); sorted by the finding.

    Raises:
        StoreError: if the store cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
        ValueError: if a given history lacks the vulnerabilities table.
        EngineError: if the engine cannot read the store's files.
    """
    engine = open_engine("duckdb", FrameTables(AuditData())) if isinstance(
        store_or_history, Mapping) else history_engine(store_or_history)
    try:
        if isinstance(store_or_history, Mapping):
            h = _history(store_or_history, ("vulnerabilities",))
            snaps = _snaps(h)
            at = dict(zip(snaps["snapshot_id"], snaps["snapshot_at"], strict=True))
            clock = frames_clock(h["vulnerabilities"], at, engine)
        else:
            clock = history_clock(store_or_history, engine)
        return clock.frame()
    finally:
        engine.close()


def never_rebuilt(store_or_history: StoreOrHistory, min_days: float = 30) -> pd.DataFrame:
    """Return the repositories whose current image has not changed for at least `min_days` of
    snapshots.

    Only repositories present in the newest snapshot count (an image with no repository cannot
    be told from its rebuild and is left out).

    Args:
        store_or_history: a store folder, or what `read_history` returned.
        min_days: the least time between the first and the newest snapshot in which the image
            was the repository's current image.

    Returns:
        One row per such repository: repository, image_id, created_at, first_seen_at (first
        snapshot of the unbroken run in which it was current), last_seen_at (the newest),
        snapshots (in the run), span_days, age_days (since its build, at the newest snapshot;
        missing when the build time is unknown). Sorted by span_days, longest first.

    Raises:
        StoreError: if the store cannot be read.
        ValueError: if a given history lacks a table (scans, images, image_tags).
    """
    h = _history(store_or_history, ("scans", "images", "image_tags"))
    return never_rebuilt_of(h, min_days)


def never_rebuilt_of(h: History, min_days: float = 30) -> pd.DataFrame:
    """Return `never_rebuilt` of a history's small tables (`scans`, `images`, `image_tags`)."""
    cur = _current(h, _present(h))
    cur = cur[cur["repository"].notna().to_numpy()]
    last = len(h[_SNAPSHOTS]) - 1
    cur = cur[cur["unit"].isin(set(cur.loc[cur["idx"] == last, "unit"]))]
    changed = cur["image_id"] != cur.groupby("unit")["image_id"].shift()
    cur = cur.assign(run=changed.astype(int).groupby(cur["unit"]).cumsum())
    final = cur[cur["run"] == cur.groupby("unit")["run"].transform("max")]
    out = final.groupby("unit", sort=False).agg(
        repository=("repository", "first"), image_id=("image_id", "first"),
        created_at=("created_at", "first"), first_seen_at=("snapshot_at", "min"),
        last_seen_at=("snapshot_at", "max"), snapshots=("idx", "size"),
    ).reset_index(drop=True)
    out["span_days"] = _days(out["last_seen_at"] - out["first_seen_at"]).astype(float)
    out["age_days"] = _days(out["last_seen_at"] - out["created_at"])
    out = out[out["span_days"] >= min_days]
    return out.sort_values(["span_days", "repository"], ascending=[False, True],
                           kind="stable").reset_index(drop=True)


def staleness_trend(store_or_history: StoreOrHistory) -> pd.DataFrame:
    """Return, per snapshot and repository, its current image, how old it was and how
    vulnerable.

    Args:
        store_or_history: a store folder, or what `read_history` returned.

    Returns:
        One row per snapshot and repository (an image without one stands for itself, with
        repository missing): snapshot_id, snapshot_at, repository, image_id, created_at,
        age_days (at the snapshot; missing when the build time is unknown), vulnerabilities,
        critical, high, fixable (distinct findings of the image; missing when it was not
        vulnerability-scanned in that state). Sorted by repository, then time.

    Raises:
        StoreError: if the store cannot be read.
        ValueError: if a given history lacks a table (scans, images, image_tags,
            vulnerabilities).
    """
    with opened(store_or_history, SMALL) as o:
        return staleness_trend_of(o)


def staleness_trend_of(o: Opened, counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return `staleness_trend` of an opened history (`counts`: its `image_counts`, when at
    hand)."""
    counts = image_counts(o) if counts is None else counts
    h = o.h
    cur = _current(h, _present(h))
    scanned = scanned_images(o, counts).assign(_scanned=True)
    out = cur.merge(scanned, on=["snapshot_id", "image_id"], how="left")
    out = out.merge(counts, on=["snapshot_id", "image_id"], how="left")
    is_scanned = out["_scanned"].notna()
    for c in ("vulnerabilities", "critical", "high", "fixable"):
        out[c] = out[c].fillna(0).astype("Int64").mask(~is_scanned)
    out["age_days"] = _days(out["snapshot_at"] - out["created_at"])
    out = out.sort_values(["unit", "idx"], kind="stable").reset_index(drop=True)
    return out[["snapshot_id", "snapshot_at", "repository", "image_id", "created_at", "age_days",
                "vulnerabilities", "critical", "high", "fixable"]]
