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

def _package_licences(licence: list[str], class_only: bool) -> str:
    """Return the SQL of every licence of every package of every image, and every package of
    an image no document gave a licence for as a row with no licence, with the package's key
    (image_id, package_name, package_version) and the `licence` columns of `package_licenses`
    (missing for a package without one). `class_only`: the class alone, a missing one
    `unknown`, each row once."""
    if class_only:
        got = ",\n         COALESCE(CAST(license_class AS STRING), 'unknown') AS license_class"
        none = ", 'unknown' AS license_class"
    else:
        got = "".join(f",\n         CAST({c} AS STRING) AS {c}" for c in licence)
        none = "".join(f", CAST(NULL AS STRING) AS {c}" for c in licence)
    return f"""
WITH licensed AS (
  SELECT CAST(image_id AS STRING) AS image_id,
         CASE WHEN package_name IS NULL AND file_path IS NOT NULL
              THEN CONCAT('file ', CAST(file_path AS STRING))
              ELSE CAST(package_name AS STRING) END AS package_name,
         CAST(package_version AS STRING) AS package_version{got}
  FROM package_licenses WHERE image_id IS NOT NULL
), bare AS (
  SELECT DISTINCT CAST(image_id AS STRING) AS image_id, CAST(name AS STRING) AS package_name,
         CAST(version AS STRING) AS package_version
  FROM packages
  WHERE image_id IS NOT NULL
    AND (license_class IS NULL OR CAST(license_class AS STRING) = 'unknown')
), unlicensed AS (
  SELECT b.image_id, b.package_name, b.package_version{none}
  FROM bare b LEFT JOIN (SELECT DISTINCT image_id, package_name, package_version FROM licensed) l
    ON b.image_id = l.image_id
   AND b.package_name IS NOT DISTINCT FROM l.package_name
   AND b.package_version IS NOT DISTINCT FROM l.package_version
  WHERE l.image_id IS NULL
)
SELECT {"DISTINCT " if class_only else ""}*
FROM (SELECT * FROM licensed UNION ALL SELECT * FROM unlicensed) a
"""


PACKAGE_LICENCES = _package_licences(["license", "license_spdx", "license_class"], False)
"""The view `package_licences` (`Engine.define`): every licence of every package of every image,
as many times as documents list it, and every package of an image no document gave a licence
for as a row with no licence (class missing: judged `unknown`); a licence file a scanner found
outside any package is the package `file <path>`. Columns image_id, package_name,
package_version, license, license_spdx, license_class (all text). The one definition the licence
rule, the licence classes and the compliance page's licence risks read (`PACKAGE_CLASSES` is its
projection on the class, each row once)."""

PACKAGE_CLASSES = _package_licences(["license_class"], True)
"""The view `package_classes`: `PACKAGE_LICENCES`' rows with the class only (a missing one
`unknown`), each once: what the licence classes count, the licence text left out before the
rows are told apart."""

LICENCE_VIEW = "package_licences"
"""The view `PACKAGE_LICENCES` is kept as."""
CLASSES_VIEW = "package_classes"
"""The view `PACKAGE_CLASSES` is kept as."""

LICENCE_CLASSES = """
SELECT license_class, COUNT(*) AS packages, COUNT(DISTINCT image_id) AS images
FROM package_classes GROUP BY license_class ORDER BY license_class
"""
"""Per licence class: the distinct packages (image, name, version) of that class and the images
that have one (`PACKAGE_CLASSES`: a package with no licence is `unknown`)."""

LICENCES = """
SELECT DISTINCT license, license_spdx, license_class FROM package_licences
"""
"""Every distinct licence as the tables give it (what the licence rule judges, each once)."""

JUDGED_VIEW = "licence_judged"
"""The view of the licence rule's judgement of each of `LICENCES` it flags: columns license,
license_spdx, license_class, level (1 warn, 2 fail) and why."""

LICENCES_CHECKED = """
SELECT k.image_id, k.packages, COALESCE(l.licences, 0) AS licences
FROM (SELECT image_id, COUNT(*) AS packages
      FROM (SELECT DISTINCT image_id, package_name, package_version FROM package_classes) d
      GROUP BY image_id) k
LEFT JOIN (SELECT CAST(image_id AS STRING) AS image_id,
                  COUNT(DISTINCT CAST(license AS STRING)) AS licences
           FROM package_licenses WHERE image_id IS NOT NULL GROUP BY image_id) l
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
licences (the first by SPDX id, then text)."""

