"""The policy's waivers of vulnerability rules, as an OpenVEX document (`auditlib vex export`).

A waiver accepts a vulnerability rule's failure for the images it names; the same decision, in
OpenVEX, reaches `trivy --vex` and `grype --vex`. For every image whose result of a
vulnerability rule (`VULNERABILITY_RULES`) the assessment marks `waived`, each finding the rule
judged (the image's fixable findings, asked of the engine a batch of images at a time:
`fleet.findings.Fixable.of_images`) becomes a `not_affected` statement:
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
WAIVED_PER_BATCH = 2_000
"""Waived results whose images' findings are asked of the engine at once."""
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
    at = a.as_of.isoformat()
    statements: list[dict[str, Any]] = []
    skipped: list[str] = []
    if not len(waived):
        return _document(statements, skipped, author=author, at=at)
    aliases = a.data.vulnerability_aliases
    alias_of: dict[str, set[str]] = {}
    for v, al in zip(aliases["vuln_id"].astype(str), aliases["alias"].astype(str), strict=True):
        alias_of.setdefault(v, set()).add(al)
    manifests = image_manifests(a.data, a.view.references)
    rows = list(waived.itertuples(index=False))
    # The waived images' findings are asked of the engine a batch of images at a time, in the
    # order of the results: never every finding of the fleet in memory (`Fixable.of_images`).
    for lo in range(0, len(rows), WAIVED_PER_BATCH):
        part = rows[lo:lo + WAIVED_PER_BATCH]
        for counts, found in a.view.fixable.of_images([str(w.image_id) for w in part],
                                                      per_batch=WAIVED_PER_BATCH):
            by_image: dict[str, dict[str, set[str]]] = {}
            for image_id, vuln, purl in zip(found["image_id"], found["vuln_id"], found["purl"],
                                            strict=True):
                subs = by_image.setdefault(image_id, {}).setdefault(vuln, set())
                if purl is not None:
                    subs.add(purl)
            for w in part:
                image_id = str(w.image_id)
                if image_id not in counts:
                    continue
                statements += _statements(a, w, image_id, counts[image_id],
                                          by_image.get(image_id, {}), manifests, alias_of,
                                          skipped, at)
    return _document(statements, skipped, author=author, at=at)


def _statements(a: Assessment, w: Any, image_id: str, n: int, vulns: dict[str, set[str]],
                manifests: dict[str, list[tuple[str | None, str]]],
                alias_of: dict[str, set[str]], skipped: list[str], at: str
                ) -> list[dict[str, Any]]:
    """Return the statements of one waived result `w` of an image with `n` fixable findings
    (`vulns`: vulnerability -> the purls of its packages); an image OpenVEX cannot name is a
    line in `skipped` instead."""
    products = [p for name, d in manifests.get(image_id, [])
                if name is not None and (p := image_purl(name, d))]
    if not products:
        skipped.append(f"{a.view.name(image_id)}: {n} waived findings not written: "
                       "no manifest digest of the image is known, so OpenVEX cannot name it "
                       "(collect it from its registry, or scan it by reference)")
        return []
    reason = (f"waived by policy {a.policy.source}, rule {w.rule}: {w.waiver_reason}"
              + (f" (until {w.waiver_expires})" if isinstance(w.waiver_expires, str) else ""))
    out = []
    for vuln in sorted(vulns):
        subs = sorted(vulns[vuln])
        out.append({
            "vulnerability": {"name": vuln,
                              **({"aliases": sorted(alias_of[vuln])}
                                 if vuln in alias_of else {})},
            "products": [{"@id": p, **({"subcomponents": [{"@id": s} for s in subs]}
                                       if subs else {})} for p in products],
            "status": "not_affected",
            "impact_statement": reason,
            "timestamp": at,
        })
    return out


def _document(statements: list[dict[str, Any]], skipped: list[str], *, author: str,
              at: str) -> VexExport:
    """Return the OpenVEX document of `statements` (its `@id` the SHA-256 of them)."""
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
