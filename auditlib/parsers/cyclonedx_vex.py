"""CycloneDX VEX: a CycloneDX BOM that holds `vulnerabilities[].analysis` and no components (a
standalone VEX, as CycloneDX's bom-examples and Trivy's `--vex` read them). One `vex_statements`
row per vulnerability and `affects[]` entry.

A BOM that lists components is an SBOM or a scan report (`cyclonedx_json`), even when its
vulnerabilities carry an analysis. `analysis.state` is mapped to OpenVEX's statuses
(`_STATES`); the written state is kept. An `affects[].ref` is a BOM-Link into another BOM
(`urn:cdx:<serial>/<version>#<bom-ref>`, the part after `#`), the BOM's own subject
(`metadata.component`, named by its purl, else its name and version), or a purl.
"""

from __future__ import annotations

import msgspec

from auditlib.parsers import _cyclonedx_model as m
from auditlib.parsers._vex import product_columns
from auditlib.parsers._vuln_refs import VulnRefs
from auditlib.parsers.interface import Document, Parser
from auditlib.rows import Output

_STATES = {
    "not_affected": "not_affected", "false_positive": "not_affected",
    "exploitable": "affected", "resolved": "fixed", "resolved_with_pedigree": "fixed",
    "in_triage": "under_investigation",
}
"""CycloneDX `impactAnalysisState` -> OpenVEX status."""


class _Named(msgspec.Struct, frozen=True):
    """An author, manufacturer or supplier: only the name is read."""

    name: str | None = None


class _Meta(msgspec.Struct, frozen=True):
    """`metadata`: when, by whom, about what."""

    timestamp: str | None = None
    authors: list[_Named] | None = None
    manufacture: _Named | None = None
    manufacturer: _Named | None = None
    supplier: _Named | None = None
    component: m.Component | None = None

    def author(self) -> str | None:
        """Return the first named author, else the manufacturer, else the supplier."""
        named = [a.name for a in self.authors or () if a.name]
        named += [w.name for w in (self.manufacturer, self.manufacture, self.supplier)
                  if w is not None and w.name]
        return named[0] if named else None


class _Analysis(msgspec.Struct, frozen=True):
    """`analysis` with its VEX fields."""

    state: str | None = None
    justification: str | None = None
    response: list[str] | None = None
    detail: str | None = None
    firstIssued: str | None = None  # noqa: N815 (the schema's name)
    lastUpdated: str | None = None  # noqa: N815


class _Vuln(msgspec.Struct, frozen=True):
    """`vulnerabilities[]`, as a VEX reads it."""

    id: str
    bom_ref: str | None = msgspec.field(default=None, name="bom-ref")
    analysis: _Analysis | None = None
    affects: list[m.Affect] | None = None
    references: list[m.Reference] | None = None


class CycloneDxVexParser(Parser):
    """CycloneDX VEX documents (a BOM of analysed vulnerabilities without components)."""

    format_id = "cyclonedx-vex"
    supported_versions = frozenset({"1.4", "1.5", "1.6", "1.7"})

    def identify(self, doc: Document) -> str | None:
        """Return `specVersion` if `doc` is a CycloneDX BOM without components whose first
        vulnerability has an `analysis`, else None. Never raises."""
        if doc.top is None or doc.peek("bomFormat", str) != "CycloneDX":
            return None
        # Whether there is a component at all, from the array's first bytes: every CycloneDX SBOM
        # passes here first (decoding its components cost a sixth of its load, scanning them
        # still two thirds of orjson's time for the whole document).
        if doc.has_items("components"):
            return None
        first = doc.peek_first("vulnerabilities")
        if first is None or not isinstance(first.get("analysis"), dict):
            return None
        return str(doc.peek("specVersion", str) or "unknown")

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read each analysed vulnerability and affected product into `vex_statements`.

        A vulnerability without an analysis state, or of a state CycloneDX does not define, is a
        warning, not a row; one without `affects` is about the BOM's subject.

        Raises:
            MalformedInputError: if `metadata` or `vulnerabilities` is of the wrong type.
        """
        out.scan.vulnerability_scan = False  # statements about findings, not a scan
        meta: _Meta = doc.get("metadata", _Meta | None) or _Meta()
        serial = doc.peek("serialNumber", str)
        out.scan.generated_at = meta.timestamp
        out.scan.target = serial
        subject = meta.component
        subject_name = None
        if subject is not None:
            subject_name = subject.purl or " ".join(
                x for x in (subject.name, subject.version) if x) or None
        refs = VulnRefs()
        top = doc.top or {}
        for i, v in m.positioned(out, top.get("vulnerabilities"), _Vuln, "$.vulnerabilities"):
            where = f"$.vulnerabilities[{i}]"
            state = v.analysis.state if v.analysis else None
            if state not in _STATES:
                out.warn(where, f"analysis state {state!r} is no VEX state; skipped"
                         if state else "no analysis state; skipped")
                continue
            for r in v.references or ():
                if r.id:
                    refs.alias(v.id, r.id, r.source.name if r.source else None)
            a = v.analysis or _Analysis()
            common = {
                "statement_index": i, "statement_id": v.bom_ref, "document_id": serial,
                "vuln_id": v.id, "status": _STATES[state], "status_written": state,
                "justification": a.justification, "impact_statement": a.detail,
                "action_statement": ", ".join(a.response) if a.response else None,
                "author": meta.author(),
                "statement_at": a.lastUpdated or a.firstIssued or meta.timestamp,
            }
            products: list[str | None] = [x.ref for x in v.affects or ()] or [None]
            for ref in products:
                product = _product(ref, subject, subject_name)
                if product is None:
                    out.warn(where, "affects nothing and the BOM names no subject; skipped")
                    continue
                out.add("vex_statements", {**common, **product_columns(product),
                                           "subcomponent_purl": None})
        refs.write(out, "$.vulnerabilities")


def _product(ref: str | None, subject: m.Component | None, subject_name: str | None
             ) -> str | None:
    """Return the product an `affects[].ref` names (None: the BOM's subject)."""
    if ref is None or (subject is not None and ref == subject.bom_ref):
        return subject_name
    if ref.startswith("urn:cdx:") and "#" in ref:
        return ref.split("#", 1)[1]
    return ref
