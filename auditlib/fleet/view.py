"""`FleetView`: the tables of a store's current state as every analysis reads them, one row per
image, computed once per evaluation.

An image is an `image_id` (config digest) that any table names: collected images, scanned
images, images containers run. The view merges what all sources say of it, preferring collected
metadata (engine, registry, archive) over what scan files repeat. Its time columns are UTC
timestamps whatever shape the tables gave (`normalize.times`), and build times at or before 1980
(reproducible builds) are unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pandas as pd

from auditlib.data import AuditData, DeferredData
from auditlib.deferred import deferred_property
from auditlib.engine import Engine, engine_or_frames
from auditlib.engine.aggregates import (
    document_rows,
    licence_classes,
    package_counts,
    vulnerability_counts,
)
from auditlib.engine.history import EngineClock
from auditlib.eol.table import EolTable, Kind, load_table
from auditlib.eol.verdict import eol_verdicts, scanner_statements
from auditlib.fleet.bases import (
    Base,
    BaseTagNow,
    base_tag_now,
    built_on_current,
    find_bases,
    platforms,
)
from auditlib.fleet.coverage import (
    Coverage,
    coverage,
    ids,
    image_ids,
    vulnerability_scanned,
    with_sbom,
)
from auditlib.fleet.findings import Fixable, fixable_findings
from auditlib.fleet.names import display_name, untagged_name
from auditlib.fleet.names import shown_tag as _shown_tag
from auditlib.fleet.vex import VexMatch, match_vex
from auditlib.identity import parse_reference
from auditlib.normalize.times import build_series, utc_series, utc_time
from auditlib.tables import DTYPES, TABLES_BY_NAME


def text(v: Any) -> str | None:
    """Return a cell as str, or None when it is missing."""
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def conform_times(data: AuditData) -> AuditData:
    """Return `data` with every declared time column as `datetime64[ns, UTC]`: dates, naive and
    aware times and strings become UTC timestamps, anything else NaT. Tables already typed are
    kept as they are (no copy); a `DeferredData`'s tables not read yet are conformed when read."""
    if isinstance(data, DeferredData):
        return data.map(_conform_table)
    changed: dict[str, pd.DataFrame] = {}
    for name, df in data.tables().items():  # the tables in an engine read the files' own types
        if (conformed := _conform_table(name, df)) is not df:
            changed[name] = conformed
    return data.replace(**changed) if changed else data


