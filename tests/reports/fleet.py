"""A small synthetic store for the report tests, with untrusted text that must stay text.

`write_fleet` makes five images; the first Trivy report then gets a package named
`<script>alert(1)</script>` (under AGPL, with a critical vulnerability fixable since 2015, so it
shows in the licence, SLA and worst-image sections), a package whose name holds a right-to-left
override (`lib<U+202E>gpj.exe`, which would read as `libexe.jpg`), a label whose value is an HTML
element with an event handler and one whose value holds bidirectional isolates and an override.
A page that runs either HTML sets `window.__xss` or opens a dialog; a page that shows the bidi
controls as they are shows `libexe.jpg`.
"""

from __future__ import annotations

import json
from pathlib import Path

from auditlib import load
from auditlib.demo import write_fleet
from auditlib.store import write_snapshot

EVIL_PACKAGE = "<script>alert(1)</script>"
EVIL_LABEL = '<img src=x onerror="window.__xss=1">'
EVIL_VULN_TITLE = "<b onmouseover=\"window.__xss=1\">bold</b>"
BIDI_PACKAGE = "lib\u202egpj.exe"
"""Shown raw, it reads `libexe.jpg`; pages show `lib<U+202E>gpj.exe`."""
BIDI_PACKAGE_SHOWN = "lib<U+202E>gpj.exe"
BIDI_LABEL = "safe \u2066\u202etxt.exe\u2069 file"
BIDI_LABEL_SHOWN = "safe <U+2066><U+202E>txt.exe<U+2069> file"


def _poison(trivy_doc: Path) -> None:
    doc = json.loads(trivy_doc.read_text())
    result = doc["Results"][0]
    result.setdefault("Packages", []).append({
        "ID": "evil@1.0", "Name": EVIL_PACKAGE, "Version": "1.0",
        "Licenses": ["AGPL-3.0-only"], "Layer": {"DiffID": doc["Metadata"]["DiffIDs"][-1]},
    })
    result["Packages"].append({
        "ID": "bidi@2.0", "Name": BIDI_PACKAGE, "Version": "2.0",
        "Licenses": ["GPL-3.0-only"], "Layer": {"DiffID": doc["Metadata"]["DiffIDs"][-1]},
    })
    result.setdefault("Vulnerabilities", []).append({
        "VulnerabilityID": "CVE-2015-0001", "PkgID": "evil@1.0", "PkgName": EVIL_PACKAGE,
        "InstalledVersion": "1.0", "FixedVersion": "1.1", "Status": "fixed",
        "Severity": "CRITICAL", "Title": EVIL_VULN_TITLE, "Description": EVIL_VULN_TITLE,
        "PublishedDate": "2015-01-01T00:00:00Z", "LastModifiedDate": "2015-01-02T00:00:00Z",
    })
    result["Vulnerabilities"].append({
        "VulnerabilityID": "CVE-2015-0002", "PkgID": "bidi@2.0", "PkgName": BIDI_PACKAGE,
        "InstalledVersion": "2.0", "FixedVersion": "2.1", "Status": "fixed",
        "Severity": "CRITICAL", "Title": "spoofed name", "Description": "spoofed name",
        "PublishedDate": "2015-01-01T00:00:00Z", "LastModifiedDate": "2015-01-02T00:00:00Z",
    })
    config = doc["Metadata"]["ImageConfig"].setdefault("config", {})
    config.setdefault("Labels", {})["org.example.note"] = EVIL_LABEL
    config["Labels"]["org.example.bidi"] = BIDI_LABEL
    trivy_doc.write_text(json.dumps(doc))


def make_store(root: Path, images: int = 5, snapshots: int = 1) -> Path:
    """Write a poisoned synthetic fleet under `root` and ingest it into `root/store`, as
    `snapshots` snapshots (the later ones add a few more images, for the history trends).

    Returns:
        The store folder.
    """
    fleet = root / "fleet"
    write_fleet(fleet, images=images, files_per_image=10)
    _poison(sorted((fleet / "trivy").glob("*.json"))[0])
    store = root / "store"
    write_snapshot(store, load(fleet), sources=[str(fleet)])
    for n in range(1, snapshots):
        more = root / f"fleet-{n}"
        write_fleet(more, images=2, seed=100 + n, files_per_image=10)
        write_snapshot(store, load(more), sources=[str(more)])
    return store


ENGINE = "unix:///var/run/docker.sock"


def make_engine_store(root: Path, images: int = 50, scanned: int = 3) -> Path:
    """Write a store as an engine scanned offline leaves it (issue 12): a first snapshot of
    `images - scanned` images collected from a Docker Engine (build times, tags, half of them
    with an OCI base label, a few running containers) and no vulnerability scan at all, then a
    second snapshot of `scanned` synthetic images with Trivy and Syft documents.

    Returns:
        The store folder.
    """
    from datetime import UTC, datetime, timedelta

    from tests.policy.builders import image_id, make_data

    now = datetime.now(UTC)
    collected = images - scanned
    rows = [{"image_id": image_id(n + 1), "host": ENGINE,
             "image_ref": f"registry.test/team/app{n}:1.{n}",
             "created_at": (now - timedelta(days=3 + 11 * n)).isoformat(),
             "os_family": "debian", "os_version": "12"} for n in range(collected)]
    data = make_data(
        images=rows,
        image_tags=[{"image_id": r["image_id"], "reference": r["image_ref"],
                     "registry": "registry.test", "repository": r["image_ref"].split("/", 1)[1]
                     .split(":")[0], "tag": r["image_ref"].rsplit(":", 1)[1]} for r in rows],
        image_labels=[{"image_id": r["image_id"], "label": "org.opencontainers.image.base.name",
                       "value": "docker.io/library/debian:12"} for r in rows[::2]],
        containers=[{"host": ENGINE, "container_id": f"c{n}", "name": f"app{n}",
                     "image_id": rows[n]["image_id"], "state": "running"}
                    for n in range(min(4, collected))],
        scans=[{"format": "docker-engine", "image_id": r["image_id"], "target": ENGINE,
                "vulnerability_scan": False} for r in rows],
    )
    store = root / "store"
    write_snapshot(store, data, sources=[ENGINE])
    fleet = root / "scanned"
    write_fleet(fleet, images=scanned, seed=11, files_per_image=10)
    write_snapshot(store, load(fleet), sources=[str(fleet)])
    return store
