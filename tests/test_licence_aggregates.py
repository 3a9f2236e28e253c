"""The licence aggregates (`auditlib.engine.aggregates.PACKAGE_LICENCES` and what reads it): the
compliance page's licence risks and the licence rule come from the engine, one definition."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pandas as pd
import pytest

from auditlib.assess import assess_data
from auditlib.data import AuditData, merge
from auditlib.engine import FrameTables, open_engine
from auditlib.engine.aggregates import (
    CLASSES_TABLE,
    IMAGE_LICENCES_TABLE,
    LICENCE_VIEW,
    UNLICENSED_TABLE,
    ensure_licences,
    judged_classes,
    licence_classes,
    licence_risks,
    licences,
    licences_checked,
)
from auditlib.reports.compliance import license_risks
from auditlib.reports.context import Report
from auditlib.store.licence_tables import PACKAGE_LICENCE_CLASSES
from tests.policy.builders import AS_OF
from tests.policy.test_rules_contents import A, B, C, D, _licence_data


def test_licence_risks_per_licence() -> None:
    a = assess_data(_licence_data(), as_of=AS_OF)
    t = license_risks(cast(Report, SimpleNamespace(assessment=a)))
    assert list(t.columns) == ["licence", "class", "packages", "images", "some packages"]
    assert [tuple(r) for r in t.itertuples(index=False)] == [
        ("AGPL-3.0-only", "network-copyleft", 1, 1, "mongo"),
        ("GPL-3.0-or-later", "strong-copyleft", 1, 2, "bash"),
        ("Acme Corp Licence", "other", 1, 1, "weird"),
        ("(no licence declared)", "unknown", 1, 1, "left-pad"),  # a package with no licence
    ]


def test_each_licence_once_and_each_image_checked() -> None:
    engine = open_engine("duckdb", FrameTables(_licence_data()))
    got = licences(engine)
    # what it needs only: not the view of every licence row
    assert UNLICENSED_TABLE in engine.made and LICENCE_VIEW not in engine.made
    assert len(got) == len(got.drop_duplicates()) == 8  # 7 declared + none (left-pad)
    assert got.isna().all(axis=1).sum() == 1
    checked = licences_checked(engine)
    # busybox is listed by two documents: one package, one licence.
    assert checked.loc[A].tolist() == [2, 2]
    assert checked.loc[B].tolist() == [2, 2]
    assert checked.loc[C].tolist() == [2, 2]
    assert checked.loc[D].tolist() == [3, 2]  # left-pad has no licence


def test_licence_tables_kept_once_and_equal_to_the_view() -> None:
    engine = open_engine("duckdb", FrameTables(_licence_data()))
    classes = licence_classes(engine)
    assert CLASSES_TABLE in engine.made and IMAGE_LICENCES_TABLE not in engine.made  # as needed
    checked = licences_checked(engine)
    kept = {r[0] for r in engine.con.sql(  # type: ignore[attr-defined]
        "SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}
    assert {CLASSES_TABLE, IMAGE_LICENCES_TABLE} <= kept
    assert engine.con.sql(  # type: ignore[attr-defined]  # result order kept for other queries
        "SELECT current_setting('preserve_insertion_order')").fetchall() == [(True,)]
    # Every figure again from the rows of the view, in pandas.
    ensure_licences(engine, LICENCE_VIEW)
    view = engine.sql(f"SELECT * FROM {LICENCE_VIEW}")
    assert len(view) > len(view.drop_duplicates())  # rows listed by two documents
    key = ["package_name", "package_version"]
    per_image = view.groupby("image_id")
    want = pd.DataFrame({
        "packages": per_image.apply(lambda d: len(d[key].drop_duplicates())),
        "licences": per_image["license"].nunique()}).astype("int64").sort_index()
    pd.testing.assert_frame_equal(checked, want, check_names=False)
    cls = view.assign(license_class=view["license_class"].fillna("unknown"))
    cls = cls[["image_id", *key, "license_class"]].drop_duplicates()
    got = classes.set_index("license_class")
    for c, rows in cls.groupby("license_class"):
        assert got.loc[c].tolist() == [len(rows), rows["image_id"].nunique()]
    assert got.drop(list(cls["license_class"].unique())).eq(0).all().all()
    triples = view[["license", "license_spdx", "license_class"]].drop_duplicates()
    assert len(licences(engine)) == len(triples)


@pytest.mark.parametrize("seed", [1, 2])
def test_image_classes_count_what_grouping_by_the_texts_gives(seed: int) -> None:
    """`image_classes`, grouped by hashes of the image id and of the package's name and version
    (`auditlib.engine.key_hash`), counts per image what grouping the store's licence class rows
    by the texts themselves gives (in pandas): missing ids left out; missing names, versions and
    flags each a value of its own; an image that only the licence rows name included."""
    import random

    import duckdb

    from auditlib.engine import aggregates as agg
    from auditlib.engine.key_hash import duckdb_functions
    from auditlib.normalize.licenses import LICENSE_CLASSES
    from auditlib.tables import licence_class_column

    con = duckdb.connect()
    for statement in duckdb_functions():
        con.execute(statement)
    con.execute("CREATE TABLE vulnerabilities(image_id VARCHAR)")
    con.execute("CREATE TABLE packages(image_id VARCHAR)")
    con.execute("INSERT INTO vulnerabilities VALUES ('sha256:b'), (NULL)")
    con.execute("INSERT INTO packages VALUES ('sha256:a'), ('sha256:c')")
    flags = agg._CLASS_FLAGS
    con.execute("CREATE TABLE package_licence_classes(scan_id VARCHAR, image_id VARCHAR, "
                "package_name VARCHAR, package_version VARCHAR, "
                + ", ".join(f"{f} BOOLEAN" for f in flags) + ")")
    rng = random.Random(seed)
    images = ["sha256:a", "sha256:c", "sha256:only-licence", None]
    rows = [(f"s{rng.randint(1, 3)}", rng.choice(images), rng.choice(["p", "q", "r", None]),
             rng.choice(["1", None]), *(rng.choice([True, False, None]) for _ in flags))
            for _ in range(400)]
    con.executemany("INSERT INTO package_licence_classes VALUES (" + ", ".join(
        "?" * (4 + len(flags))) + ")", rows)
    con.execute(f"CREATE TABLE {agg.KEYS_TABLE} AS {agg.IMAGE_KEYS}")
    got = con.execute(agg.IMAGE_CLASSES).df().set_index("image_id").sort_index()
    frame = pd.DataFrame(rows, columns=["scan_id", "image_id", "package_name",
                                        "package_version", *flags])
    frame = frame[frame["image_id"].notna()].fillna(dict.fromkeys(flags, False))
    key = ["image_id", "package_name", "package_version"]
    per_package = frame.groupby(key, dropna=False)[list(flags)].any().reset_index()
    unknown = licence_class_column("unknown")
    per_package[unknown] = per_package[unknown] | ~per_package["licensed"]
    want = per_package.groupby("image_id")[list(flags)].sum()
    want.insert(0, "packages", per_package.groupby("image_id").size())
    assert len(got) == 3 and (got["packages"] > 1).all()  # NULL names and versions are keys
    assert [licence_class_column(c) for c in LICENSE_CLASSES] == list(flags[:-1])
    pd.testing.assert_frame_equal(got.astype("int64"), want.astype("int64")[got.columns],
                                  check_names=False)


def test_key_hash_tells_missing_texts_and_their_places_apart() -> None:
    """The hash both engines group by tells a missing text from any text and by its place, as
    `GROUP BY` does; it takes 1 to 3 texts."""
    import duckdb

    from auditlib.engine.key_hash import MOST_TEXTS, duckdb_functions, key_hash

    con = duckdb.connect()
    for statement in duckdb_functions():
        con.execute(statement)
    a, null, empty = "'a'", "NULL", "''"
    hashes = ", ".join(key_hash(*texts) for texts in ((a, null), (null, a), (a, empty), (a, null)))
    row = con.execute(f"SELECT {hashes}").fetchall()[0]
    assert len(set(row[:3])) == 3 and row[0] == row[3]
    for n in (0, MOST_TEXTS + 1):
        with pytest.raises(ValueError, match="1 to 3 columns"):
            key_hash(*["c"] * n)


def test_judged_classes_are_literals_or_missing() -> None:
    assert judged_classes(pd.Series(["weak-copyleft", None, "o'k", "weak-copyleft"])) == (
        "(p.license_class IN ('o''k', 'weak-copyleft') OR p.license_class IS NULL)")
    assert judged_classes(pd.Series(["other"])) == "(p.license_class IN ('other'))"
    assert judged_classes(pd.Series([None], dtype=object)) == "(p.license_class IS NULL)"
    assert judged_classes(pd.Series([], dtype=object)) == "FALSE"


@pytest.mark.parametrize("flag", [("network-copyleft",), ("strong-copyleft", None),
                                  (None,), ("other", "permissive", None), ()])
def test_flagged_rows_read_by_class_are_the_whole_joins(flag: tuple[str | None, ...]) -> None:
    """The class filter `LICENCES_FLAGGED` reads the licence rows with (`judged_classes`) gives
    the rows the join alone gives (the filter `TRUE`), whatever the judgement flags."""
    from auditlib.engine.aggregates import JUDGED_VIEW, LICENCES_FLAGGED, licences_flagged

    engine = open_engine("duckdb", FrameTables(_licence_data()))
    lic = licences(engine)
    named = [c for c in flag if c is not None]
    hit = lic["license_class"].isin(named) | (lic["license_class"].isna() & (None in flag))
    judged = lic[hit].assign(level=[1 + i % 2 for i in range(int(hit.sum()))], why="flagged")
    got = licences_flagged(engine, judged, 2)
    engine.register(JUDGED_VIEW, judged[["license", "license_spdx", "license_class", "level",
                                         "why"]])
    whole = engine.sql(LICENCES_FLAGGED.format(shown=2, classes="TRUE")).astype(
        {"image_id": str, "level": "int64", "packages": "int64"})
    pd.testing.assert_frame_equal(got, whole)
    assert (len(got) > 0) == bool(flag)
    if None in flag:  # left-pad has no licence at all: flagged as a package without one
        assert "left-pad" in set(got["package_name"])


REFERENCE_RISKS = """
WITH risky AS (
  SELECT licence, class, package_name, image_id
  FROM (SELECT image_id, package_name,
               COALESCE(license_spdx, license, '(no licence declared)') AS licence,
               COALESCE(license_class, 'unknown') AS class
        FROM package_licences
        WHERE license_class IN ('network-copyleft', 'strong-copyleft', 'weak-copyleft', 'other',
                                'unknown') OR license_class IS NULL) r
  GROUP BY GROUPING SETS ((licence, class, package_name), (licence, class, image_id))
), names AS (
  SELECT licence, class, package_name,
         ROW_NUMBER() OVER (PARTITION BY licence, class ORDER BY package_name) AS n
  FROM risky WHERE image_id IS NULL AND package_name IS NOT NULL
)
SELECT g.licence, g.class, g.packages, g.images, m.package_name, m.n
FROM (SELECT licence, class, COUNT(DISTINCT package_name) AS packages,
             COUNT(DISTINCT image_id) AS images
      FROM risky GROUP BY licence, class) g
