"""CSAF 2.0 VEX (`document.category` `csaf_vex`): one `vex_statements` row per vulnerability and
product its `product_status` names.

Products are looked up in `product_tree`: its `branches` (at any depth), `full_product_names`,
and `relationships`, whose `full_product_name` names a component (`product_reference`) inside a
product (`relates_to_product_reference`); such a product becomes the statement's product, the
component its subcomponent. A product is named by its `product_identification_helper.purl`, else
its name. `product_status` lists map to OpenVEX statuses (`_STATUS`); the justification is the
`flags[].label` naming the product, the impact statement the `threats[]` of category `impact`,
the action the `remediations[]`. The vulnerability's `cve` is its id when it has one, its `ids[]`
are aliases (else the first of them is its id).
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from auditlib.parsers._vex import product_columns
from auditlib.parsers._vuln_refs import VulnRefs
from auditlib.parsers.interface import Document, Parser
from auditlib.rows import Output

_STATUS = {
    "known_not_affected": "not_affected", "known_affected": "affected",
    "first_affected": "affected", "last_affected": "affected",
    "fixed": "fixed", "first_fixed": "fixed", "under_investigation": "under_investigation",
}
"""CSAF `product_status` list -> OpenVEX status (`recommended` says no status; not read)."""


class _Helper(msgspec.Struct, frozen=True):
    purl: str | None = None


class _Product(msgspec.Struct, frozen=True):
    """`full_product_name`: an id, a name, and how to recognise it."""

    product_id: str
    name: str | None = None
    product_identification_helper: _Helper | None = None

    def label(self) -> str:
        """Return the purl, else the name, else the id."""
        helper = self.product_identification_helper
        return (helper.purl if helper and helper.purl else None) or self.name or self.product_id


class _Branch(msgspec.Struct, frozen=True):
    branches: list[_Branch] | None = None
    product: _Product | None = None


class _Relationship(msgspec.Struct, frozen=True):
    category: str
    product_reference: str
    relates_to_product_reference: str
    full_product_name: _Product


class _Tree(msgspec.Struct, frozen=True):
    branches: list[_Branch] | None = None
    full_product_names: list[_Product] | None = None
    relationships: list[_Relationship] | None = None


class _Publisher(msgspec.Struct, frozen=True):
    name: str | None = None


class _Tracking(msgspec.Struct, frozen=True):
    id: str | None = None
    current_release_date: str | None = None


class _Head(msgspec.Struct, frozen=True):
    """`document`: what it is, who published it, when."""

    category: str | None = None
    csaf_version: str | None = None
    publisher: _Publisher | None = None
    tracking: _Tracking | None = None


class _Flag(msgspec.Struct, frozen=True):
    label: str
    date: str | None = None
    product_ids: list[str] | None = None


class _Said(msgspec.Struct, frozen=True):
    """A `threats[]` or `remediations[]` entry."""

    category: str
    details: str | None = None
    product_ids: list[str] | None = None


class _Id(msgspec.Struct, frozen=True):
    text: str
    system_name: str | None = None


class _Vuln(msgspec.Struct, frozen=True):
    cve: str | None = None
    ids: list[_Id] | None = None
    product_status: dict[str, list[str]] | None = None
    flags: list[_Flag] | None = None
    threats: list[_Said] | None = None
    remediations: list[_Said] | None = None


def _walk(branches: list[_Branch] | None) -> Iterator[_Product]:
    for b in branches or ():
        if b.product is not None:
            yield b.product
        yield from _walk(b.branches)


def _for(product_ids: list[str] | None, pid: str) -> bool:
    """Return whether an entry with these `product_ids` is about product `pid` (no ids: all)."""
    return not product_ids or pid in product_ids


class CsafVexParser(Parser):
    """CSAF 2.0 VEX documents."""

    format_id = "csaf-vex"
    supported_versions = frozenset({"2.0"})

    def identify(self, doc: Document) -> str | None:
        """Return `csaf_version` if `doc` is a CSAF document of category `csaf_vex`, else None.
        Never raises."""
        head = doc.peek("document", _Head)
        if head is None or head.category != "csaf_vex":
            return None
        return head.csaf_version or "unknown"

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read each vulnerability's product statuses into `vex_statements`.

        A product id the tree does not define is a warning, read as the id itself.

        Raises:
            MalformedInputError: if `document`, `product_tree` or `vulnerabilities` is of the
                wrong type.
        """
        out.scan.vulnerability_scan = False  # statements about findings, not a scan
        head: _Head = doc.get("document", _Head)
        tree: _Tree = doc.get("product_tree", _Tree | None) or _Tree()
        tracking = head.tracking or _Tracking()
        author = head.publisher.name if head.publisher else None
        out.scan.generated_at = tracking.current_release_date
        out.scan.target = tracking.id
        names = {p.product_id: p.label() for p in
                 (*_walk(tree.branches), *(tree.full_product_names or ()))}
        # relationship product id -> (product, component)
        parts = {r.full_product_name.product_id: (r.relates_to_product_reference,
                                                  r.product_reference)
                 for r in tree.relationships or ()}
        refs = VulnRefs()
        items = out.decode_list((doc.top or {}).get("vulnerabilities"), _Vuln, "$.vulnerabilities")
        index = 0
        for i, v in enumerate(items):
            where = f"$.vulnerabilities[{i}]"
            ids = [x.text for x in v.ids or () if x.text]
            vuln = v.cve or (ids[0] if ids else None)
            if vuln is None:
                out.warn(where, "names no cve and no ids; skipped")
                continue
            for alias in ids:
                refs.alias(vuln, alias, "csaf")
            for listed, pids in (v.product_status or {}).items():
                status = _STATUS.get(listed)
                if status is None:
                    continue
                for pid in pids:
                    product_id, component = parts.get(pid, (pid, None))
                    if product_id not in names:
                        out.warn(f"{where}.product_status.{listed}",
                                 f"product {product_id!r} is not in the product tree")
                    flags = [f for f in v.flags or () if _for(f.product_ids, pid)]
                    impact = [t.details for t in v.threats or ()
                              if _for(t.product_ids, pid) and t.category == "impact" and t.details]
                    action = [r.details for r in v.remediations or ()
                              if _for(r.product_ids, pid) and r.details]
                    sub = names.get(component) if component else None
                    out.add("vex_statements", {
                        "statement_index": index, "document_id": tracking.id, "vuln_id": vuln,
                        "status": status, "status_written": listed,
                        "justification": flags[0].label if flags else None,
                        "impact_statement": "; ".join(impact) or None,
                        "action_statement": "; ".join(action) or None,
                        "author": author,
                        "statement_at": next((f.date for f in flags if f.date),
                                             tracking.current_release_date),
                        **product_columns(names.get(product_id, product_id), reference=False),
                        "subcomponent_purl": sub if sub and sub.startswith("pkg:") else None,
                    })
                    index += 1
        refs.write(out, "$.vulnerabilities")
