"""`auditlib eol update`: merge downloaded endoflife.date data into the cached EOL table.

Accepted inputs: one product file (`debian.json`, the bare list `https://endoflife.date/api/
debian.json` returns; the product is `--product` or the file name), one whole table in auditlib's
shape, a v1 API answer (`https://endoflife.date/api/v1/products/debian`), or a folder of such
files. Every file is checked before anything is written; the result is written atomically.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditlib.eol.schema import EolDataError, check_cycles, check_table, is_product_name
from auditlib.eol.table import EolTable, cache_path
from auditlib.eol.versions import product_for
from auditlib.files import write_atomic


@dataclass(frozen=True)
class ProductChange:
    """What an update did to one product."""

    product: str
    status: str
    """`new`, `replaced` or `unchanged`."""
    cycles: int
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def describe(self) -> str:
        """Return one line: `debian: replaced, 9 cycles (added 14; changed 12, 13)`."""
        parts = [f"{what} {', '.join(names)}" for what, names in
                 (("added", self.added), ("removed", self.removed), ("changed", self.changed))
                 if names]
        detail = f" ({'; '.join(parts)})" if parts and self.status != "new" else ""
        return f"{self.product}: {self.status}, {self.cycles} cycles{detail}"


@dataclass(frozen=True)
class UpdateResult:
    """The outcome of `update_table`."""

    path: Path
    """The table written."""
    generated_at: dt.date
    """The new table's date."""
    previous_date: dt.date
    """The date of the table merged into (the existing file, or the bundled table)."""
    based_on: str
    """The table merged into: its file."""
    changes: tuple[ProductChange, ...]
    files: tuple[Path, ...]
    """The input files read."""


@dataclass
class _Incoming:
    products: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dates: dict[str, dt.date] = field(default_factory=dict)
    given_in: dict[str, Path] = field(default_factory=dict)
    file_dates: list[dt.date] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def add(self, product: str, cycles: list[dict[str, Any]], day: dt.date, path: Path) -> None:
        if product in self.given_in:
            first = self.given_in[product]
            raise EolDataError(f"{path}: product {product} is also given in {first}")
        self.products[product], self.dates[product], self.given_in[product] = cycles, day, path


def _normal_product(name: str) -> str:
    return product_for(name) or name.strip().lower()


def _read_json(path: Path) -> object:
    try:
        text = path.read_bytes()
    except OSError as e:
        raise EolDataError(f"{path}: cannot read ({e.strerror})") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise EolDataError(f"{path}: not JSON ({e})") from None


def _from_v1(doc: dict[str, Any], path: Path) -> tuple[str, list[dict[str, Any]]]:
    """Return (product, v0-shaped cycles) from a v1 API answer `{"result": {"releases": ...}}`."""
    result = doc["result"]
    name, releases = result.get("name"), result.get("releases")
    if not isinstance(name, str) or not isinstance(releases, list):
        raise EolDataError(f"{path}: a v1 API answer without result.name and result.releases")
    rows = []
    for r in releases:
        if not isinstance(r, dict):
            rows.append(r)  # check_cycles names it
            continue
        latest = r.get("latest")
        rows.append({
            "cycle": r.get("name"), "releaseDate": r.get("releaseDate"),
            "eol": r.get("eolFrom") or bool(r.get("isEol")),
            "support": r.get("eoasFrom"), "extendedSupport": r.get("eoesFrom"),
            "lts": bool(r.get("isLts")), "codename": r.get("codename"),
            "latest": latest.get("name") if isinstance(latest, dict) else None,
        })
    return name, rows


def _read_one(path: Path, product: str | None, today: dt.date, into: _Incoming) -> None:
    doc = _read_json(path)
    into.files.append(path)
    if isinstance(doc, dict) and "products" in doc:
        if product:
            raise EolDataError(f"{path}: --product applies to a product file, not a whole table")
        generated, _, products, dates = check_table(doc, str(path))
        into.file_dates.append(generated)
        for name, cycles in products.items():
            into.add(_normal_product(name), cycles, dates[name], path)
        return
    if isinstance(doc, dict) and isinstance(doc.get("result"), dict):
        name, rows = _from_v1(doc, path)
    elif isinstance(doc, list):
        name, rows = product or path.stem, doc
    else:
        raise EolDataError(f"{path}: neither an endoflife.date product file (a list of release "
                           "cycles) nor an EOL table (an object with `products`)")
    name = _normal_product(product or name)
    if not is_product_name(name):
        raise EolDataError(f"{path}: cannot tell the product from {name!r}; give --product")
    cycles = check_cycles(rows, str(path))
    if not cycles:
        raise EolDataError(f"{path}: no release cycles")
    into.file_dates.append(today)
    into.add(name, cycles, today, path)


def read_inputs(source: Path, product: str | None, today: dt.date) -> _Incoming:
    """Return every product in `source` (a file or a folder of `.json` files), checked.

    Raises EolDataError naming the file and entry at the first problem.
    """
    into = _Incoming()
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() == ".json" and p.is_file())
        if not files:
            raise EolDataError(f"{source}: no .json files in this folder")
        if product:
            raise EolDataError(f"{source}: --product applies to one product file, not a folder")
        for f in files:
            _read_one(f, None, today, into)
    elif source.exists():
        _read_one(source, product, today, into)
    else:
        raise EolDataError(f"{source}: no such file or folder")
    return into


def _change(name: str, old: list[dict[str, Any]] | None,
            new: list[dict[str, Any]]) -> ProductChange:
    if old is None:
        return ProductChange(name, "new", len(new), tuple(c["cycle"] for c in new))
    before, after = {c["cycle"]: c for c in old}, {c["cycle"]: c for c in new}
    added = tuple(c for c in after if c not in before)
    removed = tuple(c for c in before if c not in after)
    changed = tuple(c for c in after if c in before and before[c] != after[c])
    status = "replaced" if added or removed or changed or old != new else "unchanged"
    return ProductChange(name, status, len(new), added, removed, changed)


def update_table(source: str | os.PathLike[str], *, product: str | None = None,
                 to: str | os.PathLike[str] | None = None,
                 today: dt.date | None = None) -> UpdateResult:
    """Merge the products in `source` into the table at `to` (default: the cache path) and write
    it atomically; return what changed.

    The table merged into is the existing file at `to`, or the bundled table when there is none.
    Each given product replaces the old one whole. The new `generated_at` is the newest date of
    the files given: a whole table's `generated_at`, or `today` for a product file (which has no
    date). Raises EolDataError (nothing is written) when an input or the existing table is
    malformed, OSError when the table cannot be written.
    """
    day = today or dt.datetime.now(dt.UTC).date()
    target = Path(to) if to is not None else cache_path()
    incoming = read_inputs(Path(source), product, day)
    if target.exists():
        base = EolTable.from_file(target, "existing")
    else:
        base = EolTable.bundled()
    products = dict(base.products)
    dates = {p: base.product_dates.get(p, base.generated_at) for p in products}
    changes = []
    for name, cycles in incoming.products.items():
        changes.append(_change(name, base.products.get(name), cycles))
        products[name], dates[name] = cycles, incoming.dates[name]
    new = EolTable(max(incoming.file_dates), base.source or "https://endoflife.date", products,
                   dates)
    text = new.to_text()
    EolTable.from_text(text, str(target))  # the written table must read back
    write_atomic(target, text)
    return UpdateResult(target, new.generated_at, base.generated_at, base.location,
                        tuple(changes), tuple(incoming.files))