RISKY_CLASSES = ("network-copyleft", "strong-copyleft", "weak-copyleft", "other", "unknown")
"""The licence classes the compliance page lists licence by licence, most restrictive first."""

_RISKY = ", ".join(f"'{c}'" for c in RISKY_CLASSES)

LICENCE_RISKS = f"""
WITH risky AS (
  SELECT image_id, package_name,
         COALESCE(license_spdx, license, '(no licence declared)') AS licence,
         COALESCE(license_class, 'unknown') AS class
  FROM package_licences
  WHERE COALESCE(license_class, 'unknown') IN ({_RISKY})
), names AS (
  SELECT licence, class, package_name,
         ROW_NUMBER() OVER (PARTITION BY licence, class ORDER BY package_name) AS n
  FROM (SELECT DISTINCT licence, class, package_name FROM risky
        WHERE package_name IS NOT NULL) x
)
SELECT g.licence, g.class, g.packages, g.images, m.package_name, m.n
FROM (SELECT licence, class, COUNT(DISTINCT package_name) AS packages,
             COUNT(DISTINCT image_id) AS images
      FROM risky GROUP BY licence, class) g
LEFT JOIN names m ON g.licence = m.licence AND g.class = m.class AND m.n <= {{shown}}
ORDER BY g.licence, g.class, m.n
"""
"""Per licence (SPDX id, else as declared, else `(no licence declared)`) of the
`RISKY_CLASSES`: its distinct package names and images, and its first `{shown}` package names
(one row each)."""


def document_rows(engine: Engine) -> pd.DataFrame:
    """Return `DOCUMENT_ROWS`: columns rows_in, scan_id, image_id (str or None).

    Raises:
        EngineError: if the engine fails.
    """
    out = engine.sql(DOCUMENT_ROWS).astype(object)
    return out.where(out.notna(), None)


def ensure_licences(engine: Engine) -> None:
    """Define the views `package_licences` and `package_classes` on `engine`, once.

    Raises:
        EngineError: if the engine fails.
    """
    if LICENCE_VIEW not in engine.made:
        engine.define(LICENCE_VIEW, PACKAGE_LICENCES)
        engine.define(CLASSES_VIEW, PACKAGE_CLASSES)


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
    ensure_licences(engine)
    got = engine.sql(LICENCE_CLASSES).astype({"license_class": str}).set_index("license_class")
    out = got.reindex(list(reversed(LICENSE_CLASSES))).fillna(0).astype("int64")
    return out.rename_axis("license_class").reset_index()


def licences(engine: Engine) -> pd.DataFrame:
    """Return `LICENCES`: columns license, license_spdx, license_class (text or None), in no
    particular order.

    Raises:
        EngineError: if the engine fails.
    """
    ensure_licences(engine)
    return engine.sql(LICENCES).astype(object).where(lambda d: d.notna(), None)


def licences_checked(engine: Engine) -> pd.DataFrame:
    """Return `LICENCES_CHECKED`: index image_id, columns packages, licences.

    Raises:
        EngineError: if the engine fails.
    """
    ensure_licences(engine)
    return _per_image(engine.sql(LICENCES_CHECKED), ["packages", "licences"])


def licences_flagged(engine: Engine, judged: pd.DataFrame, shown: int) -> pd.DataFrame:
    """Return `LICENCES_FLAGGED` for the licence rule's judgement `judged` (the flagged rows of
    `licences`, with level and why).

    Returns:
        Columns image_id, level, packages, shown, package_name, package_version, license,
        license_spdx, why; the first `shown` packages of each image and level.

    Raises:
        EngineError: if the engine fails.
    """
    ensure_licences(engine)
    engine.register(JUDGED_VIEW, judged[["license", "license_spdx", "license_class", "level",
                                         "why"]])
    out = engine.sql(LICENCES_FLAGGED.format(shown=int(shown)))
    return out.astype({"image_id": str, "level": "int64", "packages": "int64"})


def licence_risks(engine: Engine, shown: int) -> pd.DataFrame:
    """Return `LICENCE_RISKS`: columns licence, class, packages, images, package_name, n (the
    first `shown` package names of each licence, one row each; None when it has none).

    Raises:
        EngineError: if the engine fails.
    """
    ensure_licences(engine)
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
