"""VEX: which findings the `vex_statements` speak about, and what they say.

A statement speaks about a finding (`fleet.findings.FINDING_KEY`) when

* its vulnerability is the finding's, by id or by an alias either document gives
  (`vulnerability_aliases`; ids compared case-blind);
* its product is the finding's image or package: a digest the image has (its id or a manifest
  digest), a reference that names it (without a tag: any tag of the repository), a `pkg:oci/`
  purl of it (by digest, `repository_url` and `tag` when given, else by the repository's last
  name, as Trivy matches them), or a purl of the finding's package (type, namespace and name; the
  version when the purl has one);
* and, when it names a subcomponent, that purl is the finding's package.

Of several statements about one finding the latest (`statement_at`) wins, as OpenVEX says; a
statement without a time counts as the oldest. Statements made after the as-of time are not yet
made. `not_affected` and `fixed` settle a finding: it leaves the SLA clock, the score and the
fix-first ranking (`fleet.findings.fixable_findings` leaves it out); `under_investigation` and
`affected` are said and change nothing.
A statement that speaks about no finding is reported (`VexMatch.unmatched`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from packageurl import PackageURL

from auditlib.data import AuditData
from auditlib.engine import Engine, engine_or_frames
from auditlib.engine.selections import vex_rows
from auditlib.fleet.findings import FINDING_KEY
from auditlib.identity import normalize_digest, parse_reference
from auditlib.parsers._vex import STATUSES, purl_of

SETTLED = ("not_affected", "fixed")
"""Statuses that take a finding out of the SLA clock, the score and the fix-first ranking
(`not_affected`, `fixed`)."""

APPLIED_COLUMNS = ["vex_status", "vex_justification", "vex_author", "vex_at", "vex_said",
                   "vex_source"]
"""Columns `VexMatch.applied` adds to `FINDING_KEY`."""
UNMATCHED_COLUMNS = ["vuln_id", "status", "product", "subcomponent_purl", "author",
                     "statement_at", "source", "said"]
"""Columns of `VexMatch.unmatched`."""


@dataclass(frozen=True)
class VexMatch:
    """What the VEX statements of a store say about its findings."""

    applied: pd.DataFrame
    """One row per finding a statement speaks about: `FINDING_KEY` and `APPLIED_COLUMNS` (the
    winning statement's status, justification, author, time, the sentence that says it
    (`said`), and the document it is in)."""
    unmatched: pd.DataFrame
    """The statements that speak about no finding (`UNMATCHED_COLUMNS`): vuln_id, status,
    product, subcomponent_purl, author, statement_at, source and `said`."""
    statements: int
    """Statements (rows of `vex_statements`) in force at the as-of time."""

    def settled(self) -> pd.DataFrame:
        """Return the applied rows whose status settles the finding (`SETTLED`)."""
        return self.applied[self.applied["vex_status"].isin(SETTLED)]


def said(status: object, justification: object = None, impact: object = None,
         author: object = None, at: object = None) -> str:
    """Return a statement in words: `not affected: <justification> (statement by <author>,
    <time>)`; an unknown author or time is said to be unknown."""
    def text(v: object) -> str | None:
        return None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v)

    why = text(justification)
    why = why.replace("_", " ") if why else text(impact)
    when = (at.strftime("%Y-%m-%d %H:%M UTC")
            if isinstance(at, pd.Timestamp) and not pd.isna(at) else None)
    by = f"(statement by {text(author) or 'an unnamed author'}, {when or 'time unknown'})"
    head = str(status).replace("_", " ")
    if status == "not_affected":
        return f"{head}: {why or 'no justification given'} {by}"
    return f"{head}: {why} {by}" if why else f"{head} {by}"


def _purl_matches(stated: PackageURL, purl: str | None, name: object, version: object) -> bool:
    """Return whether the package a finding names is `stated` (qualifiers not compared)."""
    found = purl_of(purl) if isinstance(purl, str) else None
    if found is None:  # no purl on the finding: its name and version
        return stated.name == name and (stated.version is None or stated.version == version)
    return (stated.type == found.type and stated.name.lower() == found.name.lower()
            and (stated.namespace or "").lower() == (found.namespace or "").lower()
            and (stated.version is None or stated.version == found.version))


def _pkg_key(purl: PackageURL | None, name: object) -> str:
    """Return what a package is looked up by: its purl's type, namespace and name (lower
    case), else its name."""
    if purl is None:
        return f"name:{name}"
    return f"{purl.type}/{purl.namespace or ''}/{purl.name}".lower()


@dataclass(frozen=True)
class _Image:
    """The names of one image: its digests and references."""

    digests: frozenset[str]
    refs: frozenset[str]
    repos: frozenset[str]
    """`registry/repository` of each reference."""


def manifest_digests(data: AuditData) -> pd.DataFrame:
    """Return the manifest digests the tables give each image (`repo_digest` of `images`,
    `image_tags` and `scans`): one row per distinct image_id, name, digest (normalised), where
    name is the repository the digest was read with (`repo@sha256:...`, else the row's
    `image_ref` or `reference`, without its tag), or None when no reference parses."""
    parts = []
    for df in (data.images, data.image_tags, data.scans):
        named = next((c for c in ("image_ref", "reference") if c in df.columns), None)
        part = df[["image_id", "repo_digest", *([named] if named else [])]].astype("string")
        part = part[(part["image_id"].notna() & part["repo_digest"].notna()).to_numpy(bool)]
        ref = (part[named] if named
               else pd.Series(pd.NA, index=part.index, dtype="string"))
        digest = part["repo_digest"]
        at = digest.str.contains("@", regex=False)
        parts.append(pd.DataFrame({"image_id": part["image_id"],
                                   "name": digest.str.split("@", n=1).str[0].where(at, ref),
                                   "digest": digest.str.rsplit("@", n=1).str[-1]}))
    rows = pd.concat(parts, ignore_index=True).drop_duplicates()
    digests = {d: normalize_digest(d) for d in rows["digest"].unique()}
    names = {n: p.name if (p := parse_reference(n)) is not None else None
             for n in rows["name"].dropna().unique()}
    out = pd.DataFrame({"image_id": rows["image_id"].astype(str),
                        "name": rows["name"].map(names).astype(object),
                        "digest": rows["digest"].map(digests).astype(object)})
    out = out.dropna(subset=["digest"])
    return out.where(out.notna(), None).drop_duplicates().reset_index(drop=True)


def image_manifests(data: AuditData, references: Mapping[str, list[str]]
                    ) -> dict[str, list[tuple[str | None, str]]]:
    """Return image id -> the (repository, manifest digest) pairs that name it: the digests of
    its references first (`repo@sha256:...`), then those the tables give (`manifest_digests`;
    the repository None when no reference it was read with parses).

    Args:
        data: the tables.
        references: image id -> the references that name it (`FleetView.references`).
    """
    out: dict[str, dict[tuple[str | None, str], None]] = {}
    for image_id, refs in references.items():
        for r in refs:
            p = parse_reference(r)
            if p is not None and p.digest:
                out.setdefault(str(image_id), {})[(p.name, p.digest)] = None
    md = manifest_digests(data)
    for image_id, name, digest in md.itertuples(index=False, name=None):
        out.setdefault(str(image_id), {})[(name, digest)] = None
    return {i: list(pairs) for i, pairs in out.items()}


def _images(data: AuditData, references: Mapping[str, list[str]]) -> dict[str, _Image]:
    manifests = image_manifests(data, references)
    out = {}
    for i in set(manifests) | set(references):
        refs = {r.split("@", 1)[0] for r in references.get(i, [])}
        parsed = [p for r in references.get(i, []) if (p := parse_reference(r)) is not None]
        ds = {d for _, d in manifests.get(i, [])} | {i}
        out[i] = _Image(frozenset(ds), frozenset(refs), frozenset(p.name for p in parsed))
    return out


@dataclass(frozen=True)
class _Product:
    """What a statement's product names, read once per statement."""

    digest: str | None
    ref: str | None
    oci_name: str | None
    """The last name of a `pkg:oci/` purl's repository, when the purl names no digest."""
    purl: PackageURL | None
    """The product's purl when it is a package (not `pkg:oci/`)."""

    @classmethod
    def of(cls, s: Mapping[Any, Any]) -> _Product:
        """Return the product of statement row `s`."""
        def text(v: object) -> str | None:
            return v if isinstance(v, str) else None

        digest, ref = text(s["product_digest"]), text(s["product_ref"])
        purl = purl_of(text(s["product_purl"]))
        oci = purl is not None and purl.type == "oci"
        return cls(digest, ref, purl.name if oci and purl and not digest else None,
                   None if oci else purl)

    @property
    def is_image(self) -> bool:
        """Return whether the product is an image (a digest, a reference or `pkg:oci/`)."""
        return bool(self.digest or self.ref or self.oci_name)

    def images(self, index: _ImageIndex) -> set[str]:
        """Return the images this image product names."""
        if self.ref:
            found = index.by_ref.get(self.ref, set()) | index.by_repo.get(self.ref, set())
        elif self.oci_name:
            found = index.by_last_name.get(self.oci_name, set())
        else:
            found = index.by_digest.get(self.digest or "", set())
        if self.digest:
            found = found & index.by_digest.get(self.digest, set())
        return found


