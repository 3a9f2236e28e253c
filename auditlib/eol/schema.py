"""The shape of an end-of-life table, checked: endoflife.date product files and auditlib's wrapper.

A product file is what `https://endoflife.date/api/<product>.json` returns: a list of release
cycles, each an object with `cycle` (required), `eol` (required: a `YYYY-MM-DD` date or a bool),
and optionally `releaseDate`, `support`, `extendedSupport`, `lts`, `codename`, `latest` (other keys,
such as `link` or `latestReleaseDate`, are kept as they are). auditlib's table wraps several:
`{"generated_at": "YYYY-MM-DD", "source": "...", "products": {name: [cycle, ...]}}`, with an
optional `product_dates: {name: "YYYY-MM-DD"}` saying when each product's data was taken.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from auditlib.errors import AuditlibError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PRODUCT = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")

# Cycle keys holding a date or a bool (`eol` is also required); `lts` may also be a date.
_DATE_OR_BOOL = ("eol", "support", "extendedSupport", "lts")
_DATE_ONLY = ("releaseDate", "latestReleaseDate")
_TEXT = ("codename", "latest")


class EolDataError(AuditlibError):
    """An end-of-life table or product file is malformed; the message names the file and entry."""


def parse_date(value: str) -> dt.date | None:
    """Return `value` as a date when it is exactly `YYYY-MM-DD` and a real day, else None."""
    if not _DATE.match(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def is_product_name(name: str) -> bool:
    """Return True when `name` looks like an endoflife.date product name (`rocky-linux`)."""
    return bool(_PRODUCT.match(name))


def _date_or_bool(value: object) -> bool:
    return isinstance(value, bool) or (isinstance(value, str) and parse_date(value) is not None)


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float)


def _entry(where: str, i: int, raw: object) -> str:
    cycle = raw.get("cycle") if isinstance(raw, dict) else None
    return f"{where}[{i}]" + (f" (cycle {cycle!r})" if cycle is not None else "")


def check_cycles(raw: object, where: str) -> list[dict[str, Any]]:
    """Return a product's cycles checked and normalised (`cycle` as a string), in their order.

    `where` names the file and place for messages (`debian.json`, `t.json: products.debian`).
    Raises EolDataError naming the entry when the value is not a list, a cycle is not an object,
    lacks `cycle` or `eol`, repeats a cycle, or has a date field that is not a `YYYY-MM-DD` date
    (or, for `eol`, `support`, `extendedSupport` and `lts`, a bool).
    """
    if not isinstance(raw, list):
        raise EolDataError(f"{where}: expected a list of release cycles, got {type(raw).__name__}")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        entry = _entry(where, i, item)
        if not isinstance(item, dict):
            raise EolDataError(f"{entry}: a release cycle must be an object, got {item!r}")
        cycle = item.get("cycle")
        if isinstance(cycle, bool) or not isinstance(cycle, str | int) or str(cycle) == "":
            raise EolDataError(f"{entry}: no `cycle` (a non-empty string) in {_short(item)}")
        if str(cycle) in seen:
            raise EolDataError(f"{entry}: cycle {str(cycle)!r} appears twice")
        seen.add(str(cycle))
        if "eol" not in item:
            raise EolDataError(f"{entry}: no `eol` (a YYYY-MM-DD date, true or false)")
        for key in _DATE_OR_BOOL:
            value = item.get(key)
            if value is not None and not _date_or_bool(value):
                raise EolDataError(
                    f"{entry}: `{key}` is {value!r}, neither a YYYY-MM-DD date nor true/false"
                )
        if item["eol"] is None:
            raise EolDataError(f"{entry}: `eol` is null, neither a YYYY-MM-DD date nor true/false")
        for key in _DATE_ONLY:
            value = item.get(key)
            if value is not None and not (isinstance(value, str) and parse_date(value)):
                raise EolDataError(f"{entry}: `{key}` is {value!r}, not a YYYY-MM-DD date")
        for key in _TEXT:
            value = item.get(key)
            if value is not None and (isinstance(value, bool) or not _scalar(value)):
                raise EolDataError(f"{entry}: `{key}` is {value!r}, not a string")
        out.append({**item, "cycle": str(cycle)})
    return out


def _short(item: dict[str, Any]) -> str:
    text = json.dumps(item, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def check_table(doc: object, where: str) -> tuple[dt.date, str, dict[str, list[dict[str, Any]]],
                                                  dict[str, dt.date]]:
    """Return (generated_at, source, products, product_dates) of a whole table, checked.

    Products without an entry in `product_dates` are dated `generated_at`. Raises EolDataError
    naming `where` and the bad entry when the document is not auditlib's table shape or any
    cycle is malformed (see `check_cycles`).
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("products"), dict):
        raise EolDataError(f"{where}: not an EOL table (expected an object with `generated_at` "
                           "and `products`, or an endoflife.date product list)")
    raw_date = doc.get("generated_at")
    generated = parse_date(raw_date) if isinstance(raw_date, str) else None
    if generated is None:
        raise EolDataError(f"{where}: `generated_at` is {raw_date!r}, not a YYYY-MM-DD date")
    source = doc.get("source", "")
    if not isinstance(source, str):
        raise EolDataError(f"{where}: `source` is {source!r}, not a string")
    products: dict[str, list[dict[str, Any]]] = {}
    for name, cycles in doc["products"].items():
        if not is_product_name(name):
            raise EolDataError(f"{where}: products.{name}: not a product name (a-z, 0-9, -._+)")
        products[name] = check_cycles(cycles, f"{where}: products.{name}")
    dates: dict[str, dt.date] = {}
    raw_dates = doc.get("product_dates") or {}
    if not isinstance(raw_dates, dict):
        raise EolDataError(f"{where}: `product_dates` is {raw_dates!r}, not an object")
    for name in products:
        value = raw_dates.get(name)
        day = parse_date(value) if isinstance(value, str) else None
        if value is not None and day is None:
            raise EolDataError(f"{where}: product_dates.{name} is {value!r}, not a YYYY-MM-DD date")
        dates[name] = day or generated
    return generated, source, products, dates


def dump_table(generated: dt.date, source: str, products: dict[str, list[dict[str, Any]]],
               product_dates: dict[str, dt.date]) -> str:
    """Return the table as JSON text, one release cycle per line (small, readable diffs)."""
    lines = ["{", f'  "generated_at": "{generated.isoformat()}",',
             f'  "source": {json.dumps(source)},']
    if any(day != generated for day in product_dates.values()):
        body = ", ".join(f'"{p}": "{d.isoformat()}"' for p, d in sorted(product_dates.items()))
        lines.append(f'  "product_dates": {{{body}}},')
    lines.append('  "products": {')
    for i, (name, cycles) in enumerate(products.items()):
        lines.append(f"    {json.dumps(name)}: [")
        rows = [json.dumps(c, ensure_ascii=False) for c in cycles]
        lines.extend(f"      {row}{',' if j < len(rows) - 1 else ''}" for j, row in enumerate(rows))
        lines.append("    ]" + ("," if i < len(products) - 1 else ""))
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"
