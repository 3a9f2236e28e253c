"""A saved assessment: written once by a run, read back by every face of it.

`save_assessment(a, folder)` writes the parts of an assessment of a store that
are computed (policy results and scores, staleness, the fixable findings' per-image SLA counts,
end-of-life verdicts, per-image counts, licence classes, bases, the images' display names, the
history's trends (small frames, `auditlib.history.trends`: never every snapshot's rows), a
history clock given as a frame; a clock and findings kept in the engine are made there again on
use) and its tables (`Assessment.data`: the store's state but the big tables) as Parquet
files, each with the pandas dtypes of its columns (categoricals, UTC times, nullable integers)
kept, and its identity (`SavedIdentity`: the store, the snapshots it read,
the as-of time, the policy's content hash, the image filter, auditlib's version) as
`identity.json`, with the headline figures (`Assessment.summary()`) and the coverage counts
(`FleetView.coverage`) when they were computed.

`load_assessment(folder, store, ...)` gives the assessment back when it is the one asked for (the
same store with the same snapshots, time, policy, filter and version), else raises
`StaleAssessmentError` saying what differs: a saved assessment never stands for another. The
engine is not saved: the loaded assessment reopens one over the same store files (lazily, as
`assess` does), so `in_engine` tables, `sql` and `relation` work as before, and what was not
saved is computed on first use as usual. Each saved frame is read from its file when the
assessment is first asked for it (`auditlib.deferred`; the tables: `DeferredData`), so a
page's kernel holds only the parts its page reads and never reads the store's state again;
the folder must stay as it is while the assessment is in use (a run's does). `assessed(...)`
loads when it can and assesses otherwise: what the report notebooks and `auditlib report` do
with the `assessment` parameter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from auditlib._version import __version__
from auditlib.assess.assessment import (
    Assessment,
    assess,
    assess_data,
    read_state,
    store_engine,
)
from auditlib.assess.snapshots import SnapshotUse
from auditlib.data import AuditData, DeferredData
from auditlib.deferred import defer, deferred
from auditlib.engine.aggregates import RISK_IMAGES_TABLE, UNLICENSED_TABLE
from auditlib.engine.history import EngineClock, history_clock
from auditlib.eol.table import EolTable, load_table
from auditlib.errors import AuditlibError
from auditlib.fleet.bases import Base
from auditlib.fleet.coverage import Coverage
from auditlib.history.trends import FRAMES as TREND_FRAMES
from auditlib.history.trends import Trends
from auditlib.policy.config import Policy, Waiver, WaiverUse, load_policy
from auditlib.policy.evaluate import Evaluation
from auditlib.store.layout import StorePath
from auditlib.store.manifest import usable_snapshots
from auditlib.tables import DATA_TABLES

SAVED_NAME = "saved-assessment"
"""The folder a run saves its assessment in, inside the run folder."""
IDENTITY_FILE = "identity.json"
DTYPES_KEY = b"auditlib.dtypes"
"""Key of a saved frame's Parquet metadata that holds its columns' pandas dtypes."""
INDEX_KEY = "\x00index"
"""Where those dtypes hold the index's (no column has this name)."""

VIEW_FRAMES = ("images", "eol", "documents", "vulnerability_counts", "package_counts",
               "licence_classes")
