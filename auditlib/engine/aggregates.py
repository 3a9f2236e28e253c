"""The assessment's aggregates over the big tables, each defined once, in SQL that DuckDB and
Spark SQL both run (plain SQL: `SELECT DISTINCT`, `GROUP BY`, `GROUPING SETS`, `COUNT`,
`BIT_OR`, `COALESCE`, `CASE`, `IS NOT DISTINCT FROM`; no dialect function but `key_hash<N>`,
which each engine defines alike, `auditlib.engine.key_hash`), so both engines give the same
rows. Every result is small: one row per image, or per licence class.

Missing values are equal to each other when rows are told apart, as pandas' `drop_duplicates`
treats them (`SELECT DISTINCT`, `IS NOT DISTINCT FROM`). Rows that name no image are left out.
"""

from __future__ import annotations

import pandas as pd

from auditlib.engine.base import Engine
from auditlib.engine.key_hash import key_hash
from auditlib.engine.tables import sql_text
from auditlib.normalize.licenses import LICENSE_CLASSES
from auditlib.normalize.severity import SEVERITIES, SEVERITY_DTYPE
from auditlib.normalize.times import utc_series
from auditlib.store.licence_tables import (
    DOCUMENT_LICENCES,
    PACKAGE_LICENCE_CLASSES,
    PACKAGE_NAME,
)
from auditlib.tables import licence_class_column as _flag

IMAGE_KEYS = f"""
SELECT image_id, ROW_NUMBER() OVER (ORDER BY image_id) AS image_key,
       {key_hash("image_id")} AS image_hash
FROM (SELECT CAST(image_id AS STRING) AS image_id FROM vulnerabilities WHERE image_id IS NOT NULL
      UNION
      SELECT CAST(image_id AS STRING) AS image_id FROM packages WHERE image_id IS NOT NULL
      UNION
      SELECT CAST(image_id AS STRING) AS image_id FROM package_licence_classes
      WHERE image_id IS NOT NULL) i
"""
"""Each image the vulnerability, package or licence rows (`package_licence_classes`) name,
with a number of its own (image_key, from 1 in image id order: what the fix-first upgrades
group rows by in place of the id, a 71-character text) and the hash of its id (image_hash,
`auditlib.engine.key_hash`: what the per-image counts group rows by, `_rows_and_distinct`)."""

KEYS_TABLE = "image_keys"
"""The table `IMAGE_KEYS` is kept as (`ensure_image_keys`)."""


def _rows_and_distinct(table: str, key: list[str], rows: str, distinct: str) -> str:
    """Return the SQL of, per image with rows in `table`: its rows (`rows`) and its distinct
    `key` values (`distinct`), in one pass over the table (each image's keys grouped once, then
    their groups counted and their rows summed). Rows are grouped by the hash of the image's id
    and the hash of their `key` (`auditlib.engine.key_hash`), 64-bit numbers, not by the texts:
    nothing but counts comes out of the groups, and at 100,000 images (79 million package rows)
    grouping by the texts took 30.6 s, by the hashes 6.0 s (README, issue 15). The id is joined
    back to each image's hash from `KEYS_TABLE`."""
    return f"""
SELECT i.image_id, c.{rows}, c.{distinct}
FROM (SELECT image_hash, CAST(SUM(n) AS BIGINT) AS {rows}, COUNT(*) AS {distinct}
      FROM (SELECT {key_hash("image_id")} AS image_hash, COUNT(*) AS n
            FROM {table}
            WHERE image_id IS NOT NULL
            GROUP BY {key_hash("image_id")}, {key_hash(*key)}) g
      GROUP BY image_hash) c
JOIN {KEYS_TABLE} i ON c.image_hash = i.image_hash
ORDER BY i.image_id
"""


VULNERABILITY_COUNTS = _rows_and_distinct(
    "vulnerabilities", ["vuln_id", "pkg_name", "pkg_version"], "vulnerability_rows", "findings")
"""Per image with vulnerability rows: vulnerability_rows (as the documents list them) and
findings (distinct vulnerability, package and version: `fleet.findings.FINDING_KEY`). Reads
`KEYS_TABLE` (`ensure_image_keys`)."""

PACKAGE_COUNTS = _rows_and_distinct(
    "packages", ["name", "version", "package_type"], "package_rows", "packages")
"""Per image with package rows: package_rows (as the documents list them) and packages
(distinct name, version and type: what the `minimal-image` rule counts). Reads `KEYS_TABLE`
(`ensure_image_keys`)."""

SEVERITY_RANK_SQL = "CASE CAST(severity AS STRING) " + " ".join(
    f"WHEN '{s}' THEN {i}" for i, s in enumerate(SEVERITIES)) + " END"
"""A row's severity as its rank on the auditlib scale (`normalize.severity.SEVERITIES`: unknown
0 ... critical 5; missing when the row has none)."""

FIXABLE_ROW = """CAST(fix_state AS STRING) = 'fixed'
  AND NOT COALESCE(CAST(fix_contradicted AS BOOLEAN), FALSE)"""
"""Whether a vulnerability row says its finding is fixable: its scanner says `fixed` and does
not contradict itself (`vulnerabilities.fix_contradicted`: the installed version is already at
or above every fixed version it names, so no upgrade changes anything); a row whose versions
cannot be compared keeps the scanner's word."""

_FIXABLE_ROWS = f"""
SELECT CAST(image_id AS STRING) AS image_id, CAST(vuln_id AS STRING) AS vuln_id,
       CAST(pkg_name AS STRING) AS pkg_name, CAST(pkg_version AS STRING) AS pkg_version,
       {SEVERITY_RANK_SQL} AS severity_rank,
       CAST(fixed_version AS STRING) AS fixed_version, fix_available_at,
       CAST(layer_diff_id AS STRING) AS layer_diff_id, published_at,
       CASE WHEN CAST(is_known_exploited AS BOOLEAN) THEN 1
            WHEN NOT CAST(is_known_exploited AS BOOLEAN) THEN 0 END AS exploited,
       CAST(epss_score AS DOUBLE) AS epss, CAST(purl AS STRING) AS purl
FROM vulnerabilities
WHERE image_id IS NOT NULL AND {FIXABLE_ROW}"""
"""The vulnerability rows that say their finding is fixable, with what `FIXABLE_FINDINGS` keeps
of each."""

_FINDING_HASHES = f"""{key_hash("image_id")} AS image_hash,
       {key_hash("vuln_id", "pkg_name", "pkg_version")} AS finding_hash"""

