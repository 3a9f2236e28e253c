"""`package_dependencies`: every corpus SBOM's package edges, checked against edges worked out here
from the raw JSON (json module, not auditlib); both ends join `packages`; the same image's edges
agree across Syft's three formats and across Trivy's JSON and CycloneDX.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from tests.conftest import CORPUS, corpus_path

pytestmark = pytest.mark.corpus

_Edge = tuple[str, str, str]


def _raw(rel: str) -> Any:
    return json.loads(corpus_path(rel).read_bytes())


def _syft(doc: dict[str, Any]) -> set[_Edge]:
    subject = (doc.get("source") or {}).get("id")
    pkgs = {a["id"] for a in doc["artifacts"] if a.get("id") and a["id"] != subject}
    edges: set[_Edge] = set()
    for r in doc.get("artifactRelationships") or []:
        parent, child = r["parent"], r["child"]
        if parent in pkgs and child in pkgs and parent != child:
            if r["type"] == "dependency-of":  # the parent is a dependency of the child
                edges.add((child, parent, "depends-on"))
            elif r["type"] == "contains":
                edges.add((parent, child, "contains"))
    return edges


def _cyclonedx(doc: dict[str, Any]) -> set[_Edge]:
    pkgs: set[str] = set()

    def walk(components: list[dict[str, Any]]) -> None:
        for c in components:
            trivy_result = any(p.get("name") == "aquasecurity:trivy:Class"
                               for p in c.get("properties") or [])
            holder = c.get("type") in ("operating-system", "container") or trivy_result
            if c.get("bom-ref") and not holder:
                pkgs.add(c["bom-ref"])
            walk(c.get("components") or [])

    walk(doc.get("components") or [])
    return {(d["ref"], x, "depends-on") for d in doc.get("dependencies") or []
            for x in d.get("dependsOn") or [] if d["ref"] in pkgs and x in pkgs and d["ref"] != x}


_SPDX_KINDS = {"DEPENDS_ON": ("depends-on", False), "DEPENDENCY_OF": ("depends-on", True),
               "CONTAINS": ("contains", False), "CONTAINED_BY": ("contains", True)}


def _spdx(doc: dict[str, Any]) -> set[_Edge]:
    rels = doc.get("relationships") or []
    subjects = set(doc.get("documentDescribes") or []) | {
        r["relatedSpdxElement"] for r in rels
        if r["relationshipType"] == "DESCRIBES" and r["spdxElementId"] == doc["SPDXID"]}
    pkgs = {p["SPDXID"] for p in doc.get("packages") or []} - subjects
    edges: set[_Edge] = set()
    for r in rels:
        if r["relationshipType"] not in _SPDX_KINDS:
            continue
        kind, backwards = _SPDX_KINDS[r["relationshipType"]]
        a, b = r["spdxElementId"], r["relatedSpdxElement"]
        if backwards:
            a, b = b, a
        if a in pkgs and b in pkgs and a != b:
            edges.add((a, b, kind))
    return edges


def _trivy(doc: dict[str, Any]) -> set[_Edge]:
    edges: set[_Edge] = set()
    for r in doc.get("Results") or []:
        pkgs = r.get("Packages") or []
        uid = {p["ID"]: (p.get("Identifier") or {}).get("UID") or p["ID"] for p in pkgs
               if p.get("ID")}
        for p in pkgs:
            edges |= {(uid[p["ID"]], uid[d], "depends-on") for d in p.get("DependsOn") or []}
    return edges


_EXPECTED = {"syft-json": _syft, "cyclonedx-json": _cyclonedx, "spdx-json": _spdx,
             "trivy-json": _trivy}


def _files() -> list[str]:
    if not CORPUS.is_dir():
        return []
    # Of Trivy JSON, the files written with `--list-all-pkgs` (the ones with packages).
    return sorted(str(p.relative_to(CORPUS)) for d in _EXPECTED for p in (CORPUS / d).glob("*")
                  if p.is_file() and (d != "trivy-json" or b'"Packages"' in p.read_bytes()))


@pytest.fixture(scope="module")
def corpus_data() -> auditlib.AuditData:
    corpus_path("MANIFEST.tsv")  # skips (fails under CI=true) when the corpus is absent
    return auditlib.load(*[corpus_path(rel) for rel in _files()])


def _mine(df: pd.DataFrame, rel: str) -> pd.DataFrame:
    return df[df["source"].astype(str) == str(CORPUS / rel)]


@pytest.mark.parametrize("rel", _files())
def test_corpus_edges(corpus_data: auditlib.AuditData, rel: str) -> None:
    expected = _EXPECTED[rel.split("/", 1)[0]](_raw(rel))
    mine = _mine(corpus_data.package_dependencies, rel)
    got = set(mine[["from_package_id", "to_package_id", "relationship"]].astype(str)
              .itertuples(index=False, name=None))
    assert got == expected
    assert not mine.duplicated(["scan_id", "from_package_id", "to_package_id",
                                "relationship"]).any()


def test_every_edge_joins_packages_at_both_ends(corpus_data: auditlib.AuditData) -> None:
    deps, pk = corpus_data.package_dependencies, corpus_data.packages
    assert len(deps) > 1500  # the parametrised test could pass on empty tables
    keys = pd.MultiIndex.from_frame(pk[["scan_id", "package_id"]].astype(str))
    for end in ("from_package_id", "to_package_id"):
        ends = pd.MultiIndex.from_frame(deps[["scan_id", end]].astype(str))
        assert ends.isin(keys).all(), end
    assert set(deps["relationship"].astype(str)) == {"depends-on", "contains"}
    assert not corpus_data.load_errors["reason"].str.contains("package relationships").any()


def _named(data: auditlib.AuditData, rel: str) -> set[tuple[str, str]]:
    """Return a file's depends-on edges as (name, name): a Debian image has each package once,
    and versions are written differently across formats (Trivy JSON leaves the release out)."""
    pk = _mine(data.packages, rel)
    assert not pk["name"].duplicated().any()
    names = dict(zip(pk["package_id"], pk["name"].astype(str), strict=True))
    d = _mine(data.package_dependencies, rel)
    d = d[d["relationship"] == "depends-on"]
    return {(names[a], names[b]) for a, b in zip(d["from_package_id"], d["to_package_id"],
                                                  strict=True)}


def test_one_image_gives_the_same_edges_in_every_format(corpus_data: auditlib.AuditData) -> None:
    syft = _named(corpus_data, "syft-json/syft-1.18.1-schema-16-debian-bookworm-image.json")
    assert len(syft) == 216
    assert _named(corpus_data, "cyclonedx-json/syft-1.18.1-cdx-debian-bookworm-image.json") == syft
    assert _named(corpus_data, "spdx-json/syft-1.18.1-spdx-debian-bookworm-image.json") == syft
    trivy = _named(corpus_data, "trivy-json/trivy-0.76.0-licenses-pkgs-debian-bookworm-image.json")
    assert len(trivy) == 141
    for rel in ("cyclonedx-json/trivy-0.76.0-cdx-debian-bookworm-image.json",
                "spdx-json/trivy-0.76.0-spdx-debian-bookworm-image.json"):
        assert _named(corpus_data, rel) == trivy, rel
    # Direction: adduser needs passwd (Trivy `DependsOn`, Syft `dependency-of` reversed).
    assert ("adduser", "passwd") in trivy and ("adduser", "passwd") in syft
    assert len(trivy & syft) > 100


def test_relationships_naming_no_package_are_one_warning(tmp_path: Path) -> None:
    doc = {
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "metadata": {"component": {"type": "application", "name": "app", "bom-ref": "root"}},
        "components": [{"type": "library", "name": n, "version": "1", "bom-ref": n}
                       for n in ("a", "b")],
        "dependencies": [{"ref": "root", "dependsOn": ["a"]},
                         {"ref": "a", "dependsOn": ["b", "missing", "a"]},
                         {"ref": "gone", "dependsOn": ["b"]}],
    }
    path = tmp_path / "bom.json"
    path.write_text(json.dumps(doc))
    data = auditlib.load(path)
    assert data.package_dependencies[["from_package_id", "to_package_id"]].values.tolist() == [
        ["a", "b"]]
    warnings = data.load_errors[data.load_errors["level"] == "warning"]
    assert warnings[["locator", "reason"]].values.tolist() == [[
        "$.dependencies", "2 package relationships name an id that is no package of this "
        "document; left out of package_dependencies"]]


def test_spdx_dependency_kinds(tmp_path: Path) -> None:
    def pkg(i: str) -> dict[str, Any]:
        return {"SPDXID": f"SPDXRef-{i}", "name": i, "versionInfo": "1", "downloadLocation": "x"}

    rels = [("DOCUMENT", "DESCRIBES", "root"), ("root", "CONTAINS", "a"),
            ("a", "DEV_DEPENDENCY_OF", "b"), ("c", "CONTAINED_BY", "b"), ("b", "STATIC_LINK", "c"),
            ("a", "GENERATED_FROM", "c"), ("a", "DEPENDS_ON", "DocumentRef-x:SPDXRef-y")]
    doc = {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "n",
           "creationInfo": {"created": "2024-01-01T00:00:00Z", "creators": ["Tool: t-1"]},
           "packages": [pkg(i) for i in ("root", "a", "b", "c")],
           "relationships": [{"spdxElementId": f"SPDXRef-{a}" if ":" not in a else a,
                              "relationshipType": t,
                              "relatedSpdxElement": f"SPDXRef-{b}" if ":" not in b else b}
                             for a, t, b in rels]}
    path = tmp_path / "s.spdx.json"
    path.write_text(json.dumps(doc))
    data = auditlib.load(path)
    got = set(data.package_dependencies[["from_package_id", "to_package_id", "relationship",
                                         "declared_as"]].astype(str)
              .itertuples(index=False, name=None))
    assert got == {("SPDXRef-b", "SPDXRef-a", "depends-on", "DEV_DEPENDENCY_OF"),
                   ("SPDXRef-b", "SPDXRef-c", "contains", "CONTAINED_BY"),
                   ("SPDXRef-b", "SPDXRef-c", "depends-on", "STATIC_LINK")}
    assert data.load_errors["reason"].str.contains("1 package relationships").any()