LEFT JOIN names m ON g.licence = m.licence AND g.class = m.class AND m.n <= 5
ORDER BY g.licence, g.class, m.n
"""
"""The licence risks as they were defined before their images were counted from
`image_licences` (every risky licence row grouped by image too): kept word for word as the
reference the one definition is checked against."""


def _licence_risk_inputs() -> list[AuditData]:
    from auditlib import load
    from auditlib.demo import write_fleet
    from tests.conftest import corpus_path

    out = [_licence_data()]
    with tempfile.TemporaryDirectory() as tmp:
        write_fleet(Path(tmp), images=6, seed=11, files_per_image=10)
        out.append(load(Path(tmp)))
    out.append(merge(*(load(corpus_path(p)) for p in (
        "spdx-json/syft-1.18.1-spdx-debian-bookworm-image.json",
        "spdx-json/trivy-0.76.0-spdx-debian-bookworm-image.json",
        "spdx-json/secobserve-spdx-2.3-trivy-0.58.0-image-124pkgs.json",
        "spdx-json/syft-spdx-2.2-alpine-3.10.json"))))
    return out


def test_licence_risks_equal_the_reference_definition() -> None:
    """The images of each licence, counted from each image's distinct licences, are those its
    licence rows name: on the hand-made data, the demo fleet and real SBOMs (the corpus)."""
    for data in _licence_risk_inputs():
        engine = open_engine("duckdb", FrameTables(data))
        got = licence_risks(engine, 5)
        want = engine.sql(REFERENCE_RISKS)
        assert len(got) > 0
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        engine.close()


REFERENCE_UNLICENSED = f"""
SELECT image_id, package_name, package_version
FROM {PACKAGE_LICENCE_CLASSES}
WHERE image_id IN (SELECT image_id FROM {PACKAGE_LICENCE_CLASSES}
                   WHERE image_id IS NOT NULL AND NOT licensed)
