"""Every table auditlib produces, declared once: name, one row per, key, and each column's dtype and meaning.

The data dictionary (`docs/tables.md`) is generated from these declarations by `data_dictionary()`,
and `frame()` builds a typed DataFrame from parser rows, so dtypes are never decided anywhere else.
Dtypes are nullable pandas dtypes; `severity` is an ordered categorical
(unknown < negligible < low < medium < high < critical); `_at` columns are UTC times. Text that
repeats across rows (`scan_id`, `source`, `image_id`, package names and versions, licences,
vulnerability ids, titles and descriptions, ...) is `category`: a fleet's tables are then a
fraction of the size in memory and in Parquet. Text that is unique per row stays `string`.

Secrets: a column that carries untrusted free text in which a secret may stand (label values,
build steps, entrypoints, scanners' messages, Dockerfile references, policy evidence, load errors)
is declared `redacted`. `frame()` (every row that enters a table: the loader's and the
collectors' accumulator, the policy's results) and `conform()` (every table read back from the
store) pass those columns through `auditlib.normalize.redact`, so no parser or collector can
forget it, and the data dictionary says which columns they are.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.extensions import ExtensionArray
from pandas.api.types import union_categoricals

from auditlib.normalize.licenses import LICENSE_CLASSES
from auditlib.normalize.redact import redact_values
from auditlib.normalize.severity import SEVERITY_DTYPE

DTYPES: dict[str, Any] = {
    "string": pd.StringDtype(),
    "Int64": pd.Int64Dtype(),
    "Float64": pd.Float64Dtype(),
    "boolean": pd.BooleanDtype(),
    "datetime": pd.DatetimeTZDtype("ns", "UTC"),
    "severity": SEVERITY_DTYPE,
    "category": pd.CategoricalDtype(),
}
"""The dtype names a column may declare, and the pandas dtype each stands for."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table."""

    name: str
    """snake_case; suffixes carry meaning (`_at` UTC time, `_days`, `_bytes`, `_count`, `_id`)."""
    dtype: str
    """A key of `DTYPES`."""
    meaning: str
    """One sentence for the data dictionary."""
    redacted: bool = False
    """Whether the column carries untrusted free text that may hold a secret: its values are
    passed through `auditlib.normalize.redact.redact` wherever the table is built or read."""


@dataclass(frozen=True, slots=True)
class Table:
    """A table: one row per instance of one entity."""

    name: str
    """The table name, also the attribute of `AuditData` and the Parquet file name in the store."""
    row: str
    """What one row is."""
    key: tuple[str, ...]
    """The columns that identify a row."""
    columns: tuple[Column, ...]
    """Every column, in order."""

    @property
    def column_names(self) -> list[str]:
        """Return the column names in order."""
        return [c.name for c in self.columns]

    @property
    def redacted_columns(self) -> list[str]:
        """Return the names of the columns declared `redacted`, in order."""
        return [c.name for c in self.columns if c.redacted]


def _c(name: str, dtype: str, meaning: str, *, redacted: bool = False) -> Column:
    return Column(name, dtype, meaning, redacted)


PROVENANCE: tuple[Column, ...] = (
    _c("scan_id", "category", "The document the row came from: `sha256:` of its bytes; joins `scans`."),
    _c("source", "category", "Where the row came from: the file path, or the endpoint collected."),
    _c("source_format", "category", "The format and version read, e.g. `trivy-json@2`."),
    _c("collected_at", "datetime", "When auditlib read the source (UTC): the store's bookkeeping. For a collected source it is when the engine or registry was asked; for a document it is no scan time (`scans.generated_at` is)."),
)

_IMAGE = (
    _c("image_id", "category", "Config digest of the image (`sha256:` + 64 hex); the join key across sources."),
)
_TARGET = (
    _c("target", "category", "What the tool scanned inside the document: an image layer set, a lock file, a path."),
)


def _t(name: str, row: str, key: Sequence[str], *columns: Column) -> Table:
    return Table(name, row, tuple(key), (*columns, *PROVENANCE))


SCANS = _t(
    "scans", "document read (a scan report or an SBOM)", ["scan_id"],
    _c("format", "string", "Format id: `trivy-json`, `grype-json`, `syft-json`, `cyclonedx-json`, `spdx-json`, `sarif`, `hadolint-json`, `dockle-json`, `harbor-json`; collected: `docker-engine`, `oci-registry`, `docker-archive`, `oci-layout`, `dockerfile`."),
    _c("format_version", "string", "Version of the format: Trivy SchemaVersion, CycloneDX specVersion, SPDX version, Syft schema. `unknown` when the document does not say (a format inferred from its content's shape, below, seldom can)."),
    _c("format_inferred", "boolean", "Whether the format was inferred from the shape of the content because the header that names it is gone: a report trimmed to its main section (DefectDojo's Grype fixtures keep only `matches`; a Trivy report kept to `Results`, a Syft SBOM to `artifacts`, a CycloneDX BOM without `bomFormat`). False when the header named the format; missing for collected sources. A document whose shape fits several formats is refused, never read as one of them."),
    _c("tool", "string", "The tool that wrote the document (`trivy`, `grype`, `syft`, `hadolint`, ...)."),
    _c("tool_version", "string", "Version of that tool, when the document says."),
    _c("generated_at", "datetime", "When the tool wrote the document (UTC): the scan time. Missing when the document does not say (a Syft 0.x SBOM, SARIF without invocation times, collected metadata): unknown, never the time auditlib read it (`collected_at`)."),
    _c("target", "string", "What the document is about, as the tool named it (a repository URL may carry credentials).", redacted=True),
    _c("target_type", "string", "`container_image`, `filesystem`, `repository`, `dockerfile`, `sbom` or `unknown`."),
    _c("vulnerability_scan", "boolean", "Whether the tool looked for vulnerabilities, whether or not it found any (Grype, Harbor; Trivy when its vulnerability scanner ran: a result of class `os-pkgs` or `lang-pkgs`; CycloneDX with a `vulnerabilities` array); false for an SBOM, a linter or collected metadata; missing when the document cannot tell. When `auditlib scan` made the document, its record decides (`vuln` in `scanners_run`): a Trivy report does not list its scanners. With the documents that have vulnerability rows, this is what `auditlib.fleet.coverage` counts as a vulnerability scan."),
    _c("scanners_run", "string", "What the scanner run covered, as `auditlib scan` recorded it when it ran the tool: comma-separated, in the order `packages` (a package list), `vuln`, `license`, `secret`, `misconfig` (Trivy's `--scanners` names); missing for a document `auditlib scan` did not make (the document alone cannot say)."),
    _c("scanners_skipped", "string", "What that run was meant to cover and could not, in the same words (`vuln` for Trivy without its vulnerability database); missing when nothing was skipped or the run was not recorded."),
    _c("scanners_skipped_reason", "string", "Why, in one phrase (`no vulnerability database (offline)`), with the tool's own message when a run failed on it; missing when nothing was skipped.", redacted=True),
    *_IMAGE,
    _c("repo_digest", "string", "Manifest digest of the image, when known."),
    _c("image_ref", "string", "The image reference, normalised (`docker.io/library/nginx:latest`)."),
    _c("os_family", "string", "Operating system family of the image (`debian`, `alpine`, ...)."),
    _c("os_version", "string", "Operating system version (`12.15`, `3.10.2`)."),
    _c("is_os_eol", "boolean", "Whether the tool said the OS is past its end of life (Trivy EOSL, Grype distro-eol)."),
    _c("file_bytes", "Int64", "Size of the document in bytes."),
)

IMAGES = _t(
    "images", "image described by a source", ["scan_id", "image_id"],
    *_IMAGE,
    _c("repo_digest", "string", "Manifest digest (first one, when the image has several)."),
    _c("image_ref", "string", "The reference the image was scanned or collected as, normalised."),
    _c("created_at", "datetime", "When the image was built (config `created`)."),
    _c("os", "string", "Config `os` (`linux`)."),
    _c("architecture", "string", "Config `architecture` (`amd64`, `arm64`)."),
    _c("os_family", "string", "Distribution family (`debian`, `alpine`)."),
    _c("os_version", "string", "Distribution version."),
    _c("is_os_eol", "boolean", "Whether the source said the OS is past its end of life."),
    _c("size_bytes", "Int64", "Image size in bytes, as the source reports it."),
    _c("user", "string", "Default user of the image config (`USER`); empty string means root by default."),
    _c("layer_count", "Int64", "Number of layers (rootfs diff ids)."),
    _c("host", "category", "The engine, registry or archive the image was collected from (`unix:///var/run/docker.sock`, `ghcr.io`); missing for scan files."),
    _c("exposed_ports", "string", "Config `ExposedPorts`, sorted and comma-separated (`443/tcp,80/tcp`)."),
    _c("volumes", "string", "Config `Volumes`, sorted and comma-separated (`/data,/var/lib/mysql`)."),
    _c("has_healthcheck", "boolean", "Whether the config sets a `HEALTHCHECK` test other than `NONE`; missing when the source does not give the config."),
    _c("entrypoint", "string", "Config `Entrypoint` and `Cmd`, as one command line (untrusted text).", redacted=True),
)

