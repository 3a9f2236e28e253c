"""Where scanners disagree (`auditlib.fleet.agreement`, `auditlib agreement`).

The matching rules are checked on small hand-written Trivy and Grype documents of one image
(written here, each field as the tools write it); the corpus tests check that real outputs of
different images are each said to be scanned by one tool only and never compared.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import auditlib
from auditlib.assess import assess_data
from auditlib.cli.main import main
from auditlib.fleet.agreement import image_tools, package_name_key
from auditlib.fleet.agreement_summary import agreement_of
from auditlib.tables import SCANNER_AGREEMENT, has_dtype
from tests.samples import one_row

IMAGE = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
JAR = "app/lib/log4j-core-2.14.1.jar"


def trivy_doc(image_id: str = IMAGE) -> dict[str, Any]:
    """A Trivy report (SchemaVersion 2) of one image: an OS result and a Java result."""
    return {
        "SchemaVersion": 2,
        "ArtifactName": "registry.example/app:1.0",
        "ArtifactType": "container_image",
        "Metadata": {"ImageID": image_id, "RepoTags": ["registry.example/app:1.0"],
                     "OS": {"Family": "alpine", "Name": "3.19.1"}},
        "Results": [
            {"Target": "registry.example/app:1.0 (alpine 3.19.1)", "Class": "os-pkgs",
             "Type": "alpine", "Vulnerabilities": [
                 {"VulnerabilityID": "CVE-2024-0001", "PkgName": "musl",
                  "InstalledVersion": "1.2.4-r2", "FixedVersion": "1.2.4-r3",
                  "Severity": "HIGH", "PkgIdentifier": {"PURL": "pkg:apk/alpine/musl@1.2.4-r2"}},
                 {"VulnerabilityID": "CVE-2024-0002", "PkgName": "busybox",
                  "InstalledVersion": "1.36.1-r15", "FixedVersion": "1.36.1-r16",
                  "Severity": "MEDIUM",
                  "PkgIdentifier": {"PURL": "pkg:apk/alpine/busybox@1.36.1-r15"}},
                 {"VulnerabilityID": "CVE-2024-0003", "PkgName": "zlib",
                  "InstalledVersion": "1.3.1-r0", "FixedVersion": "1.3.1-r1",
                  "Severity": "LOW", "PkgIdentifier": {"PURL": "pkg:apk/alpine/zlib@1.3.1-r0"}},
             ]},
            {"Target": "Java", "Class": "lang-pkgs", "Type": "jar", "Vulnerabilities": [
                {"VulnerabilityID": "CVE-2021-44228",
                 "PkgName": "org.apache.logging.log4j:log4j-core", "PkgPath": JAR,
                 "InstalledVersion": "2.14.1", "FixedVersion": "2.15.0", "Severity": "CRITICAL",
                 "PkgIdentifier": {
                     "PURL": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}},
            ]},
        ],
    }


def _match(vid: str, sev: str, name: str, version: str, ptype: str, purl: str,
           fixes: list[str], related: list[str] | None = None) -> dict[str, Any]:
    return {
        "vulnerability": {"id": vid, "severity": sev, "namespace": "github:language:java"
                          if ptype == "java-archive" else "alpine:distro:alpine:3.19",
                          "fix": {"versions": fixes, "state": "fixed" if fixes else "not-fixed"}},
        "relatedVulnerabilities": [{"id": r, "namespace": "nvd:cpe"} for r in related or []],
        "matchDetails": [{"type": "exact-direct-match", "matcher": "java-matcher"
                          if ptype == "java-archive" else "apk-matcher"}],
        "artifact": {"id": f"{name}-{version}", "name": name, "version": version, "type": ptype,
                     "locations": [{"path": f"/{JAR}" if ptype == "java-archive"
                                    else "/lib/apk/db/installed"}],
                     "purl": purl},
    }


def grype_doc(image_id: str = IMAGE) -> dict[str, Any]:
    """A Grype report of the same image: log4j as its GHSA (the CVE among related), musl with
    another severity, busybox with another fixed version, no zlib, one Java finding of its own."""
    return {
        "matches": [
            _match("GHSA-jfh8-c2jp-5v3q", "Critical", "log4j-core", "2.14.1", "java-archive",
                   "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", ["2.15.0"],
                   ["CVE-2021-44228"]),
            _match("CVE-2024-0001", "Medium", "musl", "1.2.4-r2", "apk",
                   "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64", ["1.2.4-r3"]),
            _match("CVE-2024-0002", "Medium", "busybox", "1.36.1-r15", "apk",
                   "pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64", ["1.36.1-r17"]),
            _match("GHSA-7rjr-3q55-vv33", "Critical", "log4j-core", "2.14.1", "java-archive",
                   "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", ["2.16.0"],
                   ["CVE-2021-45046"]),
        ],
        "source": {"type": "image", "target": {"userInput": "registry.example/app:1.0",
                                               "imageID": image_id, "tags": []}},
        "distro": {"name": "alpine", "version": "3.19.1"},
        "descriptor": {"name": "grype", "version": "0.80.0",
                       "timestamp": "2026-11-30T10:00:00Z"},
    }


def _write(folder: Path, docs: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, doc in docs.items():
        (folder / name).write_text(json.dumps(doc))
    return folder


@pytest.fixture
def pair(tmp_path: Path) -> auditlib.AuditData:
    """Trivy and Grype of one image, and a Grype report of another image alone."""
    folder = _write(tmp_path / "docs", {"trivy.json": trivy_doc(), "grype.json": grype_doc(),
                                        "grype-other.json": grype_doc(OTHER)})
    return auditlib.load(folder)


def test_package_name_key_drops_the_namespace() -> None:
    assert package_name_key("org.apache.logging.log4j:log4j-core",
                            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1") == "log4j-core"
    assert package_name_key("org.apache.logging.log4j:log4j-core", None) == "log4j-core"
    assert package_name_key("@babel/core", "pkg:npm/%40babel/core@7.0.0") == "core"
    assert package_name_key("Django", "not a purl") == "django"


def test_each_finding_found_by_both_one_or_differently(pair: auditlib.AuditData) -> None:
    ag = agreement_of(pair)
    t = ag.table
    assert ag.tools.tools == {IMAGE: ("grype", "trivy"), OTHER: ("grype",)}
    assert set(t["image_id"]) == {IMAGE}, "an image one tool scanned is compared with nothing"
    assert len(t) == 5
    assert list(zip(t["state"], t["vuln_id"], strict=True)) == [
        ("agree", "CVE-2021-44228"), ("differ", "CVE-2024-0001"), ("differ", "CVE-2024-0002"),
        ("partial", "CVE-2021-45046"), ("partial", "CVE-2024-0003")]
    for col in SCANNER_AGREEMENT.columns:
        assert has_dtype(t[col.name], col.dtype), col.name
    log4j = one_row(t, vuln_id="CVE-2021-44228")
    assert log4j["state"] == "agree"
    assert log4j["reported_ids"] == "GHSA-jfh8-c2jp-5v3q"
    assert log4j["ecosystem"] == "maven"
    assert log4j["found_by"] == "grype, trivy" and pd.isna(log4j["missed_by"])
    musl = one_row(t, vuln_id="CVE-2024-0001")
    assert (musl["state"], musl["severity_differs"], musl["fix_differs"]) == ("differ", True, False)
    assert musl["severities"] == "grype: medium; trivy: high"
    busybox = one_row(t, vuln_id="CVE-2024-0002")
    assert (busybox["state"], busybox["severity_differs"], busybox["fix_differs"]) == (
        "differ", False, True)
    assert busybox["fixed_versions"] == "grype: 1.36.1-r17; trivy: 1.36.1-r16"
    zlib = one_row(t, vuln_id="CVE-2024-0003")
    assert (zlib["state"], zlib["found_by"], zlib["missed_by"]) == ("partial", "trivy", "grype")
    assert pd.isna(zlib["severity_differs"]) and pd.isna(zlib["fix_differs"])
    only = one_row(t, vuln_id="CVE-2021-45046")
    assert (only["state"], only["found_by"], only["ecosystem"]) == ("partial", "grype", "maven")


def test_sentences_say_the_share_and_the_single_tool_images(pair: auditlib.AuditData) -> None:
    lines = agreement_of(pair).sentences()
    assert lines[0] == ("Trivy and Grype agree on 20% of 5 findings in 1 image; 2 found by both "
                        "differ (1 in severity, 1 in fixed version); 1 only in Trivy, all in "
                        "Alpine packages; 1 only in Grype, all in Java archives")
    assert lines[1] == ("1 image scanned for vulnerabilities by one tool only (1 by Grype): "
                        "not compared")


def test_alias_tied_to_several_cves_is_not_merged(tmp_path: Path) -> None:
    grype = grype_doc()
    # A vendor advisory that names two CVEs is neither of them.
    grype["matches"][0]["relatedVulnerabilities"].append({"id": "CVE-2021-45046"})
    data = auditlib.load(_write(tmp_path, {"t.json": trivy_doc(), "g.json": grype}))
    t = agreement_of(data).table
    assert one_row(t, vuln_id="GHSA-jfh8-c2jp-5v3q")["state"] == "partial"
    assert one_row(t, vuln_id="CVE-2021-44228")["found_by"] == "trivy"


def test_a_trivy_run_without_vulnerability_scanner_is_no_tool(tmp_path: Path) -> None:
    trivy = trivy_doc()
    # Trivy without its database: a package list only, no vulnerability result class.
    trivy["Results"] = [{"Target": "x (alpine 3.19.1)", "Class": "os-pkgs", "Type": "alpine",
                         "Packages": [{"Name": "musl", "Version": "1.2.4-r2"}]}]
    del trivy["Results"][0]["Class"]
    data = auditlib.load(_write(tmp_path, {"t.json": trivy, "g.json": grype_doc()}))
    tools = image_tools(data)
    if data.scans["vulnerability_scan"].astype("boolean").fillna(False).sum() == 1:
        assert tools.tools[IMAGE] == ("grype",)
        ag = agreement_of(data)
        assert ag.table.empty
        assert "not compared" in ag.sentences()[-1]


def test_no_scan_at_all_is_said(tmp_path: Path) -> None:
    data = auditlib.load(_write(tmp_path, {"g.json": grype_doc()}))
    lines = agreement_of(data).sentences()
    assert lines[0] == "no image was scanned for vulnerabilities by two or more tools"
    empty = auditlib.load(_write(tmp_path / "none", {}))
    assert agreement_of(empty).sentences() == ["no image was scanned for vulnerabilities"]


def test_assessment_holds_the_agreement(pair: auditlib.AuditData) -> None:
    a = assess_data(pair, as_of="2026-12-01")
    assert a.agreement.table.equals(agreement_of(pair, a.view.names).table)
    assert one_row(a.agreement.table, vuln_id="CVE-2024-0003")["image_name"] == (
        a.view.names[IMAGE])


def test_cli_lists_disagreements_plain_and_json(tmp_path: Path) -> None:
    docs = _write(tmp_path / "docs", {"trivy.json": trivy_doc(), "grype.json": grype_doc(),
                                      "grype-other.json": grype_doc(OTHER)})
    store = tmp_path / "store"
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(docs), "--store", str(store)]).exit_code == 0
    plain = runner.invoke(main, ["agreement", "--store", str(store)])
    assert plain.exit_code == 0, plain.output
    lines = plain.output.splitlines()
    assert lines[1].split() == ["IMAGE", "VULNERABILITY", "PACKAGE", "VERSION", "STATE", "FOUND",
                                "BY", "SEVERITY", "FIXED", "IN"]
    states = [ln.split()[4] for ln in lines[2:] if ln.startswith(("registry", "sha256", "<"))]
    assert sorted(states) == ["differ", "differ", "partial", "partial"], lines
    assert "agree" not in states, "agreed findings only with --all"
    assert "Trivy and Grype agree on 20% of 5 findings in 1 image" in plain.output
    assert "1 image scanned for vulnerabilities by one tool only (1 by Grype)" in plain.output
    js = runner.invoke(main, ["agreement", "--store", str(store), "--format", "json", "--all"])
    assert js.exit_code == 0, js.output
    doc = json.loads(js.output)
    assert len(doc["findings"]) == 5
    (ts,) = doc["tool_sets"]
    assert (ts["tools"], ts["findings"], ts["agree"], ts["differ"]) == (["trivy", "grype"], 5, 1, 2)
    assert doc["single_tool_images"] == {OTHER: "grype"}
    only = runner.invoke(main, ["agreement", "--store", str(store), "--format", "json",
                                "--state", "agree"])
    assert [f["vuln_id"] for f in json.loads(only.output)["findings"]] == ["CVE-2021-44228"]


def test_untrusted_package_names_stay_text(tmp_path: Path) -> None:
    trivy, grype = trivy_doc(), grype_doc()
    trivy["Results"][0]["Vulnerabilities"][2]["PkgName"] = "[bold]zlib[/bold]\u202e"
    docs = _write(tmp_path / "docs", {"t.json": trivy, "g.json": grype})
    store = tmp_path / "store"
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(docs), "--store", str(store)]).exit_code == 0
    out = runner.invoke(main, ["agreement", "--store", str(store)])
    assert out.exit_code == 0, out.output
    assert "[bold]zlib[/bold]<U+202E>" in out.output


def test_real_outputs_of_different_images_are_not_compared(corpus: Any) -> None:
    """Real Trivy and Grype outputs (of different images, as the corpus has them): each image is
    scanned by one tool only, so nothing is compared and nothing counted as agreement."""
    files = ["grype-json/dd-grype-0.7.0-debian-327-matches.json",
             "grype-json/grype-0.66.0-keycloak-filtered.json",
             "trivy-json/trivy-golden-alpine-310-image.json",
             "trivy-json/trivy-golden-debian-buster-image.json"]
    data = auditlib.load(*(corpus.path(f) for f in files))
    expected: dict[str, str] = {}
    for f in files:  # straight from the JSON
        doc = json.loads(corpus.path(f).read_text())
        if "matches" in doc:
            expected[doc["source"]["target"]["imageID"]] = "grype"
        else:
            expected[doc["Metadata"]["ImageID"]] = "trivy"
    ag = agreement_of(data)
    assert ag.tools.single() == expected
    assert ag.table.empty
    assert ag.sentences() == [
        "no image was scanned for vulnerabilities by two or more tools",
        "4 images scanned for vulnerabilities by one tool only (2 by Grype, 2 by Trivy): "
        "not compared"]


def test_same_tool_twice_is_one_tool(tmp_path: Path) -> None:
    later = copy.deepcopy(grype_doc())
    later["descriptor"]["timestamp"] = "2026-12-01T10:00:00Z"
    data = auditlib.load(_write(tmp_path, {"g1.json": grype_doc(), "g2.json": later}))
    assert image_tools(data).tools == {IMAGE: ("grype",)}
    assert agreement_of(data).table.empty


def test_one_tool_at_two_paths_is_one_entry_with_the_union_of_its_fixes(tmp_path: Path) -> None:
    trivy = trivy_doc()
    java = trivy["Results"][1]["Vulnerabilities"]
    java.append(dict(java[0], PkgPath="app/lib/other/log4j-core-2.14.1.jar", FixedVersion="2.16.0",
                     Severity="HIGH"))
    data = auditlib.load(_write(tmp_path, {"t.json": trivy, "g.json": grype_doc()}))
    assert (data.vulnerabilities["vuln_id"] == "CVE-2021-44228").sum() == 2  # both Trivy
    log4j = one_row(agreement_of(data).table, vuln_id="CVE-2021-44228")
    assert log4j["fixed_versions"] == "grype: 2.15.0; trivy: 2.15.0, 2.16.0"
    assert log4j["severities"] == "grype: critical; trivy: critical"  # each tool's highest
    assert (log4j["state"], log4j["fix_differs"], log4j["severity_differs"]) == (
        "differ", True, False)
