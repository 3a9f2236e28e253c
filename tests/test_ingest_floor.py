"""The floor section of the ingest benchmark (benchmarks/ingest_floor.py): it counts each
format's records from the leanest model and prints one line of ratios per format. (Times are
printed by the benchmark, never asserted here.)"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from ingest_floor import HEADER, floor_line  # noqa: E402


def _grype(matches: int) -> bytes:
    return orjson.dumps({"matches": [
        {"vulnerability": {"id": f"CVE-2024-{i}", "severity": "High", "urls": ["u"] * 3},
         "artifact": {"name": f"pkg{i}", "version": "1.0", "type": "deb", "locations": []}}
        for i in range(matches)], "source": {"type": "image"}})


def _trivy(vulns: int, packages: int) -> bytes:
    return orjson.dumps({"SchemaVersion": 2, "Results": [
        {"Target": "t", "Vulnerabilities": [{"VulnerabilityID": f"CVE-{i}", "PkgName": "a",
                                             "InstalledVersion": "1", "Severity": "LOW"}
                                            for i in range(vulns)],
         "Packages": [{"Name": f"p{i}", "Version": "1"} for i in range(packages)]},
        {"Target": "u", "Class": "lang-pkgs"}]})


@pytest.mark.parametrize(("folder", "docs", "records"), [
    ("grype", [_grype(3), _grype(4)], 7),
    ("trivy", [_trivy(2, 5), _trivy(0, 1)], 8),
])
def test_a_floor_line_counts_the_records_of_every_document(
        tmp_path: Path, folder: str, docs: list[bytes], records: int) -> None:
    d = tmp_path / folder
    d.mkdir()
    paths = []
    for i, b in enumerate(docs):
        (d / f"{i}.json").write_bytes(b)
        paths.append(d / f"{i}.json")
    line = floor_line(f"{folder} test", paths, 0.5)
    fields = line.split()
    assert line.startswith(f"{folder} test")
    assert fields[2:4] == [str(len(docs)), str(records)]
    # label (two words), docs, records, orjson s, five ratios, us/record, row us
    assert len(fields) == 12, (HEADER, line)
    assert all(f.endswith("x") and float(f[:-1]) >= 0 for f in fields[5:10])
    assert fields[10] == "none" or float(fields[10]) > 0
    assert float(fields[11]) > 0


def test_a_folder_of_no_known_format_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "other"
    d.mkdir()
    (d / "a.json").write_bytes(b"{}")
    with pytest.raises(KeyError, match="other: no leanest model"):
        floor_line("other", [d / "a.json"], 0.5)
