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
