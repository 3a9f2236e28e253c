"""Ids around a vulnerability: weaknesses written as `CWE-<number>`, and the database an
advisory id belongs to.

Scanners write a weakness in several shapes: Trivy, Grype and Harbor as `CWE-79`, CycloneDX as the
bare number `79`, SARIF producers as a rule tag (`CWE-79`, or GitHub's `external/cwe/cwe-079`).
NVD's two placeholders, `NVD-CWE-Other` and `NVD-CWE-noinfo`, are kept as NVD writes them: they
say something (no CWE fits, too little is known), but they are no CWE number.
"""

from __future__ import annotations

import re
from functools import lru_cache

_CWE = re.compile(r"(?:external/cwe/)?cwe[-_ ]?0*([1-9][0-9]{0,5})", re.IGNORECASE)
_NVD = {"nvd-cwe-other": "NVD-CWE-Other", "nvd-cwe-noinfo": "NVD-CWE-noinfo"}
_PREFIX = re.compile(r"([A-Za-z][A-Za-z0-9]*)-[A-Za-z0-9]")


@lru_cache(maxsize=4096)
def _cwe_text(text: str) -> str | None:
    text = text.strip()
    if text.isascii() and text.isdigit():
        n = int(text)
        return f"CWE-{n}" if 0 < n < 10**6 else None
    m = _CWE.fullmatch(text)
    if m is not None:
        return f"CWE-{m[1]}"
    return _NVD.get(text.lower())


def normalize_cwe(value: object) -> str | None:
    """Return a weakness as `CWE-<number>` (no leading zeros), or NVD's placeholder as NVD writes
    it.

    Args:
        value: `CWE-79`, `cwe-079`, `external/cwe/cwe-079`, `79` or the int 79 (CycloneDX),
            `NVD-CWE-Other`, `NVD-CWE-noinfo`.

    Returns:
        The normalised id; None for anything else (None, a bool, an empty or other text).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"CWE-{value}" if 0 < value < 10**6 else None
    if isinstance(value, str):
        return _cwe_text(value)
    return None


def id_namespace(vuln_id: str) -> str | None:
    """Return the database prefix of a vulnerability or advisory id, as OSV ids name it.

    Returns:
        `CVE` of `CVE-2021-44228`, `GHSA` of `GHSA-jfh8-c2jp-5v3q`, `RHSA` of `RHSA-2019:2304`,
        `ALAS2` of `ALAS2-2023-1234`; None when the id does not start with a prefix and a dash.
    """
    m = _PREFIX.match(vuln_id)
    return m[1] if m is not None else None
