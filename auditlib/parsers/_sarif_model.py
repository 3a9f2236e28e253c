"""Typed SARIF 2.1.0 model (only the fields auditlib reads) and readers of the text tools put in it.

SARIF carries the facts auditlib wants (package, installed and fixed version, severity word) in
free text whose layout each tool chooses, so the patterns for Trivy, Grype and Docker Scout live
here next to the model, and `sarif.py` only decides which table a result belongs to.
"""

from __future__ import annotations

import math
import re
from pathlib import PurePosixPath
from typing import Any

import msgspec
from packageurl import PackageURL

from auditlib.rows import Output

_ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz")

# --- model: unknown fields are ignored; every field is optional unless SARIF makes it required ---

NULL = msgspec.Raw(b"null")
"""Default of the sections kept raw: msgspec cannot put `Raw` in a union with None."""


class Text(msgspec.Struct):
    """A `message` or `multiformatMessageString`: only the plain text is read."""

    text: str | None = None


class Level(msgspec.Struct):
    """A rule's `defaultConfiguration`."""

    level: str | None = None


class RuleProperties(msgspec.Struct):
    """Rule `properties` as Trivy, Grype and Docker Scout write them."""

    tags: list[Any] | None = None
    security_severity: str | float | None = msgspec.field(default=None, name="security-severity")
    cvss_v3_severity: str | None = msgspec.field(default=None, name="cvssV3_severity")  # Scout
    purls: list[str] | None = None  # Grype, Scout
    purl: str | None = None  # older Scout
    fixed_version: str | None = None  # Scout
    # Trivy's CVSS of the vulnerability's severity source.
    cvssv2_score: float | None = None
    cvssv2_vector: str | None = None
    cvssv3_score: float | None = msgspec.field(default=None, name="cvssv3_baseScore")
    cvssv3_vector: str | None = None
    cvssv40_score: float | None = msgspec.field(default=None, name="cvssv40_baseScore")
    cvssv40_vector: str | None = None


class Rule(msgspec.Struct):
    """A `reportingDescriptor` of `tool.driver.rules`."""

    id: str
    name: str | None = None
    shortDescription: Text | None = None
    fullDescription: Text | None = None
    help: Text | None = None
    helpUri: str | None = None
    defaultConfiguration: Level | None = None
    properties: RuleProperties | None = None


class Driver(msgspec.Struct):
    """`tool.driver`: the name is required by SARIF and by auditlib."""

    name: str
    version: str | None = None
    semanticVersion: str | None = None
    informationUri: str | None = None
    rules: msgspec.Raw = NULL


class Tool(msgspec.Struct):
    """`run.tool`."""

    driver: Driver


class Invocation(msgspec.Struct):
    """`run.invocations[]`: only the times."""

    startTimeUtc: str | None = None
    endTimeUtc: str | None = None


class Run(msgspec.Struct):
    """One `runs[]` entry; results, rules and properties stay raw to be decoded leniently."""

    tool: Tool
    results: msgspec.Raw = NULL
    properties: msgspec.Raw = NULL
    invocations: msgspec.Raw = NULL


class RunProperties(msgspec.Struct):
    """`run.properties` as newer Trivy writes them for container images."""

    imageName: str | None = None
    imageID: str | None = None
    repoTags: list[str] | None = None
    repoDigests: list[str] | None = None


class ArtifactLocation(msgspec.Struct):
    """`artifactLocation`."""

    uri: str | None = None


class Region(msgspec.Struct):
    """`region`: lines only."""

    startLine: int | None = None
    endLine: int | None = None


class PhysicalLocation(msgspec.Struct):
    """`physicalLocation`."""

    artifactLocation: ArtifactLocation | None = None
    region: Region | None = None


class Location(msgspec.Struct):
    """`locations[]`."""

    physicalLocation: PhysicalLocation | None = None


class RuleRef(msgspec.Struct):
    """`result.rule`, the reportingDescriptorReference."""

    id: str | None = None
    index: int | None = None


class Result(msgspec.Struct):
    """One `results[]` entry."""

    ruleId: str | None = None
    ruleIndex: int | None = None
    rule: RuleRef | None = None
    level: str | None = None
    kind: str | None = None
    message: Text | None = None
    locations: list[Location] | None = None
    suppressions: list[Any] | None = None


# --- readers of the text ---

