"""The package universe of a synthetic fleet: every OS and language package an image can hold.

Each package is built once per base OS (or language) with everything about it that does not depend
on the image: versions, licences, owned files with their digests. Images then pick packages from
these universes, so the same package version looks the same in every image that has it.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from auditlib.demo._catalog import (
    APK_LICENSES,
    APK_NAMES,
    DEB_COPYRIGHT_LICENSES,
    DEB_LICENSE_COUNTS,
    DEB_LICENSES,
    DEB_NAMES,
    LANG_LICENSES,
    LANG_NAMES,
    MAINTAINERS,
    SYLLABLES,
    License,
    OsBase,
)
from auditlib.demo._util import hexid

FileRec = tuple[str, str, dict[str, Any], list[dict[str, str]], dict[str, Any] | None]
"""A file a package owns: path, Syft file id, Syft file metadata, digests, executable (or None)."""

_ELF_FEATURES = {"symbolTableStripped": True, "stackCanary": True, "nx": True, "relRO": "full",
                 "pie": True, "dso": True, "safeStack": False}
_ELF = {"format": "elf", "hasExports": True, "hasEntrypoint": True,
        "importedLibraries": ["libc.so.6"], "elfSecurityFeatures": _ELF_FEATURES}
_ELF_LIB = {**_ELF, "hasEntrypoint": False, "elfSecurityFeatures": {**_ELF_FEATURES, "pie": False}}

# (path template, mime type, mode); {n} package name, {j} file number, {L} library folder
_FILE_KINDS: tuple[tuple[str, str, int], ...] = (
    ("/usr/share/man/man1/{n}-{j}.1.gz", "application/gzip", 644),
    ("/usr/share/locale/l{j}/LC_MESSAGES/{n}.mo", "application/octet-stream", 644),
    ("{L}/{n}/plugin{j}.so", "application/x-sharedlib", 644),
    ("/usr/share/{n}/data{j}.txt", "text/plain", 644),
    ("/usr/share/zoneinfo/Region{j}/{n}", "application/tzif", 644),
    ("/usr/share/doc/{n}/NEWS{j}.gz", "application/gzip", 644),
    ("/usr/lib/{n}/helper{j}", "application/x-executable", 755),
    ("/etc/{n}/conf.d/{j}.conf", "text/plain", 644),
)


@dataclass(slots=True)
class Pkg:
    """One package version, as every document that lists it describes it."""

    name: str
    version: str
    ptype: str
    """Purl type: `deb`, `apk`, `npm`, `pypi`, `maven`, `golang`."""
    src_name: str
    src_version: str
    licenses: list[str]
    """Licences as Trivy writes them."""
    syft_licenses: list[tuple[str, str]]
    """(value, spdxExpression) as Syft writes them."""
    maintainer: str
    uid: str
    """Trivy `Identifier.UID`."""
    syft_id: str
    trivy_purl: str
    syft_purl: str
    digest: str | None
    installed_size: int
    core: bool
    """Always installed (packages depend only on core packages)."""
    file_path: str = ""
    """Where a language package was found, without the leading slash (Trivy `FilePath`)."""
    depends: list[Pkg] = field(default_factory=list)
    files: list[FileRec] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)
    """JSON pieces that do not depend on the image, built on first use by the document writers."""

    @property
    def trivy_id(self) -> str:
        """Return Trivy's package id (`name@version`, or `group:artifact:version` for Maven)."""
        return f"{self.name}{':' if self.ptype == 'maven' else '@'}{self.version}"

    def deb_parts(self) -> tuple[int, str, str]:
        """Return the epoch (0 when none), upstream version and Debian revision of a `deb`
        version (`1:2.38.1-5+deb12u3` -> 1, `2.38.1`, `5+deb12u3`), as Trivy splits them into
        `Epoch`, `Version` and `Release`."""
        epoch, _, rest = self.version.rpartition(":")
        upstream, _, release = rest.rpartition("-")
        if not upstream:
            upstream, release = rest, ""
        return int(epoch or 0), upstream, release


def _synthetic_names(rng: random.Random, count: int, style: str,
                     taken: tuple[str, ...] = ()) -> list[str]:
    """Return `count` made-up names, none in `taken` and no two alike."""
    seen, i = set(taken), 0
    out: list[str] = []
    while len(out) < count:
        stem = rng.choice(SYLLABLES) + rng.choice(SYLLABLES)
        lib = f"lib{stem}{i % 10 if i < 2000 else i}"
        name = {"lib": lib, "npm": f"{stem}-kit{i}", "pypi": f"{stem}-client{i}",
                "maven": f"io.demo.synthetic:{stem}-core{i}",
                "golang": f"demo.auditlib.invalid/go/{stem}{i}"}[style]
        i += 1
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def family_names(rng: random.Random, pkg_family: str, size: int) -> list[str]:
    """Return `size` package names of `deb` or `apk`: the real ones first, then made-up ones."""
    real = DEB_NAMES if pkg_family == "deb" else APK_NAMES
    made_up = _synthetic_names(rng, max(0, size - len(real)), "lib", tuple(real))
    return [*real, *made_up][: max(size, 1)]