IMAGE_TAGS = _t(
    "image_tags", "reference (tag or repo digest) that names an image", ["scan_id", "image_id", "reference"],
    *_IMAGE,
    _c("reference", "string", "The reference, normalised (`docker.io/library/nginx:1.25`, or `...@sha256:` for a repo digest)."),
    _c("registry", "string", "Registry host (`docker.io`, `ghcr.io`, `localhost:5000`)."),
    _c("repository", "string", "Repository path (`library/nginx`)."),
    _c("tag", "string", "The tag; missing for a repo-digest reference."),
    _c("repo_digest", "string", "The manifest digest for a repo-digest reference."),
)

IMAGE_LABELS = _t(
    "image_labels", "label of an image config", ["scan_id", "image_id", "label"],
    *_IMAGE,
    _c("label", "string", "The label key (`org.opencontainers.image.source`)."),
    _c("value", "string", "The label value, as untrusted text.", redacted=True),
)

_HOST = (
    _c("host", "category", "The Docker Engine collected from (`unix:///var/run/docker.sock`, `tcp://build-1:2376`)."),
)

IMAGE_LAYERS = _t(
    "image_layers", "layer of an image, in order", ["scan_id", "image_id", "layer_index"],
    *_IMAGE,
    _c("layer_index", "Int64", "Position of the layer, from 0 (the base)."),
    _c("diff_id", "category", "The layer's diff id (`sha256:` of the uncompressed tar): equal diff ids mean the same layer."),
)

IMAGE_HISTORY = _t(
    "image_history", "build step recorded in an image's history", ["scan_id", "image_id", "step_index"],
    *_IMAGE,
    _c("step_index", "Int64", "Position of the step, from 0 (the oldest)."),
    _c("created_at", "datetime", "When the step ran."),
    _c("created_by", "string", "The instruction as recorded (`/bin/sh -c #(nop)  USER app`, `RUN ...`), untrusted text.", redacted=True),
    _c("comment", "string", "The step's comment (`buildkit.dockerfile.v0`, `Imported from -`).", redacted=True),
    _c("is_empty_layer", "boolean", "Whether the step made no layer (`ENV`, `USER`, `LABEL`, ...)."),
    _c("size_bytes", "Int64", "Size of the layer the step made, when the engine says."),
)

IMAGE_ENV = _t(
    "image_env", "environment variable set in an image config (the value is never stored)", ["scan_id", "image_id", "name"],
    *_IMAGE,
    _c("name", "category", "The variable name."),
    _c("looks_secret", "boolean", "Whether the name or the value looks like a secret (a secret-like name with a non-empty, non-placeholder value, or a value of a known token shape)."),
    _c("secret_reason", "category", "Why it looks like a secret (`name:PASSWORD`, `value:github-pat`); missing when it does not."),
)

CONTAINERS = _t(
    "containers", "container on a Docker Engine", ["scan_id", "host", "container_id"],
    *_HOST,
    _c("container_id", "string", "The container id (64 hex)."),
    _c("name", "string", "The container name, without the leading `/`."),
    *_IMAGE,
    _c("image_ref", "category", "The reference the container was started from, normalised (`docker.io/library/wordpress:latest`); missing when it was started by image id."),
    _c("image_ref_raw", "string", "That reference as given to the engine (`wordpress`, `sha256:...`)."),
    _c("state", "category", "`running`, `exited`, `paused`, `restarting`, `created` or `dead`."),
    _c("created_at", "datetime", "When the container was created."),
    _c("started_at", "datetime", "When it last started; missing when it never did."),
    _c("finished_at", "datetime", "When it last stopped; missing while running or when it never did."),
    _c("user", "string", "The user it runs as (`docker run --user`, else the image's); empty string means root by default."),
    _c("restart_policy", "category", "`no`, `always`, `unless-stopped` or `on-failure`."),
    _c("is_privileged", "boolean", "Whether it runs `--privileged`."),
    _c("is_read_only", "boolean", "Whether its root filesystem is read-only (`--read-only`)."),
    _c("network_mode", "category", "`bridge`, `host`, `none` or a network name."),
)

CONTAINER_MOUNTS = _t(
    "container_mounts", "mount of a container (volume, bind or tmpfs)", ["scan_id", "host", "container_id", "destination"],
    *_HOST,
    _c("container_id", "string", "The container; joins `containers`."),
    _c("mount_type", "category", "`volume`, `bind`, `tmpfs` or `npipe`."),
    _c("destination", "string", "The path inside the container."),
    _c("mount_source", "string", "The host path or volume name (untrusted text)."),
    _c("is_read_write", "boolean", "Whether the container can write to it."),
)

CONTAINER_CHANGES = _t(
    "container_changes", "path a container changed in its own filesystem since it started (`docker diff`)", ["scan_id", "host", "container_id", "path"],
    *_HOST,
    _c("container_id", "string", "The container; joins `containers`."),
    _c("path", "string", "The path changed (untrusted text)."),
    _c("kind", "category", "`changed`, `added` or `deleted`."),
)

REGISTRY_TAGS = _t(
    "registry_tags", "tag of a repository in a registry, and the image it points at now", ["scan_id", "registry", "repository", "tag"],
    _c("registry", "category", "Registry host (`ghcr.io`, `127.0.0.1:5000`)."),
    _c("repository", "category", "Repository path (`team/app`)."),
    _c("tag", "string", "The tag."),
    _c("manifest_digest", "string", "Digest of what the tag points at (an image manifest, or an index for multi-platform images)."),
    _c("media_type", "category", "Media type of that manifest (OCI or Docker, manifest or index)."),
    _c("is_index", "boolean", "Whether the tag points at an index (a multi-platform image)."),
    _c("platform", "category", "The platform chosen from the index (`linux/amd64`); the image's own platform otherwise."),
    _c("platform_manifest_digest", "string", "Digest of the chosen platform's image manifest (the tag's own digest when it is not an index)."),
    *_IMAGE,
    _c("created_at", "datetime", "Config `created` of that image."),
    _c("artifacts_checked", "boolean", "Whether the collector looked for the signatures, attestations and attached SBOMs of the manifest (cosign's `sha256-<digest>.sig|.att|.sbom` tags, the OCI referrers API and its fallback tag, BuildKit's attestation manifests): `image_signatures` and `image_attestations` then hold all it found, none being none. False when that lookup failed (an error of the collection says why); missing for a collection made before auditlib looked."),
)

_ARTIFACT_OF = (
    *_IMAGE,
    _c("registry", "category", "Registry host (`ghcr.io`, `127.0.0.1:5000`)."),
    _c("repository", "category", "Repository path (`team/app`)."),
    _c("subject_digest", "string", "The manifest the artifact is about: what a tag points at (an index for a multi-platform image), or the chosen platform's manifest."),
    _c("found_by", "category", "Where it was found: `cosign-tag` (cosign's `sha256-<hex>.sig`, `.att` or `.sbom` tag), `referrers-api` (`/v2/<name>/referrers/<digest>`), `referrers-tag` (the OCI fallback tag `sha256-<hex>`), `buildkit-index` (an attestation manifest in the image's index)."),
    _c("artifact_digest", "string", "Digest of the manifest that holds it."),
    _c("layer_index", "Int64", "Which layer of that manifest it is (0-based)."),
)
_VERIFIED = (
    _c("verified", "boolean", "True when a public key given (`--cosign-key`) verifies it and it is about the image's digest; false when keys were given and it failed (`failure` says why); missing when no key was given or it is not signed (unknown, never a pass)."),
    _c("verified_by", "string", "The name of the key file that verified its signature."),
    _c("failure", "string", "Why it did not verify: no key verifies the signature (the payload was changed, or another key signed it), it is about another digest, it cannot be read.", redacted=True),
)

IMAGE_SIGNATURES = _t(
    "image_signatures", "cosign signature of an image's manifest found in its registry", ["scan_id", "subject_digest", "artifact_digest", "layer_index"],
    *_ARTIFACT_OF,
    _c("signed_digest", "string", "The digest the signed payload names (`critical.image.docker-manifest-digest`); a signature is this image's only when it equals `subject_digest`."),
    _c("signed_reference", "string", "The repository the payload names (`critical.identity.docker-reference`).", redacted=True),
    _c("keyless", "boolean", "Whether the signature carries a Fulcio certificate (keyless signing), which auditlib does not verify."),
    *_VERIFIED,
)

IMAGE_ATTESTATIONS = _t(
    "image_attestations", "attestation (an in-toto statement) or SBOM attached to an image's manifest in its registry", ["scan_id", "subject_digest", "artifact_digest", "layer_index"],
    *_ARTIFACT_OF,
    _c("kind", "category", "`attestation`: an in-toto statement (a cosign DSSE envelope, signed; or a BuildKit attestation, unsigned); `sbom`: an SBOM document attached as it is (`cosign attach sbom`, an SBOM artifact)."),
    _c("media_type", "category", "The layer's media type (`application/vnd.dsse.envelope.v1+json`, `application/vnd.in-toto+json`, `text/spdx+json`)."),
    _c("predicate_type", "string", "The statement's `predicateType` (`https://slsa.dev/provenance/v1`, `https://spdx.dev/Document`, `https://cyclonedx.org/bom`); an attached SBOM's media type.", redacted=True),
    _c("predicate_kind", "category", "What that is: `provenance` (SLSA), `sbom-spdx`, `sbom-cyclonedx`, `sbom-syft`, `vulnerability-scan`, `vex`, `other`, or `unknown` (an envelope that could not be read)."),
    _c("subject_matches", "boolean", "Whether the statement names the image's digest among its subjects; missing for an attached SBOM (it has no subject) or an unreadable envelope."),
    _c("signed", "boolean", "Whether it carries a signature (a DSSE envelope with signatures); false for BuildKit's and attached SBOMs."),
    *_VERIFIED,
)

