"""Severity, fix state, CVSS, licence and user normalisation."""

from __future__ import annotations

import pytest

from auditlib.normalize import (
    CvssScore,
    best_cvss,
    classify_license,
    fix_state_from_grype,
    fix_state_from_trivy,
    normalize_severity,
)
from auditlib.normalize.cvss import cvss_version
from auditlib.normalize.severity import severity_from_score
from auditlib.normalize.users import ROOT_USERS, is_root_user


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CRITICAL", "critical"),
        ("High", "high"),
        ("medium", "medium"),
        ("LOW", "low"),
        ("Negligible", "negligible"),
        ("UNKNOWN", "unknown"),
        ("unspecified", "unknown"),
        ("Info", "negligible"),
        ("moderate", "medium"),
        ("bogus", "unknown"),
        (None, "unknown"),
        (7, "unknown"),
    ],
)
def test_normalize_severity(raw: object, expected: str) -> None:
    assert normalize_severity(raw) == expected


@pytest.mark.parametrize(
    ("status", "fixed", "expected"),
    [
        ("fixed", "1.2", "fixed"),
        ("affected", "", "not-fixed"),
        ("fix_deferred", None, "not-fixed"),
        ("end_of_life", None, "not-fixed"),
        ("will_not_fix", None, "wont-fix"),
        ("under_investigation", None, "unknown"),
        ("not_affected", None, "unknown"),
        ("unknown", None, "unknown"),
        (None, "1.2.3", "fixed"),
        (None, "", "not-fixed"),
    ],
)
def test_fix_state_from_trivy(status: str | None, fixed: str | None, expected: str) -> None:
    assert fix_state_from_trivy(status, fixed) == expected


@pytest.mark.parametrize(
    ("state", "versions", "expected"),
    [
        ("fixed", ["1"], "fixed"),
        ("not-fixed", [], "not-fixed"),
        ("wont-fix", [], "wont-fix"),
        ("unknown", [], "unknown"),
        ("", ["2"], "fixed"),
        ("", [], "unknown"),
        (None, None, "unknown"),
    ],
)
def test_fix_state_from_grype(state: str | None, versions: list[str] | None, expected: str) -> None:
    assert fix_state_from_grype(state, versions) == expected


