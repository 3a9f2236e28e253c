"""OpenVEX JSON (`@context` `https://openvex.dev/ns...`): one `vex_statements` row per statement,
product and subcomponent.

Both shapes of the spec are read: v0.2.0 and later (`vulnerability` an object with `name` and
`aliases`, `products` objects with `@id` and `subcomponents`) and the first (`vulnerability` a
string, `products` strings, `subcomponents` beside them on the statement), as vexctl and Trivy's
test data still write them. A statement without a timestamp or author takes the document's, as
the spec says. The vulnerability's `aliases` are `vulnerability_aliases` rows.
"""

from __future__ import annotations

import msgspec

from auditlib.parsers._vex import STATUSES, product_columns
from auditlib.parsers._vuln_refs import VulnRefs
from auditlib.parsers.interface import Document, Parser
from auditlib.rows import Output, Row

_CONTEXT = "https://openvex.dev/ns"


class _Identifiers(msgspec.Struct, frozen=True):
    """`identifiers`: other names of a product (`purl`, `cpe23`, ...)."""

    purl: str | None = None


class _Component(msgspec.Struct, frozen=True):
    """A product or subcomponent: `@id`, or only `identifiers`."""

    id: str | None = msgspec.field(default=None, name="@id")
    identifiers: _Identifiers | None = None
    subcomponents: list[_Component | str] | None = None

    def name(self) -> str | None:
        """Return the `@id`, else the purl among the identifiers."""
        return self.id or (self.identifiers.purl if self.identifiers else None)


class _Vulnerability(msgspec.Struct, frozen=True):
    """`vulnerability` (v0.2.0): a name and its aliases."""

    name: str | None = None
    id: str | None = msgspec.field(default=None, name="@id")
    aliases: list[str] | None = None


class _Statement(msgspec.Struct, frozen=True):
    """`statements[]`."""

    status: str
    vulnerability: _Vulnerability | str
    products: list[_Component | str] | None = None
    subcomponents: list[_Component | str] | None = None  # the first spec: on the statement
    id: str | None = msgspec.field(default=None, name="@id")
    timestamp: str | None = None
    last_updated: str | None = None
    justification: str | None = None
    impact_statement: str | None = None
    action_statement: str | None = None
    status_notes: str | None = None


def _names(items: list[_Component | str] | None) -> list[tuple[str, list[str]]]:
    """Return each product's name and its subcomponents' names (nameless ones left out)."""
    out: list[tuple[str, list[str]]] = []
    for item in items or ():
        if isinstance(item, str):
            out.append((item, []))
        elif (name := item.name()) is not None:
            out.append((name, [n for n, _ in _names(item.subcomponents)]))
    return out


class OpenVexJsonParser(Parser):
    """OpenVEX JSON documents: VEX statements."""

    format_id = "openvex-json"

    def identify(self, doc: Document) -> str | None:
        """Return the spec version (`0.2.0`; `unknown` for the unversioned context) if `doc` is
        an OpenVEX document, else None. Never raises."""
        context = doc.peek("@context", str)
        if not context or not context.startswith(_CONTEXT) or not doc.has("statements"):
            return None
        version = context[len(_CONTEXT):].strip("/").removeprefix("v")
        return version or "unknown"

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read the statements into `vex_statements` (and their aliases).

        A statement of an unknown status, without a vulnerability or without products is a
        warning, not a row.

        Raises:
            MalformedInputError: if `statements` is not an array.
        """
        out.scan.vulnerability_scan = False  # a statement about findings, not a scan
        doc_id = doc.peek("@id", str)
        author = doc.peek("author", str)
        doc_at = doc.peek("timestamp", str) or doc.peek("last_updated", str)
        out.scan.generated_at = doc_at
        out.scan.target = doc_id
        refs = VulnRefs()
        items = out.decode_list(doc.top["statements"] if doc.top else None, _Statement,
                                "$.statements")
        for i, s in enumerate(items):
            where = f"$.statements[{i}]"
            vuln = s.vulnerability if isinstance(s.vulnerability, str) else (
                s.vulnerability.name or s.vulnerability.id)
            if not vuln:
                out.warn(where, "statement names no vulnerability; skipped")
                continue
            if s.status not in STATUSES:
                out.warn(where, f"unknown status {s.status!r}; skipped (statuses are "
                         f"{', '.join(STATUSES)})")
                continue
            products = _names(s.products)
            if not products:
                out.warn(where, "statement names no product; skipped")
                continue
            if not isinstance(s.vulnerability, str):
                for alias in s.vulnerability.aliases or ():
                    refs.alias(vuln, alias, "openvex")
            common: Row = {
                "statement_index": i, "statement_id": s.id, "document_id": doc_id,
                "vuln_id": vuln, "status": s.status, "status_written": s.status,
                "justification": s.justification,
                "impact_statement": s.impact_statement or s.status_notes or None,
                "action_statement": s.action_statement,
                "author": author,
                "statement_at": s.timestamp or s.last_updated or doc_at,
            }
            loose = [n for n, _ in _names(s.subcomponents)]
            for product, subs in products:
                subs_or_none: list[str | None] = [*(subs or loose)] or [None]
                for sub in subs_or_none:
                    out.add("vex_statements", {**common, **product_columns(product),
                                               "subcomponent_purl": sub})
        refs.write(out, "$.statements")