FIXABLE_FINDINGS = f"""
WITH r AS (
  SELECT *, {_FINDING_HASHES} FROM ({_FIXABLE_ROWS}) v
), c AS (
  SELECT image_hash, finding_hash, COUNT(*) AS n FROM r GROUP BY image_hash, finding_hash
)
SELECT r.image_id, r.vuln_id, r.pkg_name, r.pkg_version, r.severity_rank, r.fixed_version,
       CAST(r.fix_available_at AS STRING) AS fix_at, r.layer_diff_id,
       CAST(r.published_at AS STRING) AS published_at, r.exploited AS known_exploited, r.epss,
       r.purl
FROM r JOIN c ON r.image_hash = c.image_hash AND r.finding_hash = c.finding_hash
WHERE c.n = 1
UNION ALL
SELECT image_id, vuln_id, pkg_name, pkg_version,
       MAX(severity_rank) AS severity_rank,
       MIN(fixed_version) AS fixed_version,
       CAST(MIN(fix_available_at) AS STRING) AS fix_at,
       MIN(layer_diff_id) AS layer_diff_id,
       CAST(MIN(published_at) AS STRING) AS published_at,
       MAX(exploited) AS known_exploited,
       MAX(epss) AS epss,
       MIN(purl) AS purl
FROM (SELECT r.* FROM r JOIN c ON r.image_hash = c.image_hash AND r.finding_hash = c.finding_hash
      WHERE c.n > 1) v
GROUP BY image_id, vuln_id, pkg_name, pkg_version
"""
"""One row per fixable finding (`fleet.findings.FINDING_KEY`: image, vulnerability, package and
version, a missing name or version a value of its own), over the rows that say it is fixable
(`FIXABLE_ROW`), however many documents or paths report it: severity_rank (the highest any
gives, `SEVERITY_RANK_SQL`), fixed_version, layer_diff_id and purl (the least any gives, in text
order), fix_at (the earliest fix date), published_at (the earliest; both as text: DuckDB writes
a time, Spark the nanoseconds since 1970 it reads a pandas timestamp as), known_exploited (1 if any
says it is in CISA KEV, 0 if those that say say not, missing when none says) and epss (the
highest EPSS probability given). `fleet.findings.fixable_findings` adds the clock.

A finding with one such row is that row: only the findings with several rows are grouped (by
their texts), the rest are found by counting rows per hash of the image id and of the finding's
key (`auditlib.engine.key_hash`; two findings whose hashes collide are grouped by their texts,
so a collision changes nothing). At 100,000 images (10.9 million findings, one row each) grouping
every row by its texts, with the least text of each column kept per group, took 26.6 s and
spilled 3.4 GB; this took 12.1 s, the same rows (by hand, README, issue 15)."""


FINDINGS_TABLE = "fixable_findings"
"""The table `FIXABLE_FINDINGS` is kept as (`Engine.define` with `keep`): read by the clock's
times and by `FINDING_CLOCKS`. Its rows are in no order (every reader orders what it gives:
sorting millions of findings to keep them was 6.7 s of 10 s at 20,000 images)."""

FINDING_TIMES = f"""
SELECT moment FROM (SELECT fix_at AS moment FROM {FINDINGS_TABLE}
                    UNION SELECT published_at AS moment FROM {FINDINGS_TABLE}) t
WHERE moment IS NOT NULL
"""
"""Every distinct fix and publication time of the fixable findings, as text (a few thousand):
what pandas parses and counts days to, each once (`TIMES_VIEW`)."""

TIMES_VIEW = "finding_times"
"""The view of each time of `FINDING_TIMES` that is a time: columns moment (the text), at_utc (ISO
8601, UTC) and days (whole days from it to the as-of time, at least 0)."""

SEEN_VIEW = "finding_seen"
"""The view of the history clock (`auditlib.history.first_seen_fixed`), when the store has
history: columns `FINDING_KEY`, seen_utc (ISO 8601, UTC), seen_days (as `TIMES_VIEW`'s days)
and appearing (1: the history saw the fix appear; 0: fixable since the first snapshot)."""

SEEN_RANKS_VIEW = "finding_seen_ranks"
"""The view of a store's snapshot times by rank (`engine.history.SnapshotTimes`): columns
seen_rank, seen_utc (ISO 8601, UTC) and seen_days (as `TIMES_VIEW`'s days)."""


def seen_from_clock(clock: str) -> str:
    """Return the SQL of `SEEN_VIEW` from the history clock kept in the engine as the view
    `clock` (`engine.history.FIRST_SEEN_FIXED`: ranks, not times) and `SEEN_RANKS_VIEW`."""
    return f"""
SELECT {', '.join(f"c.{k}" for k in _KEYS)}, r.seen_utc, r.seen_days,
       CASE WHEN c.fix_seen_appearing THEN 1 ELSE 0 END AS appearing
FROM {clock} c JOIN {SEEN_RANKS_VIEW} r ON CAST(c.first_seen_fixed_rank AS BIGINT) = r.seen_rank
"""


SETTLED_VIEW = "finding_settled"
"""The view of the findings a VEX statement settles (`fleet.vex.VexMatch.settled`): columns
`FINDING_KEY`."""

_KEYS = ("image_id", "vuln_id", "pkg_name", "pkg_version")
_SAME_FINDING = " AND ".join(
    f"CAST(f.{k} AS STRING) IS NOT DISTINCT FROM CAST({{t}}.{k} AS STRING)" for k in _KEYS)


def finding_clocks(seen: bool, settled: bool) -> str:
    """Return the SQL of `CLOCKS_TABLE`, with the history clock (`SEEN_VIEW`) when `seen`, and
    without the findings of `SETTLED_VIEW` when `settled`."""
    def pick(fix: str, seen_at: str, published: str) -> str:
        if not seen:
            return f"""CASE WHEN fx.days IS NOT NULL THEN {fix}
            WHEN pb.days IS NOT NULL THEN {published} END"""
        return f"""CASE WHEN fx.days IS NOT NULL THEN {fix}
            WHEN s.appearing = 1 AND s.seen_days IS NOT NULL THEN {seen_at.format('seen')}
            WHEN pb.days IS NOT NULL THEN {published}
            WHEN s.seen_days IS NOT NULL THEN {seen_at.format('first-seen')} END"""
    join_seen = f"""
LEFT JOIN (SELECT {', '.join(_KEYS)}, seen_utc, CAST(seen_days AS DOUBLE) AS seen_days,
                  CAST(appearing AS INT) AS appearing FROM {SEEN_VIEW}) s
  ON {_SAME_FINDING.format(t='s')}""" if seen else ""
    join_settled = f"""
LEFT JOIN (SELECT DISTINCT {', '.join(_KEYS)} FROM {SETTLED_VIEW}) x
  ON {_SAME_FINDING.format(t='x')}""" if settled else ""
    return f"""
SELECT f.image_id, f.vuln_id, f.pkg_name, f.pkg_version, f.severity_rank, f.fixed_version,
       f.layer_diff_id, f.known_exploited, f.epss, f.purl,
       {pick("'fix'", "'{}'", "'published'")} AS clock,
       {pick("fx.at_utc", "s.seen_utc", "pb.at_utc")} AS clock_at,
       {pick("fx.days", "s.seen_days", "pb.days")} AS days
FROM {FINDINGS_TABLE} f
LEFT JOIN (SELECT moment, at_utc, CAST(days AS DOUBLE) AS days FROM {TIMES_VIEW}) fx
  ON f.fix_at = fx.moment
LEFT JOIN (SELECT moment, at_utc, CAST(days AS DOUBLE) AS days FROM {TIMES_VIEW}) pb
  ON f.published_at = pb.moment{join_seen}{join_settled}
{"WHERE x.image_id IS NULL" if settled else ""}
"""