@dataclass(frozen=True)
class _ImageIndex:
    """Image ids by each name they go by."""

    by_digest: dict[str, set[str]]
    by_ref: dict[str, set[str]]
    by_repo: dict[str, set[str]]
    by_last_name: dict[str, set[str]]

    @classmethod
    def of(cls, images: Mapping[str, _Image]) -> _ImageIndex:
        """Return the index of `images` (`_images`)."""
        out = cls({}, {}, {}, {})
        for i, im in images.items():
            for d in im.digests:
                out.by_digest.setdefault(d, set()).add(i)
            for r in im.refs:
                out.by_ref.setdefault(r, set()).add(i)
            for r in im.repos:
                out.by_repo.setdefault(r, set()).add(i)
                out.by_last_name.setdefault(r.rsplit("/", 1)[-1], set()).add(i)
        return out


@dataclass
class _Findings:
    """The findings whose vulnerability some statement names, indexed for the lookups."""

    rows: list[tuple[Any, ...]]
    """(image_id, vuln_id, pkg_name, pkg_version, purl) per finding row."""
    by_image: dict[tuple[str, str], list[int]]
    """(id, image id) -> rows."""
    by_package: dict[tuple[str, str, str | None], list[int]]
    """(id, package key, version or None for any) -> rows."""


