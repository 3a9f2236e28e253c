"""Every exception class auditlib defines derives from `AuditlibError`, so that one `except`
catches whatever auditlib raises on purpose."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import auditlib
from auditlib.errors import AuditlibError

_SKIPPED = {"auditlib.cli.__main__"}  # runs the command line when imported


def _exception_classes() -> dict[str, type[BaseException]]:
    """Return every exception class defined in an auditlib module, by qualified name."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(auditlib.__path__, prefix="auditlib."):
        if info.name in _SKIPPED:
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_every_exception_class_is_an_auditlib_error() -> None:
    found = _exception_classes()
    # The walk reaches the packages' private modules too (the test cannot pass by finding none).
    assert {
        "auditlib.errors.ParseError",
        "auditlib.reports.export.ExportError",
        "auditlib.sources._archive_members.ArchiveError",
        "auditlib.sources._engine_http.EngineGetError",
        "auditlib.scanners._scanner_process.ScannerFailedError",
    } <= set(found)
    strays = sorted(name for name, cls in found.items() if not issubclass(cls, AuditlibError))
    assert strays == []
