"""The vulnerability records of a synthetic fleet: ids, CVSS 3.1 vectors and scores, texts, dates.

One pool per package family (`deb` for Debian and Ubuntu, `apk`) and per language. A record names a
package; every image holding that package, built before the fix (or at all, when there is no fix),
reports it. Scores are computed from the vectors with the CVSS 3.1 formula, so the two agree.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from auditlib.demo._util import hexid, nvd_time

_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_PR_U = {"N": 0.85, "L": 0.62, "H": 0.27}
_PR_C = {"N": 0.85, "L": 0.68, "H": 0.5}
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}

SEVERITY_BANDS: tuple[tuple[str, float, float, float], ...] = (
    ("CRITICAL", 9.0, 10.0, 6), ("HIGH", 7.0, 8.9, 22), ("MEDIUM", 4.0, 6.9, 44),
    ("LOW", 0.1, 3.9, 26), ("UNKNOWN", 0.0, 0.0, 2),
)
"""(severity, lowest score, highest score, share in percent); UNKNOWN records have no CVSS."""
_UNFIXED = ("affected", "will_not_fix", "fix_deferred", "under_investigation")
_RANK = {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}
_WORD = {v: k for k, v in _RANK.items()}

_FLAWS: tuple[tuple[str, str, str], ...] = (
    ("heap-based buffer overflow", "CWE-787", "execute arbitrary code or crash the process"),
    ("use-after-free", "CWE-416", "execute arbitrary code via a crafted file"),
    ("integer overflow", "CWE-190", "cause a denial of service (application crash)"),
    ("NULL pointer dereference", "CWE-476", "cause a denial of service"),
    ("out-of-bounds read", "CWE-125", "obtain sensitive information from process memory"),
    ("uncontrolled resource consumption", "CWE-400", "exhaust memory and CPU"),
    ("improper input validation", "CWE-20", "bypass intended access restrictions"),
    ("path traversal", "CWE-22", "write files outside the intended directory"),
    ("improper certificate validation", "CWE-295", "spoof servers and read or modify traffic"),
    ("inefficient regular expression complexity", "CWE-1333", "cause a denial of service"),
    ("deserialization of untrusted data", "CWE-502", "execute arbitrary code"),
)
_FUNCS = ("parse_header", "read_chunk", "decode_name", "copy_buffer", "expand_path", "load_config",
          "verify_chain", "inflate_block", "scan_token", "format_entry")
_HOSTS = (
    "https://access.redhat.com/security/cve/{id}",
    "https://nvd.nist.gov/vuln/detail/{id}",
    "https://www.cve.org/CVERecord?id={id}",
    "https://security-tracker.debian.org/tracker/{id}",
    "https://ubuntu.com/security/{id}",
    "https://bugzilla.redhat.com/show_bug.cgi?id={n}",
    "https://security.netapp.com/advisory/ntap-{d}-000{k}/",
    "https://lists.debian.org/debian-lts-announce/{y}/{m}/msg000{k}.html",
    "https://github.com/{p}/{p}/commit/{sha}",
    "https://github.com/{p}/{p}/issues/{k}{n}",
)
_MORE_HOSTS = (
    "https://linux.oracle.com/cve/{id}.html",
    "https://linux.oracle.com/errata/ELSA-{y}-{n}.html",
    "https://access.redhat.com/errata/RHSA-{y}:{n}",
    "https://security.gentoo.org/glsa/{y}{m}-{k}",
    "https://www.openwall.com/lists/oss-security/{y}/{m}/{k}",
    "http://www.openwall.com/lists/oss-security/{y}/{m}/1{k}/{k}",
    "https://ubuntu.com/security/notices/USN-{n}-1",
    "https://www.debian.org/security/{y}/dsa-{n}",
    "https://lists.fedoraproject.org/archives/list/package-announce@lists.fedoraproject.org/message/{sha}/",
    "https://errata.almalinux.org/9/ALSA-{y}-{n}.html",
    "https://cve.mitre.org/cgi-bin/cvename.cgi?name={id}",
    "https://bugs.debian.org/cgi-bin/bugreport.cgi?bug={n}",
    "https://security.netapp.com/advisory/ntap-{d}-001{k}/",
    "https://github.com/advisories/GHSA-{g}",
)
"""Further reference sites: real records list about 15 references (median 13 in the corpus's
Trivy reports), the first hosts give 4 to 9."""

_V2_END = datetime(2022, 7, 13, tzinfo=UTC)
"""NVD stopped scoring new records with CVSS 2 in July 2022; older records carry both."""
_V2_AV = {"N": ("N", 1.0), "A": ("A", 0.646), "L": ("L", 0.395), "P": ("L", 0.395)}
_V2_AC = {"L": ("L", 0.71), "H": ("M", 0.61)}
_V2_AU = {"N": ("N", 0.704), "L": ("S", 0.56), "H": ("S", 0.56)}
_V2_CIA = {"H": ("P", 0.275), "L": ("P", 0.275), "N": ("N", 0.0)}


def cvss31_score(vector: str) -> float:
    """Return the CVSS 3.1 base score of `vector` (`CVSS:3.1/AV:N/AC:L/...`)."""
    m = dict(part.split(":") for part in vector.split("/")[1:])
    changed = m["S"] == "C"
    iss = 1 - (1 - _CIA[m["C"]]) * (1 - _CIA[m["I"]]) * (1 - _CIA[m["A"]])
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    pr = (_PR_C if changed else _PR_U)[m["PR"]]
    expl = 8.22 * _AV[m["AV"]] * _AC[m["AC"]] * pr * _UI[m["UI"]]
    if impact <= 0:
        return 0.0
    raw = min(1.08 * (impact + expl) if changed else impact + expl, 10.0)
    n = round(raw * 100_000)
    return n / 100_000 if n % 10_000 == 0 else (math.floor(n / 10_000) + 1) / 10.0


def cvss2_from_v3(vector: str) -> tuple[str, float]:
    """Return a CVSS 2 vector and its base score (the CVSS 2 formula) close to a 3.1 vector, as
    NVD scored the same record twice before 2022."""
    m = dict(part.split(":") for part in vector.split("/")[1:])
    av, ac, au = _V2_AV[m["AV"]], _V2_AC[m["AC"]], _V2_AU[m["PR"]]
    cia = [("C", "C") if m[k] == "H" and m["S"] == "C" else _V2_CIA[m[k]] for k in "CIA"]
    weight = {"N": 0.0, "P": 0.275, "C": 0.660}
    c, i, a = (weight[x[0]] for x in cia)
    impact = 10.41 * (1 - (1 - c) * (1 - i) * (1 - a))
    expl = 20 * av[1] * ac[1] * au[1]
    score = round((0.6 * impact + 0.4 * expl - 1.5) * (1.176 if impact else 0.0), 1)
    text = f"AV:{av[0]}/AC:{ac[0]}/Au:{au[0]}/" + "/".join(
        f"{k}:{x[0]}" for k, x in zip("CIA", cia, strict=True))
    return text, max(score, 0.0)


def _vector(rng: random.Random, lo: float, hi: float) -> tuple[str, float]:
    best = ("", 0.0)
    for _ in range(60):
        parts = (f"AV:{rng.choices('NALP', (50, 10, 35, 5))[0]}",
                 f"AC:{rng.choices('LH', (75, 25))[0]}", f"PR:{rng.choice('NLH')}",
                 f"UI:{rng.choice('NR')}", f"S:{rng.choices('UC', (85, 15))[0]}",
                 f"C:{rng.choice('HLN')}", f"I:{rng.choice('HLN')}", f"A:{rng.choice('HLN')}")
        vec = "CVSS:3.1/" + "/".join(parts)
        score = cvss31_score(vec)
        if lo <= score <= hi:
            return vec, score
        if abs(score - lo) < abs(best[1] - lo):
            best = (vec, score)
    return best


@dataclass(slots=True)
class Cve:
    """One vulnerability record of a package."""

    id: str
    pkg: str
    """The package name it affects."""
    published: datetime
    fixed_at: datetime | None
    """When the fix shipped; None for no fix."""
    unfixed_status: str
    """Trivy `Status` while there is no fix."""
    severity: str
    """The vendor's severity word."""
    nvd_severity: str
    score: float
    vector: str
    cwe: list[str]
    title: str
    description: str
    references: list[str]
    published_s: str
    modified_s: str
    vendor_id: str | None
    vendor_scored: bool
    """Whether the report takes its severity from the vendor (else from NVD)."""
    v2_vector: str | None = None
    """NVD's CVSS 2 vector, for records published before July 2022."""
    v2_score: float | None = None


