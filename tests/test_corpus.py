"""Every file of the real-tool corpus: read without error, except malformed/ and refused kinds."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import auditlib
from tests.conftest import CORPUS, _corpus_missing

pytestmark = pytest.mark.corpus

BOOKWORM_IMAGE_ID = "sha256:dde33cad6cb4d17f6e0fc0abac6c4153b750d4ddb25533686f480400a692160f"

# Documents auditlib refuses on purpose, with the words the error must contain.
REFUSED = {
    "trivy-json/dd-k8s-resources-issue10991.json": "kubernetes",
    "trivy-json/dd-k8s-summary-cluster-vulns-misconfigs.json": "kubernetes",
    "other/dd-anchore-engine-2.4.1-vulns.json": "anchore engine reports are not supported",
    "other/dd-anchorectl-vulns.json": "anchorectl reports are not supported",
    "other/dd-clair-few-vulns.json": "clair-scanner reports are not supported",
    "other/dd-twistlock-json-vulns.json": "twistlock",
}


def _manifest() -> list[str]:
    if not CORPUS.is_dir():
        return []
    with (CORPUS / "MANIFEST.tsv").open() as f:
        return [row["file"] for row in csv.DictReader(f, delimiter="\t")]


@pytest.fixture(scope="module")
def everything() -> auditlib.AuditData:
    if not CORPUS.is_dir():
        _corpus_missing()
    return auditlib.load(CORPUS)


def _result(data: auditlib.AuditData, rel: str) -> auditlib.FileResult:
    return next(f for f in data.files if Path(f.path) == CORPUS / rel)


@pytest.mark.parametrize("rel", _manifest())
def test_corpus_file(everything: auditlib.AuditData, rel: str) -> None:
    res = _result(everything, rel)
    assert res.skipped is None
    if rel.startswith("malformed/"):
        assert res.error, f"{rel} should give an error"
    elif rel in REFUSED:
        assert res.error and REFUSED[rel] in res.error.lower()
        assert "not supported" in res.error
    else:
        assert res.error is None, res.error
        assert res.format is not None and res.format != "unsupported"
        assert res.rows.get("scans") == 1


def test_every_corpus_file_is_in_the_manifest(everything: auditlib.AuditData) -> None:
    listed = {CORPUS / rel for rel in _manifest()}
    read = {Path(f.path) for f in everything.files if f.skipped is None}
    assert read == listed
    skipped = sorted(Path(f.path).name for f in everything.files if f.skipped)
    assert skipped == [
        "MANIFEST.tsv",
        "README.md",
        "STATS.tsv",
        "debian-latest-secret-env.Dockerfile",
    ]


def test_spdx_3_error_names_the_version(everything: auditlib.AuditData) -> None:
    assert "SPDX 3.0 is not supported" in (
        _result(everything, "malformed/dd-spdx-3.0-unsupported.json").error or ""
    )


def test_bookworm_outputs_of_trivy_and_syft_join_on_one_image_id(
    everything: auditlib.AuditData,
) -> None:
    scans = everything.scans
    bookworm = scans[scans["source"].str.contains("debian-bookworm-image")]
    by_name = {
        Path(s).name: i for s, i in zip(bookworm["source"], bookworm["image_id"], strict=True)
    }
    for name in (
        "trivy-0.76.0-licenses-pkgs-debian-bookworm-image.json",
        "trivy-0.76.0-cdx-debian-bookworm-image.json",
        "syft-1.18.1-schema-16-debian-bookworm-image.json",
    ):
        assert by_name[name] == BOOKWORM_IMAGE_ID, name
    images = everything.images
    assert (images["image_id"] == BOOKWORM_IMAGE_ID).sum() >= 3
    pk = everything.packages
    per_scan = pk[pk["image_id"] == BOOKWORM_IMAGE_ID].groupby("source_format")["name"].nunique()
    assert (per_scan >= 80).all(), per_scan


def test_tables_have_declared_dtypes(everything: auditlib.AuditData) -> None:
    from auditlib.tables import DATA_TABLES, has_dtype

    for t in DATA_TABLES:
        df = getattr(everything, t.name)
        assert list(df.columns) == t.column_names, t.name
        for c in t.columns:
            assert has_dtype(df[c.name], c.dtype), f"{t.name}.{c.name}"


def test_no_secret_text_reaches_any_table(everything: auditlib.AuditData) -> None:
    # Secrets found by Trivy in the corpus: their Match/Code text must not be stored anywhere.
    needles = ["ghp_", "AKIA", "BEGIN RSA PRIVATE KEY", "BEGIN OPENSSH PRIVATE KEY"]
    for name, df in everything.tables().items():
        if name == "load_errors":
            continue
        for col in df.columns:
            if str(df[col].dtype) != "string":
                continue
            text = df[col].dropna()
            for n in needles:
                hit = text[text.str.contains(n, regex=False)]
                assert hit.empty, f"{name}.{col} holds secret-like text {n!r}: {hit.iloc[0][:80]!r}"
