"""Child rows of Trivy JSON results: package edges (`DependsOn`), and each vulnerability's
weaknesses (`CweIDs`) and vendor advisory ids (`VendorIDs`).

Kept apart from `_trivy_rows` (the per-record hot loops): these walk the same decoded records
once more and only where the fields are present.
"""

from __future__ import annotations

from auditlib.parsers import _trivy_model as m
from auditlib.parsers._edges import DEPENDS_ON, Edges
from auditlib.parsers._vuln_refs import VulnRefs
from auditlib.rows import Output


def dependency_rows(linked: list[tuple[list[m.Package], list[str]]], out: Output,
                    locator: str) -> None:
    """Add a `package_dependencies` row per entry of a package's `DependsOn`.

    Args:
        linked: per result, its packages and the `package_id`s of the `packages` rows made of
            them, in the same order (a `package_id` is the package's `Identifier.UID`, else its
            `ID`).
        out: where rows go, and a warning for entries naming no package of the document.
        locator: JSON path of the results, for that warning.
    """
    if not any(p.DependsOn for pkgs, _ in linked for p in pkgs):
        return
    everywhere: dict[str, str] = {}
    per_result: list[dict[str, str]] = []
    for pkgs, ids_of in linked:
        # `DependsOn` names packages by `ID` (`passwd@1:4.13+dfsg1-1+deb12u2`), rows by UID.
        ids = {p.ID: pid for p, pid in zip(pkgs, ids_of, strict=True) if p.ID}
        per_result.append(ids)
        for k, v in ids.items():
            everywhere.setdefault(k, v)
    edges = Edges({pid for _, ids_of in linked for pid in ids_of})
    for (pkgs, ids_of), ids in zip(linked, per_result, strict=True):
        for p, pid in zip(pkgs, ids_of, strict=True):
            for dep in p.DependsOn or ():
                edges.add(pid, ids.get(dep) or everywhere.get(dep) or dep,
                          DEPENDS_ON, "DependsOn")
    edges.write(out, locator)


def vuln_refs(vulns: list[m.Vulnerability], refs: VulnRefs) -> None:
    """Record the CWEs and vendor ids of a result's vulnerabilities in `refs`.

    A vendor id comes from the vulnerability's data source (`DataSource.ID`: `debian`, `redhat`,
    `ghsa`), which is named as the alias's source.
    """
    for v in vulns:
        if v.CweIDs:
            refs.cwes(v.VulnerabilityID, v.CweIDs)
        if v.VendorIDs:
            source = (v.DataSource.ID or None) if v.DataSource else None
            for alias in v.VendorIDs:
                refs.alias(v.VulnerabilityID, alias, source)
