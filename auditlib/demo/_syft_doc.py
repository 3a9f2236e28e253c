"""The Syft JSON SBOM of a synthetic image, shaped as Syft 1.18 writes it (schema 16).

Like real Syft output it is compact JSON, and its `files` section (every file a package owns, with
metadata and two digests) holds most of its bytes.
"""

from __future__ import annotations

import base64
from operator import itemgetter
from typing import Any

import orjson

from auditlib.demo._catalog import OsBase
from auditlib.demo._image import ImageContent
from auditlib.demo._packages import Pkg
from auditlib.demo._util import hexid
from auditlib.identity import SYNTHETIC_REGISTRY

SYFT_VERSION = "1.18.1"
SCHEMA = {"version": "16.0.18",
          "url": "https://raw.githubusercontent.com/anchore/syft/main/schema/json/schema-16.0.18.json"}
_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
_LAYER = "@@LAYER@@"
"""Stands for the layer diff id in pre-serialised pieces; each image puts its own in."""
_LANG = {  # purl type: (Syft type, foundBy, language, metadataType)
    "npm": ("npm", "javascript-package-cataloger", "javascript", "javascript-npm-package"),
    "pypi": ("python", "python-installed-package-cataloger", "python", "python-package"),
    "maven": ("java-archive", "java-archive-cataloger", "java", "java-archive"),
    "golang": ("go-module", "go-module-binary-cataloger", "go", "go-module-buildinfo-entry"),
}
_DESCRIPTOR = {"name": "syft", "version": SYFT_VERSION, "configuration": {
    "catalogers": {"requested": {"default": ["image"]},
                   "used": ["apk-db-cataloger", "dpkg-db-cataloger", "go-module-binary-cataloger",
                            "java-archive-cataloger", "javascript-package-cataloger",
                            "python-installed-package-cataloger", "rpm-db-cataloger"]},
    "data-generation": {"generate-cpes": True},
    "files": {"content": {"globs": None, "skip-files-above-size": 0},
              "hashers": ["sha-1", "sha-256"], "selection": "owned-by-package"},
    "packages": {"java-archive": {"include-indexed-archives": True,
                                  "include-unindexed-archives": False,
                                  "maven-base-url": "https://repo1.maven.org/maven2",
                                  "use-network": False},
                 "javascript": {"include-dev-dependencies": False, "search-remote-licenses": False},
                 "python": {"guess-unpinned-requirements": False}},
    "relationships": {"exclude-binary-packages-with-file-ownership-overlap": True,
                      "package-file-ownership": True, "package-file-ownership-overlap": True},
    "search": {"scope": "squashed"}}}


def _b64(hex_digits: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digits)).decode()


def distro(base: OsBase) -> dict[str, Any]:
    """Return Syft's `distro` section (read from /etc/os-release) for `base`."""
    if base.family == "alpine":
        return {"prettyName": base.pretty, "name": "Alpine Linux", "id": "alpine",
                "versionID": base.major, "homeURL": "https://alpinelinux.org/",
                "bugReportURL": "https://gitlab.alpinelinux.org/alpine/aports/-/issues"}
    if base.family == "ubuntu":
        return {"prettyName": base.pretty, "name": "Ubuntu", "id": "ubuntu", "idLike": ["debian"],
                "version": f"{base.pretty.removeprefix('Ubuntu ')} ({base.codename.title()})",
                "versionID": base.major, "versionCodename": base.codename,
                "homeURL": "https://www.ubuntu.com/", "supportURL": "https://help.ubuntu.com/",
                "bugReportURL": "https://bugs.launchpad.net/ubuntu/"}
    return {"prettyName": base.pretty, "name": "Debian GNU/Linux", "id": "debian",
            "version": f"{base.major} ({base.codename})", "versionID": base.major,
            "versionCodename": base.codename, "homeURL": "https://www.debian.org/",
            "supportURL": "https://www.debian.org/support", "bugReportURL": "https://bugs.debian.org/"}


