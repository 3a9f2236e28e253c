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
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from auditlib.data import AuditData
from auditlib.engine import FrameTables, open_engine
from auditlib.engine.history import frames_clock, history_clock, history_engine
from auditlib.errors import StoreError
from auditlib.fleet.coverage import is_vulnerability_scan
from auditlib.fleet.findings import FINDING_KEY, fixable
from auditlib.history.read import SNAPSHOTS as _SNAPSHOTS
from auditlib.history.read import read_history
from auditlib.identity import parse_reference
from auditlib.normalize.severity import SEVERITY_DTYPE
from auditlib.store.current import read_current
from auditlib.store.location import Location
from auditlib.store.manifest import snapshot_infos

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


def _findings(h: History) -> pd.DataFrame:
    """Return one row per (snapshot_id, finding): severity (highest), fixable (any scanner),
    fixed_version (first). Keys stay categorical (grouping on codes is what makes a long history
    affordable)."""
    v = h["vulnerabilities"]
    v = v[v["image_id"].notna().to_numpy()]
    df = pd.DataFrame({
        **{k: _category(v[k]) for k in ("snapshot_id", *KEYS)},
        "severity": v["severity"].astype(SEVERITY_DTYPE).to_numpy(),
        "fixable": fixable(v),
        "fixed_version": _category(v["fixed_version"]),
    })
    if df.empty:
        return df
    return df.groupby(["snapshot_id", *KEYS], dropna=False, sort=False, observed=True).agg(
        severity=("severity", "max"),
        fixable=("fixable", "any"),
        fixed_version=("fixed_version", "first"),
    ).reset_index()


def _category(s: pd.Series) -> pd.Categorical[Any]:
    """Return a column as an unordered categorical of text."""
    if isinstance(s.dtype, pd.CategoricalDtype) and not s.dtype.ordered:
        return pd.Categorical(s)
    return pd.Categorical(s.astype("string"))


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


def _scanned(h: History) -> pd.DataFrame:
    """Return (snapshot_id, image_id) of every vulnerability-scanned image in each state (what a
    vulnerability scan is: `fleet.coverage.is_vulnerability_scan`; a `scan_id` names the same
    document in every snapshot)."""
    sc, v = h["scans"], h["vulnerabilities"]
    return pd.concat([_pairs(sc[is_vulnerability_scan(sc, v)]), _pairs(v)]).drop_duplicates()


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
    h = _history(store_or_history, ("vulnerabilities",))
    snaps = _snaps(h)
    f = _findings(h)
    grid = pd.MultiIndex.from_product([snaps["snapshot_id"], _SEVERITIES_DOWN],
                                      names=["snapshot_id", "severity"])
    if f.empty:
        counts = pd.DataFrame(0, index=grid, columns=["vulnerabilities", "fixable", "images"])
    else:
        f["severity"] = f["severity"].astype(str)
        counts = f.groupby(["snapshot_id", "severity"]).agg(
            vulnerabilities=("vuln_id", "size"), fixable=("fixable", "sum"),
            images=("image_id", "nunique"),
        ).reindex(grid, fill_value=0)
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
    h = _history(store_or_history, ("scans", "images", "vulnerabilities"))
    snaps = _snaps(h)[["snapshot_id", "snapshot_at"]]
    scanned = _scanned(h)
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


