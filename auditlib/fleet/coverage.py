"""Which images each kind of source covered: the one definition of a vulnerability scan, an SBOM
and collected metadata, and of the synthetic demo fleet. The policy's `scan-coverage` and
`fixable-vulns-sla`, the report headers and the history's trends all read these.

* A *vulnerability scan* is a document whose tool looked for vulnerabilities, found or not
  (`scans.vulnerability_scan`, which each parser sets: Grype, Harbor, Trivy when its vulnerability
  scanner ran, CycloneDX with a `vulnerabilities` array; the run record of `auditlib scan`
  decides where there is one), or any document with vulnerability rows. A Trivy run of only its
  licence, secret or misconfiguration scanners is not one.
* An *SBOM* is a document listing the image's packages: an SBOM format (Syft, CycloneDX, SPDX)
  or a Trivy report, with package rows.
* *Collected* metadata comes from an engine, a registry or an image archive.
* A scanner run's *capabilities* are what it covered (`auditlib.normalize.capabilities`: a
  package list, and Trivy's scanner names). `auditlib scan` records, per output, those done and
  those it was meant to do and could not, with why (`scans.scanners_run`,
  `scans.scanners_skipped`, `scans.scanners_skipped_reason`): Trivy without its vulnerability
  database lists packages and finds licences, secrets and misconfigurations, and is no
  vulnerability scan. Such a run is a *limitation*, said in one line at run time and in
  `Coverage.limitations`, and counted in `Coverage.vuln_skipped`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from auditlib.data import AuditData
from auditlib.engine import engine_or_frames
from auditlib.engine.aggregates import document_rows
from auditlib.identity import SYNTHETIC_LABEL, SYNTHETIC_PREFIX
from auditlib.normalize.capabilities import capabilities_of, limitation_line

SBOM_FORMATS = frozenset({"syft-json", "cyclonedx-json", "spdx-json"})
"""Document formats that are an SBOM when they list packages."""
COLLECTED_FORMATS = frozenset({"docker-engine", "oci-registry", "docker-archive", "oci-layout"})
"""Formats of collected sources (`auditlib collect`)."""

def ids(s: pd.Series) -> set[str]:
    """Return the distinct non-missing values of a column, as str."""
    return {str(i) for i in pd.unique(s.dropna())}


def image_ids(data: AuditData) -> set[str]:
    """Return every image the tables name: collected images, scanned images, images containers
    run, images registries list."""
    out: set[str] = set()
    for df in (data.images, data.scans, data.containers, data.registry_tags):
        out |= ids(df["image_id"])
    return out


def _with_rows(scans: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """Return, per scans row, whether `rows` has a row of its document (scan_id)."""
    return scans["scan_id"].isin(ids(rows["scan_id"])).to_numpy(dtype=bool)


def is_vulnerability_scan(scans: pd.DataFrame, vulnerabilities: pd.DataFrame) -> np.ndarray:
    """Return, per `scans` row, whether the document is a vulnerability scan (module docstring).

    The tables may carry extra columns (history frames do); only `vulnerability_scan` and
    `scan_id` are read.
    """
    said = scans["vulnerability_scan"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    out: np.ndarray = said | _with_rows(scans, vulnerabilities)
    return out


def is_sbom(scans: pd.DataFrame, packages: pd.DataFrame) -> np.ndarray:
    """Return, per `scans` row, whether the document is an SBOM of its image (module
    docstring)."""
    fmt = scans["format"].astype("string")
    listing = fmt.isin(SBOM_FORMATS | {"trivy-json"}).fillna(False).to_numpy(dtype=bool)
    out: np.ndarray = listing & _with_rows(scans, packages)
    return out


def documents(data: AuditData) -> pd.DataFrame:
    """Return which documents have vulnerability or package rows, and the images those rows
    name (`auditlib.engine.aggregates.DOCUMENT_ROWS`, on DuckDB over `data`'s frames; a
    `FleetView` keeps the one its engine gave: `FleetView.documents`).

    Returns:
        Columns rows_in (`vulnerabilities` or `packages`), scan_id, image_id.
    """
    return document_rows(engine_or_frames(None, data))


def rows_in(docs: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return the `documents` rows of one table (`vulnerabilities`, `packages`)."""
    return docs[(docs["rows_in"] == table).to_numpy(dtype=bool)]


