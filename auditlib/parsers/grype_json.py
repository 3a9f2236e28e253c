"""Grype JSON reports, from Grype 0.7 to the newest.

One `vulnerabilities` row per match: a vulnerability record matched against a package at a path,
with the matchers that found it (`matchDetails`). Grype writes the same vulnerability of the same
package twice when two matchers find it (DefectDojo's check-all-fields report: 6 matches, 5
findings); the loader merges such rows into one by the rules `auditlib.tables.MERGES` declares
(the highest severity, the fix versions and the matchers of both, ...), counted in
`occurrence_count`. Grype lists only the packages that matched, so no `packages` rows are written
(a Syft SBOM of the same image gives those). The image and the scan go to `out.scan`; the loader
makes those rows. A match's `relatedVulnerabilities` give `vulnerability_aliases` rows (the related
record's id, its namespace as the source), and `cwes` of the record and of its related records
(newest releases) `vulnerability_cwes` rows; a double match gives the same child rows twice, which
the loader keeps once (the child tables' own keys).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from typing import Any

import msgspec

from auditlib.errors import MalformedInputError
from auditlib.identity import parse_reference
from auditlib.normalize.cvss import CvssScore, best_cvss, cvss_version
from auditlib.normalize.fix_state import fix_state_from_grype
from auditlib.normalize.pkg_versions import distro_version
from auditlib.normalize.severity import normalize_severity
from auditlib.parsers._grype_model import (
    Artifact,
    Cvss,
    Descriptor,
    Distro,
    FixAvailable,
    ImageConfig,
    ImageTarget,
    Match,
    MatchDetail,
    MatchParts,
    OldCvss,
    PackageAlerts,
    Related,
    Source,
    Vulnerability,
)
from auditlib.parsers._vuln_refs import VulnRefs
from auditlib.parsers.interface import Document, Parser
from auditlib.rows import ImageInfo, Output, ScanInfo

_TARGET_TYPES: dict[str, str] = {
    "image": "container_image",
    "directory": "filesystem",
    "dir": "filesystem",
    "file": "filesystem",
    "snap": "filesystem",
    "sbom": "sbom",
    "sbom-file": "sbom",
}
"""`source.type` to `scans.target_type`; `purl`, `cpe` and `unknown` sources are `unknown`."""

_PLACEHOLDER_VERSIONS = {"", "unknown", "[not provided]"}

# Grype names the image it was asked for with the scheme the user typed (`registry:alpine:3.18`);
# these schemes name a registry or daemon image, so what follows is a reference. Archive and
# folder schemes (`docker-archive:`, `oci-dir:`, `dir:`) name paths and are not stripped.
_IMAGE_SCHEMES = ("registry:", "docker:", "podman:", "containerd:")

# Grype 0.87 (vulnerability DB schema v6) added `knownExploited`, written only when non-empty; in a
# report of that generation an absent list means "not in KEV", before it means "not said".
_KEV_SINCE = (0, 87)
_VERSION = re.compile(r"^v?(\d+)\.(\d+)")

_CVSS_SOURCES = {
    "nvd@nist.gov": "nvd",
    "security-advisories@github.com": "ghsa",
    "secalert@redhat.com": "redhat",
}
"""Scorer e-mail addresses (as NVD lists them) to the short names `best_cvss` and Trivy use."""

_providers: dict[str, str] = {}


def _provider(namespace: str | None) -> str | None:
    """Return the publisher of a Grype namespace.

    Returns:
        The first part of the namespace (`debian:distro:debian:10` -> `debian`, `nvd:cpe` -> `nvd`),
        `ghsa` for GitHub advisories, or None without a namespace.
    """
    if not namespace:
        return None
    found = _providers.get(namespace)
    if found is None:
        head = namespace.split(":", 1)[0].lower()
        found = _providers[namespace] = "ghsa" if head == "github" else head
    return found


def _scores(cvss: list[Cvss] | None, default_source: str | None) -> list[CvssScore]:
    """Return `cvss[]` as scores; a score without its own source is the record publisher's."""
    out: list[CvssScore] = []
    for c in cvss or ():
        source = _CVSS_SOURCES.get(c.source, c.source) if c.source else default_source
        score = c.metrics.base_score if c.metrics is not None else None
        out.append(CvssScore(score, c.vector or None, cvss_version(c.vector, c.version), source))
    return out


