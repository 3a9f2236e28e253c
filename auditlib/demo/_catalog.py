"""Static pools the synthetic fleet draws from: operating systems, package names, licences, apps.

Names are common real package names, padded with plainly made-up ones (`libzorvex3`) when a fleet
asks for more packages than the real lists hold. Nothing here is copied from a real scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True, slots=True)
class OsBase:
    """A base operating system an image can be built FROM."""

    family: str
    """Trivy OS family (`debian`, `ubuntu`, `alpine`)."""
    name: str
    """Trivy `OS.Name` (`12.8`, `22.04`, `3.20.3`)."""
    major: str
    """Syft `distro.versionID` as the distro writes it (`12`, `22.04`, `3.20.3`)."""
    codename: str
    """Release codename, empty for Alpine."""
    pretty: str
    """`PRETTY_NAME` of /etc/os-release."""
    released: date
    """When the release came out (no image is built on it before)."""
    eol: date
    """End of life (Trivy reports `EOSL` once it has passed)."""
    weight: float
    """Relative share of the fleet."""

    @property
    def key(self) -> str:
        """Return `family-name`, e.g. `debian-12.8`."""
        return f"{self.family}-{self.name}"

    @property
    def pkg_family(self) -> str:
        """Return the package family: `deb` for Debian and Ubuntu, `apk` for Alpine."""
        return "apk" if self.family == "alpine" else "deb"


# family name versionID codename released end-of-life weight PRETTY_NAME
_OS_TABLE = """
debian 10.13  10     buster   2019-07-06 2024-06-30 0.05 Debian GNU/Linux 10 (buster)
debian 11.11  11     bullseye 2021-08-14 2026-08-31 0.15 Debian GNU/Linux 11 (bullseye)
debian 12.8   12     bookworm 2023-06-10 2028-06-30 0.22 Debian GNU/Linux 12 (bookworm)
debian 13.2   13     trixie   2025-08-09 2030-06-30 0.08 Debian GNU/Linux 13 (trixie)
ubuntu 18.04  18.04  bionic   2018-04-26 2023-05-31 0.03 Ubuntu 18.04.6 LTS
ubuntu 20.04  20.04  focal    2020-04-23 2025-05-29 0.08 Ubuntu 20.04.6 LTS
ubuntu 22.04  22.04  jammy    2022-04-21 2027-06-01 0.09 Ubuntu 22.04.5 LTS
ubuntu 24.04  24.04  noble    2024-04-25 2029-05-31 0.05 Ubuntu 24.04.3 LTS
alpine 3.16.9 3.16.9 -        2022-05-23 2024-05-23 0.03 Alpine Linux v3.16
alpine 3.18.9 3.18.9 -        2023-05-09 2025-05-09 0.05 Alpine Linux v3.18
alpine 3.19.4 3.19.4 -        2023-12-07 2025-11-01 0.05 Alpine Linux v3.19
alpine 3.20.3 3.20.3 -        2024-05-22 2026-04-01 0.06 Alpine Linux v3.20
alpine 3.21.5 3.21.5 -        2024-12-05 2026-11-01 0.03 Alpine Linux v3.21
alpine 3.22.2 3.22.2 -        2025-05-30 2027-05-01 0.03 Alpine Linux v3.22
"""


def _os_bases() -> tuple[OsBase, ...]:
    out = []
    for line in _OS_TABLE.strip().splitlines():
        fam, name, vid, code, rel, eol, weight, pretty = line.split(maxsplit=7)
        out.append(OsBase(fam, name, vid, "" if code == "-" else code, pretty,
                          date.fromisoformat(rel), date.fromisoformat(eol), float(weight)))
    return tuple(out)


OS_BASES: tuple[OsBase, ...] = _os_bases()
"""Every base; weights sum to 1 (debian 0.5, ubuntu 0.25, alpine 0.25)."""

PACKAGE_SCALE: dict[str, float] = {"debian": 1.15, "ubuntu": 1.05, "alpine": 0.65}
"""Packages of an image relative to `packages_per_image`, by family (weighted mean 1)."""

DEB_NAMES = """
base-files base-passwd bash bsdutils coreutils dash debconf debianutils diffutils dpkg findutils
gpgv grep gzip hostname init-system-helpers libacl1 libattr1 libaudit1 libblkid1 libbz2-1.0 libc6
libc-bin libcap2 libcrypt1 libdb5.3 libffi8 libgcc-s1 libgcrypt20 libgmp10 libgnutls30
libgpg-error0 libhogweed6 libidn2-0 liblz4-1 liblzma5 libmd0 libmount1 libnettle8 libpam0g
libpam-modules libpam-runtime libpcre2-8-0 libseccomp2 libselinux1 libsepol2 libsmartcols1 libssl3
libstdc++6 libsystemd0 libtasn1-6 libtinfo6 libudev1 libunistring2 libuuid1 libxxhash0 libzstd1
login mawk mount ncurses-base ncurses-bin passwd perl-base sed sysvinit-utils tar tzdata
util-linux zlib1g adduser apt libapt-pkg6.0 ca-certificates curl libcurl4 openssl libsqlite3-0
libxml2 libexpat1 libkrb5-3 libgssapi-krb5-2 libk5crypto3 libkrb5support0 libkeyutils1
libldap-2.5-0 libsasl2-2 libnghttp2-14 librtmp1 libssh2-1 libpsl5 libbrotli1 git openssh-client
wget gnupg procps libncursesw6 libreadline8 readline-common libgdbm6 perl libperl5.36 python3
python3.11 libpython3.11-minimal libjpeg62-turbo libpng16-16 libfreetype6 fontconfig-config
libfontconfig1 libx11-6 libxext6 libxau6 libxdmcp6 libxcb1 libicu72 libpq5 libmariadb3
imagemagick libmagickcore-6.q16-6 libwebp7 libtiff6 libldap-common libsasl2-modules-db
libgnutls-openssl27 libevent-2.1-7 libyaml-0-2 libjansson4 liblmdb0 libonig5 libzip4 libargon2-1
libsodium23 libedit2 libbsd0
""".split()

APK_NAMES = """
alpine-baselayout alpine-baselayout-data alpine-keys apk-tools busybox busybox-binsh
ca-certificates-bundle libc-utils libcrypto3 libssl3 musl musl-utils scanelf ssl_client zlib
libcurl curl nghttp2-libs brotli-libs c-ares libidn2 libunistring libpsl zstd-libs xz-libs libgcc
libstdc++ pcre2 ncurses-libs ncurses-terminfo-base readline sqlite-libs libffi libexpat openssl
tzdata bash git openssh-client-default python3 libbz2 gdbm mpdecimal libxml2 libjpeg-turbo libpng
freetype fontconfig libwebp tiff icu-libs libpq postgresql-client libevent yaml oniguruma libzip
libsodium libedit nodejs npm
""".split()

LANG_NAMES: dict[str, tuple[str, ...]] = {
    "npm": tuple("""
        express lodash axios debug ms minimist qs body-parser cookie semver uuid ws jsonwebtoken
        moment chalk commander yargs follow-redirects tough-cookie path-to-regexp send serve-static
        mime-types json5 glob minimatch braces micromatch ansi-regex tar undici""".split()),
    "pypi": tuple("""
        requests urllib3 certifi idna charset-normalizer django flask jinja2 werkzeug pyyaml
        cryptography cffi pycparser setuptools pip wheel numpy pandas sqlalchemy gunicorn pillow
        lxml aiohttp protobuf grpcio pydantic starlette fastapi click itsdangerous""".split()),
    "maven": tuple("""
        org.springframework:spring-core org.springframework:spring-web
        org.springframework:spring-beans com.fasterxml.jackson.core:jackson-databind
        org.apache.logging.log4j:log4j-core org.yaml:snakeyaml ch.qos.logback:logback-classic
        org.apache.tomcat.embed:tomcat-embed-core io.netty:netty-handler com.google.guava:guava
        commons-io:commons-io org.apache.commons:commons-text org.postgresql:postgresql
        com.h2database:h2 org.bouncycastle:bcprov-jdk18on
        io.projectreactor.netty:reactor-netty-http""".split()),
    "golang": tuple("""
        github.com/gin-gonic/gin golang.org/x/net golang.org/x/crypto google.golang.org/grpc
        google.golang.org/protobuf github.com/golang-jwt/jwt/v4 gopkg.in/yaml.v3
        github.com/sirupsen/logrus github.com/prometheus/client_golang golang.org/x/text
        github.com/gorilla/websocket github.com/jackc/pgx/v5 github.com/redis/go-redis/v9
        stdlib""".split()),
}
"""Common language packages by purl type."""

SYLLABLES = ("zor", "vex", "quan", "dri", "mel", "tho", "pax", "lum", "bri", "sen", "kor", "fal",
             "nyx", "ost", "gri", "vel", "tar", "mun", "ceb", "rho")

License = tuple[str, str, str, float]
"""(licence as Trivy writes it, Syft `value` as the package wrote it, `spdxExpression`, weight)."""

DEB_LICENSES: tuple[License, ...] = (
    ("GPL-2.0-only", "GPL-2", "GPL-2.0-only", 20),
    ("GPL-2.0-or-later", "GPL-2+", "GPL-2.0-or-later", 18),
    ("LGPL-2.1-or-later", "LGPL-2.1+", "LGPL-2.1-or-later", 12),
    ("MIT", "Expat", "", 12), ("BSD-3-Clause", "BSD-3-clause", "BSD-3-Clause", 9),
    ("GPL-3.0-or-later", "GPL-3+", "GPL-3.0-or-later", 8),
    ("Apache-2.0", "Apache-2.0", "Apache-2.0", 6), ("Zlib", "Zlib", "Zlib", 2),
    ("public-domain", "public-domain", "", 3), ("Artistic-2.0", "Artistic", "", 2),
    ("ISC", "ISC", "ISC", 2), ("MPL-2.0", "MPL-2.0", "MPL-2.0", 1),
    ("AGPL-3.0-only", "AGPL-3", "AGPL-3.0-only", 0.4),
)
DEB_COPYRIGHT_LICENSES: tuple[License, ...] = (
    ("GPL-2.0-or-later", "GPL-2+", "GPL-2.0-or-later", 10),
    ("GPL-2.0-only", "GPL-2", "GPL-2.0-only", 9),
    ("LGPL-2.1-or-later", "LGPL-2.1+", "LGPL-2.1-or-later", 6),
    ("public-domain", "public-domain", "", 6),
    ("BSD-3-Clause", "BSD-3-clause", "BSD-3-Clause", 6), ("MIT", "Expat", "", 5),
    ("GPL-3.0-or-later", "GPL-3+", "GPL-3.0-or-later", 5),
    ("LGPL-2.0-or-later", "LGPL-2+", "LGPL-2.0-or-later", 4),
    ("BSD-2-Clause", "BSD-2-clause", "BSD-2-Clause", 4),
    ("GPL-3.0-only", "GPL-3", "GPL-3.0-only", 3),
    ("LGPL-2.1-only", "LGPL-2.1", "LGPL-2.1-only", 3),
    ("LGPL-3.0-or-later", "LGPL-3+", "LGPL-3.0-or-later", 3),
    ("BSD-4-Clause", "BSD-4-clause", "BSD-4-Clause", 2), ("Zlib", "Zlib", "Zlib", 2),
    ("ISC", "ISC", "ISC", 2), ("LGPL-2.0-only", "LGPL-2", "LGPL-2.0-only", 2),
    ("LGPL-3.0-only", "LGPL-3", "LGPL-3.0-only", 2),
    ("GFDL-1.3-or-later", "GFDL-1.3+", "GFDL-1.3-or-later", 1), ("BSLA", "BSLA", "", 1),
)
"""The further licences a Debian package's copyright file lists (as in the corpus's bookworm SBOM:
`bsdutils` lists 16); drawn for the licences beyond the first ones, never a denied licence."""

DEB_LICENSE_COUNTS: tuple[int, ...] = (
    *[2] * 12, *[4] * 9, *[16] * 9, *[3] * 9, *[5] * 8, *[1] * 7, *[10] * 7, *[11] * 7, *[6] * 6,
    *[7] * 5, 9, 9, 19, 12, 13, 14, 8)
"""How many licences each package of the corpus's Debian bookworm SBOM lists (Syft 1.18; mean
6.9), drawn from for the synthetic Debian and Ubuntu packages."""

APK_LICENSES: tuple[License, ...] = tuple(
    (name, name, name, weight) for name, weight in (
        ("MIT", 25), ("GPL-2.0-only", 20), ("GPL-2.0-or-later", 10), ("BSD-3-Clause", 10),
        ("Apache-2.0", 8), ("LGPL-2.1-or-later", 8), ("Zlib", 3), ("ISC", 3), ("0BSD", 2),
        ("AGPL-3.0-only", 0.3))
)
LANG_LICENSES: dict[str, tuple[tuple[str, float], ...]] = {
    "npm": (("MIT", 70), ("ISC", 12), ("Apache-2.0", 6), ("BSD-2-Clause", 5), ("BSD-3-Clause", 5),
            ("AGPL-3.0-only", 0.5), ("", 1.5)),
    "pypi": (("MIT", 30), ("Apache-2.0", 25), ("BSD-3-Clause", 25), ("PSF-2.0", 5),
             ("LGPL-3.0-or-later", 5), ("MPL-2.0", 4), ("", 6)),
    "maven": (("Apache-2.0", 70), ("EPL-2.0", 10), ("MIT", 8), ("BSD-3-Clause", 5),
              ("GPL-2.0-with-classpath-exception", 4), ("", 3)),
    "golang": (("BSD-3-Clause", 40), ("Apache-2.0", 30), ("MIT", 25), ("MPL-2.0", 5)),
}
"""Language licences and weights; an empty name is a package that declares none."""

MAINTAINERS = {
    "debian": ("Debian QA Group <packages@qa.debian.org>",
               "GNU Libc Maintainers <debian-glibc@lists.debian.org>",
               "Debian Security Tools <team+pkg-security@tracker.debian.org>",
               "Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>"),
    "ubuntu": ("Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>",),
    "alpine": ("Natanael Copa <ncopa@alpinelinux.org>", "Ariadne Conill <ariadne@dereferenced.org>",
               "Timo Teräs <timo.teras@iki.fi>"),
}

RUNTIMES: dict[str, str | None] = {"node": "npm", "python": "pypi", "java": "maven", "go": "golang",
                                   "static": None}
"""Application runtime, and the purl type of its language packages."""

TEAMS = ("payments", "checkout", "catalog", "search", "identity", "billing", "ledger", "shipping",
         "reporting", "notify", "media", "partner")
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("api", "java"), ("web", "node"), ("worker", "python"), ("gateway", "go"), ("edge", "static"),
    ("scheduler", "python"), ("admin", "node"), ("sync", "go"), ("batch", "java"),
    ("proxy", "static"),
)
"""App names are `<team>-<component>`; the component decides the runtime."""

USERS: tuple[tuple[str, float], ...] = (("", 35), ("root", 10), ("app", 20), ("1000:1000", 15),
                                        ("nobody", 8), ("65532:65532", 12))
"""Config `User` values and their weights: about 45% of images run as root."""

_GHSA = "https://github.com/advisories?query=type%3Areviewed+ecosystem%3A"
DATA_SOURCES: dict[str, dict[str, Any]] = {
    "debian": {"ID": "debian", "Name": "Debian Security Tracker",
               "URL": "https://salsa.debian.org/security-tracker-team/security-tracker"},
    "ubuntu": {"ID": "ubuntu", "Name": "Ubuntu CVE Tracker",
               "URL": "https://git.launchpad.net/ubuntu-cve-tracker"},
    "alpine": {"ID": "alpine", "Name": "Alpine Secdb", "URL": "https://secdb.alpinelinux.org/"},
    "npm": {"ID": "ghsa", "Name": "GitHub Security Advisory npm", "URL": _GHSA + "npm"},
    "pypi": {"ID": "ghsa", "Name": "GitHub Security Advisory pip", "URL": _GHSA + "pip"},
    "maven": {"ID": "ghsa", "Name": "GitHub Security Advisory Maven", "URL": _GHSA + "maven"},
    "golang": {"ID": "govulndb", "Name": "The Go Vulnerability Database",
               "URL": "https://pkg.go.dev/vuln/"},
}
"""Trivy `DataSource` per OS family or language."""