PACKAGES = _t(
    "packages", "package (component) found in an image, folder or repository", ["scan_id", "package_id"],
    *_IMAGE, *_TARGET,
    _c("package_id", "string", "The package's id inside its document (bom-ref, SPDXID, Syft id, Trivy UID)."),
    _c("name", "category", "Package name."),
    _c("version", "category", "Installed version, as the distribution writes it: `[epoch:]version[-release]` for deb and rpm packages with epoch 0 left out (as `dpkg-query -W` and `rpm -q` print them; Trivy's separate `Version`, `Release`, `Epoch` joined), `version-rN` for apk; other ecosystems as the tool wrote it (`auditlib.normalize.pkg_versions`)."),
    _c("package_type", "category", "Ecosystem: the purl type when there is a purl (`deb`, `apk`, `npm`, `pypi`, `maven`), else the tool's type."),
    _c("purl", "string", "Package URL."),
    _c("path", "string", "Where the package was found (first location)."),
    _c("layer_diff_id", "category", "Diff id of the layer that added the package, when known."),
    _c("source_name", "category", "Source (upstream) package name, for distro packages."),
    _c("source_version", "category", "Source package version, written as `version` is."),
    _c("license_expression", "category", "The package's licences as one SPDX expression (AND of the declared ones), when they parse."),
    _c("license_class", "category", "Class of that expression: permissive, weak-copyleft, strong-copyleft, network-copyleft, other, unknown."),
    _c("found_by", "category", "What found it (Syft cataloger, Trivy result class)."),
)

PACKAGE_LICENSES = _t(
    "package_licenses", "licence declared or detected for a package", ["scan_id", "package_id", "license", "license_source"],
    *_IMAGE,
    _c("package_id", "string", "The package's id inside its document; joins `packages` with scan_id."),
    _c("package_name", "category", "Package name."),
    _c("package_version", "category", "Package version, written as `packages.version` is."),
    _c("license", "category", "The licence as the tool wrote it."),
    _c("license_spdx", "category", "The licence as an SPDX expression, when it parses."),
    _c("license_class", "category", "permissive, weak-copyleft, strong-copyleft, network-copyleft, other or unknown."),
    _c("license_source", "category", "`declared`, `concluded` (SBOM fields), or `scanner` (a licence scanner's finding)."),
    _c("severity", "severity", "The scanner's severity for this licence (Trivy licence scanning), else unknown."),
    _c("category", "category", "The scanner's licence category (`forbidden`, `restricted`, `reciprocal`, `notice`, ...)."),
    _c("file_path", "category", "Licence file the licence was found in (Trivy `license-file` results)."),
)

def licence_class_column(license_class: str) -> str:
    """Return the column of `package_licence_classes` that says whether a package has a licence
    of class `license_class` (one of `LICENSE_CLASSES`): `has_<class>`, `-` as `_`."""
    return "has_" + license_class.replace("-", "_")


_LICENCE_CLASS_FLAGS = tuple(
    _c(licence_class_column(c), "boolean", f"Whether the document gives the package a licence of class `{c}`" + (" (a licence row whose class is missing counts as `unknown`)." if c == "unknown" else "."))
    for c in LICENSE_CLASSES
)

PACKAGE_LICENCE_CLASSES = _t(
    "package_licence_classes", "package of a document, with the classes of the licences the document gives it (derived from `package_licenses` and `packages` when a snapshot is written: `auditlib.store.licence_tables`)", ["scan_id", "image_id", "package_name", "package_version"],
    *_IMAGE,
    _c("package_name", "category", "Package name, as `package_licenses` gives it; a licence file found outside any package is the package `file <path>`."),
    _c("package_version", "category", "Package version, as `package_licenses` gives it."),
    _c("licensed", "boolean", "Whether the document gives the package a licence (a `package_licenses` row); false for a package it lists with no licence class (`packages.license_class` missing or `unknown`) and no licence row."),
    *_LICENCE_CLASS_FLAGS,
)

DOCUMENT_LICENCES = _t(
    "document_licences", "distinct licence a document gives the packages of an image (derived from `package_licenses` when a snapshot is written: `auditlib.store.licence_tables`)", ["scan_id", "image_id", "license", "license_spdx", "license_class"],
    *_IMAGE,
    *(c for c in PACKAGE_LICENSES.columns if c.name in ("license", "license_spdx", "license_class")),
)

VULNERABILITIES = _t(
    "vulnerabilities", "vulnerability of a package version at a path, per document and target",
    ["scan_id", "target", "pkg_name", "pkg_version", "pkg_path", "vuln_id"],
    *_IMAGE, *_TARGET,
    _c("vuln_id", "category", "CVE, GHSA or vendor id."),
    _c("pkg_name", "category", "Affected package."),
    _c("pkg_version", "category", "Installed version, as the distribution writes it: `[epoch:]version[-release]` for deb and rpm packages with epoch 0 left out (as `dpkg-query -W` and `rpm -q` print them; Trivy's separate `Version`, `Release`, `Epoch` joined), `version-rN` for apk; other ecosystems as the tool wrote it (`auditlib.normalize.pkg_versions`). The same text as the package's `version` in `packages`, whichever tool gave either."),
    _c("pkg_path", "string", "File path of the package (language packages), when given."),
    _c("package_type", "category", "Ecosystem or package type."),
    _c("purl", "string", "Package URL of the affected package."),
    _c("severity", "severity", "Severity on the auditlib scale."),
    _c("severity_source", "category", "Whose severity it is (`nvd`, `debian`, `ghsa`, ...), when given."),
    _c("fix_state", "category", "`fixed`, `not-fixed`, `wont-fix` or `unknown`."),
    _c("fixed_version", "category", "Version(s) that fix it, comma-separated as the tool lists them (one per release branch), each written as `pkg_version` is."),
    _c("fix_contradicted", "boolean", "Whether the scanner contradicts itself: it says `fixed`, yet by the ecosystem's version order (dpkg, rpm, apk-tools, PEP 440, SemVer, Maven, RubyGems, NuGet: `auditlib.versions`) the installed version is not below any fixed version it names, so upgrading to one changes nothing (the match is likely wrong, e.g. an NVD match of another product). False when the installed version is below a fixed version; missing when the row is not `fixed`, or the versions or the ecosystem give no order (never guessed). Such rows are not counted as fixable (`auditlib.fleet.findings`)."),
    _c("fix_available_at", "datetime", "When the fix became available, when the scanner says (Grype `fix.available[].date`)."),
    _c("status", "category", "The tool's own status word (Trivy `Status`, Grype `fix.state`)."),
    _c("published_at", "datetime", "When the vulnerability was published."),
    _c("modified_at", "datetime", "When its record was last modified."),
    _c("cvss_score", "Float64", "The best CVSS base score (newest version; the severity source, then NVD, then the highest)."),
    _c("cvss_vector", "category", "Its vector."),
    _c("cvss_version", "category", "Its CVSS version (`2.0`, `3.0`, `3.1`, `4.0`)."),
    _c("cvss_source", "category", "Who scored it."),
    _c("epss_score", "Float64", "EPSS probability, when the scanner gives it."),
    _c("epss_percentile", "Float64", "EPSS percentile."),
    _c("is_known_exploited", "boolean", "Listed in CISA KEV, when the scanner says (Grype `knownExploited`)."),
    _c("risk_score", "Float64", "The scanner's risk score (Grype `risk`, 0-100)."),
    _c("title", "category", "Short title, untrusted text."),
    _c("description", "category", "Description, untrusted text."),
    _c("primary_url", "category", "The advisory URL."),
    _c("data_source", "category", "The database the match came from."),
    _c("matchers", "category", "The scanner's matchers that found it, comma-separated and sorted (Grype `matchDetails[].matcher`: `dpkg-matcher`, `java-matcher`, `stock-matcher`, ...); missing when the tool does not say."),
    _c("match_types", "category", "How they matched, comma-separated and sorted (Grype `matchDetails[].type`: `exact-direct-match`, `exact-indirect-match`, `cpe-match`, the last the most prone to false positives); missing when the tool does not say (Grype 0.28 and older write no type)."),
    _c("layer_diff_id", "category", "Diff id of the layer that added the package, when known."),
    _c("occurrence_count", "Int64", "How many entries of the document this row merges: 1, or more when the tool reported the same vulnerability of the same package at the same place more than once (Grype: once per matcher that found it)."),
)

MERGE_RULES: dict[str, str] = {
    "primary": "taken from the primary entry, else from the first entry that has a value",
    "highest": "the highest value (a severity by its order)",
    "earliest": "the earliest time",
    "latest": "the latest time",
    "union": "every value of the entries, split at `, `, without repeats, in the order first seen, joined with `, `",
    "sorted union": "as `union`, sorted",
    "any true": "true when an entry says true, else false when one says false, else missing",
    "sum": "the sum; an entry without a count counts 1",
    "with <column>": "taken from the entry that gave `<column>` its value",
    "first of <a, b, ...>": "the first of these values that an entry has",
}
"""How a column of rows merged into one (`auditlib.ingest.merge`) gets its value, by rule."""