def _two_states(store: str | os.PathLike[str], older: str | None, newer: str | None
                ) -> tuple[History, str, str]:
    """Return the history of just two states of `store` (read with `read_current`)."""

    infos = snapshot_infos(store)
    if not infos:
        raise StoreError(f"{store}: no snapshot in this store")
    ids = [s.snapshot_id for s in infos]
    a, b = _pick(ids, older, newer)
    at = {s.snapshot_id: s.created_at for s in infos}
    h: dict[str, pd.DataFrame] = {}
    states = {sid: read_current(store, as_of=sid, tables=NEEDED) for sid in (a, b)}
    for t in NEEDED:
        frames = []
        for sid, data in states.items():
            df = getattr(data, t).copy()
            df.insert(0, "snapshot_at", at[sid])
            df.insert(0, "snapshot_id", sid)
            frames.append(df)
        h[t] = pd.concat(frames, ignore_index=True)
    h[_SNAPSHOTS] = pd.DataFrame({"snapshot_id": [a, b], "snapshot_at": [at[a], at[b]]})
    return h, a, b


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
        h = _history(store_or_history)
        a, b = _pick(list(_snaps(h)["snapshot_id"]), older, newer)
        h = _only_snapshots(h, {a, b})
    else:
        h, a, b = _two_states(store_or_history, older, newer)
    f = _findings(h)
    cols = [*KEYS, "severity"]
    before, after = f.loc[f["snapshot_id"] == a, cols], f.loc[f["snapshot_id"] == b, cols]
    m = before.merge(after, on=KEYS, how="outer", suffixes=("_old", "_new"), indicator=True)
    scanned = _scanned(h)
    still = set(scanned.loc[scanned["snapshot_id"] == b, "image_id"])
    new = m[m["_merge"] == "right_only"].assign(severity=lambda d: d["severity_new"],
                                                change="new")
    lost = m[m["_merge"] == "left_only"]
    lost = lost.assign(severity=lost["severity_old"],
                       change=np.where(lost["image_id"].isin(still), "fixed", "gone"))
    out = pd.concat([new, lost], ignore_index=True)[[*KEYS, "severity", "change"]]
    out["severity"] = out["severity"].astype(SEVERITY_DTYPE)
    out["change"] = pd.Categorical(out["change"], categories=["new", "fixed", "gone"])
    out["repository"] = out["image_id"].map(_repositories(h)).astype("string")
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
    h = _history(store_or_history)
    cur = _current(h, _scanned(h))
    cur["rank"] = cur.groupby("unit").cumcount()
    ranks = cur.groupby("unit").size()
    f = _findings(h)
    cols = ["repository", "image_id", "vuln_id", "pkg_name", "severity", "first_seen_at",
            "first_fixable_at", "fixed_at", "fixed_in_image_id", "days_to_fix"]
    fu = f.merge(cur[["snapshot_id", "image_id", "unit", "repository", "rank", "snapshot_at"]],
                 on=["snapshot_id", "image_id"])
    if fu.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    key = ["unit", "vuln_id", "pkg_name"]
    fu = fu.groupby([*key, "rank"], dropna=False, sort=False).agg(
        severity=("severity", "max"), fixable=("fixable", "any"), image_id=("image_id", "first"),
        snapshot_at=("snapshot_at", "first"), repository=("repository", "first"),
    ).reset_index().sort_values([*key, "rank"], kind="stable")
    g = fu.groupby(key, dropna=False, sort=False)
    run = fu["rank"] - g.cumcount()
    first = fu[(run == g["rank"].transform("min")).to_numpy()]  # the first unbroken run
    gf = first.groupby(key, dropna=False, sort=False)
    out = gf.agg(
        repository=("repository", "first"), image_id=("image_id", "first"),
        severity=("severity", "max"), first_seen_at=("snapshot_at", "min"),
        r0=("rank", "min"), runlen=("rank", "size"),
    ).reset_index()
    fixable = first[first["fixable"].to_numpy()].groupby(key, dropna=False)["snapshot_at"].min()
    out = out.merge(fixable.rename("first_fixable_at").reset_index(), on=key, how="left")
    out["fixed_rank"] = out["r0"] + out["runlen"]
    done = out["fixed_rank"] < out["unit"].map(ranks)
    at = cur.set_index(["unit", "rank"])
    hit = pd.MultiIndex.from_arrays([out["unit"], out["fixed_rank"]])
    fixed_at = at["snapshot_at"].reindex(hit).to_numpy()
    fixed_in = at["image_id"].reindex(hit).to_numpy()
    out["fixed_at"] = pd.Series(fixed_at, dtype="datetime64[ns, UTC]").where(done.to_numpy())
    out["fixed_in_image_id"] = pd.Series(fixed_in, dtype="string").where(done.to_numpy())
    out["days_to_fix"] = _days(out["fixed_at"] - out["first_seen_at"])
    out["severity"] = out["severity"].astype(SEVERITY_DTYPE)
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
    h = _history(store_or_history)
    cur = _current(h, _present(h))
    f = _findings(h)
    sev = f["severity"].astype(str)
    counts = f.assign(critical=(sev == "critical").to_numpy(), high=(sev == "high").to_numpy()
                      ).groupby(["snapshot_id", "image_id"]).agg(
        vulnerabilities=("vuln_id", "size"), critical=("critical", "sum"), high=("high", "sum"),
        fixable=("fixable", "sum"),
    ).reset_index()
    scanned = _scanned(h).assign(_scanned=True)
    out = cur.merge(scanned, on=["snapshot_id", "image_id"], how="left")
    out = out.merge(counts, on=["snapshot_id", "image_id"], how="left")
    is_scanned = out["_scanned"].notna()
    for c in ("vulnerabilities", "critical", "high", "fixable"):
        out[c] = out[c].fillna(0).astype("Int64").mask(~is_scanned)
    out["age_days"] = _days(out["snapshot_at"] - out["created_at"])
    out = out.sort_values(["unit", "idx"], kind="stable").reset_index(drop=True)
    return out[["snapshot_id", "snapshot_at", "repository", "image_id", "created_at", "age_days",
                "vulnerabilities", "critical", "high", "fixable"]]
