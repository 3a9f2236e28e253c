"""SPDX JSON 2.2/2.3 into `packages` and `package_licenses`: every corpus file, and failure cases.

Row meanings: one `packages` row per SPDX package except the document's subject (what
`documentDescribes` / DESCRIBES names: the image or folder itself, recorded in `scans`/`images`).
One `package_licenses` row per present `licenseDeclared` / `licenseConcluded` (NOASSERTION, NONE
and "" say nothing and give no row).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from auditlib.normalize import LICENSE_CLASSES
from tests.conftest import CORPUS, _corpus_missing

BOOKWORM_IMAGE_ID = "sha256:dde33cad6cb4d17f6e0fc0abac6c4153b750d4ddb25533686f480400a692160f"
SECOBSERVE = "spdx-json/secobserve-spdx-2.3-trivy-0.58.0-image-124pkgs.json"
SECOBSERVE_EMPTY = "spdx-json/secobserve-spdx-2.3-trivy-0.58.0-empty.json"
SYFT_ALPINE = "spdx-json/syft-spdx-2.2-alpine-3.10.json"
SYFT_MOCK = "spdx-json/syft-head-spdx-2.3-encoder-image-mockdata.json"
TRIVY_BOOKWORM = "spdx-json/trivy-0.76.0-spdx-debian-bookworm-image.json"
SYFT_BOOKWORM = "spdx-json/syft-1.18.1-spdx-debian-bookworm-image.json"
TRIVY_038 = "spdx-json/trivy-spdx-2.2-v0.38dev-conda.json"
SPDX3 = "malformed/dd-spdx-3.0-unsupported.json"

_CACHE: dict[str, auditlib.AuditData] = {}


def _load(corpus: Any, rel: str) -> auditlib.AuditData:
    # Each corpus file is read once per test run (the Syft bookworm SBOM is 3.9 MB).
    if rel not in _CACHE:
        _CACHE[rel] = corpus.load(rel)
    return _CACHE[rel]


def _licenses(data: auditlib.AuditData, name: str) -> dict[str, str]:
    lic = data.package_licenses
    rows = lic[lic["package_name"] == name]
    return dict(zip(rows["license_source"], rows["license"], strict=True))


# file, packages rows, declared rows, concluded rows, (tool, tool_version), target, target_type,
# image_id. Counts were checked against a plain `json.load` of each file.
CORPUS_TABLE = [
    (SECOBSERVE, 123, 117, 117, ("trivy", "0.58.0"),
     "ghcr.io/secobserve/secobserve-backend:1.20.0", "container_image",
     "sha256:3fd45f090e0fcd15489139af1579fd54cceed2df2d1675041ea7ce59f4c0eecd"),
    (SECOBSERVE_EMPTY, 0, 0, 0, ("trivy", "0.58.0"),
     "ghcr.io/secobserve/secobserve-backend:1.20.0", "container_image", None),
    (SYFT_ALPINE, 3, 3, 3, ("syft", "[not provided]"), "alpine-3.10", "container_image", None),
    ("spdx-json/syft-0.91.0-spdx-2.2-identify.json", 1, 0, 0, ("syft", "0.91.0"), "go.mod",
     "filesystem", None),
    ("spdx-json/syft-spdx-2.3-identify.json", 1, 0, 0, ("syft", "0.91.0"), "go.mod",
     "filesystem", None),
    (SYFT_MOCK, 2, 1, 0, ("syft", "v0.42.0-bogus"), "user-image-input", "container_image", None),
    (TRIVY_BOOKWORM, 89, 85, 85, ("trivy", "0.76.0"), "local/debian:bookworm", "container_image",
     BOOKWORM_IMAGE_ID),
    # Syft SPDX carries no config digest (only the manifest digest, as the image's purl version).
    (SYFT_BOOKWORM, 88, 87, 0, ("syft", "1.18.1"), "local/debian", "container_image", None),
    (TRIVY_038, 3, 2, 2, ("trivy", "dev"), "testdata/fixtures/fs/conda", "filesystem", None),
    ("spdx-json/trivy-spdx-2.3-head-conda.json", 2, 2, 2, ("trivy", "dev"),
     "testdata/fixtures/repo/conda", "filesystem", None),
    ("spdx-json/trivy-spdx-2.3-head-julia.json", 4, 0, 0, ("trivy", "dev"),
     "testdata/fixtures/repo/julia", "filesystem", None),
]


def test_the_table_covers_every_spdx_file_of_the_corpus() -> None:
    if not CORPUS.is_dir():
        _corpus_missing()
    with (CORPUS / "MANIFEST.tsv").open() as f:
        rows = csv.DictReader(f, delimiter="\t")
        listed = {r["file"] for r in rows if r["format"] == "spdx-json"}
    assert listed == {row[0] for row in CORPUS_TABLE}


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("rel", "n_packages", "n_declared", "n_concluded", "tool", "target", "target_type", "image_id"),
    CORPUS_TABLE, ids=[Path(row[0]).stem for row in CORPUS_TABLE],
)
def test_corpus_file(corpus: Any, rel: str, n_packages: int, n_declared: int, n_concluded: int,
                     tool: tuple[str, str], target: str, target_type: str,
                     image_id: str | None) -> None:
    data = _load(corpus, rel)
    scan = data.scans.iloc[0]
    assert scan["format"] == "spdx-json"
    assert scan["format_version"] == ("2.2" if "2.2" in rel else "2.3")
    assert (scan["tool"], scan["tool_version"]) == tool
    assert (scan["target"], scan["target_type"]) == (target, target_type)
    assert (None if pd.isna(scan["image_id"]) else scan["image_id"]) == image_id
    pk = data.packages
    assert len(pk) == n_packages
    assert pk["package_id"].is_unique and pk["name"].notna().all()
    sources = data.package_licenses["license_source"].value_counts().to_dict()
    assert (sources.get("declared", 0), sources.get("concluded", 0)) == (n_declared, n_concluded)
    assert set(data.package_licenses["package_id"]) <= set(pk["package_id"])
    assert (pk["image_id"].isna().all() if image_id is None else (pk["image_id"] == image_id).all())
    assert set(pk["license_class"]) <= set(LICENSE_CLASSES)


@pytest.mark.corpus
def test_secobserve_trivy_image(corpus: Any) -> None:
    data = _load(corpus, SECOBSERVE)
    pk = data.packages
    # SecObserve counts 124 license components: every SPDX package, the scanned image itself
    # included (its [0]). auditlib leaves the document's subject out of `packages` (it is the
    # `scans`/`images` row), so SecObserve's [1], [2], [3] are rows 0, 1, 2 here.
    assert len(pk) == 124 - 1
    assert "SPDXRef-ContainerImage-82bc9d1b632a36cd" not in set(pk["package_id"])
    rundeps, django, pyjwt = (pk.iloc[i] for i in range(3))
    assert (rundeps["name"], rundeps["version"]) == (".python-rundeps", "20241001.223602")
    assert rundeps["purl"] == (
        "pkg:apk/alpine/.python-rundeps@20241001.223602?arch=noarch&distro=3.20.3")
    assert rundeps["package_type"] == "apk" and rundeps["found_by"] == "alpine"
    assert rundeps["layer_diff_id"] == (
        "sha256:ae31132e71b1101ac764360e85042513435c46a929ced88207642933d208ad0f")
    assert _licenses(data, ".python-rundeps") == {}  # both NOASSERTION
    assert rundeps["license_class"] == "unknown" and pd.isna(rundeps["license_expression"])
    assert django["name"] == "Django"
    assert _licenses(data, "Django") == {"concluded": "BSD-3-Clause"}
    assert (django["license_expression"], django["license_class"]) == ("BSD-3-Clause", "permissive")
    # SecObserve reports Django's version "" (Trivy 0.58 wrote versionInfo ""); auditlib takes
    # the version from the purl (`pkg:pypi/django@5.1.2`) so the row joins vulnerability rows.
    assert django["version"] == "5.1.2" and django["purl"] == "pkg:pypi/django@5.1.2"
    assert django["path"] == ".venv/lib/python3.12/site-packages/Django-5.1.2.dist-info/METADATA"
    assert django["found_by"] == "python-pkg"
    assert (pyjwt["name"], pyjwt["version"]) == ("PyJWT", "2.9.0")
    assert _licenses(data, "PyJWT") == {"declared": "MIT"}
    assert pyjwt["license_expression"] == "MIT"  # concluded is NOASSERTION: declared is used
    perl = pk.iloc[89 - 1]  # SecObserve's [89]
    assert (perl["name"], perl["version"]) == ("perl", "5.38.2-r0")
    assert _licenses(data, "perl") == {"declared": "Artistic-1.0-Perl AND GPL-1.0-or-later",
                                       "concluded": "Artistic-1.0-Perl AND GPL-1.0-or-later"}
    # Kept: Trivy's OPERATING-SYSTEM package, as package_type `operating-system`.
    alpine = pk[pk["package_type"] == "operating-system"]
    assert alpine[["name", "version"]].values.tolist() == [["alpine", "3.20.3"]]
    img = data.images.iloc[0]
    assert img["repo_digest"] == (
        "sha256:ce5416f0ca293e258ac5c7d8500eb41198064904379c6b033416772e07c3cf36")
    assert img["image_ref"] == "ghcr.io/secobserve/secobserve-backend:1.20.0"
    assert (img["os_family"], img["os_version"]) == ("alpine", "3.20.3")
    assert img["architecture"] == "amd64"  # the purl's `arch` qualifier
    assert img["layer_count"] == 13
    assert sorted(data.image_tags["tag"].dropna()) == ["1.20.0"]
    labels = dict(zip(data.image_labels["label"], data.image_labels["value"], strict=True))
    assert len(labels) == 10 and labels["org.opencontainers.image.version"] == "1.20.0"
    assert data.load_errors.empty


@pytest.mark.corpus
def test_secobserve_empty(corpus: Any) -> None:
    data = _load(corpus, SECOBSERVE_EMPTY)
    # SecObserve test_no_observation: scanner trivy-0.58.0, 0 license components.
    assert data.packages.empty and data.package_licenses.empty
    assert data.scans.iloc[0]["image_ref"] == "ghcr.io/secobserve/secobserve-backend:1.20.0"


@pytest.mark.corpus
def test_syft_alpine_3_10(corpus: Any) -> None:
    data = _load(corpus, SYFT_ALPINE)
    pk = data.packages
    # syft decoder_test: packages busybox, libssl1.1, ssl_client. Its relationships (busybox,
    # busybox, libssl1.1, libssl1.1 CONTAINS files) have no auditlib table.
    assert pk["name"].tolist() == ["busybox", "libssl1.1", "ssl_client"]
    assert pk["version"].tolist() == ["1.30.1-r5", "1.1.1k-r0", "1.30.1-r5"]
    assert (pk["package_type"] == "apk").all()
    assert (pk["path"] == "/lib/apk/db/installed").all()  # `acquired package info from APK DB: `
    assert pk["license_expression"].tolist() == ["GPL-2.0-only", "OpenSSL", "GPL-2.0-only"]
    assert _licenses(data, "busybox") == {"declared": "GPL-2.0", "concluded": "GPL-2.0"}
    # No DESCRIBES: nothing is left out, and the namespace (`/syft/image/`) says it is an image,
    # but the document names neither its config digest nor a reference.
    assert data.images.empty


@pytest.mark.corpus
@pytest.mark.parametrize("rel", ["spdx-json/syft-0.91.0-spdx-2.2-identify.json",
                                 "spdx-json/syft-spdx-2.3-identify.json"])
def test_syft_identify_files(corpus: Any, rel: str) -> None:
    pk = _load(corpus, rel).packages
    # The DESCRIBES subject `go.mod` (a DocumentRoot-File) is the target, not a package. The 2.2
    # file spells the purl category PACKAGE_MANAGER, the 2.3 file PACKAGE-MANAGER.
    assert pk["name"].tolist() == ["github.com/wagoodman/go-partybus"]
    row = pk.iloc[0]
    assert row["purl"] == (
        "pkg:golang/github.com/wagoodman/go-partybus@v0.0.0-20230516145632-8ccac152c651")
    assert (row["package_type"], row["path"]) == ("golang", "/go.mod")


@pytest.mark.corpus
def test_syft_encoder_mockdata(corpus: Any) -> None:
    data = _load(corpus, SYFT_MOCK)
    pk = data.packages.set_index("name")
    assert pk.loc["package-2", "purl"] == "pkg:deb/debian/package-2@2.0.1"
    assert pk.loc["package-1", "path"] == "/somefile-1.txt"
    # Mock data: `a-purl-1` is no purl, `created` is "redacted"; both are warnings, not errors.
    assert pk[["purl", "package_type"]].isna().loc["package-1"].all()
    reasons = data.load_errors["reason"].tolist()
    assert data.load_errors["level"].tolist() == ["warning", "warning"]
    assert "'a-purl-1' is not a package URL" in reasons[0] and "'redacted'" in reasons[1]
    img = data.images.iloc[0]
    digest = "sha256:2731251dc34951c0e50fcc643b4c5f74922dad1a5d98f302b504cf46cd5d9368"
    assert img["repo_digest"] == digest and pd.isna(img["image_id"])
    assert img["image_ref"] == f"docker.io/library/user-image-input@{digest}"


@pytest.mark.corpus
def test_trivy_bookworm(corpus: Any) -> None:
    data = _load(corpus, TRIVY_BOOKWORM)
    img = data.images.iloc[0]
    assert img["image_id"] == BOOKWORM_IMAGE_ID  # annotation `ImageID: sha256:...`
    assert (img["os_family"], img["os_version"]) == ("debian", "12.15")
    assert (img["size_bytes"], img["layer_count"]) == (203796480, 1)
    assert img["image_ref"] == "docker.io/local/debian:bookworm"
    assert pd.isna(img["repo_digest"])  # `docker import`ed: no registry, no RepoDigest
    pk = data.packages.set_index("name")
    zlib = pk.loc["zlib1g"]
    assert (zlib["version"], zlib["package_type"], zlib["found_by"]) == (
        "1:1.2.13.dfsg-1", "deb", "debian")
    assert (zlib["source_name"], zlib["source_version"]) == ("zlib", "1:1.2.13.dfsg-1")
    assert zlib["layer_diff_id"] == (
        "sha256:80766e1a4ba03d0ffae15fc5282d3c89bf58026ea7ef8cd199f7e861a5840d2e")
    assert pk.loc["util-linux-extra", "source_name"] == "util-linux"
    assert pk.loc["debian", "package_type"] == "operating-system"
    assert _licenses(data, "adduser") == {"declared": "GPL-2.0-or-later AND GPL-2.0-only",
                                          "concluded": "GPL-2.0-or-later AND GPL-2.0-only"}
    assert pk.loc["adduser", "license_class"] == "strong-copyleft"


@pytest.mark.corpus
def test_syft_bookworm(corpus: Any) -> None:
    data = _load(corpus, SYFT_BOOKWORM)
    img = data.images.iloc[0]
    # Syft SPDX names the image `local/debian` version `bookworm` with the purl
    # pkg:oci/local/debian@sha256:f574...: that is the manifest digest (Syft JSON's
    # `manifestDigest`), not the config digest, which this format does not carry.
    assert pd.isna(img["image_id"])
    assert img["repo_digest"] == (
        "sha256:f574aa226f077d541f0376b2d4af734154f7cc2daf4b32b4011100bf0e9ba6e1")
    assert (img["image_ref"], img["architecture"]) == ("docker.io/local/debian:bookworm", "amd64")
    pk = data.packages
    assert (pk["package_type"] == "deb").all() and pk["found_by"].isna().all()
    # Syft lists every location in `sourceInfo`; several are not one clean path.
    assert pk["path"].isna().all()
    assert _licenses(data, "zlib1g") == {"declared": "Zlib"}  # Syft concludes nothing
    trivy = _load(corpus, TRIVY_BOOKWORM).packages
    pairs = set(zip(pk["name"], pk["version"], strict=True))
    lib = trivy[trivy["package_type"] == "deb"]
    assert pairs == set(zip(lib["name"], lib["version"], strict=True))
    assert len(pairs) == 88


@pytest.mark.corpus
def test_trivy_0_38_spdx_2_2(corpus: Any) -> None:
    pk = _load(corpus, TRIVY_038).packages.set_index("name")
    # `documentDescribes` names the Filesystem package: left out. The Application package has no
    # primaryPackagePurpose in 2.2; its SPDXID says what it is. Files come from `hasFiles`.
    assert pk.index.tolist() == ["conda-pkg", "pip", "openssl"]
    assert pk.loc["conda-pkg", "package_type"] == "application"
    assert pk.loc["pip", "path"] == (
        "miniconda3/envs/testenv/conda-meta/pip-22.2.2-py38h06a4308_0.json")


@pytest.mark.corpus
def test_trivy_julia_paths(corpus: Any) -> None:
    pk = _load(corpus, "spdx-json/trivy-spdx-2.3-head-julia.json").packages
    assert pk["name"].tolist() == ["Manifest.toml", "A", "B", "B"]
    assert pk["package_type"].tolist() == ["application", "julia", "julia", "julia"]
    assert pk["path"].tolist()[1:] == ["Manifest.toml"] * 3  # `package found in: Manifest.toml`


@pytest.mark.corpus
def test_spdx_3_is_refused(corpus: Any) -> None:
    data = corpus.load(SPDX3, allow_error=True)
    errors = data.load_errors
    assert errors["level"].tolist() == ["error"] and errors["format"].tolist() == ["spdx-json"]
    reason = errors["reason"].iloc[0]
    # DefectDojo expects the message to name "SPDX-3.0"; the brief asks for what is read instead.
    assert reason.startswith(str(corpus.path(SPDX3)))
    for words in ("SPDX 3.0 is not supported", "SPDX-3.0", "SPDX-2.2", "SPDX-2.3 JSON"):
        assert words in reason
    assert data.scans.empty


# --- small hand-written documents -------------------------------------------------------------


def _pkg(spdx_id: str = "SPDXRef-Package-a", name: str = "a", **extra: Any) -> dict[str, Any]:
    return {"SPDXID": spdx_id, "name": name, "versionInfo": "1.0", **extra}


def _doc(**override: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "app",
        "creationInfo": {"creators": ["Organization: x", "Tool: my-tool-2.1.0-rc1"],
                         "created": "2024-01-02T03:04:05Z"},
        "packages": [_pkg()],
    }
    doc.update(override)
    return {k: v for k, v in doc.items() if v is not ...}


FAILURES = [  # (id, document, level, words the reason holds, packages rows)
    ("packages-not-a-list", _doc(packages={"a": 1}), "error", ["`$.packages`", "array"], 0),
    ("no-creation-info", _doc(creationInfo=...), "error", ["`$.creationInfo`", "missing"], 0),
    ("creators-not-a-list", _doc(creationInfo={"creators": "Tool: x-1"}), "error",
     ["`$.creationInfo.creators`"], 0),
    ("relationships-object", _doc(relationships={}), "error", ["`$.relationships`"], 0),
    ("describes-string", _doc(documentDescribes="SPDXRef-Package-a"), "error",
     ["`$.documentDescribes`"], 0),
    ("name-not-a-string", _doc(name=7), "error", ["`$.name`"], 0),
    ("spdx-2.1", _doc(spdxVersion="SPDX-2.1"), "error",
     ["spdx-json version 2.1 is not supported (supported: 2.2, 2.3)"], 0),
    ("spdx-3-with-2x-layout", _doc(spdxVersion="SPDX-3.0"), "error",
     ["SPDX 3.0 is not supported"], 0),
    ("package-without-spdxid", _doc(packages=[_pkg(), {"name": "b"}]), "warning",
     ["`$.packages[1]`", "`SPDXID`"], 1),
    ("package-name-number", _doc(packages=[{"SPDXID": "SPDXRef-x", "name": 3}, _pkg()]), "warning",
     ["`$.packages[0].name`"], 1),
    ("relationship-incomplete", _doc(relationships=[{"spdxElementId": "SPDXRef-DOCUMENT"}]),
     "warning", ["`$.relationships[0]`"], 1),
    ("bad-purl", _doc(packages=[_pkg(externalRefs=[{
        "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
        "referenceLocator": "not a purl"}])]), "warning", ["'not a purl' is not a package URL"], 1),
]


@pytest.mark.parametrize(("doc", "level", "words", "n_packages"), [f[1:] for f in FAILURES],
                         ids=[f[0] for f in FAILURES])
def test_failure_cases(tmp_path: Path, doc: dict[str, Any], level: str, words: list[str],
                       n_packages: int) -> None:
    path = tmp_path / "sbom.spdx.json"
    path.write_text(json.dumps(doc))
    data = auditlib.load(path)
    errors = data.load_errors
    assert errors["level"].tolist() == [level], errors.to_dict("records")
    reason = errors["reason"].iloc[0]
    assert all(w in reason for w in words), reason
    if level == "error":
        assert reason.startswith(str(path)) and data.scans.empty
    else:
        assert errors["locator"].iloc[0] and len(data.scans) == 1
    assert len(data.packages) == n_packages


def test_subjects_tools_and_licences(tmp_path: Path) -> None:
    none = {"licenseDeclared": "NONE", "licenseConcluded": "NOASSERTION"}
    doc = _doc(
        packages=[
            _pkg("SPDXRef-root", "root", primaryPackagePurpose="APPLICATION"),
            _pkg("SPDXRef-b", "b", licenseDeclared="MIT OR GPL-3.0-only", licenseConcluded="MIT"),
            _pkg("SPDXRef-c", "c", **none),
            _pkg("SPDXRef-d", "d", primaryPackagePurpose="LIBRARY",
                 annotations=[{"comment": "SrcName: d-src"}, {"comment": "SrcVersion: 2.0"},
                              {"comment": "SrcRelease: 3"}, {"comment": "SrcEpoch: 1"}]),
        ],
        # DESCRIBED_BY, the inverse spelling of DESCRIBES, names the subject too.
        relationships=[{"spdxElementId": "SPDXRef-root", "relationshipType": "DESCRIBED_BY",
                        "relatedSpdxElement": "SPDXRef-DOCUMENT"}],
    )
    path = tmp_path / "sbom.json"
    path.write_text(json.dumps(doc))
    data = auditlib.load(path)
    assert data.load_errors.empty
    scan = data.scans.iloc[0]
    # `my-tool-2.1.0-rc1`: the version starts at the first dash followed by a digit.
    assert (scan["tool"], scan["tool_version"]) == ("my-tool", "2.1.0-rc1")
    assert (scan["target"], scan["target_type"]) == ("root", "sbom")
    pk = data.packages.set_index("name")
    assert pk.index.tolist() == ["b", "c", "d"]
    # The concluded licence wins over the declared one.
    assert (pk.loc["b", "license_expression"], pk.loc["b", "license_class"]) == (
        "MIT", "permissive")
    assert pk["license_expression"].isna()["c"] and pk.loc["c", "license_class"] == "unknown"
    assert (pk.loc["d", "package_type"], pk.loc["d", "source_name"]) == ("library", "d-src")
    assert pk.loc["d", "source_version"] == "1:2.0-3"
    lic = data.package_licenses
    assert lic[["package_name", "license_source", "license", "license_class"]].values.tolist() == [
        ["b", "declared", "MIT OR GPL-3.0-only", "permissive"],
        ["b", "concluded", "MIT", "permissive"],
    ]