CLOCKS_TABLE = "finding_clocks"
"""The view of each fixable finding's clock (`finding_clocks`): the columns of
`FIXABLE_FINDINGS` but the times, and clock (`fix`, `seen`, `published`, `first-seen`, missing
when no date is known), clock_at (ISO 8601, UTC) and days (missing with the clock): the first
known of the fix date, the snapshot that saw the fix appear, the publication and the first
snapshot that saw it fixable (`auditlib.fleet.findings`). Findings a VEX statement settles are
left out."""

ORDER_OF_FINDINGS = "image_id, vuln_id, pkg_name NULLS LAST, pkg_version NULLS LAST"
"""The order findings are listed in, ties of any other order broken by it."""


def sla_rows(sla_days: dict[int, float], warn_ratio: float) -> str:
    """Return the SQL of every row of `CLOCKS_TABLE` with its SLA: sla_days (by severity rank;
    missing for a severity without one), used (the share of it used), over_days (days over it) and
    state (`over`, `near`, `within`, `undated`, `no SLA`: `fleet.findings.SLA_STATES`).

    Args:
        sla_days: severity rank -> days.
        warn_ratio: the share of its SLA a finding may use before it is `near`.
    """
    sla = ("CASE severity_rank " + " ".join(
        f"WHEN {int(r)} THEN CAST({float(d)!r} AS DOUBLE)" for r, d in sorted(sla_days.items()))
        + " END") if sla_days else "CAST(NULL AS DOUBLE)"
    return f"""
SELECT *, days / sla_days AS used, days - sla_days AS over_days,
       CASE WHEN sla_days IS NULL THEN 'no SLA'
            WHEN days IS NULL THEN 'undated'
            WHEN days > sla_days THEN 'over'
            WHEN days / sla_days >= CAST({float(warn_ratio)!r} AS DOUBLE) THEN 'near'
            ELSE 'within' END AS state
FROM (SELECT *, {sla} AS sla_days FROM {CLOCKS_TABLE}) c
"""


SLA_COUNTS = """
SELECT image_id, severity_rank, state, COUNT(*) AS findings, MAX(days) AS most_days
FROM ({rows}) a
GROUP BY image_id, severity_rank, state
ORDER BY image_id, severity_rank, state
"""
"""Per image, severity rank and SLA state (`sla_rows` as `{rows}`): its fixable findings and
the most days any of them has been fixable (missing when none is dated)."""

SHOWN_COLUMNS = ("image_id, vuln_id, pkg_name, pkg_version, severity_rank, fixed_version, clock, "
                 "clock_at, days, sla_days, used, over_days, state")
"""The columns of `sla_rows` a finding named in evidence is said with (`SLA_SHOWN`)."""

_FINDING_KEY_COLUMNS = "image_id, vuln_id, pkg_name, pkg_version"
"""The columns of a finding's key (`fleet.findings.FINDING_KEY`) in `sla_rows`."""


def _first_listed(listing: str, where: str, order: str, most: str) -> str:
    """Return the SQL of the keys of the first `most` findings per image of `sla_rows` (as
    `{rows}`) that meet `where`, by `order` (ties in `ORDER_OF_FINDINGS`): columns listing (the
    text `listing`), the key, n (the place)."""
    return f"""
  SELECT * FROM (
    SELECT '{listing}' AS listing, {_FINDING_KEY_COLUMNS}, ROW_NUMBER() OVER (
             PARTITION BY image_id ORDER BY {order}, {ORDER_OF_FINDINGS}) AS n
    FROM ({{rows}}) r WHERE {where}) f
  WHERE n <= {most}"""


SLA_SHOWN = f"""
WITH listed AS ({_first_listed("over", "state = 'over'", "over_days DESC NULLS LAST", "{shown}")}
  UNION ALL{_first_listed("near", "state = 'near'", "used DESC NULLS LAST", "{shown}")}
  UNION ALL{_first_listed("undated", "state = 'undated'", "severity_rank DESC NULLS LAST",
                          "{shown}")}
  UNION ALL{_first_listed("closest", "state IN ('within', 'near')", "used DESC NULLS LAST", "1")}
)
SELECT l.listing, {", ".join(f"s.{c.strip()}" for c in SHOWN_COLUMNS.split(","))}, l.n
FROM listed l JOIN ({{rows}}) s
  ON s.image_id = l.image_id AND s.vuln_id IS NOT DISTINCT FROM l.vuln_id
 AND s.pkg_name IS NOT DISTINCT FROM l.pkg_name AND s.pkg_version IS NOT DISTINCT FROM l.pkg_version
ORDER BY l.listing, l.image_id, l.n
"""
"""The findings the SLA rule names in its evidence, per image (`sla_rows` as `{rows}`): listing
`over` (the furthest over first), `near` (the most of it used first), `undated` (the most severe
first), the first `{shown}` of each, and `closest` (of those within or near it, the one that used
the most), each with its place n; ties in the order findings are listed (`ORDER_OF_FINDINGS`).
Each listing ranks the findings' keys and its measure only, and the rows' other columns are
joined to the few it keeps (a finding's key is one row of `sla_rows`): ranked whole, the rows
were one table of 1.75 GB at 100,000 images, read by the four rankings and spilled to disk
(README, issue 15)."""

SLA_WORST = f"""
SELECT * FROM ({{rows}}) s
WHERE state = 'over' AND severity_rank >= {{least}}
ORDER BY over_days DESC, {ORDER_OF_FINDINGS}
LIMIT {{most}}
"""
"""The first `{most}` findings over their SLA (`sla_rows` as `{rows}`) of severity rank
`{least}` or above, the furthest over first (ties in the order findings are listed)."""

SLA_LONGEST = f"""
SELECT COUNT(*) OVER () AS total, s.* FROM ({{rows}}) s
WHERE severity_rank >= {{least}}
ORDER BY days DESC NULLS LAST, {ORDER_OF_FINDINGS}
LIMIT {{most}}
"""
"""The first `{most}` fixable findings (`sla_rows` as `{rows}`) of severity rank `{least}` or
above, fixable the longest first (undated last; ties in the order findings are listed), each
with total: how many there are in all."""

