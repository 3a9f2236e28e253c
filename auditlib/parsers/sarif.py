"""SARIF 2.1.0 logs from Trivy, Grype, Dockle and Docker Scout.

SARIF has one kind of finding, the result; which table it goes to comes from its rule: tags
(`vulnerability`, `misconfiguration`, `secret`, as Trivy writes them), the rule name, an advisory id
in the rule id, or, for other tools, a message that says a secret was found. Package facts come
from the text each tool writes (see `_sarif_model`). Secret rows never copy the message or the
rule's descriptions, because Trivy puts the matched secret in them.

A vulnerability's rule tags that name a weakness (`CWE-79`, GitHub's `external/cwe/cwe-079`) give
`vulnerability_cwes` rows; other tags (`security`, `HIGH`) say nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from auditlib.normalize.cvss import CvssScore, best_cvss, cvss_version
from auditlib.normalize.severity import normalize_severity, severity_from_score
from auditlib.normalize.vuln_ids import normalize_cwe
from auditlib.parsers import _sarif_model as m
from auditlib.parsers._vuln_refs import VulnRefs
from auditlib.parsers.interface import Document, Parser
from auditlib.rows import ImageInfo, Output, Row, decode

_VULN, _MISCONF, _SECRET, _LICENSE = "vulnerabilities", "misconfigurations", "secrets", "license"
_NOT_FIXED = {"not fixed", "not-fixed"}
_EMPTY_RULE = m.Rule(id="")


@dataclass(slots=True)
class _Run:
    """What every row of one run shares."""

    tool: str
    target: str | None
    image: bool
    """Whether the target is an image (then a result located at the target has no package path)."""
    home: str | None
    """The driver's informationUri; Grype also writes it as each rule's helpUri: not an advisory."""


@dataclass(slots=True)
class _Found:
    """One result with its rule resolved."""

    rule_id: str
    rule: m.Rule
    res: m.Result
    text: str | None
    uri: str | None
    start: int | None
    end: int | None

    @property
    def props(self) -> m.RuleProperties:
        return self.rule.properties or m.RuleProperties()

    @property
    def tags(self) -> set[str]:
        return {t.strip().lower() for t in self.props.tags or [] if isinstance(t, str)}


def _kind(f: _Found, tool: str) -> str:
    for tag, kind in (("vulnerability", _VULN), ("secret", _SECRET),
                      ("misconfiguration", _MISCONF), ("license", _LICENSE)):
        if tag in f.tags:
            return kind
    name = (f.rule.name or "").lower()
    if name in ("secret", "license"):
        return _SECRET if name == "secret" else _LICENSE
    if "vulnerability" in name or m.vuln_id_in(f.rule_id):
        return _VULN
    # Dockle only checks image settings; its CIS-DI-0010 message names suspicious keys, not secrets.
    if tool != "dockle" and m.says_secret(f.text):
        return _SECRET
    return _MISCONF


def _severity(f: _Found, tool: str, *stated: str | None) -> str:
    """Return the severity the tool stated in words, else the one of its score, else the level's."""
    for word in (*stated, *f.tags):
        if word and word.strip().lower() in m.SEVERITY_WORDS:
            return normalize_severity(word)
    s = m.score(f.props.security_severity)
    if s is not None:
        return severity_from_score(s)
    default = f.rule.defaultConfiguration
    level = f.res.level or (default.level if default else None)
    if tool == "dockle" and level == "note":
        return "negligible"  # Dockle writes its INFO level as `note`; its JSON's INFO is negligible
    return normalize_severity(level) if level != "none" else "unknown"


def _cvss(f: _Found, tool: str) -> CvssScore | None:
    p = f.props
    scores = [
        CvssScore(m.score(s), v, cvss_version(v, declared), "sarif:properties")
        for s, v, declared in ((p.cvssv40_score, p.cvssv40_vector, "4.0"),
                               (p.cvssv3_score, p.cvssv3_vector, "3"),
                               (p.cvssv2_score, p.cvssv2_vector, "2"))
        if m.score(s) is not None or v
    ]
    best = best_cvss(scores)
    if best is not None:
        return best
    # Trivy writes its severity as a number (9.5, 8.0, 5.5, 2.0) when it has no CVSS: no score.
    s = None if tool == "trivy" else m.score(p.security_severity)
    return CvssScore(s, None, None, "sarif:security-severity") if s is not None else None