def document_images(docs: pd.DataFrame) -> dict[str, set[str]]:
    """Return scan id -> the image ids of its rows (`documents`), for documents whose `scans`
    row names no image (a scan of several images, or one joined to its image later)."""
    out: dict[str, set[str]] = {}
    rows = docs[["scan_id", "image_id"]].dropna().drop_duplicates()
    for sid, iid in zip(rows["scan_id"].astype(str), rows["image_id"].astype(str), strict=True):
        out.setdefault(sid, set()).add(iid)
    return out


def _covered(data: AuditData, mask: np.ndarray, docs: pd.DataFrame) -> set[str]:
    scans = data.scans[mask]
    out = ids(scans["image_id"])
    unnamed = scans.loc[scans["image_id"].isna(), "scan_id"]
    if len(unnamed):
        by_doc = document_images(docs)
        for sid in unnamed.astype(str):
            out |= by_doc.get(sid, set())
    return out


def vulnerability_scanned(data: AuditData, docs: pd.DataFrame | None = None) -> set[str]:
    """Return the images a vulnerability scan covered (zero findings included).

    Args:
        data: the tables.
        docs: `documents(data)` when known (computed when None).
    """
    docs = documents(data) if docs is None else docs
    vulns = rows_in(docs, "vulnerabilities")
    mask = is_vulnerability_scan(data.scans, vulns)
    return _covered(data, mask, docs) | ids(vulns["image_id"])


def with_sbom(data: AuditData, docs: pd.DataFrame | None = None) -> set[str]:
    """Return the images an SBOM (or a Trivy package list) covered.

    Args:
        data: the tables.
        docs: `documents(data)` when known (computed when None).
    """
    docs = documents(data) if docs is None else docs
    return _covered(data, is_sbom(data.scans, rows_in(docs, "packages")), docs)


def collected(data: AuditData) -> set[str]:
    """Return the images with metadata from an engine, a registry or an archive."""
    fmt = data.scans["format"].astype("string").isin(COLLECTED_FORMATS).fillna(False)
    return ids(data.images.loc[data.images["host"].notna(), "image_id"]) | ids(
        data.scans.loc[fmt.to_numpy(dtype=bool), "image_id"])


def synthetic_image_ids(data: AuditData) -> set[str]:
    """Return the images of the synthetic demo fleet: named under `SYNTHETIC_PREFIX`, or with
    the label `org.auditlib.synthetic=true`."""
    out: set[str] = set()
    for df, col in ((data.scans, "image_ref"), (data.images, "image_ref"),
                    (data.image_tags, "reference"), (data.containers, "image_ref")):
        refs = df[col].astype("string")
        out |= ids(df.loc[refs.str.startswith(SYNTHETIC_PREFIX).fillna(False), "image_id"])
    lb = data.image_labels
    flagged = (lb["label"].astype("string") == SYNTHETIC_LABEL) & (
        lb["value"].astype("string").str.strip().str.lower() == "true")
    out |= ids(lb.loc[flagged.fillna(False), "image_id"])
    return out


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of the fleet each kind of source covered."""

    images: int = 0
    """Images the tables name."""
    vuln_scanned: int = 0
    """Of them, with a vulnerability scan."""
    with_sbom: int = 0
    """Of them, with a package inventory (an SBOM, or a Trivy package list)."""
    collected: int = 0
    """Of them, with metadata collected from an engine, a registry or an archive."""
    containers_running: int = 0
    """Running containers in the data."""
    documents: int = 0
    """Documents and sources read (`scans` rows)."""
    load_errors: int = 0
    """Files or sources that could not be read at all."""
    synthetic_images: int = 0
    """Images of the synthetic demo fleet."""
    vuln_skipped: int = 0
    """Of them, without a vulnerability scan though a scanner run was meant to make one and
    could not (Trivy without its vulnerability database: `scans.scanners_skipped`)."""
    limitations: list[str] = field(default_factory=list)
    """What scanner runs could not do, one `limitation_line` each, for the runs of these images
    whose skipped capability no other document covers (a vulnerability scan, a package list)."""

    @property
    def share(self) -> float | None:
        """Return the share of images with both a vulnerability scan and an SBOM (0-1); None
        when there are no images."""
        if not self.images:
            return None
        return min(self.vuln_scanned, self.with_sbom) / self.images

    def to_dict(self) -> dict[str, Any]:
        """Return the counts as plain data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SkippingRun:
    """A scanner run (a `scans` row) that was meant to cover more than it did."""

    images: frozenset[str]
    """The images its document is about."""
    tool: str
    reason: str
    done: tuple[str, ...]
    skipped: tuple[str, ...]