def _conform_table(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Return table `name`'s frame `df` with its declared time columns as UTC timestamps
    (`conform_times`): `df` itself when they are already."""
    cols = [c.name for c in TABLES_BY_NAME[name].columns if c.dtype == "datetime"
            and c.name in df.columns and df[c.name].dtype != DTYPES["datetime"]]
    return df.assign(**{c: utc_series(df[c]) for c in cols}) if cols else df


@dataclass
class FleetView:
    """The data an evaluation reads, at a moment: the tables and per-image views of them.

    Construct it with the tables and the as-of time; every view is computed on first use and
    kept. `auditlib.assess.Assessment` holds one and hands it to the policy and the staleness
    analysis, so both read the same merged images, bases, end-of-life verdicts and findings.
    """

    data: AuditData
    as_of: pd.Timestamp
    """The moment ages are measured at (UTC)."""
    first_seen_fixed: pd.DataFrame | EngineClock | None = None
    """From the store's history (`auditlib.history.first_seen_fixed`): when each finding was
    first seen fixable; the SLA clock of findings whose scanner gives no fix date. An assessment
    of a store keeps it in its engine (`engine.history.EngineClock`), joined there."""
    eol_table: EolTable | None = None
    """The end-of-life table (default: `auditlib.eol.load_table()`)."""
    eol_kind: Kind = "standard"
    """Which end of support counts (`standard` or `extended`: Debian LTS, Ubuntu ESM...)."""
    engine: Engine | None = None
    """What runs the aggregates over the big tables (`auditlib.engine`): over the store's Parquet
    files when the assessment reads a store; default DuckDB over `data`'s frames."""

    def __post_init__(self) -> None:
        """Normalise the as-of time and the tables' time columns.

        Raises:
            ValueError: if `as_of` is not a time.
        """
        when = utc_time(self.as_of)
        if when is None:
            raise ValueError(f"as_of: {self.as_of!r} is not a time")
        self.as_of = when
        self.data = conform_times(self.data)

    @cached_property
    def table(self) -> EolTable:
        """Return the end-of-life table in use."""
        return self.eol_table if self.eol_table is not None else load_table()

    @cached_property
    def image_ids(self) -> list[str]:
        """Return every image id the tables name, sorted."""
        return sorted(image_ids(self.data))

    @deferred_property
    def images(self) -> pd.DataFrame:
        """Return one row per image id (index), merged over sources: collected rows first.

        Columns: created_at (the build time; unknown for a reproducible build's fixed time),
        user, size_bytes, os_family, os_version, layer_count, os, architecture.
        """
        img = self.data.images.dropna(subset=["image_id"]).copy()
        img["image_id"] = img["image_id"].astype(str)
        img["_collected"] = img["host"].notna()
        img = img.sort_values("_collected", ascending=False, kind="stable")
        cols = ["created_at", "user", "size_bytes", "os_family", "os_version", "layer_count",
                "os", "architecture"]
        merged = img.groupby("image_id")[cols].first()
        # OS from scan documents too (Syft and Grype say it where image rows may not).
        scans = self.data.scans.dropna(subset=["image_id"])
        if len(scans):
            os_rows = scans.dropna(subset=["os_family"]).astype({"image_id": str})
            os_first = os_rows.groupby("image_id")[["os_family", "os_version"]].first()
            merged = merged.reindex(merged.index.union(os_first.index))
            for c in ("os_family", "os_version"):
                merged[c] = merged[c].fillna(os_first[c]) if c in merged else os_first[c]
        merged = merged.reindex(self.image_ids)
        merged["created_at"] = build_series(merged["created_at"])
        return merged

    @cached_property
    def references(self) -> dict[str, list[str]]:
        """Return image id -> the references that name it (tags and repo digests), sorted."""
        out: dict[str, set[str]] = {}
        tags = self.data.image_tags.dropna(subset=["image_id", "reference"])
        for i, ref in zip(tags["image_id"].astype(str), tags["reference"].astype(str), strict=True):
            out.setdefault(i, set()).add(ref)
        rt = self.data.registry_tags.dropna(subset=["image_id"])
        for i, reg, repo, tag in zip(rt["image_id"].astype(str), rt["registry"].astype(str),
                                     rt["repository"].astype(str), rt["tag"].astype(str),
                                     strict=True):
            out.setdefault(i, set()).add(f"{reg}/{repo}:{tag}")
        return {k: sorted(v) for k, v in out.items()}

    @cached_property
    def tags(self) -> dict[str, list[str]]:
        """Return image id -> its tag references only (no repo digests)."""
        return {
            i: [r for r in refs if (p := parse_reference(r)) is not None and p.digest is None]
            for i, refs in self.references.items()
        }

    @deferred_property
    def names(self) -> dict[str, str]:
        """Return image id -> the name to show (`fleet.names.display_name`): `repository:tag`
        (a version tag before `latest`), else `repository@sha256:<12 hex>`, else
        `<untagged> sha256:<12 hex>`."""
        return {i: display_name(i, self.references.get(i, [])) for i in self.image_ids}

    def shown_tag(self, image_id: str) -> str | None:
        """Return the tag reference the image's name shows (`fleet.names.shown_tag`), or None
        when its name is not a tag (a repo digest, or untagged)."""
        return _shown_tag(self.tags.get(image_id, []))

    @cached_property
    def labels(self) -> dict[str, dict[str, str]]:
        """Return image id -> its labels."""
        out: dict[str, dict[str, str]] = {}
        lb = self.data.image_labels.dropna(subset=["image_id", "label"])
        for i, k, v in zip(lb["image_id"].astype(str), lb["label"].astype(str),
                           lb["value"].astype(str), strict=True):
            out.setdefault(i, {})[k] = v
        return out

    @cached_property
    def layers(self) -> dict[str, tuple[str, ...]]:
        """Return image id -> its layer diff ids, base first."""
        ly = self.data.image_layers.dropna(subset=["image_id", "diff_id"])
        ly = ly.sort_values(["image_id", "layer_index"])
        # One pass over the rows: a categorical `diff_id` turned to text per image costs all its
        # categories each time (a second of 1,000 images' Syft layers).
        seen: dict[str, dict[str, None]] = {}
        for i, d in zip(ly["image_id"].astype(str), ly["diff_id"].astype(str), strict=True):
            seen.setdefault(i, {})[d] = None
        return {i: tuple(ds) for i, ds in seen.items()}

    @cached_property
    def containers(self) -> pd.DataFrame:
        """Return the containers (one row per host and container id), with `image_id` as str."""
        c = self.data.containers.dropna(subset=["image_id"]).copy()
        c["image_id"] = c["image_id"].astype(str)
        return c.drop_duplicates(["host", "container_id"], keep="last")

    @cached_property
    def engine_hosts(self) -> set[str]:
        """Return the Docker Engines collected (their hosts): only on these is "no running
        container of this image" known; without any, whether an image runs is unknown."""
        sc = self.data.scans
        engine = ids(sc.loc[(sc["format"].astype("string") == "docker-engine").fillna(False)
                            .to_numpy(dtype=bool), "image_id"])
        im = self.data.images
        return ids(im.loc[im["image_id"].astype("string").isin(engine).fillna(False)
                          .to_numpy(dtype=bool), "host"]) | ids(self.data.containers["host"])

    @cached_property
    def running(self) -> pd.DataFrame:
        """Return the running containers."""
        c = self.containers
        return c[c["state"].astype(str) == "running"]

    @cached_property
    def dockerfiles(self) -> dict[str, pd.Series]:
        """Return image id -> the Dockerfile that builds it (`dockerfiles` row), matched by
        `context_image_ref` against the image's tags.
        """
        df = self.data.dockerfiles.dropna(subset=["context_image_ref"])
        by_ref = {str(r["context_image_ref"]): r for _, r in df.iterrows()}
        out: dict[str, pd.Series] = {}
        for i, refs in self.tags.items():
            for ref in refs:
                if ref in by_ref:
                    out[i] = by_ref[ref]
                    break
        return out

    @deferred_property
    def bases(self) -> dict[str, Base]:
        """Return image id -> its base image, for the images whose base is known."""
        return find_bases(self.image_ids, self.layers, self.images["created_at"],
                          self.dockerfiles, self.labels, self.tags)

    @cached_property
    def platforms(self) -> pd.Series:
        """Return image id -> `os/architecture` (missing when either is unknown)."""
        return platforms(self.images)

    def base_tag_now(self, wanted: set[str]) -> dict[str, BaseTagNow]:
        """Return tag reference -> what it points at now (`fleet.bases.base_tag_now`)."""
        return base_tag_now(self.data, self.images["created_at"], self.references, wanted)

    def built_on_current(self, image_id: str, base: Base, now: BaseTagNow) -> bool | None:
        """Return whether the image is built on what its base tag points at now (None: cannot
        tell; `fleet.bases.built_on_current`)."""
        return built_on_current(self.layers, image_id, base.digest, base.image_id, now,
                                text(self.platforms.get(image_id)))

    @deferred_property
    def eol(self) -> pd.DataFrame:
        """Return the one end-of-life verdict of every image (`os_end_of_life`, index image_id):
        the dated table where it has the release, else what scanners say, else unknown."""
        return eol_verdicts(self.images[["os_family", "os_version"]],
                            scanner_statements(self.data), self.table, self.as_of, self.eol_kind)

    @cached_property
    def aggregate_engine(self) -> Engine:
        """Return the engine the aggregates run on (`engine`, else DuckDB over `data`)."""
        return engine_or_frames(self.engine, self.data)

    @deferred_property
    def vulnerability_counts(self) -> pd.DataFrame:
        """Return, per image with vulnerability rows (index image_id), its vulnerability rows
        and distinct findings (`auditlib.engine.aggregates.VULNERABILITY_COUNTS`)."""
        return vulnerability_counts(self.aggregate_engine)

    @deferred_property
    def package_counts(self) -> pd.DataFrame:
        """Return, per image with package rows (index image_id), its package rows and distinct
        packages (`auditlib.engine.aggregates.PACKAGE_COUNTS`)."""
        return package_counts(self.aggregate_engine)

    @deferred_property
    def documents(self) -> pd.DataFrame:
        """Return each document with vulnerability or package rows and the images they name
        (`auditlib.engine.aggregates.DOCUMENT_ROWS`): what coverage reads of the big tables."""
        return document_rows(self.aggregate_engine)

    @deferred_property
    def licence_classes(self) -> pd.DataFrame:
        """Return, per licence class, its distinct packages and images
        (`auditlib.engine.aggregates.LICENCE_CLASSES`)."""
        return licence_classes(self.aggregate_engine)

    @cached_property
    def fixable(self) -> Fixable:
        """Return the fixable findings with their SLA clock, kept in the engine
        (`fleet.findings.fixable_findings`), less those a VEX statement settles
        (`fleet.vex.VexMatch.settled`: not affected, or fixed)."""
        return fixable_findings(self.aggregate_engine, self.as_of, self.first_seen_fixed,
                                self.vex.settled())

    @cached_property
    def vex(self) -> VexMatch:
        """Return what the VEX statements say about the findings (`fleet.vex.match_vex`)."""
        return match_vex(self.data, self.references, self.as_of, self.aggregate_engine)

    @cached_property
    def vuln_scanned(self) -> set[str]:
        """Return the images a vulnerability scan covered (`fleet.coverage`), computed once."""
        return vulnerability_scanned(self.data, self.documents)

    @cached_property
    def sbom_images(self) -> set[str]:
        """Return the images an SBOM covered (`fleet.coverage.with_sbom`), computed once."""
        return with_sbom(self.data, self.documents)

    @deferred_property
    def coverage(self) -> Coverage:
        """Return which images a vulnerability scan, an SBOM and a collector covered."""
        return coverage(self.data, self.image_ids, self.documents,
                        {"vuln": self.vuln_scanned, "packages": self.sbom_images})

    def name(self, image_id: str) -> str:
        """Return the name to show of an image (`names`; an id the tables do not name is
        `<untagged> sha256:<12 hex>`)."""
        return self.names.get(image_id) or untagged_name(image_id)

    def age_days(self, when: Any) -> float | None:
        """Return days from `when` to `as_of`, or None when `when` is missing."""
        t = utc_time(when)
        return None if t is None else (self.as_of - t).total_seconds() / 86400
