"""The Trivy JSON report of a synthetic image, shaped as Trivy 0.76 writes it (SchemaVersion 2)."""

from __future__ import annotations

from typing import Any

import orjson

from auditlib.demo._catalog import DATA_SOURCES
from auditlib.demo._image import Finding, ImageContent
from auditlib.demo._packages import Pkg
from auditlib.demo._util import go_time, hexid, rng_for, uuid7
from auditlib.demo._vulns import vendor_rank

TRIVY_VERSION = "0.76.0"
_LANG_TYPE = {"npm": "node-pkg", "pypi": "python-pkg", "maven": "jar", "golang": "gobinary"}


def _layer(diff_id: str, digests: dict[str, str]) -> dict[str, str]:
    """Return a `Layer` as Trivy writes it: with the compressed layer's `Digest` when the image
    came from a registry (`digests` then maps diff ids to it), else the `DiffID` alone."""
    digest = digests.get(diff_id)
    return {"Digest": digest, "DiffID": diff_id} if digest else {"DiffID": diff_id}


def _os_package(p: Pkg, layer: dict[str, str]) -> dict[str, Any]:
    apk = p.ptype == "apk"
    out: dict[str, Any] = {"ID": p.trivy_id, "Name": p.name,
                           "Identifier": {"PURL": p.trivy_purl, "UID": p.uid}}
    if apk:  # apk versions are written whole
        out.update(Version=p.version, Arch="x86_64", SrcName=p.src_name, SrcVersion=p.src_version)
    else:
        # dpkg versions are split (pkg/fanal/analyzer/pkg/dpkg): `Version` is the upstream part,
        # `Release` the Debian revision, `Epoch` written when not 0; the same for the source.
        epoch, upstream, release = p.deb_parts()
        out["Version"] = upstream
        if release:
            out["Release"] = release
        if epoch:
            out["Epoch"] = epoch
        out.update(Arch="amd64", SrcName=p.src_name, SrcVersion=upstream)
        if release:
            out["SrcRelease"] = release
        if epoch:
            out["SrcEpoch"] = epoch
    out.update(Licenses=p.licenses, Maintainer=p.maintainer, Repository={"Class": "official"},
               DependsOn=[d.trivy_id for d in p.depends], Layer=layer, Digest=p.digest,
               InstalledFiles=[f[0] for f in p.files], AnalyzedBy="apk" if apk else "dpkg")
    return out


def _lang_package(p: Pkg, layer: dict[str, str]) -> dict[str, Any]:
    return {"ID": p.trivy_id, "Name": p.name, "Identifier": {"PURL": p.trivy_purl, "UID": p.uid},
            "Version": p.version, "Licenses": p.licenses, "Layer": layer,
            "FilePath": p.file_path}


def _vulnerability(f: Finding, source: str, digests: dict[str, str]) -> dict[str, Any]:
    """Return one `Vulnerabilities` entry; `source` is the OS family or the language purl type."""
    c, p = f.cve, f.pkg
    out: dict[str, Any] = {"VulnerabilityID": c.id}
    if c.vendor_id and source == "debian":
        out["VendorIDs"] = [c.vendor_id]
    out.update(PkgID=p.trivy_id, PkgName=p.name)
    if f.lang:
        out["PkgPath"] = p.file_path
    out.update(PkgIdentifier={"PURL": p.trivy_purl, "UID": p.uid}, InstalledVersion=p.version)
    if f.fixed_version:
        out["FixedVersion"] = f.fixed_version
    vendor = "ghsa" if f.lang and source != "golang" else source
    use_vendor = f.lang or c.vendor_scored
    url = (f"https://github.com/advisories/{c.id}" if c.id.startswith("GHSA")
           else f"https://avd.aquasec.com/nvd/{c.id.lower()}")
    out.update(
        Status=f.status, Layer=_layer(f.layer, digests),
        SeveritySource=vendor if use_vendor else "nvd",
        PrimaryURL=url, DataSource=DATA_SOURCES[source],
        Fingerprint="sha256:" + hexid(c.id, p.uid, f.layer, n=64), Title=c.title,
        Description=c.description, Severity=c.severity if use_vendor else c.nvd_severity,
        CweIDs=c.cwe,
    )
    if c.vector:
        nvd = vendor_rank(c.nvd_severity)
        out["VendorSeverity"] = {vendor: vendor_rank(c.severity), "nvd": nvd,
                                 "redhat": max(1, nvd - 1)}
        nvd_cvss: dict[str, Any] = {"V3Vector": c.vector, "V3Score": c.score}
        if c.v2_vector:  # keys in trivy-db's order: vectors, then scores
            nvd_cvss = {"V2Vector": c.v2_vector, "V3Vector": c.vector, "V2Score": c.v2_score,
                        "V3Score": c.score}
        out["CVSS"] = {"nvd": nvd_cvss, "redhat": {"V3Vector": c.vector, "V3Score": c.score}}
    else:  # an UNKNOWN record: nobody scored it yet
        out["VendorSeverity"] = {vendor: 0}
    out.update(References=c.references, PublishedDate=c.published_s, LastModifiedDate=c.modified_s)
    return out


