"""A Trivy vulnerability database holding the advisories a test names, written here.

Offline, Trivy cannot download its database (ghcr.io/aquasecurity/trivy-db), and without one it
finds no vulnerability at all. To see what Trivy does with a finding (`--vex` filtering it, say),
a test writes the few advisories it needs into a database of Trivy's own layout (trivy-db's
`pkg/db`: a bbolt file `db/trivy.db` beside `db/metadata.json`, schema version 2), and runs the
real Trivy on it with `--skip-db-update`. Each advisory is a real one (its id, package and fixed
version as GitHub's advisory database has them); nothing else is in the database.

The bbolt file is written by the format's own rules (go.etcd.io/bbolt `page.go`, `bucket.go`):
two meta pages, an empty freelist, and one leaf page (with overflow pages when it is large)
holding every bucket inline. bbolt reads inline buckets of any size.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from dataclasses import dataclass
from pathlib import Path

PAGE = 4096
_MAGIC, _VERSION = 0xED0CDAED, 2
_LEAF, _META, _FREELIST = 0x02, 0x04, 0x10
_BUCKET = 0x01
_NO_FREELIST = 0xFFFFFFFFFFFFFFFF

Tree = dict[bytes, "bytes | Tree"]
"""A bucket: key -> value, or key -> a nested bucket."""


def _fnv64a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def _leaf(bucket: Tree, page_id: int = 0) -> bytes:
    """Return a leaf page (header and elements, unpadded) of `bucket`'s items, sorted by key."""
    items = sorted(bucket.items())
    values = [(k, _inline(v) if isinstance(v, dict) else v, isinstance(v, dict)) for k, v in items]
    head = struct.pack("<QHHI", page_id, _LEAF, len(values), 0)
    elements, data = b"", b""
    offset = 16 * len(values)  # from the first element to the first key
    for i, (k, v, is_bucket) in enumerate(values):
        pos = offset + len(data) - 16 * i
        elements += struct.pack("<IIII", _BUCKET if is_bucket else 0, pos, len(k), len(v))
        data += k + v
    return head + elements + data


def _inline(bucket: Tree) -> bytes:
    """Return the value of a nested bucket stored inline: header (root 0, sequence 0) + page."""
    return struct.pack("<QQ", 0, 0) + _leaf(bucket)


def _meta(page_id: int, txid: int, pages: int) -> bytes:
    body = struct.pack("<IIIIQQQQQ", _MAGIC, _VERSION, PAGE, 0, 3, 0, 2, pages, txid)
    return (struct.pack("<QHHI", page_id, _META, 0, 0) + body
            + struct.pack("<Q", _fnv64a(body))).ljust(PAGE, b"\0")


def write_bolt(path: Path, root: Tree) -> None:
    """Write a bbolt database whose root bucket holds `root`."""
    leaf = _leaf(root, 3)
    overflow = (len(leaf) - 1) // PAGE
    leaf = leaf[:12] + struct.pack("<I", overflow) + leaf[16:]
    pages = 4 + overflow
    freelist = struct.pack("<QHHI", 2, _FREELIST, 0, 0).ljust(PAGE, b"\0")
    path.write_bytes(_meta(0, 0, pages) + _meta(1, 1, pages) + freelist
                     + leaf.ljust((overflow + 1) * PAGE, b"\0"))


@dataclass(frozen=True)
class Advisory:
    """One advisory of a language ecosystem (trivy-db's `types.Advisory`)."""

    vuln_id: str
    ecosystem: str
    """trivy-db's ecosystem name (`npm`, `pip`, `go`, ...)."""
    package: str
    vulnerable: str
    """The vulnerable range, as GitHub writes it (`<4.17.21`)."""
    patched: str
    severity: str
    title: str


_SOURCES = {"npm": ("GitHub Security Advisory npm", "npm")}


def write_trivy_db(cache: Path, advisories: list[Advisory]) -> Path:
    """Write a Trivy database of `advisories` under `cache` (Trivy's `--cache-dir`); return the
    database file."""
    root: Tree = {b"data-source": {}, b"vulnerability": {}}
    for a in advisories:
        name, ghsa_ecosystem = _SOURCES[a.ecosystem]
        bucket = f"{a.ecosystem}::{name}".encode()
        source = {"ID": "ghsa", "Name": name,
                  "URL": f"https://github.com/advisories?query=type%3Areviewed+ecosystem%3A"
                         f"{ghsa_ecosystem}"}
        root[b"data-source"][bucket] = json.dumps(source).encode()  # type: ignore[index]
        eco = root.setdefault(bucket, {})
        pkg = eco.setdefault(a.package.encode(), {})  # type: ignore[union-attr]
        pkg[a.vuln_id.encode()] = json.dumps(  # type: ignore[index]
            {"PatchedVersions": [a.patched], "VulnerableVersions": [a.vulnerable]}).encode()
        root[b"vulnerability"][a.vuln_id.encode()] = json.dumps(  # type: ignore[index]
            {"Title": a.title, "Severity": a.severity,
             "VendorSeverity": {"ghsa": {"LOW": 1, "MEDIUM": 2, "HIGH": 3,
                                         "CRITICAL": 4}[a.severity]}}).encode()
    db = cache / "db"
    db.mkdir(parents=True, exist_ok=True)
    write_bolt(db / "trivy.db", root)
    now = dt.datetime.now(dt.UTC)
    (db / "metadata.json").write_text(json.dumps({
        "Version": 2, "NextUpdate": (now + dt.timedelta(days=1)).isoformat(),
        "UpdatedAt": now.isoformat(), "DownloadedAt": now.isoformat()}))
    return db / "trivy.db"