EARLIER_VIEW = "earlier_findings"
"""The view of another assessment's fixable findings (the previous run's, `EARLIER_ROWS`, run by
that assessment's engine): columns `FINDING_KEY` and was_over."""

EARLIER_ROWS = """
SELECT image_id, vuln_id, pkg_name, pkg_version,
       CASE WHEN state = 'over' THEN 1 ELSE 0 END AS was_over
FROM ({rows}) s
"""
"""Of each fixable finding (`sla_rows` as `{rows}`), its key and whether it was over its SLA
(was_over 1, else 0): what a later assessment compares with (`EARLIER_VIEW`)."""

NEW_FINDINGS = f"""
SELECT COUNT(*) OVER () AS total, s.* FROM (
  SELECT f.* FROM ({{rows}}) f
  LEFT JOIN {EARLIER_VIEW} e ON {_SAME_FINDING.format(t="e")}
  WHERE e.image_id IS NULL AND f.severity_rank IN ({{ranks}})) s
ORDER BY severity_rank DESC, {ORDER_OF_FINDINGS}
LIMIT {{most}}
"""
"""The first `{most}` fixable findings (`sla_rows` as `{rows}`) of the severity ranks
`{ranks}` that `EARLIER_VIEW` does not hold, the most severe first (ties in the order findings
are listed), each with total: how many there are in all."""

CROSSED_FINDINGS = f"""
SELECT COUNT(*) OVER () AS total, s.* FROM (
  SELECT f.* FROM ({{rows}}) f
  JOIN {EARLIER_VIEW} e ON {_SAME_FINDING.format(t="e")}
  WHERE f.state = 'over' AND e.was_over = 0) s
ORDER BY severity_rank DESC, {ORDER_OF_FINDINGS}
LIMIT {{most}}
"""
"""The first `{most}` fixable findings over their SLA (`sla_rows` as `{rows}`) that
`EARLIER_VIEW` holds not over it, the most severe first (ties in the order findings are listed),
each with total: how many there are in all."""

IMAGES_VIEW = "chosen_images"
"""The view of the images a question is asked of (column image_id, text)."""

IMAGE_FINDINGS = f"""
SELECT DISTINCT f.image_id, f.vuln_id, f.purl
FROM {CLOCKS_TABLE} f JOIN {IMAGES_VIEW} i ON CAST(f.image_id AS STRING) = i.image_id
"""
"""Of the fixable findings of the images of `IMAGES_VIEW`, each distinct image, vulnerability
and package purl (missing when no scanner gives one)."""

IMAGE_FINDING_COUNTS = f"""
SELECT CAST(f.image_id AS STRING) AS image_id, COUNT(*) AS findings
FROM {CLOCKS_TABLE} f JOIN {IMAGES_VIEW} i ON CAST(f.image_id AS STRING) = i.image_id
GROUP BY CAST(f.image_id AS STRING)
"""
"""The fixable findings of each image of `IMAGES_VIEW` that has any."""

BASE_LAYERS_VIEW = "base_layers"
"""The view of each image's base's layers (`staleness.table.base_layer_sets`): columns
image_id, layer_diff_id."""

BASE_SPLIT = f"""
SELECT f.image_id, COUNT(*) AS layered,
       SUM(CASE WHEN b.layer_diff_id IS NOT NULL THEN 1 ELSE 0 END) AS in_base
FROM {CLOCKS_TABLE} f
JOIN (SELECT DISTINCT image_id FROM {BASE_LAYERS_VIEW}) i ON f.image_id = i.image_id
LEFT JOIN (SELECT DISTINCT image_id, layer_diff_id FROM {BASE_LAYERS_VIEW}) b
  ON f.image_id = b.image_id AND f.layer_diff_id = b.layer_diff_id
WHERE f.layer_diff_id IS NOT NULL
GROUP BY f.image_id
ORDER BY f.image_id
"""
"""Per image whose base's layers are known (`BASE_LAYERS_VIEW`) with a fixable finding whose
layer a scanner names: those findings (layered), and those of them in a layer of the base
(in_base)."""


DRIFTED_VIEW = "drifted_images"
"""The view of the images whose base tag moved on (`staleness.table`): column image_id."""

POINTS_DECIMAL = "DECIMAL(30, 12)"
"""A finding's points are summed as this decimal: exact, so a sum does not depend on the order
the engine adds in (identical images get identical sums, and equal ranks)."""


def finding_points(rows: str, weights: dict[int, float], factors: dict[str, float],
                   kev_factor: float, epss_factor: float, *, base: bool, drifted: bool) -> str:
    """Return the SQL of each finding of `rows` (`sla_rows`) with its fix-first points (pts:
    the severity's weight x the SLA state's factor x its threat: `kev_factor` when known
    exploited, else 1 + `epss_factor` x EPSS),
    whether its package came with the image's base (base: 1 when its layer is one of
    `BASE_LAYERS_VIEW`, with `base`) and whether a rebuild on a refreshed base fixes it
    (rebuilt: `base` and the image in `DRIFTED_VIEW`, with `drifted`).

    Args:
        rows: the findings with their SLA state.
        weights: severity rank -> weight (others 0).
        factors: SLA state -> factor (others 1).
        kev_factor, epss_factor: the threat's factors.
    """
    w = ("CASE severity_rank " + " ".join(
        f"WHEN {int(r)} THEN CAST({float(v)!r} AS DOUBLE)" for r, v in sorted(weights.items()))
         + " ELSE CAST(0 AS DOUBLE) END")
    f = ("CASE state " + " ".join(f"WHEN '{k}' THEN CAST({float(v)!r} AS DOUBLE)"
                                  for k, v in factors.items()) + " ELSE CAST(1 AS DOUBLE) END")
    epss = ("CASE WHEN epss IS NULL OR epss < 0 THEN CAST(0 AS DOUBLE) "
            "WHEN epss > 1 THEN CAST(1 AS DOUBLE) ELSE epss END")
    in_base = ("CASE WHEN b.layer_diff_id IS NOT NULL THEN 1 ELSE 0 END" if base else "0")
    join_base = f"""
LEFT JOIN (SELECT DISTINCT image_id, layer_diff_id FROM {BASE_LAYERS_VIEW}) b
  ON s.image_id = b.image_id AND s.layer_diff_id = b.layer_diff_id""" if base else ""
    rebuilt = ("CASE WHEN p.base = 1 AND d.image_id IS NOT NULL THEN 1 ELSE 0 END"
               if drifted and base else "0")
    join_drifted = f"""
LEFT JOIN (SELECT DISTINCT image_id FROM {DRIFTED_VIEW}) d ON p.image_id = d.image_id""" if (
        drifted and base) else ""
    return f"""
SELECT p.*, {rebuilt} AS rebuilt
FROM (SELECT s.*, {in_base} AS base
      FROM (SELECT r.*,
                   CAST(({w}) * ({f}) * (CASE WHEN known_exploited = 1
                                              THEN CAST({float(kev_factor)!r} AS DOUBLE)
                                              ELSE 1 + CAST({float(epss_factor)!r} AS DOUBLE)
                                                       * ({epss}) END)
                        AS {POINTS_DECIMAL}) AS pts
            FROM ({rows}) r) s{join_base}) p{join_drifted}
"""


