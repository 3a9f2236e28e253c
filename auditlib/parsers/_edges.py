"""`Edges`: the `package_dependencies` rows of one document.

Every SBOM format links its elements, and not only packages: Syft links packages to the files
they own and the image to its packages, SPDX the document to its subject, CycloneDX and Trivy's
SBOMs an OS or a lock file to the packages in it. Only an edge whose two ends are rows of
`packages` becomes a row, so that both ends join `packages` on (scan_id, package_id); an edge
that should link two packages but names an id the document does not have is counted in one
warning.
"""

from __future__ import annotations

from collections.abc import Collection

from auditlib.rows import Output

DEPENDS_ON = "depends-on"
"""The from-package needs the to-package."""
CONTAINS = "contains"
"""The to-package is inside the from-package."""


class Edges:
    """Package edges gathered while a parser reads a document, each edge once."""

    __slots__ = ("_dangling", "_edges", "_packages")

    def __init__(self, packages: Collection[str]) -> None:
        """Start with no edges; `packages` are the document's `packages.package_id` values."""
        self._packages = packages
        self._edges: dict[tuple[str, str, str], str] = {}
        self._dangling = 0

    def add(self, from_id: str, to_id: str, relationship: str, declared_as: str, *,
            expected: bool = True) -> None:
        """Record an edge `from_id` -> `to_id` of kind `relationship` (`DEPENDS_ON`, `CONTAINS`).

        Args:
            from_id: the package the edge starts from, as `packages.package_id`.
            to_id: the package it points at.
            relationship: the normalised kind.
            declared_as: the document's own word for it (the first one's, for an edge the
                document gives twice in different words).
            expected: whether both ends should be packages; an edge between other elements
                (a package and a file, the document's subject and a package) is left out
                quietly when False, counted in the warning when True.
        """
        packages = self._packages
        if from_id not in packages or to_id not in packages:
            self._dangling += expected
        elif from_id != to_id:  # a package that needs or holds itself says nothing
            self._edges.setdefault((from_id, to_id, relationship), declared_as)

    def write(self, out: Output, locator: str) -> None:
        """Add the rows to `out`, and one warning at `locator` about edges naming no package."""
        if self._edges:
            froms, tos, kinds = zip(*self._edges, strict=True)
            out.add_columns("package_dependencies", {
                "from_package_id": list(froms), "to_package_id": list(tos),
                "relationship": list(kinds), "declared_as": list(self._edges.values())})
        if self._dangling:
            out.warn(locator, f"{self._dangling} package relationships name an id that is no "
                     "package of this document; left out of package_dependencies")
