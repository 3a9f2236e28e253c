"""The per-process fixed cost of a first load: what `import auditlib` and the first
`auditlib.load` of a Trivy report bring in (issue 13: the first load of a small file in a fresh
process under 0.1 s; timed by benchmarks/ingest.py, never here)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import auditlib.store
from tests.conftest import corpus_path

_PROBE = """\
import json, sys
import auditlib
after_import = set(sys.modules)
data = auditlib.load(sys.argv[1], workers=1)
print(json.dumps({"after_import": sorted(after_import), "after_load": sorted(sys.modules),
                  "vulnerabilities": len(data.vulnerabilities),
                  "contradicted": int(data.vulnerabilities["fix_contradicted"].notna().sum()),
                  "errors": int((data.load_errors["level"] == "error").sum())}))
"""


def test_a_first_load_imports_only_what_it_uses() -> None:
    # A Trivy report of Java archives: its fixed versions are compared by Maven's order.
    path = corpus_path("trivy-json/dd-schema2-alpine-jar-5vulns.json")
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True,
                          text=True, check=True)
    got = json.loads(proc.stdout)
    assert got["errors"] == 0 and got["vulnerabilities"] == 5
    assert got["contradicted"] > 0  # versions were compared, so the orders were used
    # The store's readers and writers (and pyarrow's filesystems) wait until they are used.
    assert "auditlib.store.current" not in got["after_import"]
    assert "pyarrow.fs" not in got["after_import"]
    # univers's module of every scheme (and attrs) is not imported for one ecosystem's order.
    assert "univers.versions" not in got["after_load"]
    assert "univers.maven" in got["after_load"]


def test_the_store_package_gives_each_name_of_its_modules() -> None:
    exports = auditlib.store._EXPORTS
    assert set(exports) == set(auditlib.store.__all__)
    assert set(exports) <= set(dir(auditlib.store))
    for name, module in exports.items():
        assert getattr(auditlib.store, name) is getattr(importlib.import_module(module), name)
    from auditlib.store import read_current, write_snapshot  # the form callers use

    assert callable(read_current) and callable(write_snapshot)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = auditlib.store.no_such_name  # type: ignore[attr-defined]