def _old_scores(v2: OldCvss | None, v3: OldCvss | None) -> list[CvssScore]:
    """Return Grype 0.7's `cvssV2`/`cvssV3` as scores (it does not say who scored them)."""
    return [
        CvssScore(c.base_score, c.vector or None, cvss_version(c.vector, declared), None)
        for c, declared in ((v2, "2.0"), (v3, "3.0"))
        if c is not None
    ]


def _best_score(
    v: Vulnerability, related: list[Related], own_source: str | None,
) -> CvssScore | None:
    """Return the record's own best CVSS score, else (distro records) the related records' best."""
    own = _scores(v.cvss, own_source) if v.cvss else _old_scores(v.cvss_v2, v.cvss_v3)
    best = best_cvss(own, own_source)
    if best is None and related:
        scores = [s for r in related for s in _scores(r.cvss, _provider(r.namespace))]
        best = best_cvss(scores, own_source)
    return best


def _description(v: Vulnerability, related: list[Related]) -> str | None:
    """Return the record's description, else the related NVD record's (distro records have none)."""
    if v.description:
        return v.description
    texts = [(r.description, _provider(r.namespace)) for r in related if r.description]
    return next((t for t, who in texts if who == "nvd"), None) or (texts[0][0] if texts else None)


def _earliest(available: list[FixAvailable] | None) -> str | None:
    """Return the earliest `fix.available[].date` (ISO 8601 dates, which sort as text)."""
    dates = [a.date for a in available or () if a.date]
    return min(dates) if dates else None


def _fix(v: Vulnerability) -> tuple[list[str], str | None, str | None]:
    """Return the record's fix versions, its fix state as written, and when a fix was known."""
    fix = v.fix
    if fix is None:  # Grype 0.7 to 0.12
        return ([v.fixed_in_version] if v.fixed_in_version else []), None, None
    return (fix.versions or [], fix.state or None,
            _earliest(fix.available) if fix.available else None)


def _matched_by(details: list[MatchDetail] | MatchDetail | None) -> tuple[str | None, str | None]:
    """Return the matchers and the match types of a match, each sorted and comma-separated."""
    if details is None:
        return None, None
    if isinstance(details, MatchDetail):
        details = [details]
    matchers = sorted({d.matcher for d in details if d.matcher})
    types = sorted({d.type for d in details if d.type})
    return ", ".join(matchers) or None, ", ".join(types) or None


def _tool_version(descriptor: Descriptor | None) -> str | None:
    version = descriptor.version if descriptor is not None else None
    return None if version is None or version.strip().lower() in _PLACEHOLDER_VERSIONS else version


def _kev_release(tool_version: str | None) -> bool:
    """Return whether `tool_version` is a Grype release that writes KEV data."""
    m = _VERSION.match(tool_version or "")
    return bool(m and (int(m[1]), int(m[2])) >= _KEV_SINCE)


def _kev_signal(v: Vulnerability) -> bool:
    """Return whether record `v` has a field only KEV-aware releases write."""
    return v.risk is not None or v.epss is not None or v.known_exploited is not None


def _image_config(raw: str, out: Output) -> ImageConfig | None:
    """Decode the base64 image config Grype embeds; a bad one is ignored with a warning."""
    try:
        return msgspec.json.decode(base64.b64decode(raw, validate=True), type=ImageConfig)
    except (binascii.Error, ValueError, msgspec.MsgspecError) as e:
        out.warn("$.source.target.config", f"image config ignored: not a base64 config ({e})")
        return None


