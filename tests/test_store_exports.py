"""`auditlib.store` re-exports its modules' names lazily: each name of `__all__` resolves to the
object its module defines, and the imports mypy reads name the same modules as the lazy map."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import auditlib.store as store


def test_every_name_in_all_resolves_to_its_modules_object() -> None:
    assert store.__all__ == sorted(store._EXPORTS) and len(store.__all__) > 20
    for name in store.__all__:
        module = importlib.import_module(store._EXPORTS[name])
        assert getattr(store, name) is getattr(module, name), name
    assert set(store.__all__) <= set(dir(store))


@pytest.mark.slow  # a fresh interpreter imports pandas and pyarrow: seconds under load
def test_star_import_gives_every_name_in_a_fresh_interpreter() -> None:
    code = ("from auditlib.store import *\nimport auditlib.store as s\n"
            "missing = [n for n in s.__all__ if n not in globals()]\nprint(missing)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr


def test_the_type_checking_imports_match_the_lazy_map() -> None:
    tree = ast.parse(Path(store.__file__).read_text())
    (block,) = [n for n in tree.body if isinstance(n, ast.If)
                and isinstance(n.test, ast.Name) and n.test.id == "TYPE_CHECKING"]
    seen = {a.name: node.module for node in block.body if isinstance(node, ast.ImportFrom)
            for a in node.names if a.asname == a.name}
    assert seen == store._EXPORTS
