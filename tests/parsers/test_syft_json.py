"""Syft JSON (schema 1.x to 16): every syft-json corpus file, and small hand-written failure cases.

Expected values were read from the corpus files themselves (artifacts, licences, source, distro).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from tests.conftest import corpus_path

BOOKWORM = "syft-json/syft-1.18.1-schema-16-debian-bookworm-image.json"
BOOKWORM_IMAGE_ID = "sha256:dde33cad6cb4d17f6e0fc0abac6c4153b750d4ddb25533686f480400a692160f"


@functools.cache
def _corpus(rel: str) -> auditlib.AuditData:
    """Load a corpus file once per test session (tests only read the frames)."""
    data = auditlib.load(corpus_path(rel))
    assert data.load_errors.empty, data.load_errors["reason"].tolist()
    return data


def _value(df: pd.DataFrame, column: str, **where: Any) -> Any:
    """Return `column` of the one row of `df` matching `where`."""
    mask = pd.Series(True, index=df.index)
    for k, v in where.items():
        mask &= df[k] == v
    hits = df.loc[mask, column]
    assert len(hits) == 1, f"{len(hits)} rows match {where}"
    value = hits.iloc[0]
    return None if pd.isna(value) else value


# file, packages, package_licenses, scans fields, and fields of one package (by name).
CORPUS_CASES: list[tuple[str, int, int, dict[str, Any], dict[str, Any]]] = [
    (
        "syft-json/syft-0.12.7-schema-1.0.1-ubuntu-pruned.json", 4, 4,
        {"format_version": "1.0.1", "tool_version": "0.12.7", "target": "ubuntu:20.04",
         "target_type": "container_image",
         "image_id": "sha256:f63181f19b2fe819156dcb068b3b5bc036820bec7014c5f77277cfa341d4cb5e",
         "os_family": "ubuntu", "os_version": "20.04"},
        # Schema 1.0 artifacts have no id: the purl names them.
        {"name": "libacl1", "package_id": "pkg:deb/ubuntu/libacl1@2.2.53-6?arch=amd64",
         "version": "2.2.53-6", "package_type": "deb", "path": "/var/lib/dpkg/status",
         "layer_diff_id": "sha256:9f32931c9d28f10104a8eb1330954ba90e76d92b02c5256521ba864feec14009",
         "source_name": "acl", "source_version": "2.2.53-6", "license_class": "strong-copyleft",
         "found_by": "dpkgdb-cataloger"},
    ),
    (
        "syft-json/syft-schema-1.1.0-alpine.json", 14, 24,
        {"format_version": "1.1.0", "tool_version": None, "target": "alpine:latest",
         "target_type": "container_image",
         "image_id": "sha256:14119a10abf4669e8cdbdff324a9f9605d99697215a0d21c360fe8dfa8471bab",
         "repo_digest": "sha256:e1c082e3d3c45cccac829840a25941e679c25d438cc8412c2fa221cf1a824e6a",
         "os_family": "alpine", "os_version": "3.14.2"},
        {"name": "alpine-baselayout", "package_id": "880965c7-95ff-483c-80bb-22799bbbee63",
         "version": "3.2.0-r16", "package_type": "apk",
         "purl": "pkg:apk/alpine/alpine-baselayout@3.2.0-r16?arch=x86_64",
         "license_expression": "GPL-2.0-only", "license_class": "strong-copyleft",
         "source_name": None, "found_by": "apkdb-cataloger"},
    ),
    (
        "syft-json/syft-schema-1.1.0-grype-source-dir.json", 43, 2,
        {"format_version": "1.1.0", "target": "./", "target_type": "filesystem", "image_id": None,
         "os_family": None},
        {"name": "Pygments", "package_id": "bef1ce7f-cce6-4049-9da4-53882a612bb3",
         "package_type": "pypi", "purl": "pkg:pypi/Pygments@2.6.1", "license_expression": None,
         "license_class": "permissive", "layer_diff_id": None,
         "path": "test/integration/testdata/image-debian-match-coverage/python/dist-info/METADATA"},
    ),
    (
        "syft-json/syft-0.91.0-schema-11.0.0-identify.json", 1, 0,
        {"format_version": "11.0.0", "tool_version": "0.91.0", "target": "go.mod",
         "target_type": "filesystem", "image_id": None},
        {"name": "github.com/wagoodman/go-partybus", "package_id": "2ff71a67fb024c86",
         "package_type": "golang", "path": "/go.mod", "license_class": "unknown",
         "found_by": "go-module-file-cataloger"},
    ),
    (
        "syft-json/syft-0.94.0-schema-11.0.1-ignore-reason.json", 1, 0,
        {"format_version": "11.0.1", "tool_version": "0.94.0", "target": "busybox:1.31",
         "image_id": "sha256:19d689bc58fd64da6a46d46512ea965a12b6bfb5b030400e21bc0a04c4ff155e",
         "repo_digest": "sha256:95cf004f559831017cdf4628aaf1bb30133677be8702a8c5f2994629f637a209",
         "image_ref": "docker.io/library/busybox:1.31", "os_family": "busybox",
         "os_version": "1.31.1"},
        # No purl: the type is Syft's own.
        {"name": "busybox", "package_id": "20a169629a73fdbd", "version": "1.31.1",
         "package_type": "binary", "purl": None, "path": "/bin/[",
         "found_by": "binary-cataloger"},
    ),
    (
        "syft-json/syft-0.101.1-schema-13.0.0-alpine.json", 14, 17,
        {"format_version": "13.0.0", "tool_version": "0.101.1", "target": "alpine:3.12",
         "image_id": "sha256:cc604a625da1289c5dd57f947318133161ff7f40fb03dc2a649300473b97e743",
         "repo_digest": "sha256:c75ac27b49326926b803b9ed43bf088bc220d22556de1bc5f72d742c91398f69",
         "os_family": "alpine", "os_version": "3.12.12"},
        {"name": "alpine-baselayout", "package_id": "70a21b16f1a2cc6a", "version": "3.2.0-r7",
         "package_type": "apk", "path": "/lib/apk/db/installed",
         "layer_diff_id": "sha256:d80e0208345a5c0e0e5575f11f35d99a179bcdfec9a075828e774145c0245eb6",
         "license_expression": "GPL-2.0-only", "found_by": "apk-db-cataloger"},
    ),
    (
        "syft-json/syft-head-encoder-image-mockdata.json", 2, 1,
        # The snapshot redactor removed `schema`.
        {"format_version": "unknown", "tool_version": "v0.42.0-bogus", "target": "user-image-input",
         "image_id": "sha256:35a6658e24fab92eae9ec6fc252dec58986c4c007891758d4d37c7e43fbbe0c5",
         "os_family": "debian", "os_version": "1.2.3"},
        # `a-purl-1` is not a package URL, so it is dropped and Syft's type is kept.
        {"name": "package-1", "package_id": "2f52f617f1548337", "package_type": "python",
         "purl": None, "path": "/somefile-1.txt", "license_expression": "MIT",
         "license_class": "permissive", "found_by": "the-cataloger-1"},
    ),
    (
        BOOKWORM, 88, 605,
        {"format_version": "16.0.18", "tool_version": "1.18.1", "target": "local/debian:bookworm",
         "target_type": "container_image", "image_id": BOOKWORM_IMAGE_ID,
         "image_ref": "docker.io/local/debian:bookworm", "os_family": "debian", "os_version": "12"},
        {"name": "libc6", "package_id": "6ca29543abc1207b", "version": "2.36-9+deb12u14",
         "package_type": "deb", "source_name": "glibc", "source_version": "2.36-9+deb12u14",
         "license_expression": "GPL-2.0-only AND LGPL-2.1-only",
         "license_class": "strong-copyleft", "path": "/usr/share/doc/libc6/copyright",
         "found_by": "dpkg-db-cataloger"},
    ),
]


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("rel", "n_packages", "n_licenses", "scan", "package"), CORPUS_CASES,
    ids=[Path(c[0]).stem for c in CORPUS_CASES],
)
def test_corpus_file(
    rel: str, n_packages: int, n_licenses: int, scan: dict[str, Any], package: dict[str, Any]
) -> None:
    data = _corpus(rel)
    assert len(data.scans) == 1
    row = data.scans.iloc[0]
    assert row["format"] == "syft-json" and row["tool"] == "syft"
    for k, v in scan.items():
        got = None if pd.isna(row[k]) else row[k]
        assert got == v, k
    assert len(data.packages) == n_packages
    assert len(data.package_licenses) == n_licenses
    assert data.packages["package_id"].is_unique
    assert (data.packages["image_id"].isna() if scan.get("image_id") is None
            else data.packages["image_id"] == scan["image_id"]).all()
    for k, v in package.items():
        assert _value(data.packages, k, name=package["name"]) == v, k
    # Every licence row belongs to a package row of the same document.
    assert set(data.package_licenses["package_id"]) <= set(data.packages["package_id"])


@pytest.mark.corpus
def test_bookworm_image_and_licences() -> None:
    data = _corpus(BOOKWORM)
    img = data.images.iloc[0]
    assert len(data.images) == 1 and img["image_id"] == BOOKWORM_IMAGE_ID
    assert (img["os"], img["architecture"], img["size_bytes"], img["layer_count"]) == (
        "linux", "amd64", 198889681, 1
    )
    # repoDigests is empty: the manifest digest stands in, under the tag's repository.
    manifest = "sha256:f574aa226f077d541f0376b2d4af734154f7cc2daf4b32b4011100bf0e9ba6e1"
    assert img["repo_digest"] == manifest
    assert sorted(data.image_tags["reference"]) == [
        "docker.io/local/debian:bookworm", f"docker.io/local/debian@{manifest}"
    ]
    lic = data.package_licenses
    adduser = lic[lic["package_name"] == "adduser"]
    assert adduser["license"].tolist() == ["GPL-2", "GPL-2+"]
    assert adduser["license_spdx"].tolist() == ["GPL-2.0-only", "GPL-2.0-or-later"]
    assert set(adduser["file_path"]) == {"/usr/share/doc/adduser/copyright"}
    assert (lic["license_source"] == "declared").all() and (lic["severity"] == "unknown").all()
    assert _value(data.packages, "license_expression", name="adduser") == (
        "GPL-2.0-only AND GPL-2.0-or-later"
    )
    # A dpkg package without a Source field is its own source package.
    assert _value(data.packages, "source_name", name="adduser") == "adduser"
    assert _value(data.packages, "source_name", name="gpgv") == "gnupg2"


# A minimal Syft document of schema 16; each case below changes one thing.
_DOC: dict[str, Any] = {
    "artifacts": [
        {"id": "a1", "name": "zlib1g", "version": "1:1.2.13", "type": "deb",
         "purl": "pkg:deb/debian/zlib1g@1:1.2.13", "foundBy": "dpkg-db-cataloger",
         "locations": [{"path": "/var/lib/dpkg/status", "layerID": "sha256:" + "a" * 64}],
         "licenses": [{"value": "Zlib", "spdxExpression": "Zlib", "type": "declared"}],
         "metadata": {"package": "zlib1g", "source": "zlib", "sourceVersion": "", "files": []}},
        {"id": "a2", "name": "left-pad", "version": "1.3.0", "type": "npm",
         "purl": "pkg:npm/left-pad@1.3.0", "licenses": [], "locations": []},
    ],
    "artifactRelationships": [],
    "files": [],
    "source": {"id": "src", "name": "example", "version": "1", "type": "image",
               "metadata": {"userInput": "example:1", "imageID": "sha256:" + "1" * 64,
                            "manifestDigest": "sha256:" + "2" * 64, "tags": ["example:1"],
                            "imageSize": 10, "layers": [{}], "repoDigests": []}},
    "distro": {"id": "debian", "versionID": "12"},
    "descriptor": {"name": "syft", "version": "1.18.1"},
    "schema": {"version": "16.0.18",
               "url": "https://raw.githubusercontent.com/anchore/syft/main/schema/json/schema-16.0.18.json"},
}


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at a dotted path (`artifacts.0.name`); the value `...` deletes the key."""
    *parents, last = path.split(".")
    node: Any = doc
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is Ellipsis:
        del node[int(last) if isinstance(node, list) else last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


# id, changes, expected level (None: no load_errors row), words the locator or reason must hold,
# packages expected.
FAILURES: list[tuple[str, dict[str, Any], str | None, str, int]] = [
    ("artifacts-object", {"artifacts": {"a": 1}}, "error", "$.artifacts", 0),
    ("artifacts-string", {"artifacts": "none"}, "error", "$.artifacts", 0),
    ("artifacts-null", {"artifacts": None}, None, "", 0),
    ("artifact-without-name", {"artifacts.1.name": ...}, "warning", "$.artifacts[1]", 1),
    ("artifact-name-number", {"artifacts.0.name": 7}, "warning", "$.artifacts[0]", 1),
    ("artifact-not-object", {"artifacts.1": "left-pad"}, "warning", "$.artifacts[1]", 1),
    ("licenses-not-list", {"artifacts.0.licenses": "Zlib"}, "warning", "$.artifacts[0]", 1),
    ("location-number", {"artifacts.0.locations": [5]}, "warning", "$.artifacts[0]", 1),
    ("duplicate-id", {"artifacts.1.id": "a1"}, "warning", "repeats an earlier artifact", 1),
    ("artifact-is-subject", {"artifacts.1.id": "src"}, None, "", 1),
    ("source-string", {"source": "example"}, "error", "$.source", 0),
    ("image-size-text", {"source.metadata.imageSize": "big"}, "error",
     "$.source.metadata.imageSize", 0),
    # Not an Int64: dropped with a warning, the packages kept.
    ("image-size-huge", {"source.metadata.imageSize": 2**70}, "warning",
     "$.source.metadata.imageSize", 2),
    ("tags-not-list", {"source.metadata.tags": "example:1"}, "error", "$.source.metadata.tags", 0),
    ("distro-list", {"distro": []}, "error", "$.distro", 0),
    ("descriptor-version-number", {"descriptor.version": 1}, "error", "$.descriptor.version", 0),
    ("no-source", {"source": ...}, "warning", "$.source", 2),
    ("dpkg-source-not-text", {"artifacts.0.metadata.source": {"x": 1}}, None, "", 2),
]


@pytest.mark.parametrize(
    ("changes", "level", "words", "n_packages"), [f[1:] for f in FAILURES],
    ids=[f[0] for f in FAILURES],
)
def test_bad_input(
    tmp_path: Path, changes: dict[str, Any], level: str | None, words: str, n_packages: int
) -> None:
    doc = copy.deepcopy(_DOC)
    for path, value in changes.items():
        _set(doc, path, value)
    file = tmp_path / "sbom.syft.json"
    file.write_text(json.dumps(doc))
    data = auditlib.load(file)
    errors = data.load_errors
    if level is None:
        assert errors.empty, errors["reason"].tolist()
    else:
        assert len(errors) == 1, errors["reason"].tolist()
        err = errors.iloc[0]
        # Errors name the format; warnings the format and version read (`syft-json@16.0.18`).
        assert err["level"] == level and err["format"].split("@")[0] == "syft-json"
        assert words in f"{err['locator']} {err['reason']}"
        if level == "error":
            assert str(file) in err["reason"]
    assert len(data.packages) == n_packages
    assert len(data.scans) == (0 if level == "error" else 1)


def _load(tmp_path: Path, doc: dict[str, Any]) -> auditlib.AuditData:
    path = tmp_path / "sbom.json"
    path.write_text(json.dumps(doc))
    data = auditlib.load(path)
    assert data.load_errors.empty, data.load_errors["reason"].tolist()
    return data


def test_small_document(tmp_path: Path) -> None:
    data = _load(tmp_path, _DOC)
    scan = data.scans.iloc[0]
    assert (scan["target"], scan["target_type"], scan["image_id"]) == (
        "example:1", "container_image", "sha256:" + "1" * 64
    )
    assert scan["repo_digest"] == "sha256:" + "2" * 64
    zlib = data.packages.iloc[0]
    assert (zlib["package_id"], zlib["package_type"]) == ("a1", "deb")
    # sourceVersion is empty: the source version is the binary's.
    assert (zlib["source_name"], zlib["source_version"]) == ("zlib", "1:1.2.13")
    assert (zlib["license_expression"], zlib["license_class"], zlib["target"]) == (
        "Zlib", "permissive", "example:1"
    )
    pad = data.packages.iloc[1]
    assert (pad["package_type"], pad["license_class"]) == ("npm", "unknown")
    assert pad[["source_name", "path", "license_expression"]].isna().all()


def test_licences_declared_concluded_and_repeated(tmp_path: Path) -> None:
    doc = copy.deepcopy(_DOC)
    doc["artifacts"][0]["licenses"] = [
        {"value": "MIT", "spdxExpression": "MIT", "type": "declared"},
        {"value": "Apache 2", "spdxExpression": "Apache-2.0", "type": "declared",
         "locations": [{"path": "/LICENSE"}]},
        {"value": "MIT", "spdxExpression": "MIT", "type": "declared"},  # seen in another file
        {"value": "GPL-3.0-only", "spdxExpression": "GPL-3.0-only", "type": "concluded"},
        {"value": "", "spdxExpression": ""},
    ]
    doc["artifacts"][1]["licenses"] = [
        {"value": "MIT OR GPL-2.0-only", "spdxExpression": "MIT OR GPL-2.0-only",
         "type": "concluded"},
        {"value": "BSD-2-Clause", "type": "concluded"},
    ]
    data = _load(tmp_path, doc)
    lic = data.package_licenses
    assert list(zip(lic["package_id"], lic["license"], lic["license_source"], strict=True)) == [
        ("a1", "MIT", "declared"), ("a1", "Apache 2", "declared"),
        ("a1", "GPL-3.0-only", "concluded"),
        ("a2", "MIT OR GPL-2.0-only", "concluded"), ("a2", "BSD-2-Clause", "concluded"),
    ]
    assert _value(lic, "license_spdx", license="Apache 2") == "Apache-2.0"
    assert _value(lic, "file_path", license="Apache 2") == "/LICENSE"
    # Declared licences make the expression; the concluded GPL does not.
    assert _value(data.packages, "license_expression", package_id="a1") == "MIT AND Apache-2.0"
    assert _value(data.packages, "license_class", package_id="a1") == "permissive"
    # With nothing declared, the concluded ones are AND-ed, compound ones kept whole.
    assert _value(data.packages, "license_expression", package_id="a2") == (
        "(MIT OR GPL-2.0-only) AND BSD-2-Clause"
    )


def test_schema_1_shapes(tmp_path: Path) -> None:
    doc = {
        "artifacts": [
            # Before schema 1.0 a location could be a bare path; artifacts had no id.
            {"name": "musl", "version": "1.2.2-r3", "type": "apk",
             "locations": ["/lib/apk/db/installed"], "licenses": ["MIT", "MIT"]},
            {"name": "musl", "version": "1.2.2-r3", "type": "apk", "locations": []},
        ],
        "source": {"type": "directory", "target": "/src"},
        "distro": {"name": "alpine", "version": "3.14.2", "idLike": ""},
        "descriptor": {"name": "syft", "version": "[not provided]"},
        "schema": {"version": "1.1.0", "url": "https://raw.githubusercontent.com/anchore/syft/main/schema/json/schema-1.1.0.json"},
    }
    data = _load(tmp_path, doc)
    scan = data.scans.iloc[0]
    assert (scan["target"], scan["target_type"]) == ("/src", "filesystem")
    assert scan["format_version"] == "1.1.0"
    assert pd.isna(scan["tool_version"]) and data.images.empty
    assert data.packages["package_id"].tolist() == ["apk:musl@1.2.2-r3", "apk:musl@1.2.2-r3#1"]
    assert data.packages["path"].iloc[0] == "/lib/apk/db/installed"
    assert data.package_licenses["license"].tolist() == ["MIT"]


def test_manifest_digest_without_a_repository_is_not_a_reference(tmp_path: Path) -> None:
    doc = copy.deepcopy(_DOC)
    doc["source"]["metadata"].update(userInput="/tmp/image.tar", tags=[])
    data = _load(tmp_path, doc)
    assert data.image_tags.empty
    assert pd.isna(data.images["repo_digest"].iloc[0])
    assert data.images["image_id"].iloc[0] == "sha256:" + "1" * 64