def _image(t: ImageTarget, distro: Distro | None, eol: bool | None, out: Output) -> ImageInfo:
    """Return what `source.target` and `distro` say about the scanned image."""
    user_input = t.user_input or ""
    for scheme in _IMAGE_SCHEMES:
        user_input = user_input.removeprefix(scheme)
    # `manifestDigest` is left out: for an image read from a Docker daemon or an archive it is the
    # digest of a manifest Grype rebuilt, which names the image in no registry; `repoDigests` are
    # the registry's own.
    info = ImageInfo(
        image_id=t.image_id or None,
        reference=user_input if parse_reference(user_input) else None,
        repo_digests=list(t.repo_digests or ()),
        tags=list(t.tags or ()),
        os=t.os or None,
        architecture=t.architecture or None,
        os_family=((distro.name or "").lower() or None) if distro is not None else None,
        os_version=(distro.version or None) if distro is not None else None,
        is_os_eol=eol,
        size_bytes=t.image_size,
        layer_count=len(t.layers) if t.layers is not None else None,
        labels=dict(t.labels or {}),
    )
    config = _image_config(t.config, out) if t.config else None
    if config is not None:
        info.created_at = config.created or None
        body = config.config
        # A config without `User` runs as root, which the column writes as "".
        info.user = (body.user or "") if body is not None else ""
        if t.labels is None and body is not None and body.labels:
            info.labels = dict(body.labels)
    return info


def _os_eol(doc: Document, out: Output) -> bool | None:
    """Return True for a `distro-eol` alert, False when alerts are listed without one, else None."""
    raw = doc.top.get("alertsByPackage") if doc.top is not None else None
    if raw is None:
        return None
    alerts = out.decode_list(raw, PackageAlerts, "$.alertsByPackage")
    return any(a.type == "distro-eol" for p in alerts for a in p.alerts or ())


_RefCall = tuple[str, str | None, str | None]
"""A `VulnRefs` call of a record: `cwe` or `alias`, the value and its source."""


def _ref_calls(v: Vulnerability, related: list[Related]) -> list[_RefCall]:
    """Return the CWE and alias calls of record `v` and its related records, in order."""
    calls: list[_RefCall] = [("cwe", c.cwe, c.source) for c in v.cwes or ()]
    for r in related:
        if r.id:
            calls.append(("alias", r.id, r.namespace))
        # The related record describes the same flaw: its weaknesses are this one's too.
        calls += [("cwe", c.cwe, c.source or r.namespace) for c in r.cwes or ()]
    return calls


def _add_refs(refs: VulnRefs, vuln_id: str, calls: list[_RefCall]) -> None:
    """Make the `VulnRefs` calls `calls` (`_ref_calls`) for `vuln_id`."""
    for kind, value, source in calls:
        if kind == "cwe":
            refs.cwe(vuln_id, value, source)
        else:
            refs.alias(vuln_id, value, source)