def _metadata(p: Pkg) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Return the `metadata` of an OS package's artifact and its evidence (path, kind)."""
    if p.ptype == "apk":
        files = [{"path": f[0], "ownerUid": "0", "ownerGid": "0", "permissions": f"0{f[2]['mode']}",
                  "digest": {"algorithm": "'Q1'+base64(sha1)",
                             "value": "Q1" + _b64(f[3][0]["value"])}} for f in p.files]
        return {"package": p.name, "originPackage": p.src_name, "maintainer": p.maintainer,
                "version": p.version, "architecture": "x86_64",
                "url": f"https://pkgs.alpinelinux.org/package/{p.name}",
                "description": f"{p.name} library and tools", "size": p.installed_size // 3,
                "installedSize": p.installed_size, "pullDependencies": [d.name for d in p.depends],
                "provides": [f"so:{p.name}.so.1"] if p.name.startswith("lib") else [],
                "pullChecksum": "Q1" + _b64(hexid(p.uid, n=40)),
                "gitCommitOfApkPort": hexid(p.syft_id, "aports", n=40),
                "files": files}, [("/lib/apk/db/installed", "primary")]
    deb_files = [{"path": f[0], "digest": {"algorithm": "md5", "value": f[3][1]["value"][:32]},
                  "isConfigFile": f[0].startswith("/etc/")} for f in p.files]
    meta = {"package": p.name, "source": "" if p.src_name == p.name else p.src_name,
            "version": p.version, "sourceVersion": "", "architecture": "amd64",
            "maintainer": p.maintainer, "installedSize": p.installed_size,
            "depends": [d.name for d in p.depends], "files": deb_files}
    return meta, [(f"/usr/share/doc/{p.name}/copyright", "supporting"),
                  (f"/var/lib/dpkg/info/{p.name}.md5sums", "supporting"),
                  ("/var/lib/dpkg/status", "primary")]


def _cpes(name: str, version: str) -> list[dict[str, str]]:
    """Return Syft's generated CPEs of an OS package: one per vendor and product spelling (a name
    with `-` gives `-` and `_` forms and its first word as a vendor, as `base-passwd` gives six in
    the corpus's bookworm SBOM); `:` and `+` in the version escaped."""
    escaped = version.replace(":", "\\:").replace("+", "\\+")
    products = list(dict.fromkeys((name, name.replace("-", "_"))))
    vendors = list(dict.fromkeys((*products, name.split("-", 1)[0])))
    return [{"cpe": f"cpe:2.3:a:{v}:{p}:{escaped}:*:*:*:*:*:*:*", "source": "syft-generated"}
            for v in vendors for p in products]


def _os_artifact(p: Pkg, layer: str) -> dict[str, Any]:
    meta, evidence = _metadata(p)
    locs = [{"path": path, "layerID": layer, "accessPath": path, "annotations": {"evidence": ev}}
            for path, ev in evidence]
    lic_loc = [{"path": evidence[0][0], "layerID": layer, "accessPath": evidence[0][0]}]
    apk = p.ptype == "apk"
    return {"id": p.syft_id, "name": p.name, "version": p.version, "type": p.ptype,
            "foundBy": "apk-db-cataloger" if apk else "dpkg-db-cataloger", "locations": locs,
            "licenses": [{"value": v, "spdxExpression": e, "type": "declared", "urls": [],
                          "locations": lic_loc} for v, e in p.syft_licenses],
            "language": "",
            "cpes": _cpes(p.name, p.version),
            "purl": p.syft_purl, "metadataType": "apk-db-entry" if apk else "dpkg-db-entry",
            "metadata": meta}


def _serialised(p: Pkg) -> tuple[bytes, bytes, bytes]:
    """Return `p`'s artifact, its `files` entries and its relationships as JSON (cached on `p`).

    Entries and relationships come without their brackets (empty when there are none), and the
    layer diff id is left as `_LAYER` for each image to fill in.
    """
    done: tuple[bytes, bytes, bytes] | None = p.cache.get("syft")
    if done is not None:
        return done
    entries = []
    for path, fid, fmeta, digests, exe in sorted(p.files, key=itemgetter(0)):
        entry = {"id": fid, "location": {"path": path, "layerID": _LAYER}, "metadata": fmeta,
                 "digests": digests}
        if exe is not None:
            entry["executable"] = exe
        entries.append(entry)
    rels: list[dict[str, Any]] = [{"parent": p.syft_id, "child": f[1], "type": "contains"}
                                  for f in p.files]
    if p.files:
        rels.append({"parent": p.syft_id, "child": p.files[0][1], "type": "evident-by",
                     "metadata": {"kind": "supporting"}})
    rels += [{"parent": d.syft_id, "child": p.syft_id, "type": "dependency-of"} for d in p.depends]
    done = (orjson.dumps(_os_artifact(p, _LAYER)), orjson.dumps(entries)[1:-1],
            orjson.dumps(rels)[1:-1])
    p.cache["syft"] = done
    return done