def _version(rng: random.Random, base: OsBase | None) -> str:
    a, b, c = rng.randint(0, 9), rng.randint(0, 30), rng.randint(0, 20)
    if base is None:
        return f"{a}.{b}.{c}"
    if base.family == "alpine":
        return f"{a}.{b}.{c}-r{rng.randint(0, 8)}"
    if base.family == "ubuntu":
        return f"{a}.{b}.{c}-{rng.randint(1, 9)}ubuntu{rng.randint(0, 5)}.{rng.randint(1, 9)}"
    suffix = f"+deb{base.major}u{rng.randint(1, 9)}" if rng.random() < 0.35 else ""
    return f"{a}.{b}.{c}-{rng.randint(1, 9)}{suffix}"


def bump(version: str) -> str:
    """Return a plausible later version of `version`: the one a fix would ship in."""
    m = re.search(r"(\d+)(\D*)$", version)
    if m is None:
        return version + ".1"
    return f"{version[: m.start(1)]}{int(m.group(1)) + 1 + len(version) % 3}{m.group(2)}"


def _pick_licenses(rng: random.Random, pool: tuple[License, ...]) -> list[License]:
    chosen = rng.choices(pool, weights=[p[3] for p in pool], k=1 if rng.random() < 0.6 else 3)
    return list({p[0]: p for p in chosen}.values())


def _copyright_licenses(seed: int, name: str, first: list[License]) -> list[License]:
    """Return `first` and the further licences a Debian copyright file lists, as many in all as
    a package of the corpus's bookworm SBOM (drawn on a generator of their own, so the rest of
    the fleet is drawn as before)."""
    rng = random.Random(hexid(seed, "copyright", name, n=32))
    want = min(rng.choice(DEB_LICENSE_COUNTS), len(DEB_COPYRIGHT_LICENSES))
    out = {lc[0]: lc for lc in first}
    weights = [lc[3] for lc in DEB_COPYRIGHT_LICENSES]
    while len(out) < want:
        lc = rng.choices(DEB_COPYRIGHT_LICENSES, weights=weights)[0]
        out.setdefault(lc[0], lc)
    return list(out.values())


def _epoch(seed: int, name: str) -> int:
    """Return the epoch of a Debian package: 0 for most, 1 or 2 for about one in eight (11 of 88
    in the corpus's bookworm image), the same in every release."""
    roll = int(hexid(seed, "epoch", name, n=4), 16) % 100
    return 2 if roll < 2 else 1 if roll < 12 else 0


def _deb_purl(ns: str, name: str, version: str, qualifiers: str, *, epoch_inline: bool) -> str:
    """Return a `deb` purl as Trivy (`epoch` a qualifier) or Syft (epoch in the version) writes
    it; `+` in the version is percent-encoded, as both do."""
    epoch, _, rest = version.rpartition(":")
    if epoch_inline:
        return f"pkg:deb/{ns}/{name}@{quote(version, safe=':')}{qualifiers}"
    return f"pkg:deb/{ns}/{name}@{quote(rest, safe='')}{qualifiers}" + (
        f"&epoch={epoch}" if epoch else "")


def _files(seed: int, key: str, name: str, version: str, count: int, apk: bool) -> list[FileRec]:
    lib = "/usr/lib" if apk else "/usr/lib/x86_64-linux-gnu"
    first = f"/usr/share/licenses/{name}/LICENSE" if apk else f"/usr/share/doc/{name}/copyright"
    paths = [(first, "text/plain", 644)]
    if count > 1 and name.startswith("lib"):
        paths.append((f"{lib}/{name}.so.{len(name) % 7}", "application/x-sharedlib", 644))
    elif count > 1:
        paths.append((f"/usr/bin/{name}", "application/x-sharedlib", 755))
    for j in range(2, count):
        tmpl, mime, mode = _FILE_KINDS[(j + len(name)) % len(_FILE_KINDS)]
        paths.append((tmpl.format(n=name, j=j, L=lib), mime, mode))
    out: list[FileRec] = []
    for path, mime, mode in paths:
        h = hexid(seed, key, version, path, n=104)
        size = 64 + int(h[:6], 16) % (400_000 if "sharedlib" in mime else 40_000)
        meta = {"mode": mode, "type": "RegularFile", "userID": 0, "groupID": 0, "mimeType": mime,
                "size": size}
        digests = [{"algorithm": "sha1", "value": h[:40]}, {"algorithm": "sha256", "value": h[40:]}]
        elf = "sharedlib" in mime or "executable" in mime
        exe = (_ELF if mode == 755 else _ELF_LIB) if elf else None
        out.append((path, hexid(key, path), meta, digests, exe))
    return out