class GrypeJsonParser(Parser):
    """Grype JSON reports, from Grype 0.7 to the newest."""

    format_id = "grype-json"

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None or not doc.has("matches"):
            return None
        descriptor: Any = doc.peek("descriptor", dict)
        if (descriptor and descriptor.get("name") == "grype") or doc.has("source"):
            version = descriptor.get("version") if descriptor else None
            # Snapshot tests write "[not provided]"; only a version-looking value is a version.
            ok = isinstance(version, str) and any(c.isdigit() for c in version)
            return str(version) if ok else "unknown"
        return None

    shape = "`matches` of objects with `vulnerability`, `artifact` and `matchDetails`"

    def identify_shape(self, doc: Document) -> str | None:
        """Return `unknown` if `doc` keeps Grype's `matches` (as DefectDojo's fixtures do, without
        `descriptor` and `source`), else None. Never raises."""
        head = doc.peek_first("matches")
        if head is not None and {"vulnerability", "artifact", "matchDetails"} <= head.keys():
            return "unknown"
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read a Grype report into `out`: `out.scan` and one `vulnerabilities` row per match.

        Returns nothing: rows, `out.scan` and warnings (one per skipped match) go to `out`. Matches
        of one vulnerability, package and place are merged into one row by the loader.

        `ignoredMatches` (matches an ignore rule or a VEX statement suppressed) are not read: the
        user asked for them not to be findings, and Grype does not count them as such.

        Raises:
            MalformedInputError: if `matches` is missing or not an array, or `descriptor`, `source`,
                `distro` or `alertsByPackage` has the wrong type. A match that does not fit is
                skipped with a warning instead.
        """
        if doc.top is None or "matches" not in doc.top:
            raise MalformedInputError(f"{doc.source}: missing required key `$.matches`")
        descriptor: Descriptor | None = doc.get("descriptor", Descriptor | None)
        source: Source | None = doc.get("source", Source | None)
        distro: Distro | None = doc.get("distro", Distro | None)
        eol = _os_eol(doc, out)
        tool_version = _tool_version(descriptor)
        target = target_type = None
        image = None
        if source is not None:
            target_type = _TARGET_TYPES.get((source.type or "").lower())
            t = source.target
            if isinstance(t, ImageTarget):
                image = _image(t, distro, eol, out)
                target = t.user_input or t.image_id or None
            else:
                target = t or None
        out.scan = ScanInfo(
            format_version=version,
            tool="grype",
            tool_version=tool_version,
            generated_at=(descriptor.timestamp or None) if descriptor is not None else None,
            target=target,
            target_type=target_type or "unknown",
            vulnerability_scan=True,  # Grype always matches vulnerabilities, found or not
            image=image,
        )
        if not _add_columns(doc.top["matches"], target, tool_version, out):
            # A match that does not fit: read one by one, it is skipped with the decoder's warning.
            # Grype wrote `null` for no matches before it preallocated the list; that reads as [].
            matches = out.decode_list(doc.top["matches"], Match, "$.matches")
            _write(((m.artifact, _Record(m.vulnerability, m.related or []),
                     _matched_by(m.details)) for m in matches), target, tool_version, out)


# --- the rows: each distinct vulnerability record normalised once ------------------------------

_RECORD_COLUMNS = (
    "vuln_id", "severity", "severity_source", "fix_state", "fix_available_at", "status",
    "cvss_score", "cvss_vector", "cvss_version", "cvss_source", "epss_score", "epss_percentile",
    "risk_score", "description", "primary_url", "data_source",
)
"""The `vulnerabilities` columns a match takes from its vulnerability record and related records
alone (`_Record.values`, in this order)."""
_MATCH_COLUMNS = (
    "target", "pkg_name", "pkg_version", "pkg_path", "package_type", "purl", "fixed_version",
    "is_known_exploited", "matchers", "match_types", "layer_diff_id", "title",
)
"""The columns that depend on the match's package, its details or the whole report (in the
order `_add_columns` builds them)."""


class _Record:
    """What a vulnerability record and its related records give every match of them."""

    __slots__ = ("fixed", "kev_signal", "kevs", "refs", "values", "versions")

    def __init__(self, v: Vulnerability, related: list[Related]) -> None:
        versions, state, available_at = _fix(v)
        severity_source = _provider(v.namespace)
        cvss = _best_score(v, related, severity_source)
        epss = v.epss[0] if v.epss else next((r.epss[0] for r in related if r.epss), None)
        urls = v.urls or v.links
        self.values = (
            v.id, normalize_severity(v.severity), severity_source,
            fix_state_from_grype(state, versions), available_at, state,
            cvss.score if cvss is not None else None,
            cvss.vector if cvss is not None else None,
            cvss.version if cvss is not None else None,
            cvss.source if cvss is not None else None,
            epss.epss if epss is not None else None,
            epss.percentile if epss is not None else None,
            v.risk, _description(v, related),
            v.data_source or (urls[0] if urls else None), v.namespace or None,
        )
        self.versions = versions
        kevs = [k for k in (v.known_exploited, *[r.known_exploited for r in related])
                if k is not None]
        self.kevs = any(kevs) if kevs else None
        """The records' own KEV answer; None when none of them lists `knownExploited`."""
        self.kev_signal = _kev_signal(v)
        """Whether the record shows a Grype that writes KEV data (`_write`)."""
        self.refs = _ref_calls(v, related)
        """The records' `VulnRefs` calls, made once per document (`_add_columns`)."""
        self.fixed: dict[str | None, str | None] = {}
        """`fixed_version` by package type (distributions write versions their own way)."""

    def fixed_version(self, package_type: str | None) -> str | None:
        """Return the fix versions as `package_type`'s distribution writes them, comma-joined."""
        try:
            return self.fixed[package_type]
        except KeyError:
            found = self.fixed[package_type] = ", ".join(
                [x for f in self.versions if (x := distro_version(f, package_type))]) or None
            return found


_RECORDS: dict[tuple[bytes, bytes], _Record] = {}
"""`_Record`s by the bytes of the vulnerability record and of its related records."""
_DETAILS: dict[bytes, tuple[str | None, str | None]] = {}
"""`_matched_by` by the bytes of `matchDetails`."""
_CACHE_SIZE = 4096
"""Entries each cache keeps before it starts again (a record's key is a few kB: at most about
15 MB)."""

