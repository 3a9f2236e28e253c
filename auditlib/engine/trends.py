"""The history's trends in the engine (`auditlib.history`'s vulnerability counts, scan coverage,
changes, time to fix, staleness trend): SQL that DuckDB and Spark both run over the
vulnerability rows of every snapshot's state, so no snapshot's rows are held in pandas.

A store's states are resolved as for the SLA clock (`engine.history.history_states`): each
vulnerability file some state holds is read once, joined to a small frame of (source,
snapshot of the file, state holding it); a history read into memory is registered as a frame
with its state instead (`frames_trends`). A *state* is the position of its snapshot, oldest 0.

The definitions are `auditlib.history.views`' (its module docstring): a *finding*
(`fleet.findings.FINDING_KEY`) of a state has the highest severity any row gives
(`aggregates.SEVERITY_RANK_SQL`) and is fixable when any row says so (`aggregates.FIXABLE_ROW`);
rows naming no image are left out. Every result is small (per state and severity, per state and
image, per severity and pair of states) except `CHANGES` and `FIX_TIMES`, which are the public
per-finding tables. Plain SQL only (window functions `LAG`, `ROW_NUMBER`, `MIN ... OVER`), as
`engine.aggregates`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from auditlib.engine.aggregates import FIXABLE_ROW, SEVERITY_RANK_SQL
from auditlib.engine.base import Engine
from auditlib.engine.history import _utc, held_rows_sql, history_states, null_column
from auditlib.engine.key_hash import key_hash
from auditlib.store.location import StoreLike

ROWS_VIEW = "trend_vulnerabilities"
"""Every vulnerability row of every state: columns state (text), image_id, scan_id, vuln_id,
pkg_name, pkg_version, severity, fix_state, fix_contradicted."""

STATES_VIEW = "trend_states"
"""Columns source, snapshot_id, state (text): which states hold which rows of which file."""

FILES_VIEW = "trend_vulnerabilities__files"
"""The raw rows of every vulnerability file some state holds (`Engine.load_files`)."""

FINDINGS_VIEW = "trend_findings"
"""`STATE_FINDINGS`: one row per state and finding."""

CURRENT_VIEW = "trend_current"
"""The current image of each unit (repository, else image) in each state in which a
vulnerability scan covered it (`history.views._current`): columns state, image_id, unit, pos
(the unit's n-th such state, from 0), as text."""

SCANNED_VIEW = "trend_scanned"
"""The vulnerability-scanned images of each state: columns state, image_id, as text."""

_COLUMNS = ("image_id", "scan_id", "vuln_id", "pkg_name", "pkg_version", "severity",
            "fix_state", "fix_contradicted")

_STATE_ROWS = f"""
SELECT CAST(state AS INT) AS state, CAST(image_id AS STRING) AS image_id,
       CAST(vuln_id AS STRING) AS vuln_id, CAST(pkg_name AS STRING) AS pkg_name,
       CAST(pkg_version AS STRING) AS pkg_version, {SEVERITY_RANK_SQL} AS severity_rank,
       CASE WHEN {FIXABLE_ROW} THEN 1 ELSE 0 END AS fixable
FROM {ROWS_VIEW} WHERE image_id IS NOT NULL"""
"""Each vulnerability row naming an image, with its state, key, severity rank and whether it
says its finding is fixable: what `STATE_FINDINGS` and `IMAGE_COUNTS` group."""

STATE_FINDINGS = f"""
SELECT state, image_id, vuln_id, pkg_name, pkg_version,
       MAX(severity_rank) AS severity_rank, MAX(fixable) AS fixable
FROM ({_STATE_ROWS}) r
GROUP BY state, image_id, vuln_id, pkg_name, pkg_version
"""
"""One row per state and finding: severity_rank (the highest any row gives; missing when none
gives one) and fixable (1 when any row says so, else 0)."""

SEVERITY_COUNTS = f"""
SELECT state, severity_rank, COUNT(*) AS vulnerabilities, SUM(fixable) AS fixable,
       COUNT(DISTINCT image_id) AS images
FROM {FINDINGS_VIEW} WHERE severity_rank IS NOT NULL
GROUP BY state, severity_rank
ORDER BY state, severity_rank
"""
"""Per state and severity with findings: vulnerabilities (findings), fixable (of them), images
(with at least one)."""

IMAGE_COUNTS = f"""
SELECT c.state, i.image_id, c.vulnerabilities, c.critical, c.high, c.fixable
FROM (SELECT state, image_hash, COUNT(*) AS vulnerabilities,
             SUM(CASE WHEN severity_rank = 5 THEN 1 ELSE 0 END) AS critical,
             SUM(CASE WHEN severity_rank = 4 THEN 1 ELSE 0 END) AS high,
             SUM(fixable) AS fixable
      FROM (SELECT state, {key_hash("image_id")} AS image_hash,
                   MAX(severity_rank) AS severity_rank, MAX(fixable) AS fixable
            FROM ({_STATE_ROWS}) r
            GROUP BY state, {key_hash("image_id")},
                     {key_hash("vuln_id", "pkg_name", "pkg_version")}) f
      GROUP BY state, image_hash) c
JOIN (SELECT DISTINCT state, image_id, {key_hash("image_id")} AS image_hash
      FROM ({_STATE_ROWS}) r) i
  ON c.state = i.state AND c.image_hash = i.image_hash
ORDER BY c.state, i.image_id
"""
"""Per state and image with vulnerability rows: vulnerabilities (findings, as `STATE_FINDINGS`
has them), critical, high, fixable (of them). The findings are grouped by the hashes of the
image id and of their key (`auditlib.engine.key_hash`), not by the texts, as only counts come
out: at 100,000 images (32 million rows) 5.0 s where grouping the texts took 15.4 s (by hand,
README, issue 15); each image's id is joined back to its hash."""

SCAN_IDS = f"""
SELECT DISTINCT CAST(scan_id AS STRING) AS scan_id FROM {ROWS_VIEW} WHERE scan_id IS NOT NULL
ORDER BY scan_id
"""
"""Every document with a vulnerability row in some state (a `scan_id` names the same document in
every snapshot): what `fleet.coverage.is_vulnerability_scan` reads of the rows."""


def changes_sql(older: int, newer: int) -> str:
    """Return the SQL of the findings new and lost between the states `older` and `newer`:
    image_id, vuln_id, pkg_name, pkg_version, severity_rank (in the state it is in), is_new (1: only
    in `newer`; 0: only in `older`)."""
    a, b = int(older), int(newer)
    return f"""
SELECT image_id, vuln_id, pkg_name, pkg_version,
       MAX(severity_rank) AS severity_rank, MAX(CASE WHEN state = {b} THEN 1 ELSE 0 END) AS is_new
FROM {FINDINGS_VIEW} WHERE state IN ({a}, {b})
GROUP BY image_id, vuln_id, pkg_name, pkg_version
HAVING COUNT(*) = 1
"""


def change_counts_sql(last: int) -> str:
    """Return the SQL of, per state (after the first, up to `last`), change and severity: how
    many findings were new since the state before, fixed (lost while the image is still
    vulnerability-scanned) or gone (the image went or is no longer scanned):
    `history.vulnerability_changes` of every consecutive pair, counted (columns state, change,
    severity_rank, vulnerabilities)."""
    return f"""
WITH s AS (
  SELECT state, image_id, vuln_id, pkg_name, pkg_version, severity_rank,
         LAG(state) OVER (PARTITION BY image_id, vuln_id, pkg_name, pkg_version
                          ORDER BY state) AS prev_state,
         LEAD(state) OVER (PARTITION BY image_id, vuln_id, pkg_name, pkg_version
                           ORDER BY state) AS next_state
  FROM {FINDINGS_VIEW}
), c AS (
  SELECT state AS newer, image_id, severity_rank, 'new' AS change FROM s
  WHERE state > 0 AND (prev_state IS NULL OR prev_state < state - 1)
  UNION ALL
  SELECT s.state + 1 AS newer, s.image_id, s.severity_rank, 'lost' AS change FROM s
  WHERE s.state < {int(last)} AND (s.next_state IS NULL OR s.next_state > s.state + 1)
)
SELECT c.newer AS state,
       CASE WHEN c.change = 'new' THEN 'new' WHEN k.image_id IS NULL THEN 'gone'
            ELSE 'fixed' END AS change,
       c.severity_rank, COUNT(*) AS vulnerabilities
FROM c LEFT JOIN {SCANNED_VIEW} k
  ON c.change = 'lost' AND CAST(k.state AS INT) = c.newer AND k.image_id = c.image_id
GROUP BY c.newer, CASE WHEN c.change = 'new' THEN 'new' WHEN k.image_id IS NULL THEN 'gone'
                       ELSE 'fixed' END, c.severity_rank
ORDER BY state, change, severity_rank
"""


FIX_TIMES = f"""
WITH fu AS (
  SELECT c.unit, f.vuln_id, f.pkg_name, CAST(c.pos AS INT) AS pos, f.state,
         MIN(f.image_id) AS image_id, MAX(f.severity_rank) AS severity_rank,
         MAX(f.fixable) AS fixable
  FROM {FINDINGS_VIEW} f JOIN {CURRENT_VIEW} c
    ON f.state = CAST(c.state AS INT) AND f.image_id = c.image_id
  GROUP BY c.unit, f.vuln_id, f.pkg_name, CAST(c.pos AS INT), f.state
), runs AS (
  SELECT fu.*, pos - ROW_NUMBER() OVER (PARTITION BY unit, vuln_id, pkg_name
                                         ORDER BY pos) AS run
  FROM fu
), firsts AS (
  SELECT runs.*, MIN(run) OVER (PARTITION BY unit, vuln_id, pkg_name) AS first_run FROM runs
), k AS (
  SELECT unit, vuln_id, pkg_name, MAX(severity_rank) AS severity_rank,
         MIN(pos) AS first_rank, COUNT(*) AS runlen, MIN(state) AS first_state,
         MIN(CASE WHEN fixable = 1 THEN state END) AS fixable_state,
         MIN(CASE WHEN pos = run + 1 THEN image_id END) AS image_id
  FROM firsts WHERE run = first_run
  GROUP BY unit, vuln_id, pkg_name
)
SELECT k.unit, k.image_id, k.vuln_id, k.pkg_name, k.severity_rank, k.first_state,
       k.fixable_state, CAST(n.state AS INT) AS fixed_state, n.image_id AS fixed_image_id
FROM k LEFT JOIN {CURRENT_VIEW} n
  ON n.unit = k.unit AND CAST(n.pos AS INT) = k.first_rank + k.runlen
"""
"""One row per (unit, vulnerability, package) ever seen in a unit's current scanned image
(`history.time_to_fix`): image_id (where first seen), severity_rank (highest over its first
unbroken run of states), first_state, fixable_state (first state of that run where a row said
fixable; missing if none), fixed_state and fixed_image_id (the unit's next scanned state after
the run, when there is one: the fix; missing while not fixed)."""

FIX_TIME_COUNTS = f"""
SELECT severity_rank, first_state, fixed_state, COUNT(*) AS vulnerabilities
FROM ({FIX_TIMES}) t
GROUP BY severity_rank, first_state, fixed_state
ORDER BY severity_rank, first_state, fixed_state
"""
"""`FIX_TIMES` counted per severity, first state and fixing state (missing: still open): what
the staleness page's time-to-fix table needs (days are differences of the states' times)."""


@dataclass(frozen=True)
class Snapshots:
    """The snapshots of a history, oldest first: state k is the k-th."""

    ids: tuple[str, ...]
    at: tuple[pd.Timestamp, ...]
    """Their times (UTC)."""

    def frame(self) -> pd.DataFrame:
        """Return snapshot_id (str), snapshot_at (UTC) and idx (the state), oldest first."""
        return pd.DataFrame({
            "snapshot_id": pd.array(self.ids, dtype=object),
            "snapshot_at": pd.Series(pd.DatetimeIndex(self.at), dtype="datetime64[ns, UTC]"),
            "idx": range(len(self.ids)),
        })


def _empty_rows_sql() -> str:
    return ("SELECT " + ", ".join(null_column(c) for c in _COLUMNS)
            + ", CAST(NULL AS STRING) AS state WHERE 1 = 0")


def _define_findings(engine: Engine, states: int) -> None:
    """Define `FINDINGS_VIEW` on `engine`: kept as a table when there are two or more states
    (the changes, fix times and severity counts each read it), else a view, read once by the
    one state's image counts (at 100,000 images its 32 million rows took 18 s to keep, then 3 s
    to count; as a view, counted as they are grouped, 16 s in all)."""
    engine.define(FINDINGS_VIEW, STATE_FINDINGS, keep=states > 1)


def store_trends(store: StoreLike, engine: Engine, states: Sequence[int] | None = None
                 ) -> Snapshots:
    """Define the trends' views of `store` on `engine` (`ROWS_VIEW` over the files of every
    state, or only of `states`, read once each; `FINDINGS_VIEW` kept as a table when there are
    two or more states: `_define_findings`); return the snapshots.

    Raises:
        StoreError: if the store has no snapshot or a snapshot cannot be read.
        DamagedStoreError: if a snapshot is damaged and damage is not allowed.
        EngineError: if the engine cannot read the files.
    """
    files, held, snaps = history_states(store)
    if states is not None:
        wanted = {str(int(k)) for k in states}
        held = held[held["state"].isin(wanted).to_numpy(bool)]
        keep = set(zip(held["source"], held["snapshot_id"], strict=True))
        files = [f for f in files if any((s, f.snapshot_id) in keep for s in f.sources)]
    engine.register(STATES_VIEW, held.reset_index(drop=True))
    if files:
        columns = engine.load_files(FILES_VIEW, files)
        engine.define(ROWS_VIEW, held_rows_sql(FILES_VIEW, columns, _COLUMNS, STATES_VIEW,
                                               "state"))
    else:
        engine.define(ROWS_VIEW, _empty_rows_sql())
    _define_findings(engine, len(set(held["state"])) if states is not None else len(snaps))
    return Snapshots(tuple(s.snapshot_id for s in snaps),
                     tuple(_utc(s.created_at) for s in snaps))


def frames_trends(vulnerabilities: pd.DataFrame, snapshot_ids: Sequence[str],
                  engine: Engine) -> None:
    """Define the trends' views on `engine` (DuckDB over frames) from a history read into memory
    (`auditlib.history.read_history`): `vulnerabilities` with `snapshot_id`, every state's rows;
    `snapshot_ids` oldest first.

    Raises:
        EngineError: if the engine refuses the frame.
    """
    v = vulnerabilities
    state = {str(s): str(k) for k, s in enumerate(snapshot_ids)}
    rows = pd.DataFrame({
        "state": v["snapshot_id"].astype(str).map(state).astype("string").to_numpy(),
        **{c: v[c].astype("string").to_numpy() if c in v.columns
           else pd.array([pd.NA] * len(v), dtype="string")
           for c in _COLUMNS if c != "fix_contradicted"},
        "fix_contradicted": v["fix_contradicted"].astype("boolean").to_numpy()
        if "fix_contradicted" in v.columns else pd.array([pd.NA] * len(v), dtype="boolean"),
    })
    engine.register(ROWS_VIEW, rows)
    _define_findings(engine, len(snapshot_ids))

