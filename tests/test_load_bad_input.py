"""Bad input: each bad file gives one load_errors row naming the file and the reason; nothing
raises.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import auditlib
from auditlib.errors import NotJsonError
from auditlib.ingest import documents, reader
from tests.samples import TRIVY


def _errors(data: auditlib.AuditData, level: str = "error") -> list[str]:
    df = data.load_errors
    return df.loc[df["level"] == level, "reason"].tolist()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"   \n", "empty file"),
        (b"hello, world", "not valid JSON"),
        (b"null", "JSON null"),
        (b"{}", "not a recognised scanner report or SBOM"),
        (b"[1, 2, 3]", "not a recognised scanner report or SBOM"),
        (json.dumps(TRIVY).encode()[:150], "not valid JSON"),
        (b'"a string"', "top level is not a JSON object or array"),
        (b"42", "top level is not a JSON object or array"),
        (b'{"SchemaVersion": 2, "ArtifactName": "caf\xe9", "Results": []}', "UTF-8"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "9.9"}', "version 9.9 is not supported"),
    ],
    ids=[
        "empty",
        "blank",
        "not-json",
        "null",
        "empty-object",
        "list-of-numbers",
        "truncated",
        "string",
        "number",
        "latin-1",
        "future-version",
    ],
)
def test_bad_file_gives_one_error_row(write_json, content: bytes, reason: str) -> None:  # type: ignore[no-untyped-def]
    path = write_json("report.json", content)
    data = auditlib.load(path)
    errors = _errors(data)
    assert len(errors) == 1, data.load_errors.to_dict("records")
    assert reason in errors[0]
    assert str(path) in errors[0]
    assert data.load_errors["source"].tolist() == [str(path)]
    assert data.scans.empty


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "a-bad.json").write_bytes(b"{")
    (tmp_path / "b-good.json").write_text(json.dumps(TRIVY))
    (tmp_path / "c-missing-link.json").write_text("null")
    data = auditlib.load(tmp_path)
    assert len(data.scans) == 1
    assert len(_errors(data)) == 2
    assert [f.error is None for f in data.files] == [False, True, False]


def test_plainly_not_json_files_are_skipped_not_errors(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / "list.tsv").write_text("a\tb\n")
    (tmp_path / "Dockerfile").write_text("FROM debian:12\n")
    (tmp_path / "report").write_text(json.dumps(TRIVY))  # no suffix, but JSON: read
    data = auditlib.load(tmp_path)
    assert _errors(data) == []
    skipped = data.load_errors[data.load_errors["level"] == "skipped"]["source"].tolist()
    assert sorted(Path(s).name for s in skipped) == ["Dockerfile", "README.md", "list.tsv"]
    assert len(data.scans) == 1


def test_what_a_skipped_or_failed_file_quotes_is_redacted(tmp_path: Path) -> None:
    """Why a file was skipped never quotes its bytes (it says what the file looks like); why a
    file failed is printed and kept in the store's manifest (`FileResult`) and in `load_errors`:
    both are redacted."""
    (tmp_path / "run.sh").write_text("--password hunter2 --verbose\n")
    data = auditlib.load(tmp_path)
    (f,) = data.files
    assert f.skipped is not None and f.skipped.startswith("not a JSON document (text")
    assert "hunter2" not in f.skipped and "--password" not in f.skipped
    assert data.load_errors["reason"].iloc[0] == f.skipped
    failed = auditlib.data.FileResult("x.json", error="x.json: --password hunter2 refused")
    assert failed.error == "x.json: --password <redacted> refused"


def test_missing_path_is_an_error_row(tmp_path: Path) -> None:
    data = auditlib.load(tmp_path / "nope.json")
    assert "cannot read" in _errors(data)[0]


def test_utf8_bom_and_utf16_are_read(tmp_path: Path) -> None:
    text = json.dumps(TRIVY)
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + text.encode())
    (tmp_path / "utf16.json").write_bytes(text.encode("utf-16"))  # PowerShell's `>` writes this
    data = auditlib.load(tmp_path)
    assert _errors(data) == []
    assert len(data.scans) == 2


def test_huge_string_and_markup_are_kept_as_text(write_json) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(json.dumps(TRIVY))
    big = "A" * (10 * 1024 * 1024)
    markup = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    vuln = doc["Results"][0]["Vulnerabilities"][0]
    vuln["Description"] = big
    vuln["Title"] = markup
    data = auditlib.load(write_json("big.json", json.dumps(doc)))
    assert _errors(data) == []
    row = data.vulnerabilities.iloc[0]
    assert len(row["description"]) == len(big)
    assert row["title"] == markup


def test_a_bad_record_is_a_warning_and_the_rest_is_read(write_json) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(json.dumps(TRIVY))
    vulns = doc["Results"][0]["Vulnerabilities"]
    vulns.append(dict(vulns[0], VulnerabilityID="CVE-2024-0002", Severity=5))
    vulns.append(dict(vulns[0], VulnerabilityID="CVE-2024-0003"))
    path = write_json("partly-bad.json", json.dumps(doc))
    data = auditlib.load(path)
    assert _errors(data) == []
    warnings = data.load_errors[data.load_errors["level"] == "warning"]
    assert len(warnings) == 1
    assert "Vulnerabilities[1]" in warnings["locator"].iloc[0]
    assert sorted(data.vulnerabilities["vuln_id"]) == ["CVE-2024-0001", "CVE-2024-0003"]


# --- limits and what a reason may say (the attacks themselves: tests/test_hostile_input.py) ---


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("token", b"ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8\n", "text that does not begin"),
        ("shadow", b"root:$6$saltsalt$c2VjcmV0aGFzaA:19000:0:99999:7:::\n", "text that does not"),
        ("key.bin", b"\x00\x01ghp_A1b2C3d4\xff\xfe", "binary data"),
        ("secret.gz", b"\x1f\x8b\x08\x00ghp_A1b2C3d4", "gzip-compressed data"),
        ("blank", b"   \n\n", "blank text"),
        ("empty", b"", "an empty file"),
    ],
)
def test_a_skip_reason_says_what_the_file_looks_like_never_its_bytes(
    tmp_path: Path, name: str, content: bytes, kind: str
) -> None:
    target = tmp_path / "elsewhere" / name
    target.parent.mkdir()
    target.write_bytes(content)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).symlink_to(target)  # a link to a file outside, as to /etc/shadow
    data = auditlib.load(folder)
    [reason] = data.load_errors.loc[data.load_errors["level"] == "skipped", "reason"].tolist()
    assert reason.startswith("not a JSON document (") and kind in reason
    for piece in (b"ghp_", b"A1b2", b"root", b"$6$", b"salt"):
        assert piece.decode() not in reason


def test_a_json_named_file_of_other_bytes_is_an_error_that_quotes_nothing(tmp_path: Path) -> None:
    (tmp_path / "token.json").write_bytes(b"ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8")
    [reason] = _errors(auditlib.load(tmp_path))
    assert "not valid JSON" in reason and "ghp_" not in reason and "A1b2" not in reason


def test_a_document_over_the_byte_limit_is_refused_by_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = json.dumps(TRIVY).encode()
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", len(doc))
    (tmp_path / "a-at-limit.json").write_bytes(doc)
    (tmp_path / "b-over.json").write_bytes(doc + b" ")
    data = auditlib.load(tmp_path, workers=1)
    assert data.scans["source"].tolist() == [str(tmp_path / "a-at-limit.json")]
    assert _errors(data) == [
        f"{tmp_path / 'b-over.json'}: {len(doc) + 1:,} bytes, more than auditlib reads of one "
        f"document (limit MAX_DOCUMENT_BYTES={len(doc)}); refused"
    ]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_the_bytes_read_are_capped_not_the_size_a_file_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A /proc file reports size 0 (as a device does): the cap counts the bytes read."""
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 100)
    link = tmp_path / "status.json"
    link.symlink_to("/proc/self/status")
    [reason] = _errors(auditlib.load(link, workers=1))
    assert reason == (
        f"{link}: more than 100 bytes read though its size says 0, more than auditlib reads of "
        "one document (limit MAX_DOCUMENT_BYTES=100); refused"
    )
    with pytest.raises(NotJsonError, match="more than 100 bytes read"):
        documents.read_file(link)