FIX_FIRST_IMAGES = """
SELECT image_id,
       SUM(CASE WHEN pts > 0 THEN pts END) AS pts,
       SUM(CASE WHEN pts > 0 AND state = 'over' THEN 1 ELSE 0 END) AS pts_over,
       SUM(CASE WHEN pts > 0 AND known_exploited = 1 THEN 1 ELSE 0 END) AS pts_kev,
       SUM(CASE WHEN pts > 0 AND COALESCE(known_exploited, 0) = 0 AND epss >= 0.1
                THEN 1 ELSE 0 END) AS pts_likely,
       MAX(CASE WHEN pts > 0 THEN base ELSE 0 END) AS pts_base,
       SUM(CASE WHEN state = 'over' THEN 1 ELSE 0 END) AS over_sla,
       SUM(CASE WHEN known_exploited = 1 THEN 1 ELSE 0 END) AS kev,
       MAX(COALESCE(severity_rank, 0)) AS worst,
       {by_severity}
FROM ({points}) p
GROUP BY image_id
ORDER BY image_id
"""
"""Per image with fixable findings (`finding_points` as `{points}`), of those with points: their
points (a decimal sum), those over the SLA, known exploited, likely exploited (EPSS at least
10%, not known exploited), whether any came with the base (pts_*), and per severity
(`{by_severity}`: `n_<rank>` columns); of all: over_sla, kev and worst (the highest
severity rank, missing as 0): the ranking's tiebreak."""

FIX_FIRST_UPGRADES = f"""
WITH p AS (
  SELECT k.image_key, a.vuln_id, a.pkg_name, a.pkg_version, a.fixed_version, a.pts
  FROM ({{points}}) a JOIN {KEYS_TABLE} k ON a.image_id = k.image_id
  WHERE a.pts > 0 AND a.rebuilt = 0
), k AS (
  SELECT image_key, pkg_name, SUM(pts) AS pts, MIN(vuln_id) AS first_vuln
  FROM p GROUP BY image_key, pkg_name
), n AS (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY image_key
                               ORDER BY pts DESC, first_vuln, pkg_name NULLS LAST) AS n,
         COUNT(*) OVER (PARTITION BY image_key) AS upgrades
  FROM k
), top AS (
  SELECT * FROM n WHERE n <= {{shown}}
), f AS (
  SELECT p.image_key, p.pkg_name, p.fixed_version AS fixed,
         ROW_NUMBER() OVER (PARTITION BY p.image_key, p.pkg_name
                            ORDER BY p.vuln_id, p.pkg_version NULLS LAST) AS r
  FROM p JOIN top t ON p.image_key = t.image_key AND p.pkg_name IS NOT DISTINCT FROM t.pkg_name
  WHERE p.fixed_version IS NOT NULL
)
SELECT i.image_id, t.n, t.upgrades, t.pkg_name, f.fixed
FROM top t JOIN {KEYS_TABLE} i ON t.image_key = i.image_key
LEFT JOIN f ON t.image_key = f.image_key AND t.pkg_name IS NOT DISTINCT FROM f.pkg_name
           AND f.r = 1
ORDER BY i.image_id, t.n
"""
"""Per image, the package upgrades that remove the most points (`finding_points` as
`{points}`; the findings a rebuild on a refreshed base removes left out): the first `{shown}`
packages by points (ties: the package listed first, `ORDER_OF_FINDINGS`), each with the fixed
version the first of its findings that names one names, and upgrades (how many packages in
all). Ranked by the image's number in `KEYS_TABLE` (`ensure_image_keys`), its id joined to the
rows kept, as the per-image counts are (at 100,000 images the ranking of 7.5 million packages
took 16 s by the id, 12.5 s by the number: same rows)."""


def _document_rows(table: str) -> str:
    return f"""
SELECT DISTINCT '{table}' AS rows_in, CAST(scan_id AS STRING) AS scan_id,
       CAST(image_id AS STRING) AS image_id
FROM {table} WHERE scan_id IS NOT NULL OR image_id IS NOT NULL"""


DOCUMENT_ROWS = (_document_rows("vulnerabilities") + "\nUNION ALL" + _document_rows("packages")
                 + "\nORDER BY rows_in, scan_id NULLS LAST, image_id NULLS LAST\n")
"""Each document (scan_id) with vulnerability or package rows, with the images its rows name
(one row per distinct pair and table; either may be missing): what coverage needs of the big
tables (`auditlib.fleet.coverage`). Column rows_in is `vulnerabilities` or `packages`."""

_LICENCE = ("license", "license_spdx", "license_class")
"""The columns of `package_licenses` that `PACKAGE_LICENCES` gives of each licence."""


UNLICENSED_TABLE = "unlicensed_packages"
"""The table `UNLICENSED_PACKAGES` is kept as (`ensure_licences`)."""

def _package_licences() -> str:
    """Return the SQL of every licence of every package of every image, and every package of
    an image no document gave a licence for (`UNLICENSED_TABLE`) as a row with no licence, with
    the package's key (image_id, package_name, package_version) and the `_LICENCE` columns of
    `package_licenses` (missing for a package without one)."""
    got = "".join(f",\n         CAST({c} AS STRING) AS {c}" for c in _LICENCE)
    none = "".join(f", CAST(NULL AS STRING) AS {c}" for c in _LICENCE)
    key = f"""CAST(image_id AS STRING) AS image_id,
         {PACKAGE_NAME} AS package_name,
         CAST(package_version AS STRING) AS package_version"""
    licensed = f"SELECT {key}{got}\n  FROM package_licenses WHERE image_id IS NOT NULL"
    return f"""
SELECT *
FROM ({licensed}
      UNION ALL
      SELECT image_id, package_name, package_version{none}
      FROM {UNLICENSED_TABLE}) a
"""


PACKAGE_LICENCES = _package_licences()
"""The view `package_licences` (`Engine.define`): every licence of every package of every image,
as many times as documents list it, and every package of an image no document gave a licence
for as a row with no licence (class missing: judged `unknown`); a licence file a scanner found
outside any package is the package `file <path>`. Columns image_id, package_name,
package_version, license, license_spdx, license_class (all text). What the licence rule's
flagged packages (`LICENCES_FLAGGED`) and the compliance page's licence risks (`LICENCE_RISKS`)
read; the licence classes read the store's `package_licence_classes` instead
(`IMAGE_CLASSES`), which tells a package without a licence the same way (`NO_LICENCE_CLASS`)."""