MERGES: dict[str, dict[str, str]] = {
    "vulnerabilities": {
        "severity": "highest",
        "severity_source": "with severity",
        "fix_state": "first of fixed, wont-fix, not-fixed, unknown",
        "status": "with fix_state",
        "fixed_version": "union",
        "fix_available_at": "earliest",
        "published_at": "earliest",
        "modified_at": "latest",
        "cvss_score": "primary",
        "cvss_vector": "with cvss_score",
        "cvss_version": "with cvss_score",
        "cvss_source": "with cvss_score",
        "epss_score": "highest",
        "epss_percentile": "with epss_score",
        "is_known_exploited": "any true",
        "risk_score": "highest",
        "matchers": "sorted union",
        "match_types": "sorted union",
        "occurrence_count": "sum",
    },
}
"""Tables whose rows of one document that share the key are merged into one row, and each
column's merge rule (`MERGE_RULES`). The primary entry is the one of highest severity, the first in
the document among equals. A key column is equal across the entries; any other column not named
here is `primary`: what describes the vulnerability record or the package (`title`, `description`,
`primary_url`, `data_source`, `package_type`, `purl`, `layer_diff_id`, `image_id`) comes from one
entry, the most severe."""

MISCONFIGURATIONS = _t(
    "misconfigurations", "misconfiguration or best-practice finding (Dockerfile, image config, IaC)",
    ["scan_id", "target", "rule_id", "start_line"],
    *_IMAGE, *_TARGET,
    _c("tool", "category", "The checker: `trivy`, `hadolint`, `dockle`, or the SARIF driver."),
    _c("rule_id", "category", "Rule id (`DS-0002`, `DL3006`, `CIS-DI-0001`)."),
    _c("title", "category", "Rule title.", redacted=True),
    _c("message", "category", "The finding's message, untrusted text (Dockle quotes the image's `ENV` and build steps).", redacted=True),
    _c("severity", "severity", "Severity on the auditlib scale."),
    _c("status", "category", "`fail`, `pass`, `skip` or `exception` (a check the user chose to ignore)."),
    _c("resolution", "category", "How to fix it.", redacted=True),
    _c("primary_url", "category", "Rule documentation URL."),
    _c("file_path", "category", "The file the finding is in."),
    _c("start_line", "Int64", "First line."),
    _c("end_line", "Int64", "Last line."),
)

SECRETS = _t(
    "secrets", "secret found in an image or a file (the secret itself is never stored)",
    ["scan_id", "target", "rule_id", "file_path", "start_line"],
    *_IMAGE, *_TARGET,
    _c("rule_id", "category", "Rule id (`github-pat`, `aws-access-key-id`)."),
    _c("category", "category", "Secret category (`GitHub`, `AWS`)."),
    _c("title", "category", "Rule title."),
    _c("severity", "severity", "Severity on the auditlib scale."),
    _c("file_path", "category", "Where the secret is."),
    _c("start_line", "Int64", "First line."),
    _c("end_line", "Int64", "Last line."),
    _c("layer_diff_id", "category", "Layer that added the file, when known."),
)

DOCKERFILES = _t(
    "dockerfiles", "Dockerfile read (its final stage is the image it builds)", ["scan_id", "path"],
    _c("path", "string", "The Dockerfile, as it was given."),
    _c("context_image_ref", "category", "The image the Dockerfile builds, when the user said (`--dockerfile PATH=REF`), normalised."),
    _c("stage_count", "Int64", "Number of `FROM` instructions (build stages)."),
    _c("is_multi_stage", "boolean", "Whether the Dockerfile has more than one stage."),
    _c("final_base_ref", "category", "Base image of the final stage, normalised, following `FROM <stage>` back to an image; missing for `scratch` or a base that build arguments leave unresolved (or give a secret-looking value).", redacted=True),
    _c("final_base_is_latest", "boolean", "Whether that base has no tag and no digest, or the tag `latest` (Trivy DS-0001, hadolint DL3006/DL3007); missing when `final_base_ref` is."),
    _c("final_base_is_pinned", "boolean", "Whether that base is pinned by a manifest digest (`@sha256:...`); missing when `final_base_ref` is."),
    _c("final_user", "category", "The last `USER` of the final stage (or of the stages it is built `FROM`), as written; missing when there is none.", redacted=True),
    _c("final_user_is_root", "boolean", "Whether the image runs as root by the Dockerfile: no `USER`, or user `root` or `0` (any group); missing when `USER` names an unresolved variable. The base image's own user is not known here."),
    _c("has_healthcheck", "boolean", "Whether the final stage (or a stage it is built `FROM`) sets a `HEALTHCHECK CMD`; false when absent or `HEALTHCHECK NONE` (Trivy DS-0026, hadolint DL3057)."),
    _c("upgrades_packages", "boolean", "Whether any `RUN` upgrades installed packages: `apt-get upgrade`/`dist-upgrade`, `apk upgrade`, `apk add --upgrade`, `dnf`/`yum upgrade`/`update`, `microdnf upgrade`, `zypper update`."),
    _c("final_upgrades_packages", "boolean", "Whether a `RUN` of the final stage (or of a stage it is built `FROM`) upgrades installed packages, as `upgrades_packages` detects it: the upgrade is in the image built; missing without a `FROM`."),
    _c("secret_env_names_count", "Int64", "Distinct `ENV`/`ARG` names that look like secrets (Trivy DS-0031); the names are in `dockerfile_secret_names`, never the values."),
    _c("config_copy_count", "Int64", "`COPY`/`ADD` sources, in any stage, that look like configuration or key files (`.env`, `*.conf`, `*.ini`, `*.yaml`, `*.properties`, `config.json`, `*.pem`, `*.key`, `id_rsa`)."),
    _c("instruction_count", "Int64", "Instructions in the file, global `ARG`s included (comments, directives and heredoc bodies are not instructions)."),
    _c("copies_recorded", "boolean", "Whether `dockerfile_copies` holds what this Dockerfile copies: true when it has a `FROM` (every `COPY`/`ADD` source of its stages is a row there; none is none), false without one; missing in a row stored by an auditlib that did not record it (what it copies is then unknown)."),
)

DOCKERFILE_STAGES = _t(
    "dockerfile_stages", "build stage (`FROM` instruction) of a Dockerfile", ["scan_id", "path", "stage_index"],
    _c("path", "category", "The Dockerfile; joins `dockerfiles` with scan_id."),
    _c("stage_index", "Int64", "Position of the stage, from 0."),
    _c("stage_name", "category", "The `AS` name, lower-cased as BuildKit does; missing for an unnamed stage."),
    _c("base_raw", "category", "The base as written after `FROM` (before build arguments are substituted).", redacted=True),
    _c("base_ref", "category", "The base image, build arguments substituted and normalised (`docker.io/library/debian:latest`); missing for `scratch`, an earlier stage, a base that does not resolve to an image reference, or one that uses a build argument whose name or value looks like a secret.", redacted=True),
    _c("base_registry", "category", "Registry of `base_ref` (`docker.io`)."),
    _c("base_repository", "category", "Repository of `base_ref` (`library/debian`)."),
    _c("base_tag", "category", "Tag of `base_ref` (`latest` when neither tag nor digest was written).", redacted=True),
    _c("base_digest", "category", "Manifest digest `base_ref` is pinned to, when it is."),
    _c("platform", "category", "The `--platform` flag, as written (`linux/amd64`, `$BUILDPLATFORM`)."),
    _c("is_scratch", "boolean", "Whether the stage starts `FROM scratch` (an empty image)."),
    _c("is_stage_ref", "boolean", "Whether the stage starts from an earlier stage of the same Dockerfile, by name."),
    _c("is_latest", "boolean", "Whether `base_ref` has no tag and no digest, or the tag `latest`; missing when `base_ref` is."),
    _c("is_pinned_digest", "boolean", "Whether `base_ref` is pinned by a manifest digest; missing when `base_ref` is."),
    _c("line", "Int64", "Line of the `FROM` instruction (from 1)."),
)

DOCKERFILE_SECRET_NAMES = _t(
    "dockerfile_secret_names", "`ENV` or `ARG` name that looks like a secret (Trivy DS-0031); the value is never read into a table",
    ["scan_id", "path", "line", "name"],
    _c("path", "category", "The Dockerfile; joins `dockerfiles` with scan_id."),
    _c("stage_index", "Int64", "The stage the instruction is in; missing for a global `ARG` before the first `FROM`."),
    _c("instruction", "category", "`ENV` or `ARG`."),
    _c("name", "category", "The variable name (`AWS_SECRET_ACCESS_KEY`, `DB_PASSWORD`)."),
    _c("line", "Int64", "Line of the instruction (from 1)."),
)