def test_best_cvss_prefers_newest_version_then_severity_source_then_nvd() -> None:
    v2 = CvssScore(7.5, "AV:N/AC:L/Au:N/C:P/I:P/A:P", "2.0", "nvd")
    v31_nvd = CvssScore(9.8, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.1", "nvd")
    v31_rh = CvssScore(8.1, "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.1", "redhat")
    assert best_cvss([v2, v31_rh, v31_nvd]) == v31_nvd
    assert best_cvss([v2, v31_rh, v31_nvd], prefer_source="redhat") == v31_rh
    assert best_cvss([CvssScore(None, None, None, "x")]) is None
    v4 = CvssScore(
        6.3, "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N", "4.0", "ghsa"
    )
    assert best_cvss([v31_nvd, v4]) == v4


@pytest.mark.parametrize(
    ("vector", "declared", "expected"),
    [
        ("CVSS:3.1/AV:N", None, "3.1"),
        ("CVSS:4.0/AV:N", None, "4.0"),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", None, "2.0"),
        (None, "CVSSv3", "3.0"),
        (None, None, None),
    ],
)
def test_cvss_version(vector: str | None, declared: str | None, expected: str | None) -> None:
    assert cvss_version(vector, declared) == expected


def test_severity_from_score() -> None:
    assert [severity_from_score(s) for s in (9.8, 7.0, 5.0, 0.1, 0.0, None)] == [
        "critical",
        "high",
        "medium",
        "low",
        "negligible",
        "unknown",
    ]


@pytest.mark.parametrize(
    ("text", "spdx", "cls"),
    [
        ("MIT", "MIT", "permissive"),
        ("Apache-2.0", "Apache-2.0", "permissive"),
        ("GPL-2.0-or-later", "GPL-2.0-or-later", "strong-copyleft"),
        ("LGPL-2.1+", "LGPL-2.1-or-later", "weak-copyleft"),
        ("MPL-2.0", "MPL-2.0", "weak-copyleft"),
        ("AGPL-3.0", "AGPL-3.0-only", "network-copyleft"),
        ("MIT OR GPL-3.0-only", "MIT OR GPL-3.0-only", "permissive"),
        ("MIT AND GPL-3.0-only", "MIT AND GPL-3.0-only", "strong-copyleft"),
        ("NOASSERTION", None, "unknown"),
        ("", None, "unknown"),
        (None, None, "unknown"),
        ("LicenseRef-acme-proprietary", "LicenseRef-acme-proprietary", "other"),
        ("BSD-3-Clause AND LicenseRef-Expat", "BSD-3-Clause AND LicenseRef-Expat", "permissive"),
        ("GPL-2+", None, "strong-copyleft"),  # Debian short name: not SPDX, but clearly GPL
    ],
)
def test_classify_license(text: str | None, spdx: str | None, cls: str) -> None:
    info = classify_license(text)
    assert (info.spdx, info.license_class) == (spdx, cls)


_LICENCE_IDS = (
    "MIT", "mit", "Expat", "GPL-2", "GPL-2+", "GPL-2.0", "GPL-2.0+", "GPL-2.0-only",
    "GPL-2.0-or-later", "GPL-3.0-only", "LGPL-2.1+", "LGPL-2.1-or-later", "BSD-3-Clause",
    "BSD-3-clause", "BSD-4-Clause", "BSLA", "public-domain", "Apache-2.0", "Zlib", "ISC",
    "AGPL-3.0-only", "MPL-2.0", "Artistic", "GFDL-1.3+", "LicenseRef-Expat", "LicenseRef-x",
    "PSF-2.0", "EPL-2.0", "0BSD", "Classpath-exception-2.0", "none", "NOASSERTION", "unknown",
    "other", "and", "WITH", "OR", "foo-bar", "GPL-2.0-with-classpath-exception", "X11",
)


def _parse_whole(text: str) -> tuple[str | None, str]:
    """Classify `text` the slow way: the licence parser on the whole expression."""
    from auditlib.normalize import licenses

    lic = licenses._licensing()
    try:
        parsed = lic.parse(text, validate=False, simple=False)
    except Exception:  # noqa: BLE001 - license-expression raises plain errors too
        return None, licenses._class_of_key(text)
    unknown = [k for k in lic.unknown_license_keys(parsed) if not k.startswith("LicenseRef-")]
    return (None if unknown else str(parsed)), licenses._classify_node(parsed)


def test_a_conjunction_of_ids_classifies_as_the_parser_reads_the_whole_expression() -> None:
    # classify_license reads `A AND B AND ...` of plain ids id by id (each parsed once): it must
    # give what parsing the whole expression gives, unknown ids, repeats and operators included.
    import random

    rng = random.Random(13)
    for _ in range(3000):
        parts = [rng.choice(_LICENCE_IDS) for _ in range(rng.randint(2, 7))]
        text = " AND ".join(parts)
        info = classify_license(text)
        assert (info.spdx, info.license_class) == _parse_whole(text), text


@pytest.mark.parametrize(
    ("user", "root"),
    [
        ("", True), ("  ", True), ("root", True), ("0", True), (" root ", True),
        ("0:0", True), ("root:root", True), ("root:0", True), ("0:root", True),
        ("root:wheel", True), ("0:1000", True), (":1000", True), (":", True),
        ("app", False), ("1000", False), ("1000:0", False), ("app:root", False),
        ("rooter", False), ("00x", False), ("nobody:nogroup", False),
    ],
)
def test_is_root_user(user: str, root: bool) -> None:
    assert is_root_user(user) is root


def test_root_users_are_root() -> None:
    assert all(is_root_user(u) for u in ROOT_USERS)