_CLASS_FLAGS = (*(_flag(c) for c in LICENSE_CLASSES), "licensed")
"""The flags of a `package_licence_classes` row, each a bit of `_BITS` (the first the lowest)."""
_BITS = " + ".join(f"CASE WHEN {f} THEN {1 << i} ELSE 0 END" for i, f in enumerate(_CLASS_FLAGS))
"""The SQL of a `package_licence_classes` row's flags as the bits of one integer."""


def _bit(flag: str, is_set: bool = True) -> str:
    return f"(bits & {1 << _CLASS_FLAGS.index(flag)}) {'<>' if is_set else '='} 0"


def _class_count(c: str) -> str:
    """Return the SQL of the packages (rows of flags `bits`) of licence class `c`: a package no
    document gives a licence (each lists it bare) is of class `unknown`."""
    if c == "unknown":
        return f"SUM(CASE WHEN {_bit('licensed', False)} OR {_bit(_flag(c))} THEN 1 ELSE 0 END)"
    return f"SUM(CASE WHEN {_bit(_flag(c))} THEN 1 ELSE 0 END)"


IMAGE_CLASSES = f"""
SELECT i.image_id, c.packages, {", ".join(f"c.{_flag(c)}" for c in LICENSE_CLASSES)}, c.licensed
FROM (SELECT image_hash, COUNT(*) AS packages,
             {", ".join(f"{_class_count(c)} AS {_flag(c)}" for c in LICENSE_CLASSES)},
             SUM(CASE WHEN {_bit("licensed")} THEN 1 ELSE 0 END) AS licensed
      FROM (SELECT {key_hash("image_id")} AS image_hash, BIT_OR({_BITS}) AS bits
            FROM {PACKAGE_LICENCE_CLASSES}
            WHERE image_id IS NOT NULL
            GROUP BY {key_hash("image_id")}, {key_hash("package_name", "package_version")}) p
      GROUP BY image_hash) c
JOIN {KEYS_TABLE} i ON c.image_hash = i.image_hash
"""
"""The rows of `image_classes`: one row per image of the store's `package_licence_classes`
(`auditlib.store.licence_tables`: one row per package and document, each package a name and
version), with its packages (distinct name and version), and per licence class of
`LICENSE_CLASSES` (`has_<class>`, `-` as `_`) its packages with a licence of that class (a
missing class `unknown`; a package no document gives a licence is `unknown` too), and
`licensed` (its packages some document gives a licence). What the licence classes and the
packages checked count. Each package's flags are grouped once, as the bits of one integer
(`BIT_OR`, where one aggregate per flag took a third more time), by the hashes of the image id
and of the name and version (`auditlib.engine.key_hash`), then counted per image: at 100,000
images (79 million rows, 40 million packages) a table of every package with its texts, grouped
by them, took 38 to 44 s and spilled gigabytes to disk (README, issue 15). Reads `KEYS_TABLE`
(`ensure_image_keys`), which numbers every image of `package_licence_classes`."""

LICENCE_VIEW = "package_licences"
"""The view `PACKAGE_LICENCES` is kept as."""
CLASSES_TABLE = "image_classes"
"""The table `IMAGE_CLASSES` is kept as (`ensure_licences`)."""

UNLICENSED_PACKAGES = f"""
WITH bare AS (
  SELECT image_id, package_name, package_version,
         {key_hash("image_id", "package_name", "package_version")} AS package_hash
  FROM (SELECT CAST(image_id AS STRING) AS image_id, package_name, package_version
        FROM {PACKAGE_LICENCE_CLASSES}
        WHERE image_id IS NOT NULL AND NOT COALESCE(licensed, FALSE)
        GROUP BY CAST(image_id AS STRING), package_name, package_version) b
), given AS (
  SELECT DISTINCT b.package_hash
  FROM {PACKAGE_LICENCE_CLASSES} c
  JOIN bare b
    ON {key_hash("c.image_id", "c.package_name", "c.package_version")} = b.package_hash
  WHERE c.licensed
)
SELECT b.image_id, b.package_name, b.package_version
FROM bare b LEFT JOIN given g ON b.package_hash = g.package_hash
WHERE g.package_hash IS NULL
"""
"""Every package (image_id, package_name, package_version) of an image that no document gives
a licence: the packages of the store's `package_licence_classes` with a row that is not
`licensed` (listed bare: with no licence class and given no licence by its document) and no
row that is (found by the hash of the package's key, `auditlib.engine.key_hash`, so the rows
that give a licence are not grouped by their texts). A few thousand rows where the licence rows
are hundreds of millions, so it is kept as a table (`UNLICENSED_TABLE`), made once, rather than
grouped again by each reader of `PACKAGE_LICENCES` and `IMAGE_LICENCES`. The packages it gives
are those `IMAGE_CLASSES` does not count as `licensed`."""

LICENCE_CLASSES = "SELECT " + ",\n       ".join(
    f"SUM({_flag(c)}) AS {_flag(c)}_packages, "
    f"SUM(CASE WHEN {_flag(c)} > 0 THEN 1 ELSE 0 END) AS {_flag(c)}_images"
    for c in LICENSE_CLASSES) + f"\nFROM {CLASSES_TABLE}\n"
"""Per licence class of `LICENSE_CLASSES` (`has_<class>_packages`, `has_<class>_images`, in one
row; missing when there are no packages): the distinct packages (image, name, version) of
that class and the images that have one (`IMAGE_CLASSES`: a package with no licence is
`unknown`)."""

IMAGE_LICENCES = f"""
SELECT DISTINCT image_id, license, license_spdx, license_class
FROM (SELECT image_id, license, license_spdx, license_class
      FROM {DOCUMENT_LICENCES} WHERE image_id IS NOT NULL
      UNION ALL
      SELECT image_id, CAST(NULL AS STRING) AS license, CAST(NULL AS STRING) AS license_spdx,
             CAST(NULL AS STRING) AS license_class
      FROM {UNLICENSED_TABLE}) l
"""
"""The table `image_licences`: each distinct licence (as `PACKAGE_LICENCES` gives it) of each
image, once (a missing licence too, for an image with a package that has none): one row per
image and licence, a few dozen per image, where `PACKAGE_LICENCES` has one per package and
licence. Read from the store's `document_licences` and `UNLICENSED_TABLE`. What `LICENCES` and
`LICENCES_CHECKED` read."""

IMAGE_LICENCES_TABLE = "image_licences"
"""The table `IMAGE_LICENCES` is kept as."""

LICENCES = """
SELECT DISTINCT license, license_spdx, license_class FROM image_licences
"""
"""Every distinct licence as the tables give it (what the licence rule judges, each once)."""