DOCKERFILE_COPIES = _t(
    "dockerfile_copies", "source of a `COPY` or `ADD` in a Dockerfile, and where it lands", ["scan_id", "path", "line", "source_path"],
    _c("path", "category", "The Dockerfile; joins `dockerfiles` with scan_id."),
    _c("line", "Int64", "Line of the instruction (from 1)."),
    _c("stage_index", "Int64", "The stage the instruction is in."),
    _c("instruction", "category", "`COPY` or `ADD`."),
    _c("copy_from", "category", "The `--from` stage or image, as written; missing when the source is the build context."),
    _c("source_path", "string", "The source as written (untrusted text).", redacted=True),
    _c("destination", "string", "The destination as written (untrusted text).", redacted=True),
    _c("target_path", "string", "Where the source lands in the image: the destination read from the stage's `WORKDIR`, with the source's name when the destination is a folder; missing when a variable or the base image's unknown `WORKDIR` leaves it unresolved.", redacted=True),
    _c("is_config", "boolean", "Whether the source looks like a configuration or key file, as `dockerfiles.config_copy_count` counts them (the `config-outside-image` rule matches its own patterns)."),
    _c("in_final_image", "boolean", "Whether the stage is the final stage or one it is built `FROM`: what it copies is in the image built."),
)

VULNERABILITY_CWES = _t(
    "vulnerability_cwes", "weakness (CWE) a document names for a vulnerability", ["scan_id", "vuln_id", "cwe_id"],
    *_IMAGE,
    _c("vuln_id", "category", "The vulnerability, as `vulnerabilities.vuln_id` names it in the same document; joins it with scan_id."),
    _c("cwe_id", "category", "The weakness as `CWE-<number>` (`CWE-79`; CycloneDX's bare numbers and SARIF's `external/cwe/cwe-079` tags written so too), or NVD's `NVD-CWE-Other` / `NVD-CWE-noinfo` as written."),
    _c("cwe_source", "category", "Who assigned it, when the document says (Grype `cwes[].source`: `nvd@nist.gov`; a Grype related record's namespace); the first to say so when several did."),
)

VULNERABILITY_ALIASES = _t(
    "vulnerability_aliases", "other id a document gives for the same vulnerability", ["scan_id", "vuln_id", "alias"],
    *_IMAGE,
    _c("vuln_id", "category", "The vulnerability, as `vulnerabilities.vuln_id` names it in the same document; joins it with scan_id."),
    _c("alias", "category", "The other id (`CVE-2021-44228`, `GHSA-jfh8-c2jp-5v3q`, `DSA-4613-1`, `RHSA-2019:2304`): Grype `relatedVulnerabilities[].id`, Trivy `VendorIDs`, CycloneDX `references[].id`; never the vulnerability's own id."),
    _c("alias_namespace", "category", "The database the alias belongs to, by its prefix as OSV ids name it (`CVE`, `GHSA`, `DSA`, `RHSA`, `ALAS2`); missing when the id has no prefix."),
    _c("alias_source", "category", "Who says the two are the same, when the document says: Grype's related record namespace (`nvd:cpe`), Trivy's data source (`debian`, `ghsa`), a CycloneDX reference's source name (`OSS Index`)."),
)

PACKAGE_DEPENDENCIES = _t(
    "package_dependencies", "edge between two packages of one document (a dependency or a containment)",
    ["scan_id", "from_package_id", "to_package_id", "relationship"],
    *_IMAGE,
    _c("from_package_id", "string", "The package the edge starts from; joins `packages.package_id` with scan_id."),
    _c("to_package_id", "string", "The package it points at; joins `packages.package_id` with scan_id."),
    _c("relationship", "category", "`depends-on`: the from-package needs the to-package (Syft `dependency-of` and SPDX `DEPENDENCY_OF`, with their scoped kinds, read backwards; SPDX `DEPENDS_ON`, `DYNAMIC_LINK`, `STATIC_LINK`; CycloneDX `dependsOn`; Trivy `DependsOn`). `contains`: the to-package is inside the from-package (Syft `contains` and SPDX `CONTAINS` between two packages; `CONTAINED_BY` read backwards). Edges to files, and from the document's subject or an OS or lock-file holder, are not package edges and are left out."),
    _c("declared_as", "category", "The relationship as the document wrote it (`dependency-of`, `DEPENDS_ON`, `DEV_DEPENDENCY_OF`, `dependsOn`, `DependsOn`, `contains`)."),
)

VEX_STATEMENTS = _t(
    "vex_statements", "VEX statement about one vulnerability in one product (and subcomponent), as an OpenVEX, CycloneDX VEX or CSAF 2.0 VEX document gives it (`auditlib.fleet.vex` matches them to findings)",
    ["scan_id", "statement_index", "product", "subcomponent_purl"],
    _c("statement_index", "Int64", "Position of the statement in its document, from 0 (OpenVEX `statements[]`, CycloneDX `vulnerabilities[]`, CSAF `vulnerabilities[]` x product status)."),
    _c("statement_id", "string", "The statement's own id, when the document gives one (OpenVEX `@id`, CycloneDX `bom-ref`)."),
    _c("document_id", "string", "The document's id (OpenVEX `@id`, CycloneDX `serialNumber`, CSAF `tracking.id`)."),
    _c("vuln_id", "category", "The vulnerability (`CVE-2021-44228`); its other ids are `vulnerability_aliases` rows of the same scan_id."),
    _c("status", "category", "`not_affected`, `affected`, `fixed` or `under_investigation` (OpenVEX's words; CycloneDX `analysis.state` and CSAF `product_status` mapped to them)."),
    _c("status_written", "category", "The status as the document wrote it (`false_positive`, `in_triage`, `known_not_affected`, ...)."),
    _c("justification", "category", "Why not affected, as written (OpenVEX `justification`, CycloneDX `analysis.justification`, CSAF `flags[].label`); missing when none is given."),
    _c("impact_statement", "string", "The issuer's words on the impact (OpenVEX `impact_statement`, CycloneDX `analysis.detail`, CSAF `threats[category=impact].details`), untrusted text.", redacted=True),
    _c("action_statement", "string", "What to do (OpenVEX `action_statement`, CycloneDX `analysis.response`, CSAF `remediations[].details`), untrusted text.", redacted=True),
    _c("product", "string", "The product as the document names it: an image reference, a digest, a purl (`pkg:oci/...` for an image), or a CSAF product name.", redacted=True),
    _c("product_purl", "string", "The product's purl, when it has one (CSAF `product_identification_helper.purl`; CycloneDX the affected component's purl)."),
    _c("product_digest", "string", "The image digest the product names (`sha256:`; from `pkg:oci/...@sha256:...` or `repo@sha256:...`), when it names one."),
    _c("product_ref", "string", "The image reference the product names, normalised (`docker.io/library/nginx:1.25`), when it names one."),
    _c("subcomponent_purl", "string", "The package inside the product the statement is about (OpenVEX `subcomponents[]`, CSAF `default_component_of` relationships); missing: the whole product."),
    _c("author", "string", "Who made the statement (OpenVEX statement or document `author`, CycloneDX `metadata.authors`/`manufacture`/`supplier`, CSAF `publisher.name`); missing when the document does not say.", redacted=True),
    _c("statement_at", "datetime", "When the statement was made (OpenVEX statement `timestamp`, else the document's; CycloneDX `analysis.lastUpdated`/`firstIssued`, else `metadata.timestamp`; CSAF `flags[].date`, else `tracking.current_release_date`); missing when the document does not say."),
)

LOAD_ERRORS = Table(
    "load_errors", "file that could not be read, record skipped inside a file, or file skipped as not JSON",
    ("source", "locator"),
    (
        _c("source", "string", "The file."),
        _c("format", "string", "The format the file looked like, when that could be told."),
        _c("level", "string", "`error` (the file gave no rows), `warning` (a record was skipped) or `skipped` (not a JSON document)."),
        _c("locator", "string", "Where in the file: a JSON path such as `$.Results[2].Vulnerabilities[0]`."),
        _c("reason", "string", "Why, in words.", redacted=True),
        _c("scan_id", "string", "The document, when it was read."),
        _c("collected_at", "datetime", "When auditlib read the file (UTC)."),
    ),
)

TABLES: tuple[Table, ...] = (
    SCANS, IMAGES, IMAGE_TAGS, IMAGE_LABELS, IMAGE_LAYERS, IMAGE_HISTORY, IMAGE_ENV,
    CONTAINERS, CONTAINER_MOUNTS, CONTAINER_CHANGES, REGISTRY_TAGS, IMAGE_SIGNATURES,
    IMAGE_ATTESTATIONS, PACKAGES, PACKAGE_LICENSES, PACKAGE_LICENCE_CLASSES, DOCUMENT_LICENCES,
    PACKAGE_DEPENDENCIES, VULNERABILITIES, VULNERABILITY_CWES, VULNERABILITY_ALIASES,
    MISCONFIGURATIONS, SECRETS,
    DOCKERFILES, DOCKERFILE_STAGES, DOCKERFILE_SECRET_NAMES, DOCKERFILE_COPIES,
    VEX_STATEMENTS,
    LOAD_ERRORS,
)
"""Every table, in the order the data dictionary lists them."""

STORE_ONLY_TABLES: tuple[Table, ...] = (PACKAGE_LICENCE_CLASSES, DOCUMENT_LICENCES)
"""Tables a snapshot keeps as files only, derived from its other tables when it is written
(`auditlib.store.licence_tables`) and read by the engines: not tables of `AuditData` (a load,
`read_current`), which would hold millions of rows nothing in memory reads."""
DATA_TABLES: tuple[Table, ...] = tuple(t for t in TABLES if t not in STORE_ONLY_TABLES)
"""The tables of `AuditData`, each an attribute, in the order of `TABLES`."""