def os_universe(seed: int, base: OsBase, names: list[str], core: int,
                files_mean: float) -> list[Pkg]:
    """Return the packages of `base`, one per name; the first `core` are always installed.

    Args:
        seed: the fleet seed.
        base: the operating system.
        names: package names of its family (shared across the family's releases).
        core: how many leading names are core packages (every image has them; deps point to them).
        files_mean: mean number of files a package owns.

    Returns:
        The packages, in the order of `names`.
    """
    rng = random.Random(hexid(seed, "universe", base.key, n=32))
    apk = base.family == "alpine"
    ptype, ns = ("apk", "alpine") if apk else ("deb", base.family)
    q = f"?arch={'x86_64' if apk else 'amd64'}&distro="
    distro_t = base.name if apk else f"{base.family}-{base.name}"
    distro_s = f"alpine-{base.name}" if apk else f"{base.family}-{base.major}"
    pkgs: list[Pkg] = []
    for i, name in enumerate(names):
        version = _version(rng, base)
        lic = _pick_licenses(rng, APK_LICENSES if apk else DEB_LICENSES)
        if not apk:
            epoch = _epoch(seed, name)
            version = f"{epoch}:{version}" if epoch else version
            lic = _copyright_licenses(seed, name, lic)
        src_name = re.sub(r"[\d.\-]+$", "", name) or name
        count = max(1, min(int(files_mean * 8), round(rng.expovariate(1 / max(files_mean, 0.5)))))
        digest = ("sha1:" + hexid(seed, base.key, name, n=40) if apk
                  else "sha256:" + hexid(seed, base.key, name, n=64))
        if apk:
            trivy_purl = f"pkg:{ptype}/{ns}/{name}@{version}{q}{distro_t}"
            syft_purl = f"pkg:{ptype}/{ns}/{name}@{version}{q}{distro_s}"
        else:
            upstream = "" if src_name == name else f"&upstream={quote(src_name, safe='')}"
            trivy_purl = _deb_purl(ns, name, version, f"{q}{distro_t}", epoch_inline=False)
            syft_purl = _deb_purl(ns, name, version, f"{q}{distro_s}{upstream}",
                                  epoch_inline=True)
        pkgs.append(Pkg(
            name=name, version=version, ptype=ptype, src_name=src_name, src_version=version,
            licenses=[lc[0] for lc in lic], syft_licenses=[(lc[1], lc[2]) for lc in lic],
            maintainer=rng.choice(MAINTAINERS[base.family]), uid=hexid(seed, base.key, name, "uid"),
            syft_id=hexid(seed, base.key, name, "syft"),
            trivy_purl=trivy_purl, syft_purl=syft_purl, digest=digest,
            installed_size=rng.randint(20, 9000) * (1024 if apk else 1), core=i < core,
            files=_files(seed, base.key, name, version, count, apk),
        ))
    core_pkgs = pkgs[: max(core, 1)]
    for i, p in enumerate(pkgs):
        cands = [c for c in core_pkgs[: max(1, min(i, len(core_pkgs)))] if c is not p]
        p.depends = rng.sample(cands, k=min(len(cands), rng.randint(0, 4)))
    return pkgs


def _lang_path(ptype: str, name: str, version: str) -> str:
    short = name.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    site = "usr/local/lib/python3.11/site-packages"
    return {"npm": f"app/node_modules/{name}/package.json",
            "pypi": f"{site}/{name.replace('-', '_')}-{version}.dist-info/METADATA",
            "maven": f"app/app.jar/BOOT-INF/lib/{short}-{version}.jar",
            "golang": "app/server"}[ptype]


def lang_universe(seed: int, ptype: str, size: int) -> dict[str, list[Pkg]]:
    """Return the language packages of purl type `ptype`.

    Returns:
        Two or three versions of each package, by name, the real names first.
    """
    rng = random.Random(hexid(seed, "lang", ptype, n=32))
    real = LANG_NAMES[ptype]
    pool = LANG_LICENSES[ptype]
    out: dict[str, list[Pkg]] = {}
    for name in [*real, *_synthetic_names(rng, max(0, size - len(real)), ptype)]:
        lic = rng.choices([p[0] for p in pool], weights=[p[1] for p in pool])[0]
        group, _, art = name.rpartition(":")
        entries: list[Pkg] = []
        for v in sorted({_version(rng, None) for _ in range(rng.randint(2, 3))}):
            purl = f"pkg:maven/{group}/{art}@{v}" if ptype == "maven" else (
                f"pkg:{ptype}/{name}@{'v' if ptype == 'golang' else ''}{v}")
            entries.append(Pkg(
                name=name, version=v, ptype=ptype, src_name="", src_version="",
                licenses=[lic] if lic else [], syft_licenses=[(lic, lic)] if lic else [],
                maintainer="",
                uid=hexid(seed, ptype, name, v, "uid"), syft_id=hexid(seed, ptype, name, v, "syft"),
                trivy_purl=purl, syft_purl=purl, digest=None,
                installed_size=rng.randint(10, 5000) * 1024,
                core=False, file_path=_lang_path(ptype, name, v),
            ))
        out[name] = entries
    return out


def files_mean(files_per_image: int, packages_per_image: int) -> float:
    """Return the mean files per OS package that gives about `files_per_image` files per image."""
    return files_per_image / max(1.0, packages_per_image * 0.9)


def universe_size(packages_per_image: int, scale: float) -> int:
    """Return how many names a family needs for images of `scale` to differ from each other."""
    return max(8, math.ceil(packages_per_image * scale * 1.35))