JUDGED_VIEW = "licence_judged"
"""The view of the licence rule's judgement of each of `LICENCES` it flags: columns license,
license_spdx, license_class, level (1 warn, 2 fail) and why."""

LICENCES_CHECKED = f"""
SELECT k.image_id, k.packages, l.licences
FROM {CLASSES_TABLE} k
JOIN (SELECT image_id, COUNT(DISTINCT license) AS licences
      FROM {IMAGE_LICENCES_TABLE} GROUP BY image_id) l
  ON k.image_id = l.image_id
ORDER BY k.image_id
"""
"""Per image with package or licence rows: its distinct packages (name, version) and distinct
licences (as declared)."""

LICENCES_FLAGGED = f"""
WITH judged AS (
  SELECT p.image_id, p.package_name, p.package_version, p.license, p.license_spdx,
         j.level, j.why
  FROM package_licences p JOIN {JUDGED_VIEW} j
    ON p.license IS NOT DISTINCT FROM j.license
   AND p.license_spdx IS NOT DISTINCT FROM j.license_spdx
   AND p.license_class IS NOT DISTINCT FROM j.license_class
  WHERE {{classes}}
), one AS (
  SELECT *, ROW_NUMBER() OVER (
           PARTITION BY image_id, level, package_name, package_version
           ORDER BY license_spdx NULLS LAST, license NULLS LAST, why) AS n
  FROM judged
), ranked AS (
  SELECT image_id, level, package_name, package_version, license, license_spdx, why,
         ROW_NUMBER() OVER (PARTITION BY image_id, level
                            ORDER BY package_name NULLS LAST, package_version NULLS LAST
                            ) AS shown,
         COUNT(*) OVER (PARTITION BY image_id, level) AS packages
  FROM one WHERE n = 1
)
SELECT image_id, level, packages, shown, package_name, package_version, license, license_spdx, why
FROM ranked WHERE shown <= {{shown}}
ORDER BY image_id, level, shown
"""
"""Per image and level the licence rule flags (`JUDGED_VIEW`): its packages (name, version) at
that level, and the first `{shown}` of them by name and version, each with one of its flagged
licences (the first by SPDX id, then text). `{classes}` is
`judged_classes` of the judgement: implied by the join, it is written out as literals so that the
engine skips, as it reads the store's licence rows, the rows of classes nothing flagged (most of
them: at 100,000 images 8.5 of 449 million rows are flagged under the default policy; the join
alone read them all, 84 s, 14 s with it)."""

RISKY_CLASSES = ("network-copyleft", "strong-copyleft", "weak-copyleft", "other", "unknown")
"""The licence classes the compliance page lists licence by licence, most restrictive first."""

_RISKY = ", ".join(f"'{c}'" for c in RISKY_CLASSES)

_RISKY_LICENCE = """COALESCE(license_spdx, license, '(no licence declared)') AS licence,
               COALESCE(license_class, 'unknown') AS class"""
_RISKY_ROWS = f"license_class IN ({_RISKY}) OR license_class IS NULL"

RISK_IMAGES_TABLE = "licence_risk_images"
"""The table `RISK_IMAGES` is kept as (`ensure_licences`)."""

RISK_IMAGES = f"""
SELECT licence, class, COUNT(DISTINCT image_id) AS images
FROM (SELECT image_id, {_RISKY_LICENCE}
      FROM {IMAGE_LICENCES_TABLE}
      WHERE {_RISKY_ROWS}) r
GROUP BY licence, class
"""
"""Per licence (SPDX id, else as declared, else `(no licence declared)`) of the
`RISKY_CLASSES`: the distinct images that have it. Read from `image_licences`, each image's
distinct licences (the licence rows of `package_licences` are those of `document_licences`,
each document's distinct ones): a few dozen rows per image where the licence rows are
thousands, so at 100,000 images 0.4 s where grouping the risky licence rows by image took
about 10 of the 26 s of `LICENCE_RISKS`. Kept as a table of a few rows
(`RISK_IMAGES_TABLE`), which a run saves for its pages (`auditlib.assess.saved`)."""

LICENCE_RISKS = f"""
WITH names AS (
  SELECT licence, class, package_name
  FROM (SELECT package_name, {_RISKY_LICENCE}
        FROM package_licences
        WHERE {_RISKY_ROWS}) r
  WHERE package_name IS NOT NULL
  GROUP BY licence, class, package_name
), ranked AS (
  SELECT licence, class, package_name,
         ROW_NUMBER() OVER (PARTITION BY licence, class ORDER BY package_name) AS n,
         COUNT(*) OVER (PARTITION BY licence, class) AS packages
  FROM names
)
SELECT g.licence, g.class, COALESCE(m.packages, 0) AS packages, g.images, m.package_name, m.n
FROM {RISK_IMAGES_TABLE} g
LEFT JOIN ranked m ON g.licence = m.licence AND g.class = m.class AND m.n <= {{shown}}
ORDER BY g.licence, g.class, m.n
"""
"""Per licence of the `RISKY_CLASSES` (`RISK_IMAGES`: each licence an image has): its distinct
package names (0 when its rows name none), its distinct images, and its first `{shown}`
package names (one row each; none when it has none). The licence rows are read once, for
their package names; the class is tested as a list or missing, not through `COALESCE`, so
that the engine filters the licence rows as it reads them. Reads `RISK_IMAGES_TABLE`
(`ensure_licences`)."""


def document_rows(engine: Engine) -> pd.DataFrame:
    """Return `DOCUMENT_ROWS`: columns rows_in, scan_id, image_id (str or None).

    Raises:
        EngineError: if the engine fails.
    """
    out = engine.sql(DOCUMENT_ROWS).astype(object)
    return out.where(out.notna(), None)


def text_times(text: pd.Series) -> pd.Series:
    """Return times written as text (`FIXABLE_FINDINGS`) as UTC timestamps: a time as DuckDB
    writes one, or the nanoseconds since 1970 Spark reads a nanosecond Parquet timestamp as
    (`spark.sql.legacy.parquet.nanosAsLong`); NaT where missing."""
    t = text.astype("string")
    nanos = t.str.fullmatch(r"-?\d+").fillna(False).to_numpy(bool)
    out = utc_series(t.where(~nanos).astype(object))
    if nanos.any():
        out[nanos] = pd.to_datetime(t[nanos].astype("int64"), unit="ns", utc=True)
    return out


def severity_of_rank(rank: pd.Series) -> pd.Categorical:
    """Return severity ranks (`SEVERITY_RANK_SQL`; missing where a row has none) as severities
    (`normalize.severity.SEVERITY_DTYPE`, missing where the rank is)."""
    codes = pd.to_numeric(rank).fillna(-1).to_numpy("int64")  # -1: missing
    return pd.Categorical.from_codes(codes, dtype=SEVERITY_DTYPE)


