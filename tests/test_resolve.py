"""Documents that know their image only by a manifest digest get its image_id from another
document that knows both."""

from __future__ import annotations

from auditlib.ingest.collect import to_audit_data
from auditlib.rows import ImageInfo, Output
from auditlib.sources.record import Collection, Record

IMAGE = "sha256:" + "1" * 64
MANIFEST = "sha256:" + "2" * 64
OTHER = "sha256:" + "3" * 64


def _record(name: str, image: ImageInfo) -> Record:
    out = Output(name)
    out.scan.image = image
    out.add("packages", {"package_id": "p1", "name": "zlib", "version": "1"})
    return Record(out, "test", "1", name.encode())


def test_manifest_digest_only_gets_the_image_id() -> None:
    both = _record("both", ImageInfo(image_id=IMAGE, repo_digests=[f"r.test/a@{MANIFEST}"]))
    digest_only = _record("digest-only", ImageInfo(repo_digests=[MANIFEST]))
    unknown = _record("unknown", ImageInfo(repo_digests=[OTHER]))
    data = to_audit_data([Collection("x", "test", [both, digest_only, unknown])])
    by_source = dict(zip(data.packages["source"], data.packages["image_id"], strict=True))
    assert by_source["both"] == IMAGE and by_source["digest-only"] == IMAGE
    assert str(by_source["unknown"]) in ("nan", "<NA>")
    scans = dict(zip(data.scans["source"], data.scans["image_id"], strict=True))
    assert scans["digest-only"] == IMAGE


def test_ambiguous_digest_is_left_alone() -> None:
    a = _record("a", ImageInfo(image_id=IMAGE, repo_digests=[MANIFEST]))
    b = _record("b", ImageInfo(image_id=OTHER, repo_digests=[MANIFEST]))
    c = _record("c", ImageInfo(repo_digests=[MANIFEST]))
    data = to_audit_data([Collection("x", "test", [a, b, c])])
    row = data.scans[data.scans["source"] == "c"].iloc[0]
    assert str(row["image_id"]) in ("nan", "<NA>")
