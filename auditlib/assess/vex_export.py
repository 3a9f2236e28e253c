"""The policy's waivers of vulnerability rules, as an OpenVEX document (`auditlib vex export`).

A waiver accepts a vulnerability rule's failure for the images it names; the same decision, in
OpenVEX, reaches `trivy --vex` and `grype --vex`. For every image whose result of a
vulnerability rule (`VULNERABILITY_RULES`) the assessment marks `waived`, each finding the rule
judged (the image's fixable findings, `Assessment.findings`) becomes a `not_affected` statement:
the vulnerability (with the aliases the scanners gave), the image as its product (a `pkg:oci/`
purl of its manifest digest and repository, as Trivy names the image it scans), the package as
its subcomponent (its purl), and the waiver's reason as the impact statement (OpenVEX asks for a
justification or an impact statement; a waiver gives no justification, and none is invented).
An image with no manifest digest cannot be named so: it is left out, and `skipped` says so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from packageurl import PackageURL

from auditlib.assess.assessment import Assessment
from auditlib.fleet.vex import image_manifests
from auditlib.identity import parse_reference
from auditlib.policy.rules.vulns import RULES as VULN_RULES

VULNERABILITY_RULES = tuple(r.slug for r in VULN_RULES)
"""The rules whose waivers are exported."""
CONTEXT = "https://openvex.dev/ns/v0.2.0"
"""The OpenVEX version written."""
_DOCKER_HUB = "index.docker.io"
"""How go-containerregistry (and so Trivy) names Docker Hub in `repository_url`."""


@dataclass
class VexExport:
    """An OpenVEX document of waived findings, and what could not be in it."""

    document: dict[str, Any]
    """The OpenVEX document."""
    skipped: list[str] = field(default_factory=list)
    """Images whose waived findings could not be written, and why, one line each."""

    def text(self) -> str:
        """Return the document as indented JSON."""
        return json.dumps(self.document, indent=2) + "\n"


def image_purl(reference: str, digest: str) -> str | None:
    """Return the `pkg:oci/` purl of an image: its manifest digest, and its repository as
    `repository_url` (Docker Hub written `index.docker.io`, as Trivy writes it); None when the
    reference does not parse."""
    ref = parse_reference(reference)
    if ref is None:
        return None
    registry = _DOCKER_HUB if ref.registry == "docker.io" else ref.registry
    name = ref.repository.rsplit("/", 1)[-1]
    return PackageURL(type="oci", name=name, version=digest,
                      qualifiers={"repository_url": f"{registry}/{ref.repository}"}).to_string()


def export_waivers(a: Assessment, *, author: str) -> VexExport:
    """Return the OpenVEX document of the findings the policy's waivers of vulnerability rules
    accept at the assessment's as-of time (module docstring).

    Args:
        a: the assessment (its policy, its findings).
        author: the document's author (`author` of OpenVEX: who made the decision).
    """
    res = a.evaluation.results
    waived = res[(res["status"].astype(str) == "waived")
                 & res["rule"].astype(str).isin(VULNERABILITY_RULES)]
    f = a.findings
    aliases = a.data.vulnerability_aliases
    alias_of: dict[str, set[str]] = {}
    for v, al in zip(aliases["vuln_id"].astype(str), aliases["alias"].astype(str), strict=True):
        alias_of.setdefault(v, set()).add(al)
    at = a.as_of.isoformat()
    statements: list[dict[str, Any]] = []
    skipped: list[str] = []
    by_image = {str(i): rows for i, rows in f.groupby(f["image_id"].astype(str), sort=False)}
    manifests = image_manifests(a.data, a.view.references) if len(waived) else {}
    for w in waived.itertuples(index=False):
        image_id = str(w.image_id)
        mine = by_image.get(image_id)
        if mine is None:
            continue
        products = [p for name, d in manifests.get(image_id, [])
                    if name is not None and (p := image_purl(name, d))]
        if not products:
            skipped.append(f"{a.view.name(image_id)}: {len(mine)} waived findings not written: "
                           "no manifest digest of the image is known, so OpenVEX cannot name it "
                           "(collect it from its registry, or scan it by reference)")
            continue
        reason = (f"waived by policy {a.policy.source}, rule {w.rule}: {w.waiver_reason}"
                  + (f" (until {w.waiver_expires})" if isinstance(w.waiver_expires, str) else ""))
        for vuln, rows in mine.groupby(mine["vuln_id"].astype(str), sort=True):
            subs = sorted({str(p) for p in rows["purl"] if isinstance(p, str)})
            stmt: dict[str, Any] = {
                "vulnerability": {"name": vuln,
                                  **({"aliases": sorted(alias_of[vuln])}
                                     if vuln in alias_of else {})},
                "products": [{"@id": p, **({"subcomponents": [{"@id": s} for s in subs]}
                                           if subs else {})} for p in products],
                "status": "not_affected",
                "impact_statement": reason,
                "timestamp": at,
            }
            statements.append(stmt)
    body = json.dumps(statements, sort_keys=True).encode()
    doc = {
        "@context": CONTEXT,
        "@id": f"urn:auditlib:vex:sha256:{hashlib.sha256(body).hexdigest()}",
        "author": author,
        "role": "policy waivers (auditlib)",
        "timestamp": at,
        "version": 1,
        "tooling": "auditlib vex export",
        "statements": statements,
    }
    return VexExport(doc, skipped)


__all__ = ["CONTEXT", "VULNERABILITY_RULES", "VexExport", "export_waivers", "image_purl"]