_IMAGE_NAME = "The image's name to show (`auditlib.fleet.names`): `repository:tag` (a version tag before `latest`), else `repository@sha256:<12 hex>`, else `<untagged> sha256:<12 hex>`."
"""The meaning of every `image_name` column."""

POLICY_RESULTS = Table(
    "policy_results", "(image, rule) verdict of a policy evaluation (`auditlib check`)", ("image_id", "rule"),
    (
        _c("image_id", "string", "The image (config digest)."),
        _c("image_name", "string", _IMAGE_NAME),
        _c("rule", "category", "The rule's slug (`no-latest-tag`)."),
        _c("title", "category", "The rule's title."),
        _c("status", "category", "`pass`, `fail`, `warn`, `waived` or `no-data` (never counted as a pass)."),
        _c("severity", "category", "The rule's severity as the policy sets it: critical, high, medium or low."),
        _c("points", "Int64", "The rule's weight in the image's score."),
        _c("earned", "Float64", "Points earned: all for pass and waived, half for warn, none for fail and no-data."),
        _c("evidence", "string", "Why, in words, with the facts that decided it (untrusted text from images may appear).", redacted=True),
        _c("waiver_reason", "string", "The waiver that applied (status `waived`), or that has expired; missing otherwise."),
        _c("waiver_expires", "string", "That waiver's expiry date (YYYY-MM-DD), when it has one."),
        _c("waiver_expired", "boolean", "Whether that waiver had expired at the as-of time (it then no longer applies)."),
        _c("evaluated_at", "datetime", "The as-of time of the evaluation (UTC)."),
    ),
)

POLICY_SCORES = Table(
    "policy_scores", "image scored by a policy evaluation", ("image_id",),
    (
        _c("image_id", "string", "The image (config digest)."),
        _c("image_name", "string", _IMAGE_NAME),
        _c("score", "Float64", "Points earned as a percentage of the points of the rules that could judge the image (`no-data` results left out; 0-100); missing when no rule could."),
        _c("judged_share", "Float64", "Share of the points of the rules that ran that could judge the image (0-1): how much the score rests on."),
        _c("grade", "category", "A (>90), B (>70), C (>50), D (>30), E (>10) or F, as Docker Scout's health score; `N/A` when less than half of the points could be judged (too little data to grade)."),
        _c("pass_count", "Int64", "Rules passed."),
        _c("fail_count", "Int64", "Rules failed."),
        _c("warn_count", "Int64", "Rules warned."),
        _c("waived_count", "Int64", "Rules waived."),
        _c("no_data_count", "Int64", "Rules with no data (left out of the score, counted in `judged_share`)."),
        _c("worst_failure", "category", "Severity of the worst failed rule, when one failed."),
    ),
)

STALENESS = Table(
    "staleness", "image, and how far behind it is (`auditlib staleness`)", ("image_id",),
    (
        _c("image_id", "string", "The image (config digest)."),
        _c("image_name", "string", _IMAGE_NAME),
        _c("repository", "string", "Registry and repository of the tag the name shows (`docker.io/team/app`), when it shows one."),
        _c("created_at", "datetime", "When the image was built."),
        _c("age_days", "Float64", "Days since the build, at the as-of time."),
        _c("base_ref", "string", "The base image it was built on (`docker.io/library/debian:12`), when known."),
        _c("base_found_by", "category", "How the base is known: `dockerfile` (FROM), `label` (OCI base labels) or `layers` (its layers start this image's, as Docker Scout matches)."),
        _c("base_image_id", "string", "The base's image id at build time, when known (by layers)."),
        _c("base_created_at", "datetime", "When that base was built."),
        _c("base_age_days", "Float64", "Days since that base was built."),
        _c("base_current_image_id", "string", "The image the base tag points at now (registry or engine), when known."),
        _c("base_current_created_at", "datetime", "When that current base was built."),
        _c("base_drifted", "boolean", "Whether the base tag now points at another image than the one this image was built on (Docker Scout's refresh); missing when unknown."),
        _c("newer_tags", "string", "Newer tags of the image's repository in the same track, newest first, comma-separated (Renovate's rules: precision kept, suffix must match)."),
        _c("newest_tag", "string", "The newest of them."),
        _c("newer_tag_count", "Int64", "How many there are; missing when the repository's tags are unknown."),
        _c("base_newer_tags", "string", "Newer tags of the base's repository in the base tag's track, newest first."),
        _c("os_family", "string", "Distribution (`debian`, `alpine`, `ubuntu`, `rhel`, ...)."),
        _c("os_version", "string", "Its version."),
        _c("os_eol_date", "datetime", "When that version's support ends (from the bundled table, else unknown)."),
        _c("os_eol_kind", "category", "Which support ends then: `security`, `standard`, `lts`, `esm`."),
        _c("os_eol_source", "string", "Where the date comes from (endoflife.date product and the table's date)."),
        _c("os_is_eol", "boolean", "Whether the OS is past its end of life at the as-of time: the image's one end-of-life verdict (`os_end_of_life`); missing when unknown."),
        _c("os_eol_by", "category", "What decided it: `table` (the dated end-of-life table) or `scanner` (a scanner's EOL flag, when the table has no date for the release)."),
        _c("os_days_to_eol", "Float64", "Days until the end of life (negative: days since)."),
        _c("fixable_count", "Int64", "Distinct fixable vulnerabilities (vulnerability, package, version)."),
        _c("fixable_critical", "Int64", "Of them, critical."),
        _c("fixable_high", "Int64", "Of them, high."),
        _c("oldest_fix_days", "Float64", "Days the oldest available fix has been available (fix date, else first seen fixed, else publication)."),
        _c("fixable_in_base", "Int64", "Fixable vulnerabilities in packages of the base image's layers: a rebuild on a refreshed base fixes them."),
        _c("fixable_in_own", "Int64", "Fixable vulnerabilities in packages of the image's own layers: only a change of the image's own fixes them."),
        _c("upstream_newest_tag_at", "datetime", "When the newest tag of the base's (or image's) upstream repository was built."),
        _c("upstream_abandoned", "boolean", "Whether that newest tag is older than the abandonment threshold (Renovate's `abandonmentThreshold`)."),
        _c("running_containers", "Int64", "Running containers of this image."),
        _c("newer_build_image_id", "string", "A newer build of the same repository, when one exists (deployment lag)."),
        _c("deployment_lag_days", "Float64", "Days between this image's build and that newer build, for images running containers."),
        _c("rebuild_priority", "Float64", "Risk that fixing the image removes (`auditlib.assess.fix_first`): fixable vulnerabilities weighted 10/5/3/1 (critical/high/medium/low, as Dependency-Track), x2 over their SLA, x3 known exploited or x(1 + 2 EPSS); end of life 20 (5 within 90 days); base drift 10; a baked secret 30; root 5. 0 when nothing known is wrong (see `priority_unknown`)."),
        _c("priority_rank", "Int64", "Rank by that risk, 1 = fix first; ties broken by findings over SLA, known exploited, worst severity, then what is unknown."),
        _c("priority_reasons", "string", "What makes up the risk, in words, largest first."),
        _c("priority_actions", "string", "What removes it: rebuild on the refreshed base, upgrade a package to its fixed version, move off an OS past its end of life, remove a secret, set a non-root USER."),
        _c("priority_unknown", "string", "What the data does not say that the ranking needs (no vulnerability scan, end of life unknown, user unknown, not scanned for secrets); missing when nothing is unknown."),
        _c("evaluated_at", "datetime", "The as-of time (UTC)."),
    ),
)

OS_END_OF_LIFE = Table(
    "os_end_of_life", "image, and whether its OS is past its end of life (`auditlib.eol.verdict`)",
    ("image_id",),
    (
        _c("image_id", "string", "The image (config digest)."),
        _c("os_family", "string", "Distribution (`debian`, `alpine`, ...), as the sources say; missing when unknown."),
        _c("os_version", "string", "Its version."),
        _c("os_is_eol", "boolean", "Whether the OS is past its end of life at the as-of time; missing when unknown (no OS, a release the table lacks and no scanner flag)."),
        _c("os_eol_by", "category", "What decided it: `table` when the dated end-of-life table has the release (it wins over a scanner that disagrees: it is dated and read at the as-of time), else `scanner` (Trivy's EOSL, Grype's distro-eol: any that says so); missing when unknown."),
        _c("os_eol_date", "datetime", "When that release's support ends, by the table."),
        _c("os_eol_kind", "category", "Which support ends then: `security`, `standard`, `lts`, `esm`."),
        _c("os_eol_source", "string", "The table and its date (`endoflife.date debian, table of 2026-11-29`)."),
        _c("os_days_to_eol", "Float64", "Days from the as-of time to the end of life (negative: days since)."),
        _c("scanner_eol", "boolean", "What the scanners said (true when any said past its end of life); missing when none said."),
        _c("scanner_eol_tools", "string", "Which scanners said it, comma-separated."),
        _c("os_eol_evidence", "string", "The verdict in words, with its source and any disagreement."),
        _c("evaluated_at", "datetime", "The as-of time (UTC)."),
    ),
)

