"""The shape of the package: data flows one way, and the folders say which way.

sources -> parsers/collectors -> tables -> store -> assessment -> reports -> cli (design.md
sections 2 and 10). Each module imports only from its own layer or the layers below; there is no
import cycle; no auditlib import hides inside a function (only `if TYPE_CHECKING:` imports, for
annotations, may point at a module that imports this one).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import auditlib

ROOT = Path(auditlib.__file__).parent

LAYERS: list[tuple[str, ...]] = [
    # the bottom: table declarations, identity, normalisers, version order, rows, errors, files
    ("auditlib._version", "auditlib.errors", "auditlib.tables", "auditlib.identity",
     "auditlib.data", "auditlib.rows", "auditlib.normalize", "auditlib.versions",
     "auditlib.files", "auditlib.resolve", "auditlib.store.layout", "auditlib.deferred"),
    # what reads the outside: collectors, parsers, scanners, the EOL table, the demo documents
    ("auditlib.sources", "auditlib.parsers", "auditlib.scanners", "auditlib.eol",
     "auditlib.demo"),
    ("auditlib.store",),
    ("auditlib.engine",),
    ("auditlib.ingest",),
    ("auditlib.fleet",),
    ("auditlib.history",),
    ("auditlib.policy", "auditlib.staleness"),
    ("auditlib.assess",),
    ("auditlib.reports",),
    ("auditlib.notify",),
    ("auditlib.job",),
    ("auditlib.cli",),
]


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    if module == "auditlib":
        return len(LAYERS)  # the package's public face re-exports from every layer
    best, depth = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > depth:
                best, depth = i, len(p)
    assert best >= 0, f"{module}: in no layer of tests/test_layers.py"
    return best


def _imports() -> dict[str, list[tuple[str, int, bool]]]:
    """Return module -> (imported auditlib module, line, inside a function or class)."""
    modules = {_module(p) for p in ROOT.rglob("*.py")}
    out: dict[str, list[tuple[str, int, bool]]] = defaultdict(list)
    for path in ROOT.rglob("*.py"):
        name = _module(path)
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and ast.unparse(node.test).endswith("TYPE_CHECKING")
                       for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in typing_only or not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.append(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                if t.startswith("auditlib") and t != name:
                    out[name].append((t, node.lineno, node.col_offset > 0))
    return out


def test_every_import_goes_down_the_layers() -> None:
    wrong = []
    for module, found in _imports().items():
        if module == "auditlib":
            continue
        mine = _layer(module)
        for target, line, _ in found:
            if target != "auditlib" and _layer(target) > mine:
                wrong.append(f"{module}:{line} imports {target} (a higher layer)")
            elif target == "auditlib":
                wrong.append(f"{module}:{line} imports the package `auditlib` (import the module)")
    assert wrong == []


def test_no_import_inside_a_function() -> None:
    hidden = [f"{m}:{line} imports {t}" for m, found in _imports().items()
              for t, line, inner in found if inner]
    assert hidden == []


def test_no_import_cycle() -> None:
    graph = {m: {t for t, _, _ in found} for m, found in _imports().items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in graph.get(m, ()):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    # A package's __init__ re-exporting its modules is not a cycle between those modules.
    real = [c for c in cycles if not any(len(a) < len(b) and b.startswith(a + ".")
                                         for a, b in zip(c, c[1:], strict=False))]
    assert real == []


def test_folders_name_the_path_of_the_data() -> None:
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert {"sources", "parsers", "scanners", "ingest", "store", "fleet", "eol", "history",
            "policy", "staleness", "assess", "reports", "cli"} <= packages
    loose = sorted(p.name for p in ROOT.glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= 10, loose


def test_the_worker_only_runs_as_main() -> None:
    # `python -m auditlib.ingest.worker` runs it; a module imported before that (auditlib's own
    # __init__ imports the loader) would make runpy warn and execute it twice.
    importers = [m for m, found in _imports().items()
                 if any(t == "auditlib.ingest.worker" for t, _, _ in found)]
    assert importers == []


def test_every_command_is_listed_and_imports() -> None:
    import click

    from auditlib.cli.main import COMMANDS, main

    ctx = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name
