"""Rules about how fresh an image is: rebuilt recently, on the current base, scanned recently,
on a supported OS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from auditlib.fleet.view import Context, text
from auditlib.identity import parse_reference
from auditlib.policy.model import Param, Rule, Verdict

_LEGACY_HUB = dict.fromkeys(("index.docker.io", "registry-1.docker.io",
                             "registry.hub.docker.com"), "docker.io")


def _ts(value: Any) -> pd.Timestamp | None:
    if value is None or pd.isna(value):
        return None
    t = pd.Timestamp(value)
    return t.tz_localize("UTC") if t.tzinfo is None else t


def _days(n: float) -> str:
    return f"{n:g} day{'' if n == 1 else 's'}"


def _when(ctx: Context, t: pd.Timestamp | None) -> str:
    """Return `2026-11-20 (9 days ago)`."""
    if t is None:
        return "an unknown date"
    return f"{t:%Y-%m-%d} ({_days(max(int(ctx.age_days(t) or 0), 0))} ago)"


# -- recent-rebuild ---------------------------------------------------------------------------


def _recent(ctx: Context, params: Mapping[str, Any]) -> list[Verdict]:
    warn, fail = float(params["warn_days"]), float(params["fail_days"])
    out = []
    for image_id, created in ctx.images["created_at"].items():
        t = _ts(created)
        if t is None or t.year <= 1980:  # reproducible builds write the epoch: no build date
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


@dataclass
class BaseTagNow:
    """What a base tag points at now: digests, image ids -> platform (`linux/amd64`, None when
    not known), and the platforms of the rows."""

    source: str
    shown: str
    created: pd.Timestamp | None
    digests: set[str] = field(default_factory=set)
    image_ids: dict[str, str | None] = field(default_factory=dict)
    platforms: set[str | None] = field(default_factory=set)


def tag_key(ref: str | None) -> str | None:
    p = parse_reference(ref) if ref else None
    return f"{p.name}:{p.tag}" if p is not None and p.tag else None


def _latest(df: pd.DataFrame, key: str) -> pd.DataFrame:
    """Return the rows of each key's newest collection."""
    newest = df.groupby(key)["collected_at"].transform("max")
    return df[(df["collected_at"] == newest) | newest.isna()]


def base_tag_now(ctx: Context, wanted: set[str]) -> dict[str, BaseTagNow]:
    """Return tag reference -> what it points at now, from registries, else engines."""
    out: dict[str, BaseTagNow] = {}
    rt = ctx.data.registry_tags.dropna(subset=["tag"])
    if len(rt) and wanted:
        reg = rt["registry"].astype(str).replace(_LEGACY_HUB)
        rt = rt.assign(key=reg + "/" + rt["repository"].astype(str) + ":" + rt["tag"].astype(str))
        rt = _latest(rt[rt["key"].isin(wanted)], "key")
        for key, md, pd_, iid, plat, created in zip(
            rt["key"], rt["manifest_digest"], rt["platform_manifest_digest"], rt["image_id"],
            rt["platform"], rt["created_at"], strict=True,
        ):
            now = out.setdefault(key, BaseTagNow("the registry", str(text(md) or text(iid) or "?"),
                                           _ts(created)))
            now.digests.update(d for d in (text(md), text(pd_)) if d)
            now.platforms.add(text(plat))
            if text(iid):
                now.image_ids[str(iid)] = text(plat)
    it = ctx.data.image_tags.dropna(subset=["image_id", "reference"])
    it = it.assign(ref=it["reference"].astype(str))
    it = _latest(it[it["ref"].isin(wanted - set(out))], "ref")
    created = ctx.images["created_at"]
    for ref, iid in zip(it["ref"], it["image_id"].astype(str), strict=True):
        now = out.setdefault(ref, BaseTagNow("an engine", iid, _ts(created.get(iid))))
        now.image_ids[iid] = None
        now.platforms.add(None)
        now.digests.update(r.rsplit("@", 1)[1] for r in ctx.references.get(iid, []) if "@" in r)
    return out