def _text(rng: random.Random, vid: str, pkg: str) -> tuple[str, str, list[str], list[str]]:
    flaw, cwe, impact = rng.choice(_FLAWS)
    func = rng.choice(_FUNCS)
    short = pkg.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    a, b = rng.randint(1, 4), rng.randint(0, 30)
    title = f"{short}: {flaw} in {func}()"
    desc = (
        f"A {flaw} flaw was found in {func}() in {short}/{func.split('_')[0]}.c of {short} before "
        f"{a}.{b + 1}. A remote attacker able to supply crafted input to an application that uses "
        f"{short} could {impact}. The highest threat from this vulnerability is to data "
        f"confidentiality and integrity as well as system availability."
    )
    if rng.random() < 0.6:
        desc += (
            f" This issue affects {short} versions {a}.0 through {a}.{b}; applications that do "
            f"not call {func}() on untrusted data are not affected."
        )
    y, m = vid[4:8], f"{rng.randint(1, 12):02d}"
    sha = hexid(vid, "commit", n=40)
    refs = [_HOSTS[i].format(id=vid, n=rng.randint(1_000_000, 2_400_000), d=f"{y}{m}15",
                             k=rng.randint(1, 9), y=y, m=m, p=short.replace(".", "-"), sha=sha)
            for i in sorted(rng.sample(range(len(_HOSTS)), k=rng.randint(4, 9)))]
    more = random.Random(hexid(vid, pkg, "references", n=32))  # apart from the fleet's draws
    g = hexid(vid, "ghsa", n=12)
    refs += [_MORE_HOSTS[i].format(id=vid, n=more.randint(1000, 99999), d=f"{y}{m}15",
                                   k=more.randint(1, 9), y=y, m=m, sha=sha[:32].upper(),
                                   g=f"{g[:4]}-{g[4:8]}-{g[8:]}")
             for i in sorted(more.sample(range(len(_MORE_HOSTS)), k=more.randint(3, 11)))]
    return title, desc, [cwe], refs