_Fallback = msgspec.MsgspecError
"""A part that does not decode: the document is read again record by record (`Match`)."""


def _record(vulnerability: bytes, related: bytes) -> _Record:
    """Return the `_Record` of a vulnerability record and its related records (cached).

    Raises:
        msgspec.MsgspecError: if either does not decode as `Match` would decode it.
    """
    key = (vulnerability, related)
    found = _RECORDS.get(key)
    if found is None:
        v = msgspec.json.decode(vulnerability, type=Vulnerability)
        rel = msgspec.json.decode(related, type=list[Related] | None) or []
        if len(_RECORDS) >= _CACHE_SIZE:
            _RECORDS.clear()
        found = _RECORDS[key] = _Record(v, rel)
    return found


def _details(raw: bytes) -> tuple[str | None, str | None]:
    """Return the matchers and match types of `matchDetails` (cached; `_matched_by`).

    Raises:
        msgspec.MsgspecError: if it does not decode as `Match` would decode it.
    """
    found = _DETAILS.get(raw)
    if found is None:
        details = msgspec.json.decode(raw, type=list[MatchDetail] | MatchDetail | None)
        if len(_DETAILS) >= _CACHE_SIZE:
            _DETAILS.clear()
        found = _DETAILS[raw] = _matched_by(details)
    return found


def _add_columns(raw: msgspec.Raw, target: str | None, tool_version: str | None,
                 out: Output) -> bool:
    """Add the rows of the report's `matches` to `out` (`_write`), with each distinct
    vulnerability record (and its related records, and each distinct `matchDetails`) decoded and
    normalised once per process (bounded caches) rather than once per match.

    Returns:
        True when done; False, with nothing added, when a match does not decode (the caller then
        reads the matches record by record, skipping that one with the decoder's warning).
    """
    try:
        matches = msgspec.json.decode(raw, type=list[MatchParts] | None) or []
        parts = [(m.artifact, _record(bytes(m.vulnerability), bytes(m.related)),
                  _details(bytes(m.details))) for m in matches]
    except _Fallback:
        return False
    _write(parts, target, tool_version, out)
    return True


_Part = tuple[Artifact, _Record, tuple[str | None, str | None]]
"""A match: its package, its records' `_Record`, and its matchers and match types."""


def _write(matches: Iterable[_Part], target: str | None, tool_version: str | None,
           out: Output) -> None:
    """Add one `vulnerabilities` row per match (the loader merges those of one key), as columns,
    and the `vulnerability_cwes` and `vulnerability_aliases` rows of the matches' records.

    Returns nothing: the rows go to `out`.
    """
    parts = list(matches)
    kev_aware = _kev_release(tool_version) or any(rec.kev_signal for _, rec, _ in parts)
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for a, rec, (matchers, match_types) in parts:
        loc = a.locations[0] if a.locations else None
        purl = a.purl or None
        package_type = a.type or None
        if purl and purl.startswith("pkg:") and "/" in purl:
            package_type = purl[4 : purl.index("/")].lower()
        kevs = rec.kevs
        append(rec.values + (
            target, a.name,
            # Syft's version, as the distribution writes it (`0:` epochs left out, as in fixes).
            distro_version(a.version, package_type, purl),
            (loc.path or None) if loc is not None else None,
            package_type, purl, rec.fixed_version(package_type),
            kevs if kevs is not None else (False if kev_aware else None),
            matchers, match_types,
            (loc.layer_id or None) if loc is not None else None,
            None,
        ))
    if rows:
        columns = zip(*rows, strict=True)
        out.add_columns("vulnerabilities", dict(zip(_RECORD_COLUMNS + _MATCH_COLUMNS,
                                                    map(list, columns), strict=True)))
    refs = VulnRefs()
    seen: set[int] = set()
    for _, rec, _ in parts:
        if id(rec) in seen:
            continue  # the same calls again change nothing (`VulnRefs` keeps the first)
        seen.add(id(rec))
        _add_refs(refs, rec.values[0], rec.refs)
    refs.write(out, "$.matches")