def _aliases(data: AuditData) -> dict[str, set[str]]:
    """Return `scan_id` + NUL + vuln_id -> the upper-case aliases the document gives."""
    al = data.vulnerability_aliases[["scan_id", "vuln_id", "alias"]].dropna().astype(str)
    out: dict[str, set[str]] = {}
    for k, a in zip(al["scan_id"] + "\0" + al["vuln_id"], al["alias"], strict=True):
        out.setdefault(k, set()).add(a.upper())
    return out


def _findings(engine: Engine, wanted: set[str], alias_of: Mapping[str, set[str]]) -> _Findings:
    """Return the vulnerability rows (of an image) whose id or an alias is in `wanted`: the
    engine selects them (`auditlib.engine.selections.VEX_ROWS`), so only they reach pandas."""
    near = {tuple(k.split("\0", 1)) for k, a in alias_of.items() if a & wanted}
    v = vex_rows(engine, wanted, near)  # type: ignore[arg-type]
    rows = list(zip(*(v[c].tolist() for c in (*FINDING_KEY, "purl")), strict=True))
    out = _Findings(rows, {}, {})
    keys = (v["scan_id"].astype(str) + "\0" + v["vuln_id"].astype(str)).tolist()
    for j, (x, k) in enumerate(zip(v["vuln_id"].astype(str).tolist(), keys, strict=True)):
        image_id, _, name, version, purl = rows[j]
        parsed = purl_of(purl) if isinstance(purl, str) else None
        pkg = _pkg_key(parsed, name)
        ver = parsed.version if parsed is not None else version
        for i in {x.upper(), *alias_of.get(k, set())}:
            out.by_package.setdefault((i, pkg, None), []).append(j)  # any version
            out.by_package.setdefault((i, pkg, ver), []).append(j)
            out.by_image.setdefault((i, str(image_id)), []).append(j)
    return out


def _spoken_about(ids: set[str], product: _Product, sub: PackageURL | None, f: _Findings,
                  index: _ImageIndex) -> list[int]:
    """Return the finding rows a statement (its ids, product and subcomponent) speaks about."""
    checked: set[int] = set()  # rows the index matched exactly: no purl to compare again
    if product.is_image:
        named = product.images(index)
        js = {j for i in ids for im in named for j in f.by_image.get((i, im), ())}
        checked = js
    elif product.purl is not None:
        ver = product.purl.version  # None: every version
        checked = {j for i in ids
                   for j in f.by_package.get((i, _pkg_key(product.purl, None), ver), ())}
        by_name = {j for i in ids for j in f.by_package.get(
            (i, _pkg_key(None, product.purl.name), ver), ())}
        js = checked | {j for j in by_name - checked if _purl_matches(
            product.purl, f.rows[j][4], f.rows[j][2], f.rows[j][3])}
    else:
        return []
    if sub is None:
        return sorted(js)
    return [j for j in sorted(js)
            if _purl_matches(sub, f.rows[j][4], f.rows[j][2], f.rows[j][3])]