"""The `FleetView` frames saved when computed (its costly aggregates and per-image views). The
fixable findings stay in the engine (`FleetView.fixable`): a loaded assessment's engine makes
them again when a page asks for more than the saved per-image counts."""
ASSESSMENT_FRAMES = ("staleness", "sla_counts", "findings")
"""The `Assessment` frames saved when computed."""
DATA_FRAME = "data.{}"
"""The name a table of the assessment's data (`Assessment.data`: the store's current state but
the big tables, filtered) is saved as, when it has rows: a loaded assessment reads each on
first use (`DeferredData`) instead of reading the store's state again (at 100,000 images, 5.9 s
and 0.9 GB of tables of which a page reads three to six)."""
WRITERS = 2
"""The frames `save_assessment` writes at once."""
ENGINE_TABLES = (UNLICENSED_TABLE, RISK_IMAGES_TABLE)
"""Tables the run's engine keeps that are small (a few thousand rows, made from hundreds of
millions) and that a page reads: saved as frames when the engine made them, and given to a
loaded assessment's engine (`Engine.register`) in place of making them again (at 100,000
images, the packages no document gives a licence: 15 s of the compliance page's kernel; the
images of each risky licence, over `image_licences`, which would take 12 s to make there).
Their text columns are given as text, so that an empty one keeps its type."""
LAYOUT = 2
"""The layout of a saved assessment: 2 saves the history's trends (`Assessment.trends`), not
the raw history (an older one, without `layout`, saved every snapshot's tables: refused, so
it is assessed anew, never misread)."""


class StaleAssessmentError(AuditlibError):
    """A saved assessment is not the one asked for (the message names its folder and what
    differs), or cannot be read."""


@dataclass(frozen=True, slots=True)
class SavedIdentity:
    """What a saved assessment is the assessment of."""

    store: str
    """The store folder, absolute."""
    snapshots: tuple[str, ...]
    """Every snapshot id the store held when it was read, oldest first."""
    as_of: str
    """The moment it measures at (ISO 8601, UTC)."""
    policy: str
    """The policy's content hash (`policy_hash`)."""
    image_filter: str | None
    version: str
    """auditlib's version."""
    eol: str = ""
    """The end-of-life table's content hash (`eol_hash`): `auditlib eol update` or
    `AUDITLIB_EOL_FILE` change the verdicts without a new snapshot or version."""

    def differences(self, other: SavedIdentity) -> list[str]:
        """Return one phrase per field that differs from `other` (the one asked for)."""
        out = []
        if self.store != other.store:
            out.append(f"it is of the store {self.store}, not {other.store}")
        if self.snapshots != other.snapshots:
            new = [s for s in other.snapshots if s not in self.snapshots]
            gone = [s for s in self.snapshots if s not in other.snapshots]
            said = ([f"{len(new)} new snapshot(s) since ({', '.join(new[:3])})"] if new else []) + (
                [f"{len(gone)} snapshot(s) gone ({', '.join(gone[:3])})"] if gone else [])
            out.append("the store changed: " + "; ".join(said or ["its snapshots differ"]))
        if self.as_of != other.as_of:
            out.append(f"it measures at {self.as_of}, not {other.as_of}")
        if self.policy != other.policy:
            out.append("it is under another policy")
        if self.image_filter != other.image_filter:
            out.append(f"its image filter is {self.image_filter!r}, not {other.image_filter!r}")
        if self.version != other.version:
            out.append(f"auditlib {self.version} saved it, this is {other.version}")
        if self.eol != other.eol:
            out.append("it read another end-of-life table")
        return out


def eol_hash(table: EolTable) -> str:
    """Return the SHA-256 of an end-of-life table's content (`EolTable.to_text`)."""
    return hashlib.sha256(table.to_text().encode()).hexdigest()


def policy_hash(policy: Policy) -> str:
    """Return the SHA-256 of what a policy decides with (its rules as configured and its
    waivers), the same for the same content whatever file it came from."""
    rules = [[c.rule.slug, c.enabled, str(c.severity), c.params] for c in policy.rules]
    waivers = [dataclasses.asdict(w) for w in policy.waivers]
    text = json.dumps({"rules": rules, "waivers": waivers}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _utc_iso(t: Any) -> str:
    ts = pd.Timestamp(t)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).isoformat()


def identity_of(a: Assessment) -> SavedIdentity:
    """Return the identity of an assessment of a store.

    Raises:
        StaleAssessmentError: if the assessment is not of a store (tables given directly).
    """
    if a.store is None:
        raise StaleAssessmentError("an assessment of tables given directly cannot be saved: "
                                   "only an assessment of a store can be read back")
    return SavedIdentity(str(Path(a.store).resolve()), tuple(a.read_snapshots),
                         _utc_iso(a.as_of), policy_hash(a.policy), a.image_filter, __version__,
                         eol_hash(a.view.table))


