"""Rules about how fresh an image is: rebuilt recently, on the current base, scanned recently,
on a supported OS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from auditlib.fleet.bases import tag_key
from auditlib.fleet.coverage import (
    document_images,
    is_sbom,
    is_vulnerability_scan,
    rows_in,
    vulnerability_scan_skipped,
)
from auditlib.fleet.names import short_digest
from auditlib.fleet.view import FleetView
from auditlib.normalize.times import utc_time
from auditlib.policy.model import Param, Rule, Verdict


def _days(n: float) -> str:
    return f"{n:g} day{'' if n == 1 else 's'}"


def _when(ctx: FleetView, t: pd.Timestamp | None) -> str:
    """Return `2026-11-20 (9 days ago)`."""
    if t is None:
        return "an unknown date"
    return f"{t:%Y-%m-%d} ({_days(max(int(ctx.age_days(t) or 0), 0))} ago)"


# -- recent-rebuild ---------------------------------------------------------------------------


def _recent(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    warn, fail = float(params["warn_days"]), float(params["fail_days"])
    out = []
    for image_id, created in ctx.images["created_at"].items():
        t = utc_time(created)  # a build time: unknown for a reproducible build's fixed time
        if t is None:
            continue
        age = ctx.age_days(t) or 0.0
        when = f"built {_when(ctx, t)}"
        if age > fail:
            out.append(Verdict(str(image_id), "fail", f"{when}: older than {_days(fail)}"))
        elif age > warn:
            out.append(Verdict(str(image_id), "warn", f"{when}: older than {_days(warn)} "
                               f"(fails after {fail:g})"))
        else:
            out.append(Verdict(str(image_id), "pass", when))
    return out


RECENT_REBUILD = Rule(
    slug="recent-rebuild",
    title="Rebuilt recently",
    rationale="Only a rebuild picks up the base image's and the package repositories' security "
    "fixes, so an image not rebuilt for weeks carries every fix published since.",
    severity="medium",
    points=10,
    evaluate=_recent,
    params=(
        Param("warn_days", 7, "Warn when the image was built more than this many days ago."),
        Param("fail_days", 30, "Fail when the image was built more than this many days ago."),
    ),
    no_data="the build time is unknown: collect the image config from an engine, registry or "
    "archive, or scan it with Trivy or Syft; a time at or before 1980 is a reproducible build's "
    "fixed epoch (SOURCE_DATE_EPOCH), not a build date",
    scout="None: Scout has no image-age policy (its health score only marks very old images "
    "N/A); the closest is up-to-date base images, a digest check with no age.",
    others="None in hadolint or Trivy; Watchtower and diun users ask for 'not updated in X "
    "days' warnings.",
    needs="images.created_at",
)


# -- base-image-current -----------------------------------------------------------------------


def _base_current(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    known = {i: (b, tag_key(b.ref)) for i, b in ctx.bases.items()}
    nows = ctx.base_tag_now({k for _, k in known.values() if k})
    out = []
    for image_id, (base, key) in known.items():
        now = nows.get(key) if key else None
        if now is None:
            continue
        verdict = ctx.built_on_current(image_id, base, now)
        if verdict is None:
            continue
        if base.digest:
            how = "the base.digest label" if base.how == "label" else "the FROM digest"
            built = f"{short_digest(base.digest)} (by {how})"
        else:
            built = f"{short_digest(base.image_id or '?')} (by its layers)"
        if verdict:
            out.append(Verdict(image_id, "pass", f"the base tag {key} still points at what this "
                               f"image was built on: {built}"))
        else:
            out.append(Verdict(image_id, "fail", f"the base tag {key} now points at "
                               f"{short_digest(now.shown)} (created {_when(ctx, now.created)}, per "
                               f"{now.source}); this image was built on {built}: rebuild"))
    return out


BASE_IMAGE_CURRENT = Rule(
    slug="base-image-current",
    title="Built on the base tag's current image",
    rationale="When the base tag has moved, the publisher has shipped fixes this image lacks; "
    "only a rebuild picks them up.",
    severity="high",
    points=10,
    evaluate=_base_current,
    no_data="the base, or what its tag points at now, is unknown: give the Dockerfile or the "
    "base labels, and collect the base repository's registry (`auditlib collect --registry`) or "
    "an engine that pulled the tag recently",
    scout="Up-to-date base images (`no-stale-base-images`): the same pure digest comparison, "
    "but Scout needs provenance attestations; auditlib also learns the base from the Dockerfile, "
    "the OCI base labels or shared layers, and compares layers when digests are unknown.",
    others="None in hadolint or Trivy; diun and Renovate (digest updates) watch the same tag "
    "moves but do not tie them to the images built on them.",
    needs="dockerfiles, image_labels, image_layers, registry_tags, image_tags, images",
)


# -- scan-coverage ----------------------------------------------------------------------------

@dataclass
class _Docs:
    """An image's documents of one kind (vulnerability scans, or SBOMs)."""

    newest: tuple[pd.Timestamp, str] | None = None
    """The newest dated one: when the tool made it, and its format."""
    undated: list[tuple[pd.Timestamp | None, str]] = field(default_factory=list)
    """Those that do not say when they were made: when auditlib read each, and its format."""

    def add(self, made: pd.Timestamp | None, read: pd.Timestamp | None, fmt: str) -> None:
        """Add a document made at `made` (None: undated), read at `read`."""
        if made is None:
            self.undated.append((read, fmt))
        elif self.newest is None or made > self.newest[0]:
            self.newest = (made, fmt)


