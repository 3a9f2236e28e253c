"""The analyst's copy of the notebooks: `auditlib lab` writes the packaged notebooks into a folder,
with the store filled in their `parameters` cell, and opens JupyterLab on it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from auditlib.files import write_atomic
from auditlib.reports.runner import ReportError, packaged_notebooks

_STORE_LINE = re.compile(r'^store: .*$', re.MULTILINE)


@dataclass(frozen=True, slots=True)
class LabCopy:
    """What `prepare_lab` did with one notebook."""

    path: Path
    written: bool
    """False when an existing copy was kept (the analyst's edits are never overwritten)."""


def with_store(notebook: dict[str, object], store: Path) -> dict[str, object]:
    """Return `notebook` (nbformat JSON) with the `store` default of its `parameters` cell set
    to `store`.

    Raises:
        ReportError: if the notebook has no `parameters` cell with a `store` line.
    """
    cells = notebook.get("cells")
    for cell in cells if isinstance(cells, list) else []:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") != "code" or "parameters" not in tags:
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        line = f'store: "Optional[str]" = {json.dumps(str(store))}  # the store folder'
        new, n = _STORE_LINE.subn(lambda _m: line, source, count=1)
        if n:
            cell["source"] = new.splitlines(keepends=True)
            return notebook
    raise ReportError("the notebook has no parameters cell with a store line")


def prepare_lab(folder: Path, store: Path, *, refresh: bool = False) -> list[LabCopy]:
    """Write every packaged notebook into `folder`, its store set to `store` (made absolute);
    keep an existing copy unless `refresh`.

    Returns:
        One `LabCopy` per notebook, by name.

    Raises:
        ReportError: if the packaged notebooks are missing or not notebooks.
        OSError: if `folder` cannot be written.
    """
    source = packaged_notebooks()
    names = sorted(p for p in source.glob("*.ipynb"))
    if not names:
        raise ReportError(f"no notebook in {source}: the installed package is incomplete")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for nb in names:
        target = folder / nb.name
        if target.exists() and not refresh:
            out.append(LabCopy(target, False))
            continue
        try:
            doc = json.loads(nb.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ReportError(f"{nb}: not a notebook ({e})") from e
        text = json.dumps(with_store(doc, store.resolve()), indent=1, ensure_ascii=False)
        write_atomic(target, (text + "\n").encode("utf-8"))
        out.append(LabCopy(target, True))
    return out
