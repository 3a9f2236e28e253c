"""The two licence tables the store keeps beside `package_licenses`, and their one definition.

`package_licenses` has a row per licence of a package per document (about 90 million at 20,000
images), but the fleet-wide licence aggregates (`auditlib.engine.aggregates`) need only, per
package, which classes its licences are of, and per image, which licences it has. So every
snapshot also holds, per document (`scan_id`):

* `package_licence_classes`: one row per package (name and version, as `package_licenses` gives
  them), whether the document gives it a licence, and a flag per licence class of
  `LICENSE_CLASSES`: about one row per package (16 million at 20,000 images);
* `document_licences`: each distinct licence (text, SPDX id, class) the document gives the
  packages of each image: a few dozen rows per document.

Both are made by the SQL here (`DERIVE`, DuckDB and Spark SQL), and nowhere else: over a
snapshot's frames when it is written (`derive`: `auditlib.store.write`, and retention's base for
the sources of a snapshot written before them), and, in an engine, over the current state of
`package_licenses` and `packages` for the sources whose snapshot was written before them (and
for tables in memory). The classes are those of `package_licenses.license_class` (a missing one
`unknown`); a package that a document lists with no licence class (`packages.license_class`
missing or `unknown`) and gives no licence row is a row with `licensed` false. A package without
a licence in one document may have one in another: that is told when the rows of all documents
are put together per image (`auditlib.engine.aggregates.IMAGE_CLASSES`).

The image id is kept as the rows give it, with the document's `scan_id`, so a document known
only by a manifest digest gets its image when the state is read, as the big tables' rows do.
"""

from __future__ import annotations

import pandas as pd

from auditlib.errors import StoreError
from auditlib.normalize.licenses import LICENSE_CLASSES
from auditlib.tables import TABLES_BY_NAME, conform, empty
from auditlib.tables import licence_class_column as flag

PACKAGE_LICENCE_CLASSES = "package_licence_classes"
"""The table of each document's packages with the classes of their licences."""
DOCUMENT_LICENCES = "document_licences"
"""The table of each document's distinct licences per image."""
LICENCE_TABLES = (PACKAGE_LICENCE_CLASSES, DOCUMENT_LICENCES)
"""The licence tables, both derived from `package_licenses` and `packages`."""


_TEXT = "CAST({0} AS STRING) AS {0}"
PROVENANCE = ("scan_id", "source", "source_format", "collected_at")
"""The columns of a licence table that say which document a row came from."""
PACKAGE_NAME = """CASE WHEN package_name IS NULL AND file_path IS NOT NULL
              THEN CONCAT('file ', CAST(file_path AS STRING))
              ELSE CAST(package_name AS STRING) END"""
"""The SQL of the package name of a `package_licenses` row: a licence file a scanner found
outside any package is the package `file <path>`."""
NO_LICENCE_CLASS = "license_class IS NULL OR CAST(license_class AS STRING) = 'unknown'"
"""The SQL condition on a `packages` row that the document lists it with no licence class: such
a package has no licence unless a licence row gives it one (that is, a row of
`package_licenses` with its image, name and version: in the same document for
`PACKAGE_LICENCE_CLASSES`, in any for `auditlib.engine.aggregates.PACKAGE_LICENCES`)."""


def columns(table: str, per_document: bool = True) -> list[str]:
    """Return the columns of licence table `table`: all declared, or without `PROVENANCE`."""
    return [c for c in TABLES_BY_NAME[table].column_names
            if per_document or c not in PROVENANCE]


def _classes_sql(licences: str, packages: str, per_document: bool) -> str:
    prov = "".join(", " + (c if c == "collected_at" else _TEXT.format(c))
                   for c in PROVENANCE if per_document)
    key = ["image_id", "package_name", "package_version",
           *(PROVENANCE if per_document else ())]
    flags = {flag(c): f"MAX(CASE WHEN license_class = '{c}' THEN 1 ELSE 0 END) = 1"
             for c in LICENSE_CLASSES}
    exprs = {"licensed": "MAX(licensed) = 1", **flags}
    select = ", ".join(f"{exprs[c]} AS {c}" if c in exprs else c
                       for c in columns(PACKAGE_LICENCE_CLASSES, per_document))
    return f"""
SELECT {select}
FROM (SELECT CAST(image_id AS STRING) AS image_id, {PACKAGE_NAME} AS package_name,
             CAST(package_version AS STRING) AS package_version{prov}, 1 AS licensed,
             COALESCE(CAST(license_class AS STRING), 'unknown') AS license_class
      FROM {licences}
      UNION ALL
      SELECT CAST(image_id AS STRING) AS image_id, CAST(name AS STRING) AS package_name,
             CAST(version AS STRING) AS package_version{prov}, 0 AS licensed,
             CAST(NULL AS STRING) AS license_class
      FROM {packages}
      WHERE {NO_LICENCE_CLASS}) x
GROUP BY {', '.join(key)}
"""


def _licences_sql(licences: str, per_document: bool) -> str:
    select = ", ".join(c if c == "collected_at" else _TEXT.format(c)
                       for c in columns(DOCUMENT_LICENCES, per_document))
    return f"SELECT DISTINCT {select}\nFROM {licences}\n"


def derive_sql(table: str, licences: str = "package_licenses", packages: str = "packages",
               *, per_document: bool = True) -> str:
    """Return the SQL (DuckDB and Spark) of licence table `table` (one of `LICENCE_TABLES`) over
    the relations `licences` (rows of `package_licenses`) and `packages` (rows of `packages`),
    each a table name or a parenthesised query with an alias. Its columns are the table's
    declared columns, in order; a row's image id is its row's, missing ones kept.

    Args:
        per_document: False: without the `PROVENANCE` columns, a row per package (or licence)
            of an image whatever documents give it (`columns(table, False)`), for rows already
            current and of a known image (an engine's view of a store written before these
            tables: the same counts, with less to tell apart).

    Raises:
        KeyError: if `table` is not a licence table.
    """
    if table == PACKAGE_LICENCE_CLASSES:
        return _classes_sql(licences, packages, per_document)
    if table == DOCUMENT_LICENCES:
        return _licences_sql(licences, per_document)
    raise KeyError(f"{table}: not a licence table; they are {', '.join(LICENCE_TABLES)}")


def derive(packages: pd.DataFrame, package_licenses: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Return the licence tables of the rows `packages` and `package_licenses` (a snapshot's, or
    a batch of one), by `derive_sql` on an embedded DuckDB, with their declared dtypes.

    Returns:
        Each of `LICENCE_TABLES` by name (empty when neither table has rows).

    Raises:
        StoreError: if DuckDB fails (out of memory, say).
    """
    if packages.empty and package_licenses.empty:
        return {t: empty(TABLES_BY_NAME[t]) for t in LICENCE_TABLES}
    import duckdb  # noqa: PLC0415 - loaded when a snapshot is written, not when the store is read

    try:
        # one thread: a small job, and DuckDB's per-thread arenas alone outgrow a 1 GB address
        # space limit (ulimit -v) that the rest of a write fits in
        con = duckdb.connect(":memory:", config={"threads": 1})
        try:
            con.execute("SET enable_progress_bar = false")
            con.register("package_licenses", package_licenses)
            con.register("packages", packages)
            return {t: conform(TABLES_BY_NAME[t], con.sql(derive_sql(t)).df())
                    for t in LICENCE_TABLES}
        finally:
            con.close()
    except duckdb.Error as e:
        raise StoreError(f"cannot derive the licence tables: {e}") from e