def _vuln_rows(f: _Found, run: _Run) -> list[Row]:
    msg, grype = m.fields(f.text), m.grype_message(f.text)
    helps = m.fields(f.rule.help.text if f.rule.help else None)
    name = m.pick((msg, "package"), (grype, "name"), (helps, "package"))
    version = m.pick((msg, "installed version"), (grype, "version"), (helps, "installed version"),
                    (helps, "version"))
    fixed = m.pick((msg, "fixed version"), (helps, "fixed version"), (helps, "fix version"))
    fixed = fixed or (f.props.fixed_version or "").strip() or None
    fix_state = "fixed" if fixed else "unknown"
    if fixed and fixed.lower() in _NOT_FIXED:
        fixed, fix_state = None, "not-fixed"  # Docker Scout says so in words
    purls = [p for p in (*(f.props.purls or []), f.props.purl) if p and m.purl(p)]
    if name and m.purl(name):
        purls, name = [name], None
    elif name and len(purls) > 1:
        # A rule listing several packages: keep the one the result names.
        purls = [p for p in purls if getattr(m.purl(p), "name", "").lower() == name.lower()][:1]
    stated = (msg.get("vulnerability"), helps.get("vulnerability"))
    vuln_id = next((x for x in stated if x and " " not in x), None) or m.vuln_id_in(f.rule_id)
    title = f.rule.shortDescription.text if f.rule.shortDescription else None
    full = f.rule.fullDescription.text if f.rule.fullDescription else None
    description = full
    if title and vuln_id and title.startswith(f"{vuln_id} Package: "):
        # Trivy's SARIF template put the title in fullDescription, the description in the message.
        title, description = full, f.text
    cvss = _cvss(f, run.tool)
    home = f.rule.helpUri if f.rule.helpUri != run.home else None
    help_text = f.rule.help.text if f.rule.help else None
    base: Row = {
        "target": run.target, "vuln_id": vuln_id or f.rule_id,
        "pkg_name": name, "pkg_version": version,
        "pkg_path": grype.get("path") or (None if run.image and f.uri == run.target else f.uri),
        "package_type": grype.get("type") or helps.get("type") or None,
        "severity": _severity(f, run.tool, msg.get("severity"), grype.get("severity"),
                              f.props.cvss_v3_severity, helps.get("severity")),
        "fix_state": fix_state, "fixed_version": fixed,
        "status": "suppressed" if f.res.suppressions else None,
        "title": title, "description": description,
        "primary_url": home or m.link_in(f.text) or m.link_in(help_text),
    }
    if cvss is not None:
        base.update(cvss_score=cvss.score, cvss_vector=cvss.vector, cvss_version=cvss.version,
                    cvss_source=cvss.source)
    rows: list[Row] = []
    for text in purls or [""]:
        purl = m.purl(text)
        row = dict(base)
        if purl is not None:
            # Scout names packages only by purl; one rule may list several affected packages.
            row.update(purl=text, package_type=purl.type, pkg_name=base["pkg_name"] or purl.name,
                       pkg_version=base["pkg_version"] or purl.version)
        rows.append(row)
    return rows


def _cwe_tags(f: _Found, rows: list[Row], refs: VulnRefs) -> None:
    """Record the weaknesses the rule's tags name for the vulnerability of `rows`."""
    cwes = [c for t in f.tags if "cwe" in t and (c := normalize_cwe(t)) is not None]
    for vuln_id in dict.fromkeys(r["vuln_id"] for r in rows):
        for cwe in cwes:
            refs.cwe(vuln_id, cwe)


def _misconf_row(f: _Found, run: _Run) -> Row:
    msg = m.fields(f.text)
    url = f.rule.helpUri
    help_text = (f.rule.help.text or "").strip() if f.rule.help else ""
    if not url and help_text.startswith(("http://", "https://")) and " " not in help_text:
        url = help_text  # Dockle before 0.4 wrote the checkpoint link as the help text
    status = "pass" if f.res.kind == "pass" else "exception" if f.res.suppressions else "fail"
    return {
        "target": f.uri or run.target, "tool": run.tool, "rule_id": f.rule_id, "title": _title(f),
        # Trivy's message repeats artifact, id, severity and link around the checker's own message.
        "message": (msg.get("message") if "artifact" in msg else None) or f.text,
        "severity": _severity(f, run.tool, msg.get("severity")), "status": status,
        "primary_url": url, "file_path": f.uri, "start_line": f.start, "end_line": f.end,
    }


def _secret_row(f: _Found, run: _Run) -> Row:
    # Only the rule and the place: Trivy's message, fullDescription and help all carry the match.
    return {
        "target": f.uri or run.target, "rule_id": f.rule_id, "title": _title(f),
        "severity": _severity(f, run.tool), "file_path": f.uri,
        "start_line": f.start, "end_line": f.end,
    }


def _title(f: _Found) -> str | None:
    return (f.rule.shortDescription.text if f.rule.shortDescription else None) or f.rule.name


