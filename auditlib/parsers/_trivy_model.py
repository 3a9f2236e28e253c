"""Typed msgspec models of the parts of a Trivy JSON report that auditlib reads.

Field names are Trivy's own JSON names (Trivy writes Go field names, PascalCase with `ID`/`URL`
acronyms, so msgspec's `rename="pascal"` would not match them). Only the fields auditlib reads are
declared: msgspec skips every other key without building Python objects, which is what keeps a
300-vulnerability report cheap to read (`References`, `VendorSeverity`, `InstalledFiles`, `Code`,
`Match` are never decoded). Secrets' `Match` and `Code` in particular are left
out on purpose: they hold the (masked or not) credential text, which must never reach a table.

Sources: `pkg/types/report.go`, `pkg/types/vulnerability.go`, `pkg/types/misconfiguration.go`,
`pkg/types/license.go`, `pkg/fanal/types/secret.go`, `pkg/fanal/types/artifact.go` in
aquasecurity/trivy.
"""

from __future__ import annotations

import msgspec


class _Model(msgspec.Struct, gc=False):
    """Base of every model: unknown fields ignored, no GC tracking (the models hold no cycles)."""


class TrivyInfo(_Model):
    """`Trivy`: the tool block (since v0.47)."""

    Version: str | None = None


class OsInfo(_Model):
    """`Metadata.OS`."""

    Family: str | None = None
    Name: str | None = None
    # `EOSL bool json:"EOSL,omitempty"` (pkg/fanal/types/artifact.go): absent means false.
    EOSL: bool | None = None


class ContainerConfig(_Model):
    """`Metadata.ImageConfig.config`: the run-time defaults of the image."""

    User: str | None = None
    Labels: dict[str, str] | None = None


class RootFS(_Model):
    """`Metadata.ImageConfig.rootfs`."""

    diff_ids: list[str] | None = None


class ImageConfigInfo(_Model):
    """`Metadata.ImageConfig`: the OCI image config, as Trivy copies it."""

    created: str | None = None
    os: str | None = None
    architecture: str | None = None
    config: ContainerConfig | None = None
    rootfs: RootFS | None = None


class Metadata(_Model):
    """`Metadata`: what Trivy knows about the artifact (mostly image facts)."""

    Size: int | None = None
    OS: OsInfo | None = None
    ImageID: str | None = None
    DiffIDs: list[str] | None = None
    RepoTags: list[str] | None = None
    RepoDigests: list[str] | None = None
    Reference: str | None = None
    ImageConfig: ImageConfigInfo | None = None


class LayerInfo(_Model):
    """`Layer` of a package, vulnerability or secret."""

    DiffID: str | None = None


class PkgId(_Model):
    """`Identifier` of a package / `PkgIdentifier` of a vulnerability."""

    PURL: str | None = None
    UID: str | None = None


class SourceInfo(_Model):
    """`DataSource` of a vulnerability: the advisory database the match came from."""

    ID: str | None = None
    Name: str | None = None


class Cvss(_Model):
    """One entry of a vulnerability's `CVSS` map (trivy-db `types.CVSS`)."""

    V2Vector: str | None = None
    V2Score: float | None = None
    V3Vector: str | None = None
    V3Score: float | None = None
    V40Vector: str | None = None
    V40Score: float | None = None


class Package(_Model):
    """One of `Results[].Packages` (written with `--list-all-pkgs`)."""

    Name: str
    ID: str | None = None
    # OS packages give the upstream version, the Debian revision or rpm release, and the epoch
    # apart (`pkg/fanal/types/package.go`); `auditlib.normalize.pkg_versions.join_evr` joins them.
    Version: str | None = None
    Release: str | None = None
    Epoch: int | None = None
    Identifier: PkgId | None = None
    FilePath: str | None = None
    Layer: LayerInfo | None = None
    SrcName: str | None = None
    SrcVersion: str | None = None
    SrcRelease: str | None = None
    SrcEpoch: int | None = None
    Licenses: list[str] | None = None
    # The `ID`s of the packages this one depends on (same result).
    DependsOn: list[str] | None = None


class Vulnerability(_Model):
    """One of `Results[].Vulnerabilities` (`types.DetectedVulnerability`)."""

    VulnerabilityID: str
    PkgName: str
    InstalledVersion: str | None = None
    PkgPath: str | None = None
    PkgIdentifier: PkgId | None = None
    FixedVersion: str | None = None
    Status: str | None = None
    Layer: LayerInfo | None = None
    SeveritySource: str | None = None
    PrimaryURL: str | None = None
    DataSource: SourceInfo | None = None
    Title: str | None = None
    Description: str | None = None
    Severity: str | None = None
    # Left undecoded: the parser decodes it only for a map it has not seen before (it caches the
    # best score by the map's bytes). An absent map is an empty `Raw`.
    CVSS: msgspec.Raw = msgspec.Raw()
    PublishedDate: str | None = None
    LastModifiedDate: str | None = None
    CweIDs: list[str] | None = None
    # The data source's own advisory ids for the same flaw (`DSA-4613-1`, `RHSA-2019:2304`, GHSA).
    VendorIDs: list[str] | None = None


class Cause(_Model):
    """`CauseMetadata` of a misconfiguration: where in the file it is."""

    StartLine: int | None = None
    EndLine: int | None = None


class Misconfiguration(_Model):
    """One of `Results[].Misconfigurations` (`types.DetectedMisconfiguration`)."""

    ID: str | None = None
    AVDID: str | None = None
    Title: str | None = None
    Message: str | None = None
    Severity: str | None = None
    Status: str | None = None
    Resolution: str | None = None
    PrimaryURL: str | None = None
    CauseMetadata: Cause | None = None


class Secret(_Model):
    """One of `Results[].Secrets` (`types.DetectedSecret`), without `Match` and `Code`."""

    RuleID: str
    Category: str | None = None
    Title: str | None = None
    Severity: str | None = None
    StartLine: int | None = None
    EndLine: int | None = None
    Layer: LayerInfo | None = None


class License(_Model):
    """One of `Results[].Licenses` (`types.DetectedLicense`), from the licence scanner."""

    Name: str
    Severity: str | None = None
    Category: str | None = None
    PkgName: str | None = None
    FilePath: str | None = None


class Result(_Model):
    """One of `Results[]` (or of the pre-0.20 top-level list), every section decoded."""

    Target: str | None = None
    Class: str | None = None
    Type: str | None = None
    Packages: list[Package] | None = None
    Vulnerabilities: list[Vulnerability] | None = None
    Misconfigurations: list[Misconfiguration] | None = None
    Secrets: list[Secret] | None = None
    Licenses: list[License] | None = None


class ResultSections(_Model):
    """One of `Results[]` with its sections left undecoded.

    Used only when the one-pass decode into `Result` fails, to decode each section record by record
    and skip just the bad records. An absent section is an empty `Raw` (msgspec does not allow
    `Raw | None`).
    """

    Target: str | None = None
    Class: str | None = None
    Type: str | None = None
    Packages: msgspec.Raw = msgspec.Raw()
    Vulnerabilities: msgspec.Raw = msgspec.Raw()
    Misconfigurations: msgspec.Raw = msgspec.Raw()
    Secrets: msgspec.Raw = msgspec.Raw()
    Licenses: msgspec.Raw = msgspec.Raw()
