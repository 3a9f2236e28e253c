"""Small hand-written documents shared by tests (one failure mode each lives in the tests)."""

from __future__ import annotations

from typing import Any

TRIVY: dict[str, Any] = {
    "SchemaVersion": 2,
    "ArtifactName": "alpine:3.19",
    "ArtifactType": "container_image",
    "Metadata": {"ImageID": "sha256:" + "1" * 64, "RepoTags": ["alpine:3.19"]},
    "Results": [
        {
            "Target": "alpine:3.19 (alpine 3.19.1)",
            "Class": "os-pkgs",
            "Type": "alpine",
            "Vulnerabilities": [
                {
                    "VulnerabilityID": "CVE-2024-0001",
                    "PkgName": "musl",
                    "InstalledVersion": "1.2.4-r2",
                    "FixedVersion": "1.2.4-r3",
                    "Severity": "HIGH",
                    "Title": "t",
                    "Description": "d",
                }
            ],
        }
    ],
}


DELETE = object()
"""Pass as the value to `set_path` to delete the key instead."""


def set_path(doc: Any, path: str, value: Any) -> Any:
    """Return `doc` with the value at a dotted path (`Results.0.Vulnerabilities.1.Severity`) set.

    List indexes are numbers; `value` `DELETE` removes a key.
    """
    *parents, last = path.split(".")
    node = doc
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


def one_row(df: Any, **where: Any) -> Any:
    """Return the one row of `df` whose columns equal `where` (asserting there is exactly one)."""
    hit = df
    for col, value in where.items():
        hit = hit[hit[col] == value]
    assert len(hit) == 1, f"{where}: {len(hit)} rows"
    return hit.iloc[0]
