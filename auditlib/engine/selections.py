"""The few vulnerability rows an analysis needs, selected by the engine over the big table
(`vulnerabilities`: tens of millions of rows at fleet scale) so that pandas holds only them, in
SQL that DuckDB and Spark SQL both run (as `auditlib.engine.aggregates`).

* `VEX_ROWS`: the rows whose vulnerability a VEX statement names (`auditlib.fleet.vex`).
* `AGREEMENT_ROWS`: the rows of the images two or more tools scanned (`auditlib.fleet.agreement`).
* `UPGRADE_FIXABLE`: per image, its fixable vulnerabilities of distribution packages
  (`auditlib.policy.rules.upgrades`).

Each reads a small frame the caller registers (`Engine.register`: ids, images, package types).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from auditlib.engine.aggregates import FIXABLE_ROW, SEVERITY_RANK_SQL
from auditlib.engine.base import Engine

VEX_IDS_VIEW = "auditlib_vex_ids"
"""The view of the ids VEX statements go by, upper case (column id)."""
VEX_KEYS_VIEW = "auditlib_vex_keys"
"""The view of the (document, vulnerability) pairs whose aliases a statement names (columns
scan_id, vuln_id)."""

VEX_ROWS = f"""
SELECT CAST(v.image_id AS STRING) AS image_id, CAST(v.vuln_id AS STRING) AS vuln_id,
       CAST(v.pkg_name AS STRING) AS pkg_name, CAST(v.pkg_version AS STRING) AS pkg_version,
       CAST(v.purl AS STRING) AS purl, CAST(v.scan_id AS STRING) AS scan_id
FROM vulnerabilities v
WHERE v.image_id IS NOT NULL
  AND (UPPER(CAST(v.vuln_id AS STRING)) IN (SELECT id FROM {VEX_IDS_VIEW})
       OR EXISTS (SELECT 1 FROM {VEX_KEYS_VIEW} k
                  WHERE k.scan_id = CAST(v.scan_id AS STRING)
                    AND k.vuln_id = CAST(v.vuln_id AS STRING)))
ORDER BY image_id, vuln_id, pkg_name NULLS LAST, pkg_version NULLS LAST, purl NULLS LAST,
         scan_id NULLS LAST
"""
"""The vulnerability rows naming an image whose id (in any case) is one of `VEX_IDS_VIEW`, or
whose document gives it an alias a statement names (`VEX_KEYS_VIEW`): columns image_id,
vuln_id, pkg_name, pkg_version, purl, scan_id (text)."""

COMPARED_VIEW = "auditlib_compared_images"
"""The view of the images whose scanners are compared (column image_id)."""

AGREEMENT_COLUMNS = ("image_id", "scan_id", "vuln_id", "pkg_name", "purl", "package_type",
                     "pkg_version", "severity", "fixed_version")
"""The columns of `vulnerabilities` the scanner agreement reads."""

AGREEMENT_ROWS = f"""
SELECT {', '.join(f'CAST({c} AS STRING) AS {c}' for c in AGREEMENT_COLUMNS)}
FROM vulnerabilities
WHERE CAST(image_id AS STRING) IN (SELECT image_id FROM {COMPARED_VIEW})
ORDER BY image_id, scan_id NULLS LAST, vuln_id NULLS LAST, pkg_name NULLS LAST,
         pkg_version NULLS LAST, purl NULLS LAST
"""
"""The vulnerability rows of the images of `COMPARED_VIEW` (`AGREEMENT_COLUMNS`, as text)."""

OS_TYPES_VIEW = "auditlib_os_package_types"
"""The view of the package types of a distribution's packages (column package_type)."""

UPGRADE_FIXABLE = f"""
WITH f AS (
  SELECT image_id, vuln_id, pkg_name, MAX(severity_rank) AS severity_rank
  FROM (SELECT CAST(image_id AS STRING) AS image_id, CAST(vuln_id AS STRING) AS vuln_id,
               CAST(pkg_name AS STRING) AS pkg_name, {SEVERITY_RANK_SQL} AS severity_rank
        FROM vulnerabilities
        WHERE image_id IS NOT NULL AND {FIXABLE_ROW}
          AND CAST(package_type AS STRING) IN (SELECT package_type FROM {OS_TYPES_VIEW})) v
  GROUP BY image_id, vuln_id, pkg_name
), ranked AS (
  SELECT image_id, vuln_id, pkg_name,
         ROW_NUMBER() OVER (PARTITION BY image_id
                            ORDER BY severity_rank DESC NULLS LAST, vuln_id NULLS LAST,
                                     pkg_name NULLS LAST) AS n,
         COUNT(*) OVER (PARTITION BY image_id) AS findings
  FROM f
)
SELECT image_id, findings, n, vuln_id, pkg_name FROM ranked WHERE n <= {{shown}}
ORDER BY image_id, n
"""
"""Per image with fixable rows (`FIXABLE_ROW`) of a package type of `OS_TYPES_VIEW`: findings
(its distinct vulnerability and package pairs), and the first `{shown}` of them, worst severity
first (`SEVERITY_RANK_SQL`), then by id and package (n, vuln_id, pkg_name: one row each)."""


def _texts(column: str, values: Iterable[str]) -> pd.DataFrame:
    """Return a one-column frame of distinct texts (typed as text, even when empty)."""
    return pd.DataFrame({column: pd.array(sorted(set(values)), dtype="string")})


def _text_frame(out: pd.DataFrame) -> pd.DataFrame:
    """Return `out` with every column as object, None where missing."""
    out = out.astype(object)
    return out.where(out.notna(), None)


def vex_rows(engine: Engine, ids: Iterable[str], keys: Iterable[tuple[str, str]]
             ) -> pd.DataFrame:
    """Return `VEX_ROWS` for the statements' ids `ids` (upper case) and the (scan_id, vuln_id)
    pairs `keys` whose aliases they name: columns image_id, vuln_id, pkg_name, pkg_version,
    purl, scan_id (text or None).

    Raises:
        EngineError: if the engine fails.
    """
    pairs = sorted(set(keys))
    engine.register(VEX_IDS_VIEW, _texts("id", ids))
    engine.register(VEX_KEYS_VIEW, pd.DataFrame({
        "scan_id": pd.array([p[0] for p in pairs], dtype="string"),
        "vuln_id": pd.array([p[1] for p in pairs], dtype="string")}))
    return _text_frame(engine.sql(VEX_ROWS))


def agreement_rows(engine: Engine, images: Iterable[str]) -> pd.DataFrame:
    """Return `AGREEMENT_ROWS` of the images `images`: columns `AGREEMENT_COLUMNS` (text or
    None).

    Raises:
        EngineError: if the engine fails.
    """
    engine.register(COMPARED_VIEW, _texts("image_id", images))
    return _text_frame(engine.sql(AGREEMENT_ROWS))


def upgrade_fixable(engine: Engine, package_types: Iterable[str], shown: int) -> pd.DataFrame:
    """Return `UPGRADE_FIXABLE` for the distribution package types `package_types`: columns
    image_id (text), findings (int), n (int), vuln_id, pkg_name (text or None).

    Raises:
        EngineError: if the engine fails.
    """
    engine.register(OS_TYPES_VIEW, _texts("package_type", package_types))
    out = engine.sql(UPGRADE_FIXABLE.format(shown=int(shown)))
    return out.astype({"image_id": str, "findings": "int64", "n": "int64"})
