"""Helpers of the explore notebook: the tables and their meanings, and a few joined views of
the report's assessment."""

from __future__ import annotations

import duckdb
import pandas as pd

from auditlib.assess import Assessment
from auditlib.data import AuditData
from auditlib.engine.duck import DuckDBEngine
from auditlib.fleet.findings import SEVERITY_RANK
from auditlib.tables import DATA_TABLES, DERIVED_TABLES, TABLES, get_table


def _images(df: pd.DataFrame) -> str:
    """Return how many distinct images a table's rows name, or '' for a table without images."""
    return f"{df['image_id'].nunique():,}" if "image_id" in df.columns else ""


def _counts(a: Assessment, table: str) -> tuple[str, str]:
    """Return a table's rows and distinct images (`_images`), counted where it is: in `data`,
    or by the engine for a big table it holds (`Assessment.in_engine`)."""
    if table not in a.in_engine:
        df = getattr(a.data, table)
        return f"{len(df):,}", _images(df)
    got = a.sql(f"SELECT COUNT(*) AS n, COUNT(DISTINCT image_id) AS i FROM {table}").iloc[0]
    return f"{int(got['n']):,}", f"{int(got['i']):,}"


def table_guide(a: Assessment) -> pd.DataFrame:
    """Return one row per table (read from sources, then computed): what a row is, its key,
    its columns, its rows in the assessment's data (the big tables counted by its engine;
    computed tables: how to get them), and how many distinct images those rows name (the
    `images` table has a row per image and source document, so its rows are not its images).

    Raises:
        EngineError: if the engine fails.
    """
    rows = []
    for t in DATA_TABLES:
        n, images = _counts(a, t.name)
        rows.append({"table": t.name, "one row per": t.row, "key": ", ".join(t.key),
                     "columns": len(t.columns), "rows": n, "images": images})
    how = {"policy_results": "assessment.evaluation.results",
           "policy_scores": "assessment.evaluation.scores",
           "staleness": "assessment.staleness",
           "os_end_of_life": "assessment.eol"}
    rows += [{"table": t.name, "one row per": t.row, "key": ", ".join(t.key),
              "columns": len(t.columns), "rows": how.get(t.name, "computed"), "images": ""}
             for t in DERIVED_TABLES]
    return pd.DataFrame(rows)


def columns(name: str) -> pd.DataFrame:
    """Return the columns of table `name`: dtype and meaning.

    Raises:
        KeyError: if there is no such table.
    """
    every = {t.name: t for t in (*TABLES, *DERIVED_TABLES)}
    table = every.get(name) or get_table(name)
    return pd.DataFrame([{"column": c.name, "dtype": c.dtype, "meaning": c.meaning}
                         for c in table.columns])


def names(a: Assessment) -> dict[str, str]:
    """Return image id -> the name to show (`auditlib.fleet.names.display_name`)."""
    return dict(a.view.names)


def images(a: Assessment) -> pd.DataFrame:
    """Return one row per image: name, OS, build time, size, user, packages (missing without an
    SBOM) and vulnerabilities (missing without a vulnerability scan)."""
    img = a.view.images
    pk = a.view.package_counts["package_rows"]
    vu = a.view.vulnerability_counts["vulnerability_rows"]
    sbom, scanned = a.view.sbom_images, a.view.vuln_scanned
    ids = list(img.index)
    return pd.DataFrame({
        "image": [a.view.name(i) for i in ids],
        "os": (img["os_family"].astype("string").fillna("") + " "
               + img["os_version"].astype("string").fillna("")).str.strip().tolist(),
        "created_at": img["created_at"].tolist(),
        "size MB": (img["size_bytes"].astype("Float64") / 1e6).round(1).tolist(),
        "user": img["user"].tolist(),
        "packages": pd.array([int(pk.get(i, 0)) if i in sbom else None for i in ids],
                             dtype="Int64"),
        "vulnerabilities": pd.array([int(vu.get(i, 0)) if i in scanned else None for i in ids],
                                    dtype="Int64"),
    })


LONGEST_COLUMNS = ["image_id", "vuln_id", "pkg_name", "pkg_version", "fixed_version", "severity",
                   "days", "state"]
"""The columns `longest_fixable` shows."""


def longest_fixable(a: Assessment, least: str = "high", most: int = 15
                    ) -> tuple[pd.DataFrame, int]:
    """Return the `most` fixable findings of severity `least` or above fixable the longest
    (undated last; `fleet.findings.Fixable.longest`, asked of the engine: the other findings
    never reach pandas), columns `LONGEST_COLUMNS`, and how many there are in all.

    Raises:
        KeyError: if `least` is not a severity.
        EngineError: if the engine fails.
    """
    f, total = a.view.fixable.longest(a.sla_params, SEVERITY_RANK[least], most)
    return f[LONGEST_COLUMNS].reset_index(drop=True), total


def findings_sql(a: Assessment) -> str:
    """Return the SQL of every fixable finding with its clock and SLA state (the columns of
    `Assessment.findings`, as the engine has them: severity as severity_rank), to run with
    `a.sql(...)` (aggregate or filter in it: at fleet scale there are millions)."""
    return a.sla_params.sql()


def findings_relation(a: Assessment) -> duckdb.DuckDBPyRelation:
    """Return every fixable finding (`findings_sql`) as a lazy DuckDB relation: nothing is read
    until it is asked for (`.filter`, `.aggregate`, `.limit(10).df()`).

    Raises:
        TypeError: if the assessment's engine is not DuckDB (Spark: `a.sql` instead).
    """
    engine = a.view.aggregate_engine
    if not isinstance(engine, DuckDBEngine):
        raise TypeError(f"the findings are in a {type(engine).__name__}, not DuckDB: "
                        "use a.sql(findings_sql(a)) instead")
    a.view.fixable  # noqa: B018  (the findings' views, made in the engine on first use)
    return engine.con.sql(findings_sql(a))


def labels(data: AuditData) -> pd.DataFrame:
    """Return the image labels: one row per (label, value) with how many images have it, most
    common first (values are untrusted text; pages escape them)."""
    lb = data.image_labels.dropna(subset=["image_id", "label"])
    if lb.empty:
        return pd.DataFrame()
    g = lb.groupby([lb["label"].astype(str), lb["value"].astype("string").fillna("")])
    out = g["image_id"].nunique().rename("images").reset_index()
    return out.sort_values(["images", "label"], ascending=[False, True]).reset_index(drop=True)
