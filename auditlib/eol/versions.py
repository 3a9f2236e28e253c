"""From what a scanner says about an image's OS to an endoflife.date product and release cycle.

Trivy, Grype and Syft name distributions differently (`redhat`/`rhel`, `amazon`/`amzn`/
`amazonlinux`, `ol`/`oracle`/`oraclelinux`, `opensuse-leap`/`opensuse.leap`...) and give versions
as a release (`12.5`, `3.18.4`, `7.9.2009`, `2023.5.20240624.0`) or a codename (`bookworm`). This
module maps both to a product of the table and the candidate cycles to try, most specific first.
Rolling distributions (Wolfi, Chainguard, Arch, Tumbleweed, Alpine edge, Debian sid) have no end of
life and map to nothing.
"""

from __future__ import annotations

import re

# Scanner OS family (lowercased) -> endoflife.date product, as named in auditlib's table.
FAMILY_PRODUCTS: dict[str, str] = {
    "alpine": "alpine", "alpinelinux": "alpine", "alpine-linux": "alpine",
    "debian": "debian",
    "ubuntu": "ubuntu",
    "redhat": "rhel", "rhel": "rhel", "red hat enterprise linux": "rhel", "ubi": "rhel",
    "centos": "centos", "centos-stream": "centos-stream", "centos stream": "centos-stream",
    "amazon": "amazon-linux", "amzn": "amazon-linux", "amazonlinux": "amazon-linux",
    "amazon-linux": "amazon-linux", "amazon linux": "amazon-linux",
    "rocky": "rocky-linux", "rockylinux": "rocky-linux", "rocky-linux": "rocky-linux",
    "almalinux": "almalinux", "alma": "almalinux", "alma-linux": "almalinux",
    "ol": "oracle-linux", "oracle": "oracle-linux", "oraclelinux": "oracle-linux",
    "oracle-linux": "oracle-linux",
    "opensuse-leap": "opensuse", "opensuse.leap": "opensuse", "opensuse leap": "opensuse",
    "opensuse": "opensuse",
    "sles": "sles", "sles_sap": "sles", "sled": "sles", "suse linux enterprise server": "sles",
    "fedora": "fedora",
    "photon": "photon",
}

# Families with no release cycles: nothing ever reaches an end of life.
ROLLING = frozenset({
    "wolfi", "chainguard", "arch", "archlinux", "gentoo", "opensuse-tumbleweed",
    "opensuse.tumbleweed", "opensuse tumbleweed", "tumbleweed",
})

# Products whose cycles are major versions only: `9.3` is cycle 9, even if a table also lists
# minor releases (endoflife.date's RHEL page does).
_MAJOR_ONLY = frozenset({
    "rhel", "centos", "centos-stream", "rocky-linux", "almalinux", "oracle-linux", "fedora",
    "debian",
})

# Codenames in case a table lacks them (Debian's next, `forky`, has no cycle yet: no match).
_CODENAMES: dict[str, dict[str, str]] = {
    "debian": {"squeeze": "6", "wheezy": "7", "jessie": "8", "stretch": "9", "buster": "10",
               "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14"},
}

_NUM = re.compile(r"^\s*v?(\d+)(?:\.(\d+))?")
_SLES_SP = re.compile(r"^\s*(\d+)[\s._-]*sp(\d+)", re.IGNORECASE)
_AMAZON_AMI = re.compile(r"(?:^|\s)(20[01]\d\.\d\d)\b")


def product_for(os_family: str | None) -> str | None:
    """Return the table's product for a scanner's OS family, or None (unknown or rolling)."""
    if not os_family:
        return None
    family = os_family.strip().lower()
    if family in ROLLING:
        return None
    return FAMILY_PRODUCTS.get(family)


def is_rolling(os_family: str | None, os_version: str | None) -> bool:
    """Return True for a rolling release: a rolling family, Alpine edge, or Debian testing/sid."""
    family = (os_family or "").strip().lower()
    version = (os_version or "").strip().lower()
    if family in ROLLING:
        return True
    if family in ("alpine", "alpinelinux", "alpine-linux") and version.startswith("edge"):
        return True
    return family == "debian" and (version in ("sid", "unstable", "testing")
                                   or version.endswith("/sid"))


def candidate_cycles(product: str, os_version: str, codenames: dict[str, str]) -> list[str]:
    """Return the cycles `os_version` may belong to, most specific first.

    `codenames` maps lowercased codenames (first word: `jammy`, `bookworm`) to cycles, as read
    from the table; a few Debian ones are built in. Returns [] when nothing version-like is found.
    """
    version = os_version.strip()
    lowered = version.lower()
    word = lowered.split()[0] if lowered.split() else ""
    named = codenames.get(word) or _CODENAMES.get(product, {}).get(word)
    if named:
        return [named]
    if product == "amazon-linux":
        return _amazon(lowered)
    if product == "sles" and (sp := _SLES_SP.match(lowered)):
        return [f"{sp.group(1)}.{sp.group(2)}"]
    m = _NUM.match(lowered)
    if not m:
        return []
    major, minor = m.group(1), m.group(2)
    if product in _MAJOR_ONLY:
        return [major]
    out = [f"{major}.{minor}"] if minor is not None else []
    if product == "photon" and minor is None:
        out.append(f"{major}.0")
    return [*out, major]


def _amazon(version: str) -> list[str]:
    """Amazon Linux: `2`, `2 (Karoo)`, `2.0.2024...` -> 2; `2023.5...` -> 2023; AMI `2018.03`."""
    if ami := _AMAZON_AMI.search(version):
        return [ami.group(1)]
    if version.startswith("2023"):
        return ["2023"]
    if re.match(r"^2(?:\D|$)", version):
        return ["2"]
    if re.match(r"^1(?:\D|$)", version):
        return ["2018.03"]  # Amazon Linux 1 is the AMI line, whose last release is 2018.03
    return []
