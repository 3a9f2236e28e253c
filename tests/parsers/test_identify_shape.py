"""Documents trimmed to their main section are told by the shape of what they still have.

Each case takes a corpus document, keeps only its main section (as DefectDojo's fixtures keep only a
Grype report's `matches`), writes it to tmp_path and reads it: the format is the same, the scan is
marked `format_inferred`, and the finding and package rows are those of the full document, less
what only the header said (the image and target, and the columns listed per case). A document whose
shape fits several formats is refused with the candidates named.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from tests.conftest import CorpusLoader
from tests.parsers.test_grype_json import _match

ROWS = ("vulnerabilities", "packages", "package_licenses", "misconfigurations", "secrets")

HEADER_ONLY = ("scan_id", "source", "source_format", "collected_at", "image_id", "target")
"""Columns a trimmed document cannot give as the full one does: provenance, and the image and
target the header names."""

_HARBOR = "application/vnd.security.vulnerability.report; version=1.1"

# (corpus file, format, the keys kept (None: all but `bomFormat`), key the report is under,
#  columns that also come from the header, and why)
CASES: list[tuple[str, str, tuple[str, ...] | None, str | None, tuple[str, ...]]] = [
    ("grype-json/dd-grype-0.28.0-check-all-fields.json", "grype-json", ("matches",), None, ()),
    ("grype-json/dd-grype-0.7.0-debian-327-matches.json", "grype-json", ("matches",), None, ()),
    ("grype-json/dd-grype-0.94.0-epss.json", "grype-json", ("matches",), None, ()),
    # Grype 0.87+ writes `knownExploited` only when non-empty, so in its report an absent list
    # means "not in KEV"; `descriptor.version` says which Grype wrote it. Without the header, and
    # no match carrying KEV, EPSS or risk data, an absent list says nothing: unknown, not false.
    ("grype-json/dd-grype-0.96.0-image-35-matches.json", "grype-json", ("matches",), None,
     ("is_known_exploited",)),
    ("trivy-json/dd-schema2-alpine-jar-5vulns.json", "trivy-json", ("Results",), None, ()),
    ("trivy-json/dd-schema2-misconfig-and-secrets.json", "trivy-json", ("Results",), None, ()),
    ("trivy-json/trivy-0.76.0-licenses-pkgs-debian-bookworm-image.json", "trivy-json",
     ("Results",), None, ()),
    ("syft-json/syft-1.18.1-schema-16-debian-bookworm-image.json", "syft-json",
     ("artifacts", "artifactRelationships"), None, ()),
    ("syft-json/syft-0.101.1-schema-13.0.0-alpine.json", "syft-json", ("artifacts",), None, ()),
    ("cyclonedx-json/dd-cdx-1.4-grype-0.41.0-log4j.json", "cyclonedx-json", None, None, ()),
    ("cyclonedx-json/trivy-0.76.0-cdx-debian-bookworm-image.json", "cyclonedx-json",
     ("components", "dependencies"), None, ()),
    ("cyclonedx-json/dd-cdx-1.5-trivy-0.48.1-issue9277.json", "cyclonedx-json",
     ("components", "vulnerabilities", "dependencies"), None, ()),
    ("spdx-json/syft-1.18.1-spdx-debian-bookworm-image.json", "spdx-json",
     ("packages", "relationships"), None, ()),
    ("sarif/trivy-sarif-native-head-alpine-310.sarif", "sarif", ("runs",), None, ()),
    ("other/dd-dockle-json-3-findings.json", "dockle-json", ("details",), None, ()),
    ("other/dd-harbor-trivy-vulns.json", "harbor-json", ("vulnerabilities",), _HARBOR, ()),
]


def _trim(doc: dict[str, Any], keep: tuple[str, ...] | None, under: str | None) -> dict[str, Any]:
    if under is not None:
        doc = doc[under]
    if keep is None:
        return {k: v for k, v in doc.items() if k != "bomFormat"}
    return {k: doc[k] for k in keep if k in doc}


def _errors(data: auditlib.AuditData) -> list[str]:
    errors = data.load_errors
    return errors.loc[errors["level"] == "error", "reason"].tolist()


def _rows(df: pd.DataFrame, drop: tuple[str, ...]) -> pd.DataFrame:
    return df.drop(columns=[*HEADER_ONLY, *drop], errors="ignore").reset_index(drop=True)


@pytest.mark.corpus
@pytest.mark.parametrize(("rel", "fmt", "keep", "under", "from_header"), CASES,
                         ids=[c[0].split("/")[1] for c in CASES])
def test_trimmed_document_gives_the_rows_of_the_full_one(
    corpus: type[CorpusLoader], tmp_path: Path, rel: str, fmt: str,
    keep: tuple[str, ...] | None, under: str | None, from_header: tuple[str, ...],
) -> None:
    path = corpus.path(rel)
    full = auditlib.load(path)
    trimmed_path = tmp_path / path.name
    trimmed_path.write_text(json.dumps(_trim(json.loads(path.read_bytes()), keep, under)))
    trimmed = auditlib.load(trimmed_path)

    assert not _errors(full) and not _errors(trimmed), _errors(trimmed)
    assert full.scans["format"].tolist() == trimmed.scans["format"].tolist() == [fmt]
    assert full.scans["format_inferred"].tolist() == [False]
    assert trimmed.scans["format_inferred"].tolist() == [True]
    found = 0
    for table in ROWS:
        want, got = getattr(full, table), getattr(trimmed, table)
        found += len(want)
        pd.testing.assert_frame_equal(_rows(got, from_header), _rows(want, from_header),
                                      check_categorical=False, obj=table)
    assert found > 0, "a case with no rows tells nothing"


# --- what is not told ----------------------------------------------------------------------------


def _trivy_result() -> dict[str, Any]:
    return {"Target": "alpine:3.19 (alpine 3.19.1)", "Class": "os-pkgs", "Type": "alpine",
            "Vulnerabilities": [{"VulnerabilityID": "CVE-2024-0001", "PkgName": "musl",
                                 "InstalledVersion": "1.2.4-r2", "Severity": "HIGH"}]}


AMBIGUOUS = [
    ("grype-and-trivy", {"matches": [_match()], "Results": [_trivy_result()]},
     "ambiguous: could be trivy-json or grype-json; "),
    # A vulnerability with CycloneDX `ratings` and Harbor's `package`/`version`/`severity`.
    ("cyclonedx-or-harbor", {"vulnerabilities": [
        {"id": "CVE-2024-0001", "package": "openssl", "version": "3.0.1", "severity": "High",
         "ratings": [{"severity": "high"}]}]},
     "ambiguous: could be cyclonedx-json or harbor-json; "),
]


@pytest.mark.parametrize(("doc", "words"), [c[1:] for c in AMBIGUOUS],
                         ids=[c[0] for c in AMBIGUOUS])
def test_a_document_of_several_shapes_is_refused_naming_them(
    tmp_path: Path, doc: dict[str, Any], words: str,
) -> None:
    path = tmp_path / "trimmed.json"
    path.write_text(json.dumps(doc))
    data = auditlib.load(path)
    assert data.scans.empty and data.vulnerabilities.empty
    [reason] = _errors(data)
    assert reason.startswith(f"{path}: {words}")
    assert "`matchDetails`" in reason or "`ratings`" in reason  # each candidate's shape is named


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        # An empty main section has no shape: `{"matches": []}` could be anything, and read as
        # Grype it would say the image was scanned and is clean.
        ({"matches": []}, "not a recognised scanner report or SBOM"),
        ({"matches": [{"vulnerability": {"id": "x"}}]}, "not a recognised scanner report or SBOM"),
        ({"Results": [{"Name": "x"}]}, "not a recognised scanner report or SBOM"),
        # A version the shape tells is checked as a header's would be.
        ({"specVersion": "1.1", "components": []}, "cyclonedx-json version 1.1 is not supported"),
    ],
)
def test_what_the_shape_does_not_tell(tmp_path: Path, doc: dict[str, Any], words: str) -> None:
    path = tmp_path / "trimmed.json"
    path.write_text(json.dumps(doc))
    assert words in " ".join(_errors(auditlib.load(path)))


def test_a_header_decides_before_any_shape(tmp_path: Path) -> None:
    # A Trivy report that also carries Grype-shaped matches is Trivy's: its header says so.
    doc = {"SchemaVersion": 2, "Results": [_trivy_result()], "matches": [_match()]}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(doc))
    scans = auditlib.load(path).scans
    assert scans["format"].tolist() == ["trivy-json"]
    assert scans["format_inferred"].tolist() == [False]