def test_a_file_that_grows_while_read_is_read_whole_within_the_limit() -> None:
    """Reading goes on past the size a file reported (up to the limit): nothing is cut short."""
    grown = json.dumps(TRIVY).encode()  # the file said 2 bytes when it was looked at
    assert documents._read_capped(io.BytesIO(grown), 2, 10_000) == grown
    assert len(documents._read_capped(io.BytesIO(grown), 2, 100)) == 101  # one past: refused
    assert documents._read_capped(io.BytesIO(grown), len(grown), 10_000) == grown


def test_deep_nesting_is_refused_naming_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    nested = tmp_path / "deep-inside.json"
    nested.write_bytes(b'{"SchemaVersion": 2, "Results": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    (tmp_path / "good.json").write_text(json.dumps(TRIVY))
    data = auditlib.load(tmp_path, workers=1)
    assert len(data.scans) == 1
    assert sorted(_errors(data)) == [
        f"{p}: arrays and objects nested deeper than 500 levels (limit "
        "MAX_NESTING_DEPTH=500); refused"
        for p in (nested, path)
    ]


def test_nesting_within_the_limit_is_read(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(TRIVY))
    deep: list[Any] = []
    for _ in range(documents.MAX_NESTING_DEPTH - 10):
        deep = [deep]
    doc["Extra"] = deep
    path = tmp_path / "deep-but-fine.json"
    path.write_text(json.dumps(doc))
    data = auditlib.load(path)
    assert _errors(data) == [] and len(data.vulnerabilities) == 1


def test_files_read_ahead_are_bounded_in_bytes_and_keep_their_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "PREFETCH_BYTES", 1)  # one file read ahead at a time
    names = []
    for i in range(8):
        doc = json.loads(json.dumps(TRIVY))
        doc["Metadata"]["ImageID"] = f"sha256:{i:064d}"
        (tmp_path / f"{i}.json").write_text(json.dumps(doc))
        names.append(str(tmp_path / f"{i}.json"))
    (tmp_path / "3-broken.json").write_text("{")
    (tmp_path / "5-notes").write_text("notes")
    data = auditlib.load(tmp_path, workers=1)
    assert data.scans["source"].tolist() == names
    assert [Path(f.path).name for f in data.files] == [
        "0.json", "1.json", "2.json", "3-broken.json", "3.json", "4.json", "5-notes", "5.json",
        "6.json", "7.json",
    ]