_LICENCE_TABLES = {IMAGE_LICENCES_TABLE: IMAGE_LICENCES, RISK_IMAGES_TABLE: RISK_IMAGES,
                   UNLICENSED_TABLE: UNLICENSED_PACKAGES, CLASSES_TABLE: IMAGE_CLASSES}
"""The licence tables an engine keeps whole once made (`Engine.define` with `keep`):
`image_licences`, a hundredth of `package_licences` (which is computed where it is read),
`licence_risk_images` over it, `unlicensed_packages` and `image_classes` (a row per image)."""


def ensure_licences(engine: Engine, *tables: str) -> None:
    """Make `tables` (of `LICENCE_VIEW`, `CLASSES_TABLE`, `IMAGE_LICENCES_TABLE`,
    `RISK_IMAGES_TABLE`) on `engine`, each once, when an aggregate first needs it:
    `package_licences` as a view, `image_licences` kept as a table (both read
    `UNLICENSED_TABLE`, kept, made here if missing), `licence_risk_images` kept as a table (it
    reads `image_licences`, made here if missing), and `image_classes` kept as a table (it
    reads `KEYS_TABLE`, made here if missing).

    Raises:
        EngineError: if the engine fails.
    """
    for t in tables:
        if t in engine.made:
            continue
        if t == RISK_IMAGES_TABLE:
            ensure_licences(engine, IMAGE_LICENCES_TABLE)
        if t in (LICENCE_VIEW, IMAGE_LICENCES_TABLE) and UNLICENSED_TABLE not in engine.made:
            engine.define(UNLICENSED_TABLE, UNLICENSED_PACKAGES, keep=True)
        if t == CLASSES_TABLE:
            ensure_image_keys(engine)
        if t == LICENCE_VIEW:
            engine.define(LICENCE_VIEW, PACKAGE_LICENCES)
        else:
            engine.define(t, _LICENCE_TABLES[t], keep=True)


def _per_image(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = df.astype({"image_id": str}).set_index("image_id")[columns].astype("int64")
    return out.sort_index()


def ensure_image_keys(engine: Engine) -> None:
    """Keep `IMAGE_KEYS` on `engine` as `KEYS_TABLE`, once (what the per-image counts read).

    Raises:
        EngineError: if the engine fails.
    """
    if KEYS_TABLE not in engine.made:
        engine.define(KEYS_TABLE, IMAGE_KEYS, keep=True)


def vulnerability_counts(engine: Engine) -> pd.DataFrame:
    """Return `VULNERABILITY_COUNTS`: index image_id, columns vulnerability_rows, findings.

    Raises:
        EngineError: if the engine fails.
    """
    ensure_image_keys(engine)
    return _per_image(engine.sql(VULNERABILITY_COUNTS), ["vulnerability_rows", "findings"])


def package_counts(engine: Engine) -> pd.DataFrame:
    """Return `PACKAGE_COUNTS`: index image_id, columns package_rows, packages.

    Raises:
        EngineError: if the engine fails.
    """
    ensure_image_keys(engine)
    return _per_image(engine.sql(PACKAGE_COUNTS), ["package_rows", "packages"])


def licence_classes(engine: Engine) -> pd.DataFrame:
    """Return `LICENCE_CLASSES`, one row per class of `LICENSE_CLASSES` (most restrictive
    first, zeros included): columns license_class, packages, images.

    Raises:
        EngineError: if the engine fails.
    """
    ensure_licences(engine, CLASSES_TABLE)
    got = engine.sql(LICENCE_CLASSES).iloc[0]
    # No package at all: every sum is missing, and every class has no packages.
    return pd.DataFrame(
        [(c, got[f"{_flag(c)}_packages"], got[f"{_flag(c)}_images"])
         for c in reversed(LICENSE_CLASSES)],
        columns=["license_class", "packages", "images"]).fillna(0).astype(
            {"packages": "int64", "images": "int64"})


def licences(engine: Engine) -> pd.DataFrame:
    """Return `LICENCES`: columns license, license_spdx, license_class (text or None), in no
    particular order.

    Raises:
        EngineError: if the engine fails.
    """
    ensure_licences(engine, IMAGE_LICENCES_TABLE)
    return engine.sql(LICENCES).astype(object).where(lambda d: d.notna(), None)


def licences_checked(engine: Engine) -> pd.DataFrame:
    """Return `LICENCES_CHECKED`: index image_id, columns packages, licences.

    Raises:
        EngineError: if the engine fails.
    """
    ensure_licences(engine, CLASSES_TABLE, IMAGE_LICENCES_TABLE)
    return _per_image(engine.sql(LICENCES_CHECKED), ["packages", "licences"])


def judged_classes(classes: pd.Series) -> str:
    """Return the SQL condition that a row of `package_licences` (as `p`) has one of the
    licence classes `classes` (a missing one: a missing class): `FALSE` when there is none.
    What `LICENCES_FLAGGED` filters the licence rows by (`{classes}`)."""
    named = sorted({str(c) for c in classes.dropna()})
    parts = [f"p.license_class IN ({', '.join(sql_text(c) for c in named)})"] if named else []
    if classes.isna().any():
        parts.append("p.license_class IS NULL")
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def licences_flagged(engine: Engine, judged: pd.DataFrame, shown: int) -> pd.DataFrame:
    """Return `LICENCES_FLAGGED` for the licence rule's judgement `judged` (the flagged rows of
    `licences`, with level and why).

    Returns:
        Columns image_id, level, packages, shown, package_name, package_version, license,
        license_spdx, why; the first `shown` packages of each image and level.

    Raises:
        EngineError: if the engine fails.
    """
    ensure_licences(engine, LICENCE_VIEW)
    engine.register(JUDGED_VIEW, judged[["license", "license_spdx", "license_class", "level",
                                         "why"]])
    out = engine.sql(LICENCES_FLAGGED.format(shown=int(shown),
                                             classes=judged_classes(judged["license_class"])))
    return out.astype({"image_id": str, "level": "int64", "packages": "int64"})


def licence_risks(engine: Engine, shown: int) -> pd.DataFrame:
    """Return `LICENCE_RISKS`: columns licence, class, packages, images, package_name, n (the
    first `shown` package names of each licence, one row each; None when it has none).

    Raises:
        EngineError: if the engine fails.
    """
    ensure_licences(engine, LICENCE_VIEW, RISK_IMAGES_TABLE)
    return engine.sql(LICENCE_RISKS.format(shown=int(shown)))


AGGREGATES = {
    "document_rows": document_rows,
    "vulnerability_counts": vulnerability_counts,
    "package_counts": package_counts,
    "licence_classes": licence_classes,
    "licences": lambda e: licences(e).sort_values(
        ["license", "license_spdx", "license_class"], na_position="last", ignore_index=True),
    "licences_checked": licences_checked,
}
"""Every aggregate by name (what the benchmark and the Spark test compare)."""
