"""Which columns a Spark read of two snapshots' files casts to text (`engine.spark.text_in_one`):
only a column that is text in one and of another type in the other, as DuckDB reads them;
numbers of two widths or a time in two units are never compared as text."""

from __future__ import annotations

import pytest

types = pytest.importorskip("pyspark.sql.types", reason="pyspark is not installed (extra spark)")

from auditlib.engine.spark import text_in_one  # noqa: E402


def _schema(**cols: object) -> object:
    return types.StructType([types.StructField(n, t) for n, t in cols.items()])


def test_only_text_against_another_type_is_read_as_text() -> None:
    a = _schema(name=types.StringType(), fixed=types.StringType(), count=types.IntegerType(),
                seen=types.LongType(), score=types.DoubleType(), only_a=types.StringType())
    b = _schema(score=types.FloatType(), fixed=types.DoubleType(), name=types.StringType(),
                count=types.LongType(), seen=types.TimestampType(), only_b=types.DoubleType())
    assert text_in_one(a, b) == ["fixed"]
    assert text_in_one(b, a) == ["fixed"]
    assert text_in_one(a, a) == []