def _found(
    res: m.Result, rules: list[m.Rule], by_id: dict[str, m.Rule], indexed: bool
) -> _Found | None:
    rid = res.ruleId or (res.rule.id if res.rule else None)
    idx = res.ruleIndex if res.ruleIndex is not None else (res.rule.index if res.rule else None)
    rule = None
    # Old Grype wrote ruleIndex 0 on every result: trust an index only when its rule has that id.
    if indexed and idx is not None and 0 <= idx < len(rules) and rid in (None, rules[idx].id):
        rule = rules[idx]
    rule = rule or by_id.get(rid or "")
    rid = rid or (rule.id if rule else None)
    if not rid:
        return None
    loc = res.locations[0].physicalLocation if res.locations else None
    region = loc.region if loc else None
    return _Found(rid, rule or _EMPTY_RULE, res, res.message.text if res.message else None,
                  (loc.artifactLocation.uri or None) if loc and loc.artifactLocation else None,
                  region.startLine if region else None, region.endLine if region else None)


class SarifParser(Parser):
    """SARIF 2.1.0 logs from Trivy, Grype, Dockle and Docker Scout."""

    format_id = "sarif"
    supported_versions = frozenset({"2.1.0"})

    def identify(self, doc: Document) -> str | None:
        """Return the format version if `doc` is this format, else None. Never raises."""
        if doc.top is None or not doc.has("runs"):
            return None
        version = doc.peek("version", str)
        if version or "sarif" in str(doc.peek("$schema", str) or "").lower():
            return version or "unknown"
        return None

    shape = "`runs` of objects with `tool.driver`"

    def identify_shape(self, doc: Document) -> str | None:
        """Return `unknown` if `doc` keeps SARIF's `runs` without `version` and `$schema`, else
        None. Never raises."""
        head = doc.peek_first("runs")
        tool = head.get("tool") if head is not None else None
        if isinstance(tool, dict) and isinstance(tool.get("driver"), dict):
            return "unknown"
        return None

    def parse(self, doc: Document, version: str, out: Output) -> None:
        """Read every run of `doc` into `out`; the first run gives the scan info.

        Rows go to `vulnerabilities` (and `vulnerability_cwes`), `misconfigurations` and
        `secrets`; a result that cannot be read, names no rule, or is a licence finding is
        skipped with a warning.

        Raises:
            MalformedInputError: if `runs` is not an array, or a run lacks `tool.driver.name`.
        """
        runs: list[msgspec.Raw] = doc.get("runs", list[msgspec.Raw], [])
        refs = VulnRefs()
        for i, raw in enumerate(runs):
            self._run(decode(raw, m.Run, f"$.runs[{i}]", doc.source), f"$.runs[{i}]", out, i == 0,
                      refs)
        refs.write(out, "$.runs")

    @staticmethod
    def _run(run: m.Run, where: str, out: Output, first: bool, refs: VulnRefs) -> None:
        driver = run.tool.driver
        tool = m.tool_name(driver.name)
        warned = len(out.warnings)
        rules = out.decode_list(driver.rules, m.Rule, f"{where}.tool.driver.rules")
        indexed = len(out.warnings) == warned  # a skipped rule shifts every index after it
        by_id = {r.id: r for r in rules}
        results = out.decode_list(run.results, m.Result, f"{where}.results")
        found: list[_Found] = []
        for j, res in enumerate(results):
            f = _found(res, rules, by_id, indexed)
            if f is None:
                out.warn(f"{where}.results[{j}]", "record skipped: the result names no rule")
            else:
                found.append(f)
        props = m.decode_optional(run.properties, m.RunProperties, f"{where}.properties", out)
        props = props or m.RunProperties()
        images = (m.grype_message(f.text).get("image") for f in found)
        grype_image = next((i for i in images if i), None)
        first_uri = next((f.uri for f in found if f.uri), None)
        target = props.imageName or grype_image or first_uri
        image = None
        if props.imageName or props.imageID or props.repoTags:
            image = ImageInfo(image_id=props.imageID, reference=props.imageName,
                              tags=props.repoTags or [], repo_digests=props.repoDigests or [])
        elif grype_image:
            image = ImageInfo(reference=grype_image)
        target_type = m.target_type(tool, target, image is not None)
        ctx = _Run(tool, target, target_type == "container_image", driver.informationUri)
        licences = 0
        for f in found:
            kind = _kind(f, tool)
            if kind == _VULN:
                rows = _vuln_rows(f, ctx)
                out.extend(_VULN, rows)
                _cwe_tags(f, rows, refs)
            elif kind == _MISCONF:
                out.add(_MISCONF, _misconf_row(f, ctx))
            elif kind == _SECRET:
                out.add(_SECRET, _secret_row(f, ctx))
            else:
                licences += 1
        if licences:
            out.warn(f"{where}.results", f"{licences} licence results skipped: not read from SARIF")
        if not first:
            return
        calls = m.decode_optional(run.invocations, list[m.Invocation], f"{where}.invocations", out)
        inv = calls[0] if calls else None
        scan = out.scan
        scan.tool, scan.tool_version = tool, driver.version or driver.semanticVersion
        scan.target, scan.image = target, image
        scan.target_type = target_type
        scan.generated_at = (inv.endTimeUtc or inv.startTimeUtc) if inv else None