def asked_identity(store: StorePath, *, as_of: Any, policy: Policy,
                   image_filter: str | None, eol_table: EolTable | None = None
                   ) -> SavedIdentity:
    """Return the identity of the assessment `assess` would make now with these arguments
    (`eol_table` None: the table `assess` would load).

    Raises:
        StoreError: if the store cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
    """
    ids = tuple(s.snapshot_id for s in usable_snapshots(store).snapshots)
    return SavedIdentity(str(Path(store).resolve()), ids, _utc_iso(as_of), policy_hash(policy),
                         image_filter, __version__,
                         eol_hash(eol_table if eol_table is not None else load_table()))


# --- frames: Parquet with the pandas dtypes of their columns kept -------------------------

def _dtype_spec(s: pd.Series) -> dict[str, Any]:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return {"dtype": "category", "categories": str(s.dtype.categories.dtype),
                "ordered": bool(s.dtype.ordered)}
    spec: dict[str, Any] = {"dtype": str(s.dtype)}
    if s.dtype == object:
        nulls = s[s.isna()]
        spec["null"] = "nan" if len(nulls) and all(isinstance(v, float) for v in nulls) else None
    return spec


def _restored(s: pd.Series, spec: dict[str, Any]) -> pd.Series:
    kind = spec["dtype"]
    if kind == "category":
        if isinstance(s.dtype, pd.CategoricalDtype):
            return s
        if s.notna().any():
            return s.astype(pd.CategoricalDtype(ordered=spec["ordered"]))
        empty = pd.Index([], dtype=spec["categories"])
        return pd.Series(pd.Categorical([None] * len(s), categories=empty,
                                        ordered=spec["ordered"]), index=s.index, name=s.name)
    if str(s.dtype) == kind:
        return s
    if kind == "object":
        null = float("nan") if spec.get("null") == "nan" else None
        out = s.astype(object)
        return out.where(out.notna(), null).astype(object)
    return s.astype(kind)


def write_frame(df: pd.DataFrame, path: Path) -> None:
    """Write a frame to a Parquet file with its index and its columns' pandas dtypes."""
    specs = {str(c): _dtype_spec(df[c]) for c in df.columns}
    if df.index.nlevels == 1:
        specs[INDEX_KEY] = _dtype_spec(pd.Series(df.index, dtype=df.index.dtype))
    table = pa.Table.from_pandas(df, preserve_index=True)
    meta = dict(table.schema.metadata or {})
    meta[DTYPES_KEY] = json.dumps(specs).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


def read_frame(path: Path) -> pd.DataFrame:
    """Return a frame `write_frame` wrote, with the pandas dtypes it had.

    Raises:
        StaleAssessmentError: if the file cannot be read (naming it and why).
    """
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as e:
        raise StaleAssessmentError(f"{path}: cannot read this saved frame: {e}") from None
    specs = json.loads((table.schema.metadata or {}).get(DTYPES_KEY, b"{}"))
    df: pd.DataFrame = table.to_pandas()
    for col in df.columns:
        spec = specs.get(str(col))
        if spec is not None:
            df[col] = _restored(df[col], spec)
    if INDEX_KEY in specs and df.index.nlevels == 1:
        index = _restored(pd.Series(df.index, dtype=df.index.dtype), specs[INDEX_KEY])
        df.index = pd.Index(index.to_numpy() if index.dtype == object else index.array,
                            name=df.index.name, dtype=index.dtype)
    return df


# --- the parts that are not frames ----------------------------------------------------------

def _bases_frame(bases: dict[str, Base]) -> pd.DataFrame:
    return pd.DataFrame({
        "image_id": pd.Series(list(bases), dtype=object),
        "ref": pd.Series([b.ref for b in bases.values()], dtype=object),
        "digest": pd.Series([b.digest for b in bases.values()], dtype=object),
        "base_image_id": pd.Series([b.image_id for b in bases.values()], dtype=object),
        "how": pd.Series([b.how for b in bases.values()], dtype=object),
    }) if bases else pd.DataFrame({c: pd.Series([], dtype=object) for c in (
        "image_id", "ref", "digest", "base_image_id", "how")})


