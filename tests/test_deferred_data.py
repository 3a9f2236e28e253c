"""`DeferredData`: tables read on first use (a saved assessment's), each once; what reads them
all and what reads none; the tables an engine holds still refused."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from auditlib.data import AuditData, DeferredData, TableNotHeldError
from auditlib.fleet.view import conform_times
from auditlib.tables import DTYPES, data_table, empty


def _images() -> pd.DataFrame:
    df = empty(data_table("images"))
    row = dict.fromkeys(df.columns) | {"image_id": "sha256:a",
                                           "created_at": "2026-01-02T03:04:05Z"}
    return pd.DataFrame([row]).astype(object)


def _counted(calls: list[str], name: str, make: Callable[[], pd.DataFrame]
             ) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        calls.append(name)
        return make()
    return load


def test_each_table_is_read_once_when_first_asked_for() -> None:
    calls: list[str] = []
    data = DeferredData({"images": _counted(calls, "images", _images),
                         "scans": _counted(calls, "scans", lambda: empty(data_table("scans")))},
                        not_held=["vulnerabilities"])
    assert calls == [] and "images" not in data.read_now() and "images" in data.loaders
    assert data.images is data.images and calls == ["images"]
    assert "images" in data.read_now() and "scans" not in data.read_now()
    assert data.not_held == ("vulnerabilities",)
    with pytest.raises(TableNotHeldError, match="vulnerabilities: not held in memory"):
        _ = data.vulnerabilities
    with pytest.raises(AttributeError):
        _ = data.no_such_table
    assert data.image_env.empty and calls == ["images"]  # neither saved nor waiting: empty
    everything = data.tables()  # reads what waits
    assert calls == ["images", "scans"] and "vulnerabilities" not in everything
    plain = data.replace()
    assert type(plain) is AuditData and plain.not_held == ("vulnerabilities",)


def test_times_are_conformed_as_each_table_is_read() -> None:
    calls: list[str] = []
    data = conform_times(DeferredData({"images": _counted(calls, "images", _images)}))
    assert isinstance(data, DeferredData) and calls == []
    assert data.images["created_at"].dtype == DTYPES["datetime"] and calls == ["images"]
    assert data.images["created_at"].iloc[0] == pd.Timestamp("2026-01-02T03:04:05Z")


def test_a_failing_loader_fails_the_read_that_asked() -> None:
    def broken() -> pd.DataFrame:
        raise OSError("images.parquet: gone")
    data = DeferredData({"images": broken})
    assert data.read_now()["scans"].empty
    for _ in range(2):  # the same error each time, never an empty table
        with pytest.raises(OSError, match="images.parquet: gone"):
            _ = data.images