def build_pool(seed: int, key: str, names: list[str], weights: list[float], size: int,
               now: datetime, fixable: float, ghsa: bool = False) -> list[Cve]:
    """Return `size` vulnerability records over package `names`.

    Args:
        seed: the fleet seed.
        key: the pool's name (`deb`, `apk`, `npm`, ...), which keeps pools apart.
        names: the package names records may affect.
        weights: how likely each name is to have records.
        size: the number of records.
        now: the fleet's present; records are published over the six years before it.
        fixable: the share of records that have a fix.
        ghsa: whether some records have only a GHSA id (language ecosystems).

    Returns:
        The records.
    """
    rng = random.Random(hexid(seed, "cves", key, n=32))
    bands = SEVERITY_BANDS
    out: list[Cve] = []
    seen: set[str] = set()
    for pkg in rng.choices(names, weights=weights, k=size):
        published = now - timedelta(days=rng.uniform(3, 6 * 365), seconds=rng.randint(0, 86_399))
        vid = f"CVE-{published.year}-{rng.randint(1000, 52999)}"
        if ghsa and rng.random() < 0.15:
            g = hexid(seed, key, len(out), n=12)
            vid = f"GHSA-{g[:4]}-{g[4:8]}-{g[8:12]}"
        if vid in seen:
            continue
        seen.add(vid)
        sev, lo, hi, _ = rng.choices(bands, weights=[b[3] for b in bands])[0]
        vector, score = _vector(rng, lo, hi) if hi > 0 else ("", 0.0)
        fixed_at = None
        if rng.random() < fixable:
            fixed_at = min(now - timedelta(hours=1),
                           published + timedelta(days=rng.expovariate(1 / 25)))
        vendor_rank = max(1, min(4, _RANK[sev] + rng.choice((-1, 0, 0, 0, 1)))) if hi > 0 else 0
        title, desc, cwe, refs = _text(rng, vid, pkg)
        modified = min(now, published + timedelta(days=rng.uniform(1, 400)))
        v2 = cvss2_from_v3(vector) if vector and published < _V2_END else (None, None)
        out.append(Cve(
            id=vid, pkg=pkg, published=published, fixed_at=fixed_at,
            unfixed_status=rng.choices(_UNFIXED, (70, 18, 8, 4))[0], severity=_WORD[vendor_rank],
            nvd_severity=sev, score=score, vector=vector, cwe=cwe, title=title, description=desc,
            references=refs, published_s=nvd_time(published), modified_s=nvd_time(modified),
            vendor_id=f"DSA-{rng.randint(4000, 5900)}-1" if rng.random() < 0.2 else None,
            vendor_scored=rng.random() < 0.6, v2_vector=v2[0], v2_score=v2[1],
        ))
    return out


def vendor_rank(word: str) -> int:
    """Return Trivy's number for a severity word (0 unknown to 4 critical)."""
    return _RANK.get(word, 0)
