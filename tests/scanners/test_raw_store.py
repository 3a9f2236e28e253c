"""The raw output store: layout, keys, atomic writes, and what counts as already done."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from auditlib.ingest.documents import find_files
from auditlib.scanners.raw_store import RawStore, dockerfile_key, image_key

HEX = "ab" * 32


@pytest.mark.parametrize(
    ("given", "key"),
    [(f"sha256:{HEX}", HEX), (HEX, HEX), (f"  SHA256:{HEX.upper()} ", HEX)],
)
def test_image_key_is_the_config_digest_hex(given: str, key: str) -> None:
    assert image_key(given) == key


@pytest.mark.parametrize("bad", ["", "sha256:abc", f"sha512:{HEX}", f"sha256:{'g' * 64}", "../x"])
def test_image_key_refuses_what_is_not_a_digest(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a sha256 image id"):
        image_key(bad)


def test_dockerfile_key_is_the_content_hash() -> None:
    data = b"FROM debian:12\n"
    assert dockerfile_key(data) == "dockerfile-" + hashlib.sha256(data).hexdigest()


def test_layout(tmp_path: Path) -> None:
    raw = RawStore(tmp_path / "store")
    assert raw.path(HEX, "syft-1.18.1.syft-json.json") == (
        tmp_path / "store" / "raw" / HEX / "syft-1.18.1.syft-json.json"
    )
    key = dockerfile_key(b"FROM x\n")
    assert raw.path(key, "h.json").parent.name == key
    assert raw.temp_folder() == tmp_path / "store" / "tmp" and raw.temp_folder().is_dir()


@pytest.mark.parametrize(("key", "name"), [
    ("../etc", "x.json"), (HEX + "/..", "x.json"), (HEX, "../x.json"), (HEX, ".hidden.json"),
    (HEX, ""),
])
def test_path_refuses_keys_and_names_that_leave_the_store(key: str, name: str) -> None:
    with pytest.raises(ValueError, match="is not a raw output"):
        RawStore("s").path(key, name)


def test_atomic_write_commits_the_file_and_its_record(tmp_path: Path) -> None:
    raw = RawStore(tmp_path)
    out = raw.path(HEX, "trivy-0.76.0.trivy-json.json")
    with raw.writing(out) as pending:
        assert pending.temp.parent == out.parent and pending.temp.name.startswith(".")
        assert not out.exists()  # nothing is visible while it is written
        pending.temp.write_text('{"SchemaVersion": 2}')
        pending.record.update(tool="trivy", options=["secret", "license"])
    assert out.read_text() == '{"SchemaVersion": 2}'
    assert raw.read_record(out) == {"tool": "trivy", "options": ["secret", "license"]}
    assert sorted(p.name for p in out.parent.iterdir()) == [
        ".trivy-0.76.0.trivy-json.json.run.json", "trivy-0.76.0.trivy-json.json",
    ]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_atomic_write_leaves_no_file_when_the_writer_fails(tmp_path: Path) -> None:
    raw = RawStore(tmp_path)
    out = raw.path(HEX, "syft-1.18.1.syft-json.json")
    with pytest.raises(RuntimeError, match="tool died"), raw.writing(out) as pending:
        pending.temp.write_text('{"artifacts": [')  # half written
        raise RuntimeError("tool died")
    assert list(out.parent.iterdir()) == []


def test_a_failed_rewrite_keeps_the_older_output(tmp_path: Path) -> None:
    raw = RawStore(tmp_path)
    out = raw.path(HEX, "syft-1.18.1.syft-json.json")
    raw.write_bytes(out, b'{"old": true}')
    with pytest.raises(KeyboardInterrupt), raw.writing(out) as pending:
        pending.temp.write_text("{")
        raise KeyboardInterrupt
    assert out.read_bytes() == b'{"old": true}'
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_exists_needs_the_file_and_a_record_covering_the_options(tmp_path: Path) -> None:
    raw = RawStore(tmp_path)
    out = raw.path(HEX, "trivy-0.76.0.trivy-json.json")
    assert not raw.exists(out)
    with raw.writing(out) as pending:
        pending.temp.write_text("{}")
        pending.record["options"] = ["license", "misconfig", "secret"]
    assert raw.exists(out)
    assert raw.exists(out, frozenset({"secret"}))
    assert raw.exists(out, frozenset({"license", "misconfig", "secret"}))
    assert not raw.exists(out, frozenset({"secret", "vuln"}))
    raw.record_path(out).write_text("not json")
    assert raw.exists(out) and not raw.exists(out, frozenset({"secret"}))


def test_a_rewrite_without_record_drops_the_old_record(tmp_path: Path) -> None:
    # An output must never be taken to cover what an older run of it covered.
    raw = RawStore(tmp_path)
    out = raw.path(HEX, "trivy-0.76.0.trivy-json.json")
    with raw.writing(out) as pending:
        pending.temp.write_text("{}")
        pending.record["options"] = ["vuln"]
    raw.write_bytes(out, b'{"new": 1}')
    assert raw.read_record(out) is None and not raw.exists(out, frozenset({"vuln"}))


def test_records_and_temporary_files_are_never_ingested(tmp_path: Path) -> None:
    raw = RawStore(tmp_path)
    out = raw.path(HEX, "syft-1.18.1.syft-json.json")
    with raw.writing(out) as pending:
        pending.temp.write_text("{}")
        pending.record["tool"] = "syft"
    (out.parent / ".syft-1.18.1.syft-json.json.0123.tmp").write_text("{")  # a crashed run's
    assert [c.path for c in find_files(raw.root)] == [out]
    assert json.loads(raw.record_path(out).read_text()) == {"tool": "syft"}


def test_outputs_are_kept_without_secrets(tmp_path: Path) -> None:
    # Trivy's image report repeats the image config: ENV values and labels with secrets.
    raw = RawStore(tmp_path)
    out = raw.path("a" * 64, "trivy-0.76.0.trivy-json.json")
    doc = {"SchemaVersion": 2, "Metadata": {"ImageConfig": {"config": {
        "Env": ["PATH=/usr/bin", "DB_PASSWORD=hunter2secret"],
        "Labels": {"token": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"}}}},
        "Results": [{"Target": "x", "Class": "os-pkgs", "Packages": [{"Name": "bash"}]}]}
    with raw.writing(out) as pending:
        pending.temp.write_text(json.dumps(doc))
    text = out.read_text()
    assert "hunter2secret" not in text and "ghp_abcdef" not in text
    kept = json.loads(text)  # still the tool's document, only the values masked
    assert kept["Metadata"]["ImageConfig"]["config"]["Env"] == ["PATH=/usr/bin",
                                                              "DB_PASSWORD=<redacted>"]
    assert kept["Results"] == doc["Results"]