def _image_docs(ctx: FleetView) -> tuple[dict[str, _Docs], dict[str, _Docs]]:
    """Return image id -> its vulnerability scans, and -> its SBOMs (what each is:
    `auditlib.fleet.coverage`)."""
    sc = ctx.data.scans
    vuln_doc = is_vulnerability_scan(sc, rows_in(ctx.documents, "vulnerabilities"))
    sbom_doc = is_sbom(sc, rows_in(ctx.documents, "packages"))
    doc_images = document_images(ctx.documents) if sc["image_id"].isna().any() else {}
    vuln: dict[str, _Docs] = {}
    sbom: dict[str, _Docs] = {}
    for sid, fmt, iid, gen, col, is_vuln, is_inv in zip(
            sc["scan_id"].astype(str), sc["format"].astype(str), sc["image_id"],
            sc["generated_at"], sc["collected_at"], vuln_doc, sbom_doc, strict=True):
        if not (is_vuln or is_inv):
            continue
        # The scan time is the one the document gives; when it gives none, the scan time is
        # unknown: the time auditlib read it (`collected_at`) is only a bound (made before).
        made, read = utc_time(gen), utc_time(col)
        for i in {str(iid)} if pd.notna(iid) else doc_images.get(sid, set()):
            for hit, found in ((is_vuln, vuln), (is_inv, sbom)):
                if hit:
                    found.setdefault(i, _Docs()).add(made, read, fmt)
    return vuln, sbom


_OLDEST = pd.Timestamp.min.tz_localize("UTC")


def _judge(ctx: FleetView, what: str, docs: _Docs, max_age: float) -> tuple[str, str]:
    """Return whether an image's newest document of one kind is `fresh`, `old` or `undated`
    (unknown), and the evidence.

    A dated document within `max_age` days is fresh. Otherwise an undated one read within
    `max_age` days may be newer (its age is unknown); one read longer ago is at least that old.
    """
    newest = docs.newest
    if newest is not None and (ctx.age_days(newest[0]) or 0) <= max_age:
        return "fresh", f"newest {what}: {newest[1]} of {_when(ctx, newest[0])}"
    older = f"older than {max_age:g} days"
    maybe = [fmt for read, fmt in docs.undated
             if read is None or (ctx.age_days(read) or 0) <= max_age]
    if maybe:
        said = f"newest {what}: {maybe[0]}, undated"
        if newest is not None:
            said += f" (newest dated: {newest[1]} of {_when(ctx, newest[0])}, {older})"
        return "undated", said
    if newest is not None:
        return "old", f"newest {what}: {newest[1]} of {_when(ctx, newest[0])}, {older}"
    read, fmt = max(docs.undated, key=lambda d: d[0] or _OLDEST)
    return "old", f"newest {what}: {fmt}, undated, read {_when(ctx, read)}: {older}"