GROUP BY image_id, package_name, package_version
HAVING MAX(CASE WHEN licensed THEN 1 ELSE 0 END) = 0
"""
"""The unlicensed packages as they were once defined (the store's licence class rows grouped by
their texts): kept word for word as the reference the one definition is checked against."""

_UNLICENSED_ORDER = "ORDER BY image_id, package_name NULLS LAST, package_version NULLS LAST"


def test_unlicensed_packages_equal_the_reference_definition() -> None:
    """The packages no document gives a licence (its bare rows, less those some row gives a
    licence, found by hash) are those the store's licence class rows give when grouped by their
    texts: on the hand-made data (left-pad), the demo fleet and real SBOMs (the corpus)."""
    found = 0
    for data in _licence_risk_inputs():
        engine = open_engine("duckdb", FrameTables(data))
        ensure_licences(engine, IMAGE_LICENCES_TABLE)
        assert CLASSES_TABLE not in engine.made  # not what it is read from
        got = engine.sql(f"SELECT * FROM {UNLICENSED_TABLE} {_UNLICENSED_ORDER}")
        want = engine.sql(f"SELECT * FROM ({REFERENCE_UNLICENSED}) r {_UNLICENSED_ORDER}")
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        found += len(got)
        engine.close()
    assert found > 0
