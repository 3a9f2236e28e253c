"""The assessment's aggregates over the big tables, each defined once, in SQL that DuckDB and
Spark SQL both run (plain SQL: `SELECT DISTINCT`, `GROUP BY`, `COUNT`, `COALESCE`, `CASE`,
`IS NOT DISTINCT FROM`; no dialect function), so both engines give the same rows. Every result
is small: one row per image, or per licence class.

Missing values are equal to each other when rows are told apart, as pandas' `drop_duplicates`
treats them (`SELECT DISTINCT`, `IS NOT DISTINCT FROM`). Rows that name no image are left out.
"""

from __future__ import annotations

import pandas as pd

from auditlib.engine.base import Engine
from auditlib.normalize.licenses import LICENSE_CLASSES


def _rows_and_distinct(table: str, key: list[str], rows: str, distinct: str) -> str:
    """Return the SQL of, per image with rows in `table`: its rows (`rows`) and its distinct
    `key` values (`distinct`)."""
    return f"""
SELECT r.image_id, r.{rows}, d.{distinct}
FROM (SELECT image_id, COUNT(*) AS {rows}
      FROM {table} WHERE image_id IS NOT NULL GROUP BY image_id) r
JOIN (SELECT image_id, COUNT(*) AS {distinct}
      FROM (SELECT DISTINCT image_id, {', '.join(key)}
            FROM {table} WHERE image_id IS NOT NULL) k
      GROUP BY image_id) d
  ON r.image_id = d.image_id
ORDER BY r.image_id
"""


VULNERABILITY_COUNTS = _rows_and_distinct(
    "vulnerabilities", ["vuln_id", "pkg_name", "pkg_version"], "vulnerability_rows", "findings")
"""Per image with vulnerability rows: vulnerability_rows (as the documents list them) and
findings (distinct vulnerability, package and version: `fleet.findings.FINDING_KEY`)."""

PACKAGE_COUNTS = _rows_and_distinct(
    "packages", ["name", "version", "package_type"], "package_rows", "packages")
"""Per image with package rows: package_rows (as the documents list them) and packages
(distinct name, version and type: what the `minimal-image` rule counts)."""

LICENCE_CLASSES = """
WITH licensed AS (
  SELECT CAST(image_id AS STRING) AS image_id,
         CASE WHEN package_name IS NULL AND file_path IS NOT NULL
              THEN CONCAT('file ', CAST(file_path AS STRING))
              ELSE CAST(package_name AS STRING) END AS package_name,
         CAST(package_version AS STRING) AS package_version,
         CAST(license_class AS STRING) AS license_class
  FROM package_licenses WHERE image_id IS NOT NULL
), bare AS (
  SELECT DISTINCT CAST(image_id AS STRING) AS image_id, CAST(name AS STRING) AS package_name,
         CAST(version AS STRING) AS package_version
  FROM packages
  WHERE image_id IS NOT NULL
    AND (license_class IS NULL OR CAST(license_class AS STRING) = 'unknown')
), unlicensed AS (
  SELECT b.image_id, b.package_name, b.package_version, CAST(NULL AS STRING) AS license_class
  FROM bare b LEFT JOIN (SELECT DISTINCT image_id, package_name, package_version FROM licensed) l
    ON b.image_id = l.image_id
   AND b.package_name IS NOT DISTINCT FROM l.package_name
   AND b.package_version IS NOT DISTINCT FROM l.package_version
  WHERE l.image_id IS NULL
), classed AS (
  SELECT DISTINCT image_id, package_name, package_version,
         COALESCE(license_class, 'unknown') AS license_class
  FROM (SELECT * FROM licensed UNION ALL SELECT * FROM unlicensed) a
)
SELECT license_class, COUNT(*) AS packages, COUNT(DISTINCT image_id) AS images
FROM classed GROUP BY license_class ORDER BY license_class
"""
"""Per licence class: the distinct packages (image, name, version) of that class and the images
that have one. A package no document gave a licence for is `unknown` (as the licence rule,
`policy.rules.licenses.package_licences`, judges it); a licence file found outside any package
is the package `file <path>`."""


def _per_image(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = df.astype({"image_id": str}).set_index("image_id")[columns].astype("int64")
    return out.sort_index()


def vulnerability_counts(engine: Engine) -> pd.DataFrame:
    """Return `VULNERABILITY_COUNTS`: index image_id, columns vulnerability_rows, findings.

    Raises:
        EngineError: if the engine fails.
    """
    return _per_image(engine.sql(VULNERABILITY_COUNTS), ["vulnerability_rows", "findings"])


def package_counts(engine: Engine) -> pd.DataFrame:
    """Return `PACKAGE_COUNTS`: index image_id, columns package_rows, packages.

    Raises:
        EngineError: if the engine fails.
    """
    return _per_image(engine.sql(PACKAGE_COUNTS), ["package_rows", "packages"])


def licence_classes(engine: Engine) -> pd.DataFrame:
    """Return `LICENCE_CLASSES`, one row per class of `LICENSE_CLASSES` (most restrictive
    first, zeros included): columns license_class, packages, images.

    Raises:
        EngineError: if the engine fails.
    """
    got = engine.sql(LICENCE_CLASSES).astype({"license_class": str}).set_index("license_class")
    out = got.reindex(list(reversed(LICENSE_CLASSES))).fillna(0).astype("int64")
    return out.rename_axis("license_class").reset_index()


AGGREGATES = {
    "vulnerability_counts": vulnerability_counts,
    "package_counts": package_counts,
    "licence_classes": licence_classes,
}
"""Every aggregate by name (what the benchmark and the Spark test compare)."""