def _scan_coverage(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    max_age = float(params["max_age_days"])
    vuln, sbom = _image_docs(ctx)
    skipped = vulnerability_scan_skipped(ctx.data, ctx.documents)
    out = []
    for image_id in ctx.image_ids:
        docs = {"vulnerability scan": vuln.get(image_id), "SBOM": sbom.get(image_id)}
        judged = [_judge(ctx, what, d, max_age) for what, d in docs.items() if d is not None]
        said = [evidence for _, evidence in judged]
        states = {state for state, _ in judged}
        missing = [what for what, d in docs.items() if d is None]
        if missing:
            head = f"no {' and no '.join(missing)} of this image"
            if "vulnerability scan" in missing and image_id in skipped:
                head += f" ({'; '.join(skipped[image_id])})"
            out.append(Verdict(image_id, "fail", "; ".join([head, *said])))
        elif "old" in states:
            out.append(Verdict(image_id, "warn", "; ".join(said)))
        elif "undated" in states:
            out.append(Verdict(image_id, "no-data", "; ".join(said)))
        else:
            out.append(Verdict(image_id, "pass", "; ".join(said)))
    return out


SCAN_COVERAGE = Rule(
    slug="scan-coverage",
    title="Scanned for vulnerabilities, with an SBOM, recently",
    rationale="An image nobody scanned is not known to be safe, and a scan only covers the "
    "vulnerabilities published before it ran.",
    severity="high",
    points=15,
    evaluate=_scan_coverage,
    params=(
        Param("max_age_days", 7,
              "Warn when the newest vulnerability scan or SBOM is older than this many days."),
    ),
    no_data="the newest vulnerability scan or SBOM does not say when it was made (undated: a "
    "Syft 0.x SBOM, SARIF without invocation times) and was read within the age limit, so its "
    "age is unknown (scan again with a current tool); an image with no vulnerability scan or "
    "SBOM fails (scan it with Trivy or Grype, and Syft, then `auditlib ingest`)",
    scout="Supply chain attestations (`supply-chain-attestations`) requires an SBOM "
    "attestation; Scout scans every pushed image itself. auditlib requires a vulnerability scan "
    "and an SBOM by any tool, and an age limit.",
    others="None in hadolint or Trivy (they are the scanners this rule checks for).",
    needs="scans (format, generated_at, collected_at, scanners_skipped), packages, "
    "vulnerabilities",
)


# -- supported-os -----------------------------------------------------------------------------

def _supported_os(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    warn = float(params["warn_days"])
    out = []
    verdicts = ctx.eol  # the four columns read, a column at a time (not `to_dict` of them all)
    for image_id, evidence, eol, days in zip(
            verdicts["image_id"].astype(str).tolist(),
            verdicts["os_eol_evidence"].astype(str).tolist(),
            verdicts["os_is_eol"].tolist(), verdicts["os_days_to_eol"].tolist(), strict=True):
        if eol is None or pd.isna(eol):
            out.append(Verdict(image_id, "no-data", evidence))
        elif bool(eol):
            out.append(Verdict(image_id, "fail", "past its end of life, no more security "
                               f"fixes: {evidence}"))
        elif days is not None and not pd.isna(days) and float(days) <= warn:
            out.append(Verdict(image_id, "warn", f"end of life within {warn:g} days: {evidence}"))
        else:
            out.append(Verdict(image_id, "pass", evidence))
    return out


SUPPORTED_OS = Rule(
    slug="supported-os",
    title="The OS is still supported",
    rationale="Past its end of life a distribution publishes no security fixes, so its "
    "vulnerabilities stay unfixed and scanners stop reporting many of them.",
    severity="high",
    points=10,
    evaluate=_supported_os,
    params=(
        Param("support", "standard",
              "Which end of support counts: `standard` (endoflife.date's `eol`: Debian's "
              "security support, the others' standard support) or `extended` (Debian LTS, "
              "Ubuntu ESM, RHEL ELS, SLES LTSS, where a release has one). The staleness "
              "analysis uses the same."),
        Param("warn_days", 90, "Warn when the end of life is this many days away or fewer."),
    ),
    no_data="whether the OS is past its end of life is unknown: no source names the OS and "
    "its version, the end-of-life table lacks the release, and no scanner says (scan the "
    "image with Trivy or Syft; refresh the table with `auditlib eol update`)",
    scout="Approved base images with `allowed_distros_only` fails EOL distributions of the "
    "base; auditlib checks the image's own OS, by a dated end-of-life table read at the "
    "as-of time, and by its scanners' flags where the table lacks the release.",
    others="Trivy reports EOSL as a warning and Grype a distro-eol alert; neither fails a "
    "check on it. hadolint cannot know.",
    needs="images.os_family/os_version, scans.os_family/os_version, the end-of-life table, "
    "images.is_os_eol and scans.is_os_eol (`os_end_of_life`)",
)

RULES = (RECENT_REBUILD, BASE_IMAGE_CURRENT, SCAN_COVERAGE, SUPPORTED_OS)
