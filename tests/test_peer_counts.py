"""The peers' own finding counts (MANIFEST.tsv `peer_expectation`) against auditlib's, file by file.

DefectDojo, SecObserve and the tools' own golden tests count findings of the corpus files; for each
file whose expectation gives a count, auditlib's count of the same thing must equal it, or the
difference is written down here, precisely, with the reason. A finding is a `vulnerabilities` row
(one per document, target, vulnerability, package and place, the matches of several matchers
merged), a failed `misconfigurations` row, a `secrets` row, or a licence a scanner flagged
(`package_licenses` from `scanner`), as DefectDojo turns each into a finding. Dockle's IGNORE
checkpoints are kept as misconfigurations of status `exception`, which DefectDojo drops: failed
ones are counted (dd-dockle-json-3-findings.json has 4 details, 3 findings).
"""

from __future__ import annotations

import csv
import re

import pytest

import auditlib
from tests.conftest import CORPUS, CorpusLoader
from tests.test_corpus import REFUSED

pytestmark = pytest.mark.corpus

# "...: 93 findings", "(6 matches: ...", "; 1 observation", "(2 components, 2 vulnerabilities)";
# not "3 of 6 results have ...", which counts no findings.
_COUNT = re.compile(
    r"(?:^|[:;(,]\s*)(\d+) (findings?|observations?|matches|results|vulnerabilities)\b"
)

READ_BY_THE_PEER_ONLY: dict[str, str] = {
    # DefectDojo reads JSON `null` as a Trivy report with no findings. auditlib refuses it (a
    # `load_errors` error, no scan): nothing in it says a scan ran, and an empty scan would count
    # the image as scanned and clean. Both count 0 findings.
    "malformed/dd-trivy-legacy-null.json": "JSON null",
}
"""Files the peer reads and auditlib refuses, with words of auditlib's error."""


def _expectations() -> list[tuple[str, int]]:
    if not CORPUS.is_dir():
        return []
    out = []
    with (CORPUS / "MANIFEST.tsv").open() as f:
        for row in csv.DictReader(f, delimiter="\t"):
            m = _COUNT.search(row["peer_expectation"])
            if m:
                out.append((row["file"], int(m.group(1))))
    return out


def findings(data: auditlib.AuditData) -> int:
    """Return the findings of `data` as the peers count them (see the module docstring)."""
    mis = data.misconfigurations
    lic = data.package_licenses
    return (len(data.vulnerabilities) + int((mis["status"] == "fail").sum()) + len(data.secrets)
            + int((lic["license_source"] == "scanner").sum()))


def test_the_manifest_gives_counts() -> None:
    counted = dict(_expectations())
    if not counted:
        pytest.skip("corpus absent")
    assert counted["grype-json/dd-grype-0.28.0-check-all-fields.json"] == 5
    assert "trivy-json/dd-legacy-v1-list-mix-6-targets.json" not in counted  # "3 of 6 results"
    assert len(counted) >= 40


@pytest.mark.parametrize(("rel", "peer"), _expectations())
def test_auditlib_counts_what_the_peer_counts(
    corpus: type[CorpusLoader], rel: str, peer: int
) -> None:
    data = corpus.load(rel, allow_error=True)
    errors = data.load_errors[data.load_errors["level"] == "error"]
    if rel in REFUSED:
        # A kind auditlib does not read (trivy k8s, anchore, clair, twistlock): the peer's count
        # cannot be compared; the file is refused with a message naming the kind.
        assert len(errors) == 1 and "not supported" in errors.iloc[0]["reason"]
        return
    if rel in READ_BY_THE_PEER_ONLY:
        assert len(errors) == 1 and READ_BY_THE_PEER_ONLY[rel] in errors.iloc[0]["reason"]
        assert findings(data) == peer == 0
        return
    assert errors.empty, errors["reason"].tolist()
    assert findings(data) == peer


def test_dd_check_all_fields_merges_the_two_matches_of_one_finding(
    corpus: type[CorpusLoader],
) -> None:
    # 6 matches, 5 findings: DefectDojo counts GHSA-v6rh-hp5x-86rv in Django 3.2.9 once, with
    # nb_occurences 2; so does auditlib (occurrence_count 2).
    v = corpus.load("grype-json/dd-grype-0.28.0-check-all-fields.json").vulnerabilities
    assert len(v) == 5
    ghsa = v[v["vuln_id"] == "GHSA-v6rh-hp5x-86rv"]
    assert ghsa["occurrence_count"].tolist() == [2] and ghsa["matchers"].tolist() == [
        "python-matcher"]
    assert v["occurrence_count"].sum() == 6
    # One match found by two matchers is one entry: both are named.
    redis = v[v["vuln_id"] == "CVE-2021-32626"]
    assert redis["matchers"].tolist() == ["python-matcher, python2-matcher"]
    assert redis["occurrence_count"].tolist() == [1]