def trivy_document(seed: int, content: ImageContent) -> dict[str, Any]:
    """Return the Trivy report of the image as a JSON-ready dict (keys in Trivy's order)."""
    plan, base = content.plan, content.plan.base
    refs = [f"{plan.repo}:{t}" for t in plan.tags]
    name = refs[0] if refs else f"{plan.repo}@{content.manifest_digest}"
    os_info: dict[str, Any] = {"Family": base.family, "Name": base.name}
    if base.eol < plan.scanned.date():
        os_info["EOSL"] = True
    metadata: dict[str, Any] = {"Size": content.size, "OS": os_info, "ImageID": content.image_id,
                                "DiffIDs": content.diff_ids, "RepoTags": refs}
    if plan.pushed:
        metadata["RepoDigests"] = [f"{plan.repo}@{content.manifest_digest}"]
    layers = zip(content.layer_sizes, content.layer_digests, content.diff_ids, strict=True)
    metadata.update(Reference=name, ImageConfig=content.config, Layers=[
        {"Size": s, "Digest": d, "DiffID": i} if plan.pushed else {"Size": s, "DiffID": i}
        for s, d, i in layers])
    digests = dict(zip(content.diff_ids, content.layer_digests, strict=True)) if plan.pushed else {}
    os_result: dict[str, Any] = {
        "Target": f"{name} ({base.family} {base.name})", "Class": "os-pkgs", "Type": base.family,
        "Packages": [_os_package(p, _layer(layer, digests))
                     for p, layer in sorted(content.os_pkgs, key=lambda x: x[0].name)],
    }
    os_vulns = [_vulnerability(f, base.family, digests) for f in content.findings if not f.lang]
    if os_vulns:
        os_result["Vulnerabilities"] = os_vulns
    results = [os_result]
    if content.lang_type:
        lt = content.lang_type
        result: dict[str, Any] = {
            "Target": content.lang_target, "Class": "lang-pkgs", "Type": _LANG_TYPE[lt],
            "Packages": [_lang_package(p, _layer(layer, digests))
                         for p, layer in content.lang_pkgs]}
        lang_vulns = [_vulnerability(f, lt, digests) for f in content.findings if f.lang]
        if lang_vulns:
            result["Vulnerabilities"] = lang_vulns
        results.append(result)
    return {
        "SchemaVersion": 2, "Trivy": {"Version": TRIVY_VERSION},
        "ReportID": uuid7(plan.scanned, rng_for(seed, "trivy", plan.index)),
        "CreatedAt": go_time(plan.scanned),
        "ArtifactID": "sha256:" + hexid(seed, "artifact", plan.index, n=64), "ArtifactName": name,
        "ArtifactType": "container_image", "Metadata": metadata, "Results": results,
    }


def trivy_bytes(seed: int, content: ImageContent) -> bytes:
    """Return the report as Trivy writes it: JSON indented by two spaces, with a final newline."""
    doc = trivy_document(seed, content)
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
