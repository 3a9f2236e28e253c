"""What a test does when a real part it needs cannot be had: skip with one line, or, under CI=true,
fail (CI must run every test)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def under_ci() -> bool:
    """Return whether the tests run under CI (`CI=true`, any case), where nothing may skip."""
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(why: str, what: str = "the integration tests") -> NoReturn:
    """Skip the calling test with `why`; under CI=true fail it instead, saying CI must run `what`.

    Raises:
        pytest.skip.Exception: outside CI.
        pytest.fail.Exception: under CI=true.
    """
    if under_ci():
        pytest.fail(f"{why}; CI must run {what}")
    pytest.skip(why)