def _bases_of(df: pd.DataFrame) -> dict[str, Base]:
    def text(v: Any) -> str | None:
        return None if v is None or (isinstance(v, float) and v != v) else str(v)
    return {str(r.image_id): Base(text(r.ref), text(r.digest), text(r.base_image_id),
                                  str(r.how)) for r in df.itertuples(index=False)}


def _names_frame(names: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"image_id": pd.Series(list(names), dtype=object),
                         "name": pd.Series(list(names.values()), dtype=object)})


def _names_of(df: pd.DataFrame) -> dict[str, str]:
    return dict(zip(df["image_id"].astype(str), df["name"].astype(str), strict=True))


def _waivers_json(uses: list[WaiverUse]) -> list[dict[str, Any]]:
    return [{"waiver": {**dataclasses.asdict(u.waiver),
                        "expires": None if u.waiver.expires is None
                        else u.waiver.expires.isoformat()},
             "expired": u.expired, "applied_to": [list(p) for p in u.applied_to]}
            for u in uses]


def _waivers_of(raw: list[dict[str, Any]]) -> list[WaiverUse]:
    out = []
    for u in raw:
        w = u["waiver"]
        expires = None if w["expires"] is None else dt.date.fromisoformat(w["expires"])
        out.append(WaiverUse(Waiver(w["rule"], w["image"], w["reason"], expires), u["expired"],
                             [(str(i), str(r)) for i, r in u["applied_to"]]))
    return out


# --- save and load ----------------------------------------------------------------------------

def _computed(obj: object, name: str) -> Any:
    """Return a cached property's value when it was computed (or is waiting in a saved
    assessment's file: `auditlib.deferred`), else None."""
    return getattr(obj, name) if name in deferred(obj) else vars(obj).get(name)


def _checked(path: Path) -> Path:
    """Return `path` when it is a readable Parquet file (its footer read, not its rows).

    Raises:
        StaleAssessmentError: if it is not (naming it and why).
    """
    try:
        pq.read_metadata(path)
    except (OSError, pa.ArrowException) as e:
        raise StaleAssessmentError(f"{path}: cannot read this saved frame: {e}") from None
    return path


def _loader(path: Path) -> Callable[[], pd.DataFrame]:
    return lambda: read_frame(path)


def _data_of(doc: dict[str, Any], paths: dict[str, Path]) -> AuditData | None:
    """Return the saved assessment's tables, each read on first use (`DeferredData`), or
    None when it was saved without them."""
    held = doc.get("data")
    if held is None:
        return None
    saved = {n: _loader(paths[DATA_FRAME.format(n)]) for n in held
             if DATA_FRAME.format(n) in paths}
    return DeferredData(saved, [t.name for t in DATA_TABLES if t.name not in held])


