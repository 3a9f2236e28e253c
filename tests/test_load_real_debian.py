"""The corpus's real Trivy 0.76 and Syft 1.18 documents of one Debian image give the tables a plain
reading of their JSON gives: what the loader's fast paths (licences classified id by id, shards
read in this process and in workers, empty parts left out of joins) must never change.

The expected values are worked out here from the raw JSON with the standard `json` module and the
licence parser run on each whole expression, not with the loader's own helpers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from tests.conftest import corpus_path

TRIVY = "trivy-json/trivy-0.76.0-licenses-pkgs-debian-bookworm-image.json"
SYFT = "syft-json/syft-1.18.1-schema-16-debian-bookworm-image.json"


def _parse_whole(text: str | None) -> tuple[str | None, str]:
    """Return (SPDX expression, class) of `text` by the licence parser on the whole text."""
    from auditlib.normalize import licenses

    if text is None:
        return None, "unknown"
    lic = licenses._licensing()
    try:
        parsed = lic.parse(text, validate=False, simple=False)
    except Exception:  # noqa: BLE001 - license-expression raises plain errors too
        return None, licenses._class_of_key(text)  # not an expression: classified by its start
    unknown = [k for k in lic.unknown_license_keys(parsed) if not k.startswith("LicenseRef-")]
    return (None if unknown else str(parsed)), licenses._classify_node(parsed)


def _joined(texts: list[str]) -> str | None:
    distinct = list(dict.fromkeys(t for t in texts if t))
    if not distinct:
        return None
    return " AND ".join(t if " " not in t else f"({t})" for t in distinct)


def _raw(relpath: str) -> Any:
    return json.loads(Path(corpus_path(relpath)).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def loaded() -> auditlib.AuditData:
    data = auditlib.load(corpus_path(TRIVY), corpus_path(SYFT), workers=1)
    assert not (data.load_errors["level"] == "error").any()
    return data


def _rows(df: pd.DataFrame, fmt: str) -> pd.DataFrame:
    return df[df["source_format"].astype(str).str.startswith(fmt)].reset_index(drop=True)


def test_trivy_packages_and_licences_are_read_as_the_json_says(loaded: auditlib.AuditData) -> None:
    raw = _raw(TRIVY)
    pkgs = [p for r in raw["Results"] for p in r.get("Packages") or []]
    table = _rows(loaded.packages, "trivy-json")
    assert table["name"].astype(str).tolist() == [p["Name"] for p in pkgs]
    assert table["package_id"].astype(str).tolist() == [p["Identifier"]["UID"] for p in pkgs]
    for p, (_, row) in zip(pkgs, table.iterrows(), strict=True):
        spdx, cls = _parse_whole(_joined(p.get("Licenses") or []))
        assert (None if pd.isna(row["license_expression"]) else row["license_expression"]) == spdx
        assert row["license_class"] == cls, p["Name"]
    lic = _rows(loaded.package_licenses, "trivy-json")
    declared = lic[lic["license_source"] == "declared"]
    expected = [(p["Identifier"]["UID"], n) for p in pkgs
                for n in dict.fromkeys(x for x in p.get("Licenses") or [] if x)]
    assert list(zip(declared["package_id"].astype(str), declared["license"].astype(str),
                    strict=True)) == expected
    found = [x for r in raw["Results"] if r.get("Class") == "license" for x in r["Licenses"]]
    assert (lic["license_source"] == "scanner").sum() == len(found) == 589


def test_syft_packages_and_licences_are_read_as_the_json_says(loaded: auditlib.AuditData) -> None:
    arts = _raw(SYFT)["artifacts"]
    table = _rows(loaded.packages, "syft-json")
    assert table["package_id"].astype(str).tolist() == [a["id"] for a in arts]
    for a, (_, row) in zip(arts, table.iterrows(), strict=True):
        declared = [lc.get("spdxExpression") or lc["value"] for lc in a["licenses"]
                    if lc.get("type", "declared") == "declared"]
        spdx, cls = _parse_whole(_joined(declared))
        assert (None if pd.isna(row["license_expression"]) else row["license_expression"]) == spdx
        assert row["license_class"] == cls, a["name"]
    lic = _rows(loaded.package_licenses, "syft-json")
    pairs = {(a["id"], lc["value"], lc.get("type", "declared")) for a in arts
             for lc in a["licenses"] if lc.get("spdxExpression") or lc["value"]}
    assert len(lic) == len(pairs)


def test_workers_read_the_real_documents_as_one_process_does(loaded: auditlib.AuditData) -> None:
    # Two workers: this process reads one shard, a worker process the other.
    two = auditlib.load(corpus_path(TRIVY), corpus_path(SYFT), workers=2)
    for name, df in loaded.tables().items():
        cols = [c for c in df.columns if c != "collected_at"]
        pd.testing.assert_frame_equal(df[cols].astype(object),
                                      getattr(two, name)[cols].astype(object), obj=name)
