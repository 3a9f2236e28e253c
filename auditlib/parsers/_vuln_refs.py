"""`VulnRefs`: the `vulnerability_cwes` and `vulnerability_aliases` rows of one document.

A weakness or an alias is a fact about a vulnerability record, not about the package it matched:
a document names the same CVE once per affected package (and Trivy once per target), so each
(vulnerability, CWE) and (vulnerability, alias) pair is kept once per document, the first
mention's source with it.
"""

from __future__ import annotations

from collections.abc import Iterable

from auditlib.normalize.vuln_ids import id_namespace, normalize_cwe
from auditlib.rows import Output

_SHOWN = 5
"""Odd CWE values quoted in the warning about them."""


class VulnRefs:
    """CWE and alias rows gathered while a parser reads a document's vulnerabilities."""

    __slots__ = ("_aliases", "_cwes", "_odd")

    def __init__(self) -> None:
        """Start with no rows."""
        self._cwes: dict[tuple[str, str], str | None] = {}
        self._aliases: dict[tuple[str, str], str | None] = {}
        self._odd: dict[str, None] = {}

    def cwe(self, vuln_id: str, value: object, source: str | None = None) -> None:
        """Record that `vuln_id` has the weakness `value` (`CWE-79`, `79`, ...), per `source`.

        A value that is no CWE id (`normalize_cwe`) is left out and named in the warning `write`
        adds; a pair already recorded keeps its first source, or takes this one if it had none.
        """
        cwe = normalize_cwe(value)
        if cwe is None:
            if value not in (None, ""):
                self._odd.setdefault(repr(value)[:40])
            return
        _remember(self._cwes, (vuln_id, cwe), source)

    def cwes(self, vuln_id: str, values: Iterable[object], source: str | None = None) -> None:
        """Record each of `values` as `cwe` does (one call for a record's list of CWEs)."""
        for value in values:
            self.cwe(vuln_id, value, source)

    def alias(self, vuln_id: str, alias: object, source: str | None = None) -> None:
        """Record that `alias` names the same vulnerability as `vuln_id`, per `source`.

        An empty alias, one that is no text, or the vulnerability's own id is left out.
        """
        if not isinstance(alias, str):
            return
        alias = alias.strip()
        if alias and alias.upper() != vuln_id.upper():
            _remember(self._aliases, (vuln_id, alias), source)

    def write(self, out: Output, locator: str) -> None:
        """Add the rows to `out`, and one warning at `locator` naming values that were no CWE."""
        if self._cwes:
            out.extend("vulnerability_cwes", [
                {"vuln_id": v, "cwe_id": c, "cwe_source": s} for (v, c), s in self._cwes.items()])
        if self._aliases:
            out.extend("vulnerability_aliases", [
                {"vuln_id": v, "alias": a, "alias_namespace": id_namespace(a), "alias_source": s}
                for (v, a), s in self._aliases.items()])
        if self._odd:
            shown = ", ".join(list(self._odd)[:_SHOWN])
            more = f" and {len(self._odd) - _SHOWN} more" if len(self._odd) > _SHOWN else ""
            out.warn(locator, f"{len(self._odd)} CWE values are no CWE id ({shown}{more}); "
                     "left out of vulnerability_cwes")


def _remember(pairs: dict[tuple[str, str], str | None], key: tuple[str, str],
              source: str | None) -> None:
    """Keep `key` once, with the first source given for it."""
    if pairs.get(key) is None:
        pairs[key] = source or None