def match_vex(data: AuditData, references: Mapping[str, list[str]], as_of: pd.Timestamp,
              engine: Engine | None = None) -> VexMatch:
    """Return what the `vex_statements` of `data` say about its findings at `as_of`.

    Args:
        data: the tables (statements, aliases, the images' digests).
        references: image id -> the references that name it (`FleetView.references`).
        as_of: statements made later are left out.
        engine: what reads the vulnerabilities (`FleetView.aggregate_engine`); default DuckDB
            over `data`'s frames.

    Raises:
        EngineError: if the engine fails.
    """
    st = data.vex_statements
    st = st[~(st["statement_at"] > as_of).fillna(False).astype(bool)].reset_index(drop=True)
    if not len(st):
        return VexMatch(pd.DataFrame(columns=[*FINDING_KEY, *APPLIED_COLUMNS]),
                        pd.DataFrame(columns=UNMATCHED_COLUMNS), 0)
    alias_of = _aliases(data)
    # Every id a statement goes by: its own, and the aliases its document gives.
    st_ids = [{vuln.upper(), *alias_of.get(f"{scan}\0{vuln}", set())} for scan, vuln in zip(
        st["scan_id"].astype(str), st["vuln_id"].astype(str), strict=True)]
    eng = engine_or_frames(engine, data)
    f = _findings(eng, set().union(*st_ids), alias_of)
    index = _ImageIndex.of(_images(data, references))
    found: list[tuple[Any, ...]] = []
    matched: set[int] = set()
    cols = ["product_digest", "product_ref", "product_purl", "subcomponent_purl"]
    values = [st[c].astype(object).where(st[c].notna(), None).tolist() for c in cols]
    for n, row in enumerate(zip(*values, strict=True)):
        s = dict(zip(cols, row, strict=True))
        for j in _spoken_about(st_ids[n], _Product.of(s), purl_of(s["subcomponent_purl"]), f,
                               index):
            matched.add(n)
            found.append((*f.rows[j][:4], n))
    st = st.assign(said=[said(*x) for x in zip(
        st["status"].astype(str), st["justification"], st["impact_statement"], st["author"],
        st["statement_at"], strict=True)])
    unmatched = st.loc[[n for n in range(len(st)) if n not in matched],
                       UNMATCHED_COLUMNS].reset_index(drop=True)
    return VexMatch(_winners(found, st), unmatched, len(st))


def _winners(found: list[tuple[Any, ...]], st: pd.DataFrame) -> pd.DataFrame:
    """Return, per finding, the latest statement that speaks about it (`APPLIED_COLUMNS`).

    Args:
        found: (`FINDING_KEY`..., statement row) pairs.
        st: the statements, with their `said`.
    """
    if not found:
        return pd.DataFrame(columns=[*FINDING_KEY, *APPLIED_COLUMNS])
    f = pd.DataFrame(found, columns=[*FINDING_KEY, "_n"]).astype(dict.fromkeys(FINDING_KEY, str))
    win = st[["statement_at", "status", "justification", "author", "said", "source"]].copy()
    win["_n"] = range(len(st))
    f = f.merge(win, on="_n").sort_values(["statement_at", "_n"], na_position="first",
                                          kind="stable")
    f = f.drop_duplicates(FINDING_KEY, keep="last")
    applied = f.rename(columns={"status": "vex_status", "justification": "vex_justification",
                                "author": "vex_author", "statement_at": "vex_at",
                                "said": "vex_said", "source": "vex_source"})
    applied["vex_status"] = applied["vex_status"].astype(str)
    return applied[[*FINDING_KEY, *APPLIED_COLUMNS]].reset_index(drop=True)


UNMATCHED_SHOWN = 10
"""Unmatched statements named in `vex_summary`."""
SAID_SHOWN = 50
"""Findings a statement speaks about named in `vex_summary`."""


def vex_summary(vex: VexMatch, names: Mapping[str, str]) -> dict[str, object]:
    """Return the figures and words every face shows of what the VEX statements did: statements
    in force, findings by the status that applies to them, the settled and investigated
    findings in words (`<image>: <vuln> in <package>: <said>`), and the statements that match no
    finding (the first `UNMATCHED_SHOWN` in words); the findings in words are the first
    `SAID_SHOWN`.

    Args:
        vex: the match (`FleetView.vex`).
        names: image id -> the name to show.
    """
    a = vex.applied
    status = a["vex_status"].value_counts()
    said_of = [f"{names.get(str(r.image_id), str(r.image_id))}: {r.vuln_id} in {r.pkg_name} "
               f"{r.pkg_version}: {r.vex_said}"
               for r in a.head(SAID_SHOWN).itertuples(index=False)]
    u = vex.unmatched
    return {
        "statements": vex.statements,
        "findings": {s: int(status.get(s, 0)) for s in STATUSES},
        "said_shown": said_of,
        "unmatched": len(u),
        "unmatched_shown": [f"{r.vuln_id} in {r.product}"
                            + (f" ({r.subcomponent_purl!s})"
                               if isinstance(r.subcomponent_purl, str) else "")
                            + f": {r.said} [{r.source}]"
                            for r in u.head(UNMATCHED_SHOWN).itertuples(index=False)],
    }