def _lang_artifact(p: Pkg, layer: str, app: str) -> dict[str, Any]:
    kind, found_by, language, meta_type = _LANG[p.ptype]
    path = "/" + (p.file_path.split(".jar/", 1)[0] + ".jar" if p.ptype == "maven" else p.file_path)
    loc = {"path": path, "layerID": layer, "accessPath": path,
           "annotations": {"evidence": "primary"}}
    group, _, art = p.name.rpartition(":")
    meta: dict[str, Any]
    if p.ptype == "npm":
        meta = {"name": p.name, "version": p.version, "author": "", "homepage": "",
                "description": "", "url": "", "private": False}
    elif p.ptype == "pypi":
        meta = {"name": p.name, "version": p.version, "author": "", "authorEmail": "",
                "platform": "", "sitePackagesRootPath": "/usr/local/lib/python3.11/site-packages",
                "topLevelPackages": [p.name.replace("-", "_")]}
    elif p.ptype == "maven":
        meta = {"virtualPath": "/" + p.file_path.replace(".jar/", ".jar:", 1),
                "pomProperties": {"path": f"META-INF/maven/{group}/{art}/pom.properties",
                                  "name": "", "groupId": group, "artifactId": art,
                                  "version": p.version},
                "digest": [{"algorithm": "sha1", "value": hexid(p.uid, n=40)}]}
    else:
        settings = [{"key": "GOARCH", "value": "amd64"}, {"key": "GOOS", "value": "linux"},
                    {"key": "CGO_ENABLED", "value": "0"}]
        meta = {"goBuildSettings": settings, "goCompiledVersion": "go1.22.5",
                "architecture": "amd64", "h1Digest": "h1:" + _b64(hexid(p.uid, n=64)),
                "mainModule": f"{SYNTHETIC_REGISTRY}/{app}"}
    name = art if p.ptype == "maven" else p.name
    vendor = group.rsplit(".", 1)[-1] if p.ptype == "maven" else name.rsplit("/", 1)[-1]
    cpe = f"cpe:2.3:a:{vendor}:{name.rsplit('/', 1)[-1]}:{p.version}:*:*:*:*:*:*:*"
    return {"id": p.syft_id, "name": name, "version": p.version, "type": kind, "foundBy": found_by,
            "locations": [loc],
            "licenses": [{"value": v, "spdxExpression": e, "type": "declared", "urls": [],
                          "locations": [loc]} for v, e in p.syft_licenses],
            "language": language, "cpes": [{"cpe": cpe, "source": "syft-generated"}],
            "purl": p.syft_purl, "metadataType": meta_type, "metadata": meta}


def _array(key: bytes, items: list[bytes]) -> list[bytes]:
    out = [key, b"["]
    for item in items:
        if item:
            out += (item, b",")
    if out[-1] == b",":
        out.pop()
    out.append(b"]")
    return out


def syft_pieces(content: ImageContent) -> list[bytes]:
    """Return the Syft SBOM of the image as pieces of JSON whose concatenation is the document.

    Syft writes compact JSON, keys in this order: artifacts, artifactRelationships, files, source,
    distro, descriptor, schema. An OS package's artifact, files and relationships are serialised
    once per fleet with a placeholder for the layer, so an image costs a copy, not a serialisation.
    """
    plan = content.plan
    place = _LAYER.encode()
    os_pkgs = sorted(content.os_pkgs, key=lambda x: x[0].name)
    done = [(_serialised(p), layer.encode()) for p, layer in os_pkgs]
    artifacts = [j[0].replace(place, layer) for j, layer in done]
    artifacts += [orjson.dumps(_lang_artifact(p, layer, plan.app))
                  for p, layer in content.lang_pkgs]
    refs = [f"{plan.repo}:{t}" for t in plan.tags]
    digest = content.manifest_digest
    metadata = {
        "userInput": refs[0] if refs else f"{plan.repo}@{digest}", "imageID": content.image_id,
        "manifestDigest": digest, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "tags": refs, "imageSize": content.size,
        "layers": [{"mediaType": _OCI_LAYER, "digest": d, "size": s}
                   for d, s in zip(content.diff_ids, content.layer_sizes, strict=True)],
        "manifest": base64.b64encode(content.manifest_bytes).decode(),
        "config": base64.b64encode(content.config_bytes).decode(),
        "repoDigests": [f"{plan.repo}@{digest}"] if plan.pushed else [],
        "architecture": "amd64", "os": "linux", "labels": content.config["config"]["Labels"],
    }
    source = {"id": digest.removeprefix("sha256:"), "name": plan.repo,
              "version": plan.tags[0] if plan.tags else digest, "type": "image",
              "metadata": metadata}
    tail = {"source": source, "distro": distro(plan.base), "descriptor": _DESCRIPTOR,
            "schema": SCHEMA}
    return [b"{", *_array(b'"artifacts":', artifacts),
            *_array(b',"artifactRelationships":', [j[2] for j, _ in done]),
            *_array(b',"files":', [j[1].replace(place, layer) for j, layer in done]),
            b",", orjson.dumps(tail)[1:], b"\n"]


def syft_bytes(content: ImageContent) -> bytes:
    """Return the SBOM as Syft writes it: compact JSON with a final newline."""
    return b"".join(syft_pieces(content))
