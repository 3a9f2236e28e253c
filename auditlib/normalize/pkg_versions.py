"""Package versions as their distribution writes them: the one definition every parser uses.

dpkg (`dpkg-query -W`) writes `[epoch:]upstream[-revision]` and leaves out epoch 0; rpm writes
`[epoch:]version-release` and, as `rpm -q` does, leaves out a missing or 0 epoch; apk writes
`version-rN`. The tools do not all write them so:

* Trivy JSON gives an OS package's `Version`, `Release` and `Epoch` apart (`bsdutils`: `2.38.1`,
  `5+deb12u3`, `1`), and its source package's `SrcVersion`, `SrcRelease`, `SrcEpoch` likewise;
* Syft and Grype write `0:` before an rpm version whose epoch is set to 0 (`0:0.7-21.el8_9.1`);
* Trivy's older CycloneDX (0.48) wrote the version without its epoch and kept the epoch only in the
  purl's `epoch` qualifier (`bsdutils 2.37.2-4ubuntu3`, `...&epoch=1`).

Every parser passes the versions of packages, and the installed and fixed versions of
vulnerabilities, through here, so that one package has one version whichever tool reported it and
installed and fixed versions can be compared (`auditlib.versions`). Versions of other ecosystems
are kept as the tool wrote them.
"""

from __future__ import annotations

import re

# Package types (purl types, Trivy result types and OS families, Grype and Syft package types) to
# the version order they follow; names are purl types. Types not listed have no known order.
_SCHEMES: dict[str, str] = {
    **dict.fromkeys(("deb", "debian", "ubuntu"), "deb"),
    **dict.fromkeys((
        "rpm", "redhat", "centos", "rocky", "alma", "fedora", "amazon", "oracle", "photon",
        "cbl-mariner", "azurelinux", "opensuse", "opensuse.leap", "opensuse.tumbleweed", "sles",
        "suse linux enterprise server", "suse linux enterprise micro",
    ), "rpm"),
    **dict.fromkeys(("apk", "alpine", "wolfi", "chainguard"), "apk"),
    **dict.fromkeys(("maven", "jar", "pom", "gradle", "sbt", "java-archive", "jenkins-plugin"),
                    "maven"),
    **dict.fromkeys(("npm", "yarn", "pnpm", "bun", "node-pkg"), "npm"),
    **dict.fromkeys(("pypi", "pip", "pipenv", "poetry", "uv", "python-pkg", "python"), "pypi"),
    **dict.fromkeys(("gem", "bundler", "gemspec"), "gem"),
    **dict.fromkeys(("golang", "gomod", "gobinary", "go-module"), "golang"),
    **dict.fromkeys(("nuget", "dotnet", "dotnet-core", "dotnet-deps", "packages-props"), "nuget"),
    **dict.fromkeys(("cargo", "rust-binary", "rust-crate"), "cargo"),
}

_EPOCH = re.compile(r"^(\d+):")


def version_scheme(package_type: str | None) -> str | None:
    """Return the version order a package type follows.

    Args:
        package_type: a purl type (`deb`), a Trivy result type or OS family (`debian`, `redhat`,
            `jar`), or a Grype or Syft package type (`java-archive`, `go-module`); any case.

    Returns:
        `deb`, `rpm`, `apk`, `maven`, `npm`, `pypi`, `gem`, `golang`, `nuget` or `cargo`; None for
        a type whose order is not known (`generic`, `binary`, `conda`, ...) or no type.
    """
    if not package_type:
        return None
    return _SCHEMES.get(package_type) or _SCHEMES.get(package_type.lower())


def join_evr(version: str | None, release: str | None = None,
             epoch: int | str | None = None) -> str | None:
    """Return `epoch:version-release` as dpkg and rpm write it (what Trivy's own ids show).

    Args:
        version: the upstream version (Trivy `Version`, `SrcVersion`).
        release: the Debian revision or rpm release (Trivy `Release`); none leaves out the `-`.
        epoch: the epoch (Trivy `Epoch`, a number in JSON, text in SBOM properties); 0, "0" or
            none leaves it out, as `dpkg-query -W` and `rpm -q` do.

    Returns:
        The joined version; None when there is no version.
    """
    if not version:
        return None
    if release:
        version = f"{version}-{release}"
    if epoch and str(epoch).strip("0"):
        version = f"{epoch}:{version}"
    return version


def purl_epoch(purl: str | None) -> str | None:
    """Return the `epoch` qualifier of a package URL (`1` of `pkg:rpm/...?epoch=1`), or None."""
    if not purl or "epoch=" not in purl:
        return None
    _, _, query = purl.partition("?")
    for part in query.partition("#")[0].split("&"):
        if part.startswith("epoch="):
            return part[6:] or None
    return None


def distro_version(version: str | None, package_type: str | None,
                   purl: str | None = None) -> str | None:
    """Return a version as the package's distribution writes it.

    For deb and rpm packages (`version_scheme`): a `0:` epoch is left out, and an epoch that only
    the purl's `epoch` qualifier gives is put in front. Other versions are returned as written.

    Args:
        version: the version as the tool wrote it.
        package_type: the row's package type (purl type, else the tool's type).
        purl: the package's purl, for its `epoch` qualifier.

    Returns:
        The version; None when there is none (an empty string included).
    """
    if not version:
        return None
    # Most versions need nothing: no epoch written, none in the purl (this runs once per row).
    if (":" not in version and (not purl or "epoch=" not in purl)
            or _SCHEMES.get(package_type or "") not in ("deb", "rpm")):
        return version
    found = _EPOCH.match(version)
    if found:
        return version if found[1].strip("0") else version[found.end():]
    epoch = purl_epoch(purl)
    return f"{epoch}:{version}" if epoch and epoch.isdigit() and epoch.strip("0") else version


def distro_versions(text: str | None, package_type: str | None) -> str | None:
    """Return a list of fixed versions (`a, b`, as Grype and Trivy join them) with each one
    written as its distribution writes it (`distro_version`); None when there is none."""
    if not text:
        return None
    if ":" not in text or _SCHEMES.get(package_type or "") not in ("deb", "rpm"):
        return text
    return ", ".join(
        v for v in (distro_version(p.strip(), package_type) for p in text.split(",")) if v)