def skipping_runs(data: AuditData, docs: pd.DataFrame | None = None) -> list[SkippingRun]:
    """Return the scanner runs that recorded something they could not do (`scans.scanners_skipped`),
    in the order of `scans` (`docs`: `documents(data)` when known)."""
    sc = data.scans
    rows = sc[sc["scanners_skipped"].notna()]
    if rows.empty:
        return []
    by_doc = document_images(documents(data) if docs is None else docs) if rows[
        "image_id"].isna().any() else {}
    return [
        SkippingRun(frozenset({str(iid)} if pd.notna(iid) else by_doc.get(sid, set())),
                    str(tool) if pd.notna(tool) else "scanner",
                    str(reason) if pd.notna(reason) else "not run",
                    capabilities_of(run), capabilities_of(skipped))
        for sid, iid, tool, run, skipped, reason in zip(
            rows["scan_id"].astype(str), rows["image_id"], rows["tool"], rows["scanners_run"],
            rows["scanners_skipped"], rows["scanners_skipped_reason"], strict=True)
    ]


def vulnerability_scan_skipped(data: AuditData, docs: pd.DataFrame | None = None
                               ) -> dict[str, list[str]]:
    """Return, per image a scanner run was meant to scan for vulnerabilities and could not, why
    (`trivy: no vulnerability database (offline)`, one per distinct tool and reason; `docs`:
    `documents(data)` when known)."""
    out: dict[str, dict[str, None]] = {}
    for run in skipping_runs(data, docs):
        if "vuln" in run.skipped:
            for image in run.images:
                out.setdefault(image, {})[f"{run.tool}: {run.reason}"] = None
    return {image: list(why) for image, why in out.items()}


def limitations(data: AuditData, every: set[str], docs: pd.DataFrame | None = None,
                covered: dict[str, set[str]] | None = None) -> tuple[set[str], list[str]]:
    """Return, of the images `every`, those without a vulnerability scan that a scanner run was
    meant to scan for vulnerabilities and could not, and the `limitation_line` of each run that
    left something uncovered (one per distinct line, in the order of `scans`).

    A skipped vulnerability scan or package list counts only for images no other document
    covered that way; a skipped licence, secret or misconfiguration scan always counts. `docs`:
    `documents(data)` when known.
    """
    runs = skipping_runs(data, docs)
    if not runs:
        return set(), []
    docs = documents(data) if docs is None else docs
    if covered is None:
        covered = {"vuln": vulnerability_scanned(data, docs), "packages": with_sbom(data, docs)}
    skipped_vuln: set[str] = set()
    lines: dict[str, None] = {}
    for run in runs:
        images = run.images & every
        gaps = [c for c in run.skipped if images - covered.get(c, set())]
        if not gaps:
            continue
        if "vuln" in gaps:
            skipped_vuln |= images - covered["vuln"]
        lines[limitation_line(run.tool, run.reason, run.done, gaps)] = None
    return skipped_vuln, list(lines)


def coverage(data: AuditData, image_ids: list[str], docs: pd.DataFrame | None = None,
             covered: dict[str, set[str]] | None = None) -> Coverage:
    """Return the coverage of `image_ids` (every image the tables name) by `data`'s sources
    (`docs`: `documents(data)` when known; `covered`: the images a vulnerability scan (`vuln`)
    and an SBOM (`packages`) covered, when known)."""
    every = set(image_ids)
    docs = documents(data) if docs is None else docs
    if covered is None:
        covered = {"vuln": vulnerability_scanned(data, docs), "packages": with_sbom(data, docs)}
    skipped_vuln, lines = limitations(data, every, docs, covered)
    running = int((data.containers["state"].astype("string") == "running").fillna(False).sum())
    errors = int((data.load_errors["level"].astype("string") == "error").fillna(False).sum())
    return Coverage(
        images=len(every),
        vuln_scanned=len(covered["vuln"] & every),
        with_sbom=len(covered["packages"] & every),
        collected=len(collected(data) & every),
        containers_running=running,
        documents=len(data.scans),
        load_errors=errors,
        synthetic_images=len(synthetic_image_ids(data) & every),
        vuln_skipped=len(skipped_vuln),
        limitations=lines,
    )