SCANNER_AGREEMENT = Table(
    "scanner_agreement",
    "finding of an image that two or more tools scanned for vulnerabilities, and whether they agree (`auditlib.fleet.agreement`; `auditlib agreement`)",
    ("image_id", "vuln_id", "pkg_name", "pkg_version"),
    (
        _c("image_id", "string", "The image (config digest)."),
        _c("image_name", "string", _IMAGE_NAME),
        _c("vuln_id", "string", "The vulnerability, as its CVE where the documents' aliases tie the reported id to exactly one (a GHSA Grype reports for a Java archive, the CVE Trivy reports); else the id as reported."),
        _c("reported_ids", "string", "The other ids the tools reported it as (`GHSA-jfh8-c2jp-5v3q`), comma-separated; missing when every tool used `vuln_id`."),
        _c("pkg_name", "string", "The package, as the first tool (by name) wrote it; tools are matched by the name without its namespace (the purl's name), in lower case."),
        _c("pkg_version", "string", "Its version, as the distribution writes it (`auditlib.normalize.pkg_versions`): tools that write another version found another package version."),
        _c("ecosystem", "category", "Its ecosystem's version order (`maven` for Java archives, `deb`, `rpm`, `apk`, `npm`, `pypi`, ...), by its purl, else its package type; missing when neither says."),
        _c("tools", "string", "The tools that scanned the image for vulnerabilities (`auditlib.fleet.coverage`; a scan that found nothing counts), comma-separated and sorted."),
        _c("found_by", "string", "Those that report the finding."),
        _c("missed_by", "string", "Those that scanned the image and do not report it; missing when every one does."),
        _c("state", "category", "`agree` (every tool found it, same severity and same fixed versions), `differ` (every tool found it; severity or fixed versions differ) or `partial` (only some found it)."),
        _c("severity_differs", "boolean", "Whether the tools gave it different severities (each tool's highest); missing for a `partial` finding (nothing to compare)."),
        _c("fix_differs", "boolean", "Whether the tools name different sets of fixed versions (none on both sides is the same); missing for a `partial` finding."),
        _c("severities", "string", "Each tool's severity (`grype: high; trivy: medium`)."),
        _c("fixed_versions", "string", "Each tool's fixed versions (`grype: 1.2.3; trivy: none`)."),
    ),
)

DERIVED_TABLES: tuple[Table, ...] = (POLICY_RESULTS, POLICY_SCORES, STALENESS, OS_END_OF_LIFE,
                                     SCANNER_AGREEMENT)
"""Tables computed from the others (policy evaluation), not read from sources."""

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def data_table(name: str) -> Table:
    """Return the declaration of table `name`, one of `DATA_TABLES` (what `AuditData` holds).

    Raises:
        KeyError: naming the tables that are, if it is not one (a table the store keeps as
            files only says so).
    """
    for t in DATA_TABLES:
        if t.name == name:
            return t
    if name in TABLES_BY_NAME:
        raise KeyError(f"{name}: kept by the store as files only, for the engines "
                       "(`auditlib.engine`); it is not read into memory")
    raise KeyError(f"{name}: no such table; tables are {', '.join(t.name for t in DATA_TABLES)}")


def get_table(name: str) -> Table:
    """Return the declaration of table `name`.

    Raises:
        KeyError: if no table has that name.
    """
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name}: no such table; tables are {', '.join(TABLES_BY_NAME)}") from None


def has_dtype(series: pd.Series, dtype: str) -> bool:
    """Return whether `series` has the declared dtype `dtype` (any categories, for `category`)."""
    if dtype == "category":
        return isinstance(series.dtype, pd.CategoricalDtype) and not series.dtype.ordered
    return bool(series.dtype == DTYPES[dtype])