def save_assessment(a: Assessment, folder: str | Path) -> Path:
    """Write the computed parts of an assessment of a store and its identity into `folder`
    (made anew: an earlier saved assessment there is replaced, atomically); return `folder`.

    What is not yet computed is not saved (the loaded assessment computes it on first use):
    compute what the readers need first (`summary()` computes what every face shows).

    Raises:
        StaleAssessmentError: if the assessment is not of a store.
        OSError: if the folder cannot be written.
        EngineError: if the engine cannot give a table it made (`ENGINE_TABLES`).
    """
    ident = identity_of(a)
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
    try:
        frames: dict[str, pd.DataFrame] = {}
        for name in VIEW_FRAMES:
            if (v := _computed(a.view, name)) is not None:
                frames[f"view.{name}"] = v
        for name in ASSESSMENT_FRAMES:
            if (v := _computed(a, name)) is not None:
                frames[name] = v
        if (bases := _computed(a.view, "bases")) is not None:
            frames["view.bases"] = _bases_frame(bases)
        if (names := _computed(a.view, "names")) is not None:
            frames["view.names"] = _names_frame(names)
        coverage: Coverage | None = _computed(a.view, "coverage")
        engine = a.view.engine
        for name in ENGINE_TABLES:
            if engine is not None and name in engine.made:
                frames[f"engine.{name}"] = engine.sql(f"SELECT * FROM {name}")
        clock = a.view.first_seen_fixed
        if isinstance(clock, pd.DataFrame):  # a clock kept in the engine is defined again
            frames["view.first_seen_fixed"] = clock
        ev: Evaluation | None = _computed(a, "evaluation")
        if ev is not None:
            frames["evaluation.results"] = ev.results
            frames["evaluation.scores"] = ev.scores
        trends: Trends | None = _computed(a, "trends")
        if trends is not None:
            for name in TREND_FRAMES:
                frames[f"trends.{name}"] = getattr(trends, name)
        worst = {k: v() if callable(v) else v for k, v in a.worst_kept.items()}
        for (least, most), df in worst.items():
            frames[f"worst.{least}.{most}"] = df
        held = a.data.tables()  # a loaded assessment's data: every table read, to be saved
        for name, df in held.items():
            if len(df):  # an empty table is the table's empty frame again on load
                frames[DATA_FRAME.format(name)] = df
        # Two at a time, the largest first: pyarrow converts and writes without the GIL (at
        # 100,000 images 2.4 s where one after the other took 4.5 s).
        largest = sorted(frames, key=lambda k: -len(frames[k]))
        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(lambda k: write_frame(frames[k], tmp / f"{k}.parquet"), largest))
        doc = {
            "identity": dataclasses.asdict(ident),
            "clock_in_engine": isinstance(clock, EngineClock),
            "frames": list(frames),
            "data": list(held),
            "layout": LAYOUT,
            "trends": trends is not None,
            "worst": [list(k) for k in worst],
            "evaluation": None if ev is None else {"waivers": _waivers_json(ev.waivers),
                                                   "errors": list(ev.errors)},
            "snapshots_used": [dataclasses.asdict(s) for s in a.snapshots],
            "filtered_out": a.filtered_out,
            "warnings": list(a.warnings),
            "abandonment_days": a.abandonment_days,
            "summary": a.summary_kept,
            "coverage": None if coverage is None else coverage.to_dict(),
            "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        (tmp / IDENTITY_FILE).write_text(json.dumps(doc, indent=1), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return folder


def _document(folder: Path) -> dict[str, Any]:
    path = folder / IDENTITY_FILE
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        ident = doc["identity"]
        doc["identity"] = SavedIdentity(ident["store"], tuple(ident["snapshots"]),
                                        ident["as_of"], ident["policy"], ident["image_filter"],
                                        ident["version"], ident.get("eol", ""))
    except FileNotFoundError:
        raise StaleAssessmentError(f"{folder}: no saved assessment here (no {IDENTITY_FILE})"
                                   ) from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise StaleAssessmentError(f"{path}: not a saved assessment's identity: {e}") from None
    return doc


def _check_layout(folder: Path, doc: dict[str, Any]) -> None:
    """Raise `StaleAssessmentError` if the assessment in `folder` (its document `doc`) was saved
    in another layout than this version's (`LAYOUT`)."""
    if doc.get("layout") != LAYOUT:
        raise StaleAssessmentError(f"{folder}: saved in another layout ({doc.get('layout')!r}, "
                                   f"not {LAYOUT}: an older auditlib's, with the raw history)")


def saved_identity(folder: str | Path) -> SavedIdentity:
    """Return the identity of the assessment saved in `folder`.

    Raises:
        StaleAssessmentError: if `folder` holds no saved assessment, or it cannot be read.
    """
    ident: SavedIdentity = _document(Path(folder))["identity"]
    return ident


def load_assessment(folder: str | Path, store: StorePath, *, as_of: Any,
                    policy: Policy | str | Path | None = None, image_filter: str | None = None,
                    eol_table: EolTable | None = None, engine: str = "duckdb",
                    spark_master: str | None = None) -> Assessment:
    """Return the assessment saved in `folder`, when it is the one `assess(store, as_of=as_of,
    policy=policy, image_filter=image_filter)` would give now: its saved parts and tables as
    they were (each read from its file on first use: `auditlib.deferred`, `DeferredData`; the
    store's tables are read again only for one saved without them) and an engine reopened over
    the store's files (the rest is computed on first use, as for `assess`).

    Raises:
        StaleAssessmentError: if `folder` holds no saved assessment, a file of it cannot be read,
            or it is not the one asked for (the message says what differs: a new snapshot in
            the store, another time, policy, filter or version).
        StoreError: if the store cannot be read.
        PolicyError: if the policy file cannot be read or is not valid.
        EngineError: if the engine cannot start or read the store.
    """
    folder = Path(folder)
    doc = _document(folder)
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    if as_of is None:
        raise StaleAssessmentError(f"{folder}: a saved assessment measures at a given time; "
                                   "none was asked for (now)")
    eol_table = eol_table if eol_table is not None else load_table()  # hashed and used: once
    asked = asked_identity(store, as_of=as_of, policy=pol, image_filter=image_filter,
                           eol_table=eol_table)
    _check_layout(folder, doc)
    differ = doc["identity"].differences(asked)
    if differ:
        raise StaleAssessmentError(f"{folder}: not the assessment asked for: {'; '.join(differ)}")
    return _assessment_in(folder, doc, store, pol, eol_table, as_of=as_of,
                          image_filter=image_filter, engine=engine, spark_master=spark_master,
                          read=asked.snapshots)


def reopen_assessment(folder: str | Path, store: StorePath, *, policy: Policy,
                      eol_table: EolTable | None = None) -> Assessment:
    """Return the assessment saved in `folder` by this run (`save_assessment`; a process of
    its own made it, `auditlib.job`), as `load_assessment` gives it but not checked against the
    store now: its time, filter and snapshots are the saved ones, and its engine reads the
    store's state right after the newest snapshot it read, so a snapshot that lands meanwhile
    makes it speak of no other assessment.

    Raises:
        StaleAssessmentError: if `folder` holds no saved assessment, a file of it cannot be
            read, it is in another layout, or it was made under another policy than `policy`.
        StoreError: if the store cannot be read.
        EngineError: if the engine cannot start or read the store.
    """
    folder = Path(folder)
    doc = _document(folder)
    ident: SavedIdentity = doc["identity"]
    _check_layout(folder, doc)
    if ident.policy != policy_hash(policy):
        raise StaleAssessmentError(f"{folder}: not the assessment asked for: it is under "
                                   "another policy")
    return _assessment_in(folder, doc, store, policy,
                          eol_table if eol_table is not None else load_table(),
                          as_of=ident.as_of, image_filter=ident.image_filter, engine="duckdb",
                          spark_master=None, read=ident.snapshots, pinned=True)


def _assessment_in(folder: Path, doc: dict[str, Any], store: StorePath, pol: Policy,
                   eol_table: EolTable, *, as_of: Any, image_filter: str | None, engine: str,
                   spark_master: str | None, read: tuple[str, ...], pinned: bool = False
                   ) -> Assessment:
    """Return the assessment saved in `folder` (its document `doc`), which read the snapshots
    `read`; `pinned`: its engine reads the state right after the newest of them, else the
    store's state now, which must still be `read`'s.

    Raises:
        StaleAssessmentError: if a file of it cannot be read, or (not `pinned`) the store changed
            while it was read.
        StoreError, DamagedStoreError, EngineError: as `store_engine`.
    """
    # Each saved frame is read when the assessment is first asked for it (`auditlib.deferred`):
    # a page's kernel holds the parts its page reads; a damaged file is refused now.
    paths = {k: _checked(folder / f"{k}.parquet") for k in doc["frames"]}
    # The images the filter leaves out are the saved count: the identity holds the filter and
    # the usable snapshots, checked again below, and the same snapshots filter the same.
    data = _data_of(doc, paths)
    snapshot = read[-1] if pinned and read else None
    if data is None:  # saved before its tables were: the store's state is read again
        data, _, eng = read_state(store, snapshot=snapshot, image_filter=image_filter,
                                  engine=engine, spark_master=spark_master)
    else:
        eng = store_engine(store, data, filtered=image_filter is not None, snapshot=snapshot,
                           engine=engine, spark_master=spark_master)
    if not pinned and tuple(s.snapshot_id for s in usable_snapshots(store).snapshots) != read:
        eng.close()  # a snapshot landed while the store was read
        raise StaleAssessmentError(f"{folder}: the store changed while it was read")
    # The history clock as `assess` keeps it: views in the engine (nothing read until asked).
    seen = (history_clock(store, eng) if doc.get("clock_in_engine")
            else read_frame(paths["view.first_seen_fixed"])
            if "view.first_seen_fixed" in paths else None)
    a = assess_data(data, as_of=as_of, policy=pol, eol_table=eol_table, engine=eng,
                    first_seen_fixed=seen)
    a.image_filter, a.filtered_out = image_filter, int(doc["filtered_out"])
    a.store = Path(store)
    a.read_snapshots = read
    a.snapshots = [SnapshotUse(**s) for s in doc["snapshots_used"]]
    a.warnings = [str(w) for w in doc["warnings"]]
    a.abandonment_days = int(doc["abandonment_days"])
    for name in VIEW_FRAMES:
        if f"view.{name}" in paths:
            defer(a.view, name, _loader(paths[f"view.{name}"]))
    if "view.bases" in paths:
        bases = paths["view.bases"]
        defer(a.view, "bases", lambda: _bases_of(read_frame(bases)))
    if "view.names" in paths:
        names = paths["view.names"]
        defer(a.view, "names", lambda: _names_of(read_frame(names)))
    a.summary_kept = doc.get("summary")  # absent where saved before it was
    if (covered := doc.get("coverage")) is not None:  # counts and lines: kept in the document
        defer(a.view, "coverage", lambda: Coverage(**covered))
    for name in ENGINE_TABLES:  # small: read now, so the engine never makes them; text, as
        if f"engine.{name}" in paths:  # made (an empty frame's columns would have no type)
            table = read_frame(paths[f"engine.{name}"])
            eng.register(name, table.astype({c: "string" for c in table.columns
                                             if table[c].dtype == object}))
            eng.made.add(name)
    for name in ASSESSMENT_FRAMES:
        if name in paths:
            defer(a, name, _loader(paths[name]))
    if (evaluated := doc["evaluation"]) is not None:
        defer(a, "evaluation", lambda: Evaluation(
            read_frame(paths["evaluation.results"]), read_frame(paths["evaluation.scores"]),
            pol, a.as_of, _waivers_of(evaluated["waivers"]), list(evaluated["errors"])))
    for least, most in doc.get("worst", []):  # absent where saved before they were
        a.worst_kept[(int(least), int(most))] = _loader(paths[f"worst.{least}.{most}"])
    if doc["trends"]:
        defer(a, "trends", lambda: Trends(*(read_frame(paths[f"trends.{name}"])
                                            for name in TREND_FRAMES)))
    return a


def assessed(saved: Path | None, store: StorePath, *, as_of: Any,
             policy: Policy | str | Path | None = None, image_filter: str | None = None,
             note: Callable[[str], None] | None = None) -> Assessment:
    """Return the assessment saved in `saved` when it is the one asked for
    (`load_assessment`), else a new one (`assess`); `note` is told why a saved one was not
    used.

    Raises:
        StoreError, DamagedStoreError, PolicyError, EolDataError, EngineError: as `assess`.
    """
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    if saved is not None:
        try:
            return load_assessment(saved, store, as_of=as_of, policy=pol,
                                   image_filter=image_filter)
        except StaleAssessmentError as e:
            if note is not None:
                note(f"assessed anew: {e}")
    return assess(store, as_of=as_of, policy=pol, image_filter=image_filter)
