"""`auditlib.assess.apart.run_apart`: a function called in a process of its own, its answer or its
error brought back whole."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import pytest

from auditlib.assess.apart import ApartError, ApartTraceback, run_apart
from auditlib.errors import StoreError
from auditlib.store.damage import Damage, DamagedStoreError


def _pid_and_path() -> tuple[int, list[str]]:
    return os.getpid(), list(sys.path)


def _damaged(store: str) -> None:
    raise DamagedStoreError(store, [Damage("20261201T000000Z-aaaa", "cannot read images.parquet")])


def _store_error(text: str) -> None:
    raise StoreError(text)


class _Unpicklable(Exception):
    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a} and {b}")


def _unpicklable() -> None:
    raise _Unpicklable("one", "two")


def _killed() -> None:
    os._exit(7)


def _big(n: int) -> bytes:
    return b"x" * n


def test_the_function_runs_in_another_process_and_its_answer_comes_back() -> None:
    pid, path = run_apart(_pid_and_path)
    assert pid != os.getpid()
    assert {p for p in sys.path if os.path.isdir(p)} <= set(path)  # finds what this one does
    assert run_apart(_big, 5_000_000) == b"x" * 5_000_000


def test_an_error_comes_back_as_it_was_raised_with_its_traceback() -> None:
    with pytest.raises(StoreError, match="^the store is gone$") as caught:
        run_apart(_store_error, "the store is gone")
    assert isinstance(caught.value.__cause__, ApartTraceback)
    assert "_store_error" in str(caught.value.__cause__)  # where it was raised, over there
    with pytest.raises(DamagedStoreError) as damaged:
        run_apart(_damaged, "/stores/one")
    assert damaged.value.store == Path("/stores/one")
    assert damaged.value.damaged == [Damage("20261201T000000Z-aaaa", "cannot read images.parquet")]
    assert "cannot read images.parquet" in str(damaged.value)


def test_the_damaged_store_error_pickles_with_what_it_was_made_of() -> None:
    e = DamagedStoreError("/s", [Damage("x", "y"), Damage("z", "w")])
    back = pickle.loads(pickle.dumps(e))
    assert (back.store, back.damaged, str(back)) == (e.store, e.damaged, str(e))


def test_an_error_that_cannot_come_back_whole_comes_back_as_its_text() -> None:
    with pytest.raises(ApartError, match="_Unpicklable: one and two"):
        run_apart(_unpicklable)


def test_a_process_that_ends_without_an_answer_is_an_error_naming_the_work() -> None:
    with pytest.raises(ApartError, match=r"^the assessment: its process ended without an "
                                         r"answer \(exit code 7"):
        run_apart(_killed, what="the assessment")