def concat(table: Table, frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames of `table`, keeping `category` columns categorical across them.

    (`pd.concat` falls back to plain objects when the frames' categories differ.) Frames without
    rows are left out: most tables of a shard of a large load are empty, and joining an empty
    part costs as much as joining a full one.
    """
    frames = [f for f in frames if len(f)] or frames[:1]
    if len(frames) == 1:
        return frames[0]
    data: dict[str, Any] = {}
    for col in table.columns:
        parts = [f[col.name] for f in frames]
        if col.dtype == "category":
            cats = [p.array for p in parts if len(p)] or [parts[0].array]
            if len({c.categories.dtype for c in cats}) > 1:
                # An all-missing part has object categories, others str: make them agree.
                cats = [c.set_categories(c.categories.astype(object)) for c in cats]
            data[col.name] = pd.Series(union_categoricals(cats))
        else:
            data[col.name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(data, copy=False)  # the columns are new: no need to copy them again


def conform(table: Table, df: pd.DataFrame) -> pd.DataFrame:
    """Return `df` with the declared dtype on every column (as read back from Parquet, say).

    A declared column `df` lacks (a snapshot written before the column was declared) is missing
    in every row: unknown, never a default. Columns not declared are dropped.
    Columns declared `redacted` are redacted (`redact_series`): a snapshot written before a
    column was declared so, or by another writer, reads as a new one would be written.
    """
    out = {}
    for col in table.columns:
        if col.name not in df.columns:
            out[col.name] = pd.Series(pd.NA, index=df.index, dtype=DTYPES[col.dtype])
            continue
        s = df[col.name]
        s = s if has_dtype(s, col.dtype) else s.astype(DTYPES[col.dtype])
        out[col.name] = redact_series(s) if col.redacted else s
    return pd.DataFrame(out, index=df.index)


def redact_series(s: pd.Series) -> pd.Series:
    """Return a text column with every value passed through `auditlib.normalize.redact`; `s`
    itself when nothing is masked. Each distinct value is looked at once (for a categorical
    column, its categories; categories that become equal are merged)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = list(s.cat.categories)
        masked = redact_values(cats)
        if masked is cats:
            return s
        new_codes, uniques = pd.factorize(pd.Index(list(masked)))
        codes = s.cat.codes.to_numpy()
        remapped = np.where(codes >= 0, new_codes[np.maximum(codes, 0)], -1)
        return pd.Series(
            pd.Categorical.from_codes(remapped, dtype=pd.CategoricalDtype(pd.Index(list(uniques)))),
            index=s.index, name=s.name,
        )
    distinct = list(s.dropna().unique())
    masked = redact_values(distinct)
    if masked is distinct:
        return s
    changed = {a: b for a, b in zip(distinct, masked, strict=True) if a != b}
    return s.replace(changed)


def empty(table: Table) -> pd.DataFrame:
    """Return a zero-row DataFrame with the table's columns and dtypes."""
    return pd.DataFrame({c.name: pd.Series([], dtype=DTYPES[c.dtype]) for c in table.columns})


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_STR = pd.Index(["a"]).dtype
"""The dtype pandas gives an index of Python str (`str` in pandas 3, object before)."""
_DICTIONARY = pa.dictionary(pa.int32(), pa.large_string())


def category_dtype(names: list[str], of: Any = None) -> pd.CategoricalDtype:
    """Return the dtype of a categorical column whose categories are `names` (distinct, in
    their order), held as `of` (default: as pandas holds a list of str, `str` in pandas 3).

    Dtypes of up to `_CACHED_NAMES` names are made once and shared: the same names recur across
    the tables of a run (hosts, sources, image ids, scan ids), and checking them for a new dtype
    costs more than the rest of a small column."""
    of = _STR if of is None else of
    if len(names) <= _CACHED_NAMES:
        return _cached_category_dtype(tuple(names), of)
    return pd.CategoricalDtype(pd.Index(names, dtype=of))


@functools.lru_cache(maxsize=64)
def _cached_category_dtype(names: tuple[str, ...], of: Any) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(pd.Index(list(names), dtype=of))


_CACHED_NAMES = 1000
"""Categorical dtypes of at most this many names are shared (`category_dtype`)."""


def _series(values: Iterable[Any], dtype: str) -> pd.Series:
    if isinstance(values, pd.Series) and has_dtype(values, dtype):
        # Built typed already (the loader's provenance): only its index may need resetting.
        index = values.index
        if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
            return values
        return values.reset_index(drop=True)
    if dtype == "datetime":
        s = pd.Series(values, dtype=object)
        return pd.to_datetime(s, utc=True, errors="coerce", format="ISO8601").astype(DTYPES[dtype])
    if dtype == "category":
        if isinstance(values, list):
            # Dictionary-encoding the list in pyarrow (one pass) and sorting only the distinct
            # values is about twice as fast as `pd.Categorical(list)`, and gives the same thing:
            # categories sorted (pandas sorts them with pyarrow too, by UTF-8 bytes), as a `str`
            # index, and the same codes. (Parser rows hold str from JSON, never bytes, which
            # pyarrow would take as text where pandas keeps them as objects.)
            try:
                encoded = pa.array(values, type=_DICTIONARY)
            except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
                encoded = None  # not all str (or not UTF-8): pandas decides below, as before
            if encoded is not None and len(encoded.dictionary):
                order = pc.array_sort_indices(encoded.dictionary)
                rank = np.empty(len(order), dtype=np.int64)
                rank[order.to_numpy()] = np.arange(len(order))
                indices = encoded.indices
                codes = rank[indices.fill_null(0).to_numpy()]
                if indices.null_count:
                    codes[indices.is_null().to_numpy(zero_copy_only=False)] = -1
                # Categories of the dtype pandas infers for a list of str, without inferring it.
                cats = category_dtype(encoded.dictionary.take(order).to_pylist())
                return pd.Series(pd.Categorical.from_codes(codes, dtype=cats, validate=False))
        return pd.Series(pd.Categorical(list(values)))
    if dtype == "severity":
        codes = _severity_codes(values) if isinstance(values, list) else None
        if codes is not None:
            return pd.Series(pd.Categorical.from_codes(codes, dtype=SEVERITY_DTYPE,
                                                       validate=False))
        return pd.Series(pd.Categorical(list(values), dtype=SEVERITY_DTYPE)).fillna("unknown")
    if dtype == "Int64":
        # Out-of-range or non-integral values become <NA> (the loader warns about them) rather
        # than failing the whole table.
        ints = [v if type(v) is int and _INT64_MIN <= v <= _INT64_MAX else None for v in values]
        return pd.Series(pd.array(ints, dtype=DTYPES[dtype]))
    if dtype == "Float64":
        num = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
        return pd.Series(num, dtype="float64").astype(DTYPES[dtype])
    if dtype == "boolean":
        flags = [v if type(v) is bool else None for v in values]
        return pd.Series(pd.array(flags, dtype=DTYPES[dtype]))
    if dtype == "string" and isinstance(values, list):
        # pyarrow builds a string column from a list about twice as fast as astype("string").
        try:
            return pd.Series(pd.array(pa.array(values, type=pa.large_string()), dtype=DTYPES[dtype]))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # a non-str value: let pandas convert it (and fail clearly if it cannot)
    return pd.Series(values, dtype=object).astype(DTYPES[dtype])


_SEVERITY_CODE = {name: i for i, name in enumerate(SEVERITY_DTYPE.categories)}
_UNKNOWN_SEVERITY = _SEVERITY_CODE["unknown"]


def _severity_codes(values: list[Any]) -> np.ndarray | None:
    """Return the codes of a `severity` column of `values` (a severity name is itself, anything
    else `unknown`, as `pd.Categorical(values, dtype=SEVERITY_DTYPE).fillna("unknown")` gives),
    or None when they are not all str or None (pandas then decides).

    Each distinct value is looked up once (pyarrow's dictionary encoding, as for `category`):
    about six times faster than pandas' conversion of a list of a few distinct names.
    """
    try:
        encoded = pa.array(values, type=_DICTIONARY)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        return None
    # One code per distinct value, and the last for a missing one.
    lut = np.array([_SEVERITY_CODE.get(v, _UNKNOWN_SEVERITY)
                    for v in encoded.dictionary.to_pylist()] + [_UNKNOWN_SEVERITY], dtype=np.int8)
    indices = encoded.indices.fill_null(len(lut) - 1).to_numpy()
    codes: np.ndarray = lut[indices]
    return codes


def _missing(dtype: str, length: int) -> pd.Series:
    """Return a column of `length` missing values of `dtype` (a severity is `unknown`).

    The same as `pd.array([None] * length, dtype=...)`, built from its parts: most columns of a
    table are missing in the rows of any one source, and that conversion costs several times
    more per column."""
    if dtype == "severity":
        return _series([None] * length, dtype)  # missing means unknown
    if dtype == "string":
        return pd.Series(pd.array(pa.nulls(length, pa.large_string()), dtype=DTYPES[dtype]))
    if dtype in ("Int64", "Float64", "boolean"):
        zeros = np.zeros(length, dtype={"Int64": np.int64, "Float64": np.float64}.get(dtype, bool))
        kind = {"Int64": pd.arrays.IntegerArray, "Float64": pd.arrays.FloatingArray}.get(
            dtype, pd.arrays.BooleanArray)
        return pd.Series(kind(zeros, np.ones(length, dtype=bool)))
    if dtype == "category":
        return pd.Series(pd.Categorical.from_codes(
            np.full(length, -1, dtype=np.int8), dtype=_NO_CATEGORIES[length > 0],
            validate=False))
    return pd.Series(pd.array([None] * length, dtype=DTYPES[dtype]))


_NO_CATEGORIES = (pd.CategoricalDtype(pd.Index([], dtype=object)),
                  pd.CategoricalDtype(pd.Index([], dtype="float64")))
"""The dtype of a categorical column with no value, as pandas infers it from no rows and from
rows of None."""


@functools.cache
def _no_rows(dtype: str) -> ExtensionArray:
    """Return the zero-length array of `dtype` (`_missing(dtype, 0)`), made once: a load builds
    the empty tables of every format it did not read, and making their arrays column by column
    was three quarters of the cost of a fresh process's empty tables. Shared by every empty
    table: a zero-length array holds nothing to change, and a frame replaces a column it sets."""
    empty: ExtensionArray = _missing(dtype, 0).array
    return empty


def frame(table: Table, columns: dict[str, list[Any]], length: int) -> pd.DataFrame:
    """Build the typed DataFrame of `table` from column lists.

    Args:
        table: the declaration.
        columns: values by column name; a missing column is all `<NA>`. Times may be ISO 8601
            strings (converted to UTC here; an unparseable time becomes `<NA>`).
        length: the number of rows.

    Returns:
        A DataFrame with exactly the declared columns, in order, with the declared dtypes;
        columns declared `redacted` with every value passed through `auditlib.normalize.redact`
        (this is where every row of every table passes: the one redaction step).

    Raises:
        ValueError: if a column list does not have `length` values, or names an undeclared column.
    """
    unknown = set(columns) - set(table.column_names)
    if unknown:
        raise ValueError(f"{table.name}: undeclared columns {sorted(unknown)}")
    # Columns built here are given as arrays (a frame of Series aligns each one's index, which
    # costs more than building most columns); a Series the caller gave stays one, so that
    # pandas knows the frame shares it.
    data: dict[str, pd.Series | ExtensionArray] = {}
    for col in table.columns:
        values = columns.get(col.name)
        if values is None:
            data[col.name] = _missing(col.dtype, length).array if length else _no_rows(col.dtype)
            continue
        if len(values) != length:
            raise ValueError(f"{table.name}.{col.name}: {len(values)} values for {length} rows")
        given = isinstance(values, pd.Series)
        if col.redacted:
            values = (redact_series(values) if isinstance(values, pd.Series)
                      else redact_values(values if isinstance(values, list) else list(values)))
        built = _series(values, col.dtype)
        data[col.name] = built if given else built.array
    # The columns were just built for this frame: taking them as they are saves a copy of each.
    return pd.DataFrame(data, index=pd.RangeIndex(length), copy=False)


def jsonable(value: Any) -> Any:
    """Return a table cell (or a dict or list of them) as plain JSON data: None for a missing
    value, ISO 8601 text for times and dates, Python numbers for numpy and pandas scalars."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def data_dictionary() -> str:
    """Return the data dictionary as Markdown (the text of `docs/tables.md`)."""
    lines = [
        "# auditlib tables",
        "",
        "Generated from `auditlib/tables.py` by `python -m auditlib.tables > docs/tables.md`; do not edit.",
        "Dtypes are pandas nullable dtypes; `severity` is ordered unknown < negligible < low < medium < high <",
        "critical; `datetime` is `datetime64[ns, UTC]`.",
        "Columns marked **redacted** carry untrusted free text: credentials and secret-looking values in",
        "them are masked as `<redacted>` (`auditlib.normalize.redact`) where rows enter the table",
        "(`tables.frame`) and where it is read back from a store (`tables.conform`).",
        "",
    ]
    for t in (*TABLES, *DERIVED_TABLES):
        lines += [f"## `{t.name}`", "", f"One row per {t.row}. Key: {', '.join(f'`{k}`' for k in t.key)}.", ""]
        if t.name in MERGES:
            lines += _merge_lines(t)
            lines += ["| column | dtype | meaning | merged as |", "|---|---|---|---|"]
            lines += [f"| `{c.name}` | {c.dtype} | {c.meaning}{' **redacted**' if c.redacted else ''} "
                      f"| {merge_rule(t, c.name)} |" for c in t.columns]
        else:
            lines += ["| column | dtype | meaning |", "|---|---|---|"]
            lines += [f"| `{c.name}` | {c.dtype} | {c.meaning}{' **redacted**' if c.redacted else ''} |"
                      for c in t.columns]
        lines.append("")
    return "\n".join(lines)


def merge_rule(table: Table, column: str) -> str:
    """Return how `column` of `table` is merged when entries of one document share the key: `key`
    for a key column (and the provenance, equal within a document), the declared rule
    (`MERGES`), else `primary`."""
    if column in table.key or column in ("source", "source_format", "collected_at"):
        return "key"
    return MERGES.get(table.name, {}).get(column, "primary")


def _merge_lines(table: Table) -> list[str]:
    """Return the data dictionary's words on how `table`'s rows of one key are merged."""
    return [
        "Entries of one document that share the key (a scanner that reports a vulnerability of a",
        "package at a place more than once, as Grype does once per matcher that found it) are merged",
        "into one row, counted in `occurrence_count`. The primary entry is the one of highest",
        "severity, the first in the document among equals. The column `merged as` gives each",
        "column's rule:",
        "",
        *(f"- `{name}`: {meaning}." for name, meaning in MERGE_RULES.items()),
        "",
    ]


if __name__ == "__main__":  # pragma: no cover
    print(data_dictionary(), end="")