# Advisory ids of the databases scanners match against; anchored so `ANCHOREVULN_x_CVE-...` and
# `...-r0 CVE-...` (older Grype and Trivy rule ids) still give the id inside.
VULN_ID = re.compile(
    r"(?<![A-Za-z0-9])("
    r"CVE-\d{4}-\d{4,}|GHSA(?:-[0-9a-z]{4}){3}|GO-\d{4}-\d{4,}|PYSEC-\d{4}-\d+|RUSTSEC-\d{4}-\d{4}"
    r"|GMS-\d{4}-\d+|OSV-\d{4}-\d+|MAL-\d{4}-\d+|ALAS\d*(?:-[A-Z0-9.]+)?-\d{4}-\d+|RHSA-\d{4}:\d+"
    r"|RH[BE]A-\d{4}:\d+|ELSA-\d{4}-\d+|DSA-\d+(?:-\d+)?|DLA-\d+(?:-\d+)?|USN-\d+-\d+"
    r"|SUSE-SU-\d{4}:\d+|openSUSE-SU-\d{4}:\d+|GLSA-\d+-\d+|SNYK-[A-Z0-9]+-[A-Z0-9-]+"
    r"|TEMP-\d+-[0-9A-F]+|BIT-[a-z0-9-]+-\d{4}-\d+|CGA-[a-z0-9-]+|ASA-\d{6}-\d+"
    r")(?![A-Za-z0-9:])"
)
_FIELD = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*:\s*(.*?)\s*$")
_VULN_LINE = re.compile(r"^\s*Vulnerability\s+(\S+)\s*$", re.M)
_LINK = re.compile(r"\]\((https?://[^)\s]+)\)")
# Grype: "A low vulnerability in rpm package: p, version 1.1 was found in image img at: /path".
_GRYPE = re.compile(
    r"^An? (?P<severity>\w+) vulnerability in (?P<type>\S+) package: (?P<name>.+?), "
    r"version (?P<version>\S+) was found(?: in image (?P<image>\S+))?(?: at: (?P<path>.*))?"
)
# Grype before 0.30: "The path /p reports name at version 1.2  which is a vulnerable (deb) package".
_GRYPE_OLD = re.compile(
    r"^The path (?P<path>\S+) reports (?P<name>\S+) at version (?P<version>\S+)\s+"
    r"which .*?\((?P<type>[^)]+)\)"
)
_SECRET_MESSAGE = re.compile(
    r"(?im)^secret\s|\bsecrets?\b[^\n]{0,60}\b(?:found|detected)\b|\b(?:found|detected)\b[^\n]{0,60}\bsecrets?\b"
)
SEVERITY_WORDS = frozenset({"critical", "high", "medium", "moderate", "low", "negligible", "info"})
"""Words that are a severity when a tool states one (SARIF levels only approximate one)."""


def fields(text: str | None) -> dict[str, str]:
    """Return the `Key: value` lines of `text` by lowercased key (first wins), empty values kept.

    Trivy's and Grype's messages and help texts, and Scout's padded `Key   : value` lines, all fit.
    """
    out: dict[str, str] = {}
    if not text:
        return out
    for line in text.splitlines():
        m = _FIELD.match(line)
        if m:
            out.setdefault(m.group(1).lower(), m.group(2))
    m = _VULN_LINE.search(text)
    if m:
        out.setdefault("vulnerability", m.group(1))
    return out


def grype_message(text: str | None) -> dict[str, str]:
    """Return the parts of a Grype result message (severity, type, name, version, image, path)."""
    if not text:
        return {}
    m = _GRYPE.match(text) or _GRYPE_OLD.match(text)
    return {k: v for k, v in m.groupdict().items() if v} if m else {}


def vuln_id_in(text: str | None) -> str | None:
    """Return the first advisory id inside `text`, or None."""
    m = VULN_ID.search(text) if text else None
    return m.group(1) if m else None


def link_in(text: str | None) -> str | None:
    """Return the URL of the first Markdown link `[..](https://..)` in `text`, or None."""
    m = _LINK.search(text) if text else None
    return m.group(1) if m else None


def says_secret(text: str | None) -> bool:
    """Say whether a message tells a secret was found (Trivy's `Secret <title>` line, or words)."""
    return bool(text and _SECRET_MESSAGE.search(text))


def score(value: object) -> float | None:
    """Return a 0-10 score from a number or numeric string, or None (`"0.0"` means no score)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        v = float(value)
    except ValueError:
        return None
    return v if math.isfinite(v) and 0.0 < v <= 10.0 else None


def pick(*sources: tuple[dict[str, str], str]) -> str | None:
    """Return the value of the first source that has the key; an empty value there still wins.

    Trivy's rule help names the first package its rule matched, so once the result's own message
    has a field (even empty), the help must not fill it in.
    """
    for d, key in sources:
        if key in d:
            return d[key].strip() or None
    return None


def purl(text: str | None) -> PackageURL | None:
    """Return the parsed package URL, or None when `text` is not one."""
    try:
        return PackageURL.from_string(text) if text and text.startswith("pkg:") else None
    except ValueError:
        return None


def tool_name(driver: str) -> str:
    """Return the tool a SARIF driver name stands for (the name lowercased if none known)."""
    low = driver.strip().lower()
    for known in ("trivy", "grype", "dockle"):
        if known in low:
            return known
    # Grype named its driver "Anchore Container Vulnerability Report (T0)" before it used "grype".
    return "grype" if "anchore" in low else low


def target_type(tool: str, target: str | None, image: bool) -> str:
    """Return the scans.target_type of a run's target."""
    if image or tool == "dockle":  # Dockle checks only images
        return "container_image"
    if not target:
        return "unknown"
    base = PurePosixPath(target).name.lower()
    if "dockerfile" in base or "containerfile" in base:
        return "dockerfile"
    return "container_image" if base.endswith(_ARCHIVES) else "filesystem"


def decode_optional(raw: msgspec.Raw, type_: Any, where: str, out: Output) -> Any:
    """Decode an optional section; a bad one is ignored with a warning, never the whole run."""
    try:
        return msgspec.json.decode(raw, type=type_ | None)
    except msgspec.ValidationError as e:
        out.warn(where, f"ignored: {e}")
        return None
