"""A small synthetic store over two snapshots, shared by the engine tests (unit and Spark)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from auditlib.demo import write_fleet
from auditlib.demo.history import DemoHistory
from auditlib.ingest.steps import ingest_paths

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def two_snapshot_store(root: Path, images: int = 16) -> Path:
    """Return a store whose current state spans two snapshots: the first reads every document of
    a synthetic fleet; the second reads one rewritten document, carries the others over, and
    removes one deleted document (so the current state is neither snapshot's own files)."""
    fleet = root / "fleet"
    write_fleet(fleet, images=images, vulns_per_image=30, packages_per_image=40,
                files_per_image=10, now=NOW)
    store = root / "store"
    ingest_paths(store, [fleet])
    trivy = sorted((fleet / "trivy").glob("*.json"))
    trivy[0].unlink()  # removed: its vulnerabilities leave the current state
    syft = sorted((fleet / "syft").glob("*.json"))
    syft[1].write_bytes(syft[1].read_bytes().replace(b'"version":"', b'"version":"9:', 1))
    ingest_paths(store, [fleet])
    return store


def demo_store(root: Path, images: int = 12) -> Path:
    """Return the demo fleet's store (`auditlib demo`'s data over its snapshots, without its
    reports), its policy file's path written in `root/policy`."""
    fleet = DemoHistory(root / "demo-fleet", images=images, seed=7)
    store = root / "store"
    for step in fleet.steps():
        ing = ingest_paths(store, step.documents, collections=step.collections, at=step.at)
        assert not ing.errors, ing.errors
    (root / "policy").write_text(str(fleet.policy_file))
    return store