def built_on_current(ctx: Context, image_id: str, built_digest: str | None, built_id: str | None,
             now: BaseTagNow, platform: str | None) -> bool | None:
    """Return whether the image is built on what the tag points at now (None: cannot tell).

    Same image id or digest: current. Else the layers decide (the current base's layers start
    this image's), for a current image of the image's platform. Else a different digest or id
    proves a move only when the rows are for the image's platform (another platform's image of
    the same index has another id and manifest digest).
    """
    if (built_id is not None and built_id in now.image_ids) or (
            built_digest is not None and built_digest in now.digests):
        return True
    same = [i for i, p in now.image_ids.items() if p is None or platform is None or p == platform]
    mine = ctx.layers.get(image_id, ())
    layered = [i for i in same if i in ctx.layers]
    if mine and layered:
        return any(mine[:len(ctx.layers[i])] == ctx.layers[i] for i in layered)
    if platform is not None and all(p is not None and p != platform for p in now.platforms):
        return None
    return False if (built_digest and now.digests) or (built_id is not None and same) else None


def _base_current(ctx: Context, params: Mapping[str, Any]) -> list[Verdict]:
    known = {i: (b, tag_key(b.ref)) for i, b in ctx.bases.items()}
    nows = base_tag_now(ctx, {k for _, k in known.values() if k})
    plat = (ctx.images["os"].astype("string") + "/" + ctx.images["architecture"].astype("string"))
    out = []
    for image_id, (base, key) in known.items():
        now = nows.get(key) if key else None
        if now is None:
            continue
        platform = text(plat.get(image_id))
        verdict = built_on_current(ctx, image_id, base.digest, base.image_id, now, platform)
        if verdict is None:
            continue
        if base.digest:
            how = "the base.digest label" if base.how == "label" else "the FROM digest"
            built = f"{base.digest[:19]} (by {how})"
        else:
            built = f"{(base.image_id or '?')[:19]} (by its layers)"
        if verdict:
            out.append(Verdict(image_id, "pass", f"the base tag {key} still points at what this "
                               f"image was built on: {built}"))
        else:
            out.append(Verdict(image_id, "fail", f"the base tag {key} now points at "
                               f"{now.shown[:19]} (created {_when(ctx, now.created)}, per "
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

_VULN_FORMATS = frozenset({"grype-json", "harbor-json"})
_SBOM_FORMATS = frozenset({"syft-json", "cyclonedx-json", "spdx-json"})


def _doc_images(ctx: Context) -> dict[str, set[str]]:
    """Return scan id -> the image ids of its rows (for documents whose scans row has none)."""
    out: dict[str, set[str]] = {}
    for df in (ctx.data.vulnerabilities, ctx.data.packages):
        rows = df[["scan_id", "image_id"]].dropna().drop_duplicates()
        for sid, iid in zip(rows["scan_id"].astype(str), rows["image_id"].astype(str),
                            strict=True):
            out.setdefault(sid, set()).add(iid)
    return out


def _newest_docs(ctx: Context) -> tuple[dict[str, tuple[pd.Timestamp | None, str]],
                                         dict[str, tuple[pd.Timestamp | None, str]]]:
    """Return image id -> (time, format) of its newest vulnerability scan, and of its SBOM."""
    with_pkgs, with_vulns = ({str(s) for s in df["scan_id"].dropna().unique()}
                             for df in (ctx.data.packages, ctx.data.vulnerabilities))
    sc = ctx.data.scans
    doc_images = _doc_images(ctx) if sc["image_id"].isna().any() else {}
    vuln: dict[str, tuple[pd.Timestamp | None, str]] = {}
    sbom: dict[str, tuple[pd.Timestamp | None, str]] = {}
    oldest = pd.Timestamp.min.tz_localize("UTC")
    for sid, fmt, iid, gen, col in zip(sc["scan_id"].astype(str), sc["format"].astype(str),
                                       sc["image_id"], sc["generated_at"], sc["collected_at"],
                                       strict=True):
        pkgs = sid in with_pkgs
        is_vuln = fmt in _VULN_FORMATS or sid in with_vulns or (fmt == "trivy-json" and pkgs)
        is_sbom = pkgs and (fmt in _SBOM_FORMATS or fmt == "trivy-json")
        if not (is_vuln or is_sbom):
            continue
        t = _ts(gen) or _ts(col)
        ids = {str(iid)} if pd.notna(iid) else doc_images.get(sid, set())
        for i in ids:
            for hit, found in ((is_vuln, vuln), (is_sbom, sbom)):
                if hit and (i not in found or (t or oldest) > (found[i][0] or oldest)):
                    found[i] = (t, fmt)
    return vuln, sbom


def _scan_coverage(ctx: Context, params: Mapping[str, Any]) -> list[Verdict]:
    max_age = float(params["max_age_days"])
    vuln, sbom = _newest_docs(ctx)
    out = []
    for image_id in ctx.image_ids:
        docs = {"vulnerability scan": vuln.get(image_id), "SBOM": sbom.get(image_id)}
        old = {what for what, d in docs.items()
               if d is not None and (d[0] is None or (ctx.age_days(d[0]) or 0) > max_age)}
        said = [f"newest {what}: {d[1]} of {_when(ctx, d[0])}"
                + (f", older than {max_age:g} days" if what in old else "")
                for what, d in docs.items() if d is not None]
        missing = [what for what, d in docs.items() if d is None]
        if missing:
            head = f"no {' and no '.join(missing)} of this image"
            out.append(Verdict(image_id, "fail", "; ".join([head, *said])))
        else:
            out.append(Verdict(image_id, "warn" if old else "pass", "; ".join(said)))
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
    no_data="never: an image with no vulnerability scan or SBOM fails (scan it with Trivy or "
    "Grype, and Syft, then `auditlib ingest`)",
    scout="Supply chain attestations (`supply-chain-attestations`) requires an SBOM "
    "attestation; Scout scans every pushed image itself. auditlib requires a vulnerability scan "
    "and an SBOM by any tool, and an age limit.",
    others="None in hadolint or Trivy (they are the scanners this rule checks for).",
    needs="scans (format, generated_at, collected_at), packages, vulnerabilities",
)


# -- supported-os -----------------------------------------------------------------------------

_TOOLS = {"trivy": "Trivy", "grype": "Grype", "syft": "Syft", "harbor": "Harbor"}


def _eol_sources(ctx: Context) -> dict[str, dict[bool, set[str]]]:
    """Return image id -> {said EOL: tools} from image rows and scan documents."""
    out: dict[str, dict[bool, set[str]]] = {}
    for df in (ctx.data.images, ctx.data.scans):
        rows = df[["image_id", "is_os_eol", "source_format"]].dropna().drop_duplicates()
        for iid, eol, sf in zip(rows["image_id"].astype(str), rows["is_os_eol"],
                                rows["source_format"].astype(str), strict=True):
            name = sf.split("@", 1)[0].removesuffix("-json")
            out.setdefault(iid, {}).setdefault(bool(eol), set()).add(_TOOLS.get(name, name))
    return out


def _supported_os(ctx: Context, params: Mapping[str, Any]) -> list[Verdict]:
    said = _eol_sources(ctx)
    img = ctx.images
    out = []
    for image_id, raw, family, version in zip(img.index, img["is_os_eol"], img["os_family"],
                                              img["os_version"], strict=True):
        by = said.get(str(image_id), {})
        flag = None if pd.isna(raw) else bool(raw)
        eol = True in by or flag is True
        if not eol and False not in by and flag is None:
            continue
        os_name = " ".join(x for x in (text(family), text(version)) if x) or "the OS"
        tools = "/".join(sorted(by.get(eol, set()))) or "the scanner"
        if eol:
            out.append(Verdict(str(image_id), "fail", f"{tools} say{'' if '/' in tools else 's'} "
                               f"{os_name} is past its end of life: no more security fixes"))
        else:
            out.append(Verdict(str(image_id), "pass", f"{os_name} is supported ({tools}: not "
                               "past its end of life)"))
    return out


SUPPORTED_OS = Rule(
    slug="supported-os",
    title="The OS is still supported",
    rationale="Past its end of life a distribution publishes no security fixes, so its "
    "vulnerabilities stay unfixed and scanners stop reporting many of them.",
    severity="high",
    points=10,
    evaluate=_supported_os,
    no_data="whether the OS is past its end of life is unknown: scan the image with Trivy "
    "(Metadata.OS.EOSL) or Grype (distro-eol alert); the OS may also be unknown or "
    "distroless",
    scout="Approved base images with `allowed_distros_only` fails EOL distributions of the "
    "base; auditlib checks the image's own OS, as its scanners report it.",
    others="Trivy reports EOSL as a warning and Grype a distro-eol alert; neither fails a "
    "check on it. hadolint cannot know.",
    needs="images.is_os_eol, images.os_family/os_version, scans.is_os_eol",
)

RULES = (RECENT_REBUILD, BASE_IMAGE_CURRENT, SCAN_COVERAGE, SUPPORTED_OS)
