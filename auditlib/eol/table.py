"""End-of-life dates of OS releases, from a dated table in endoflife.date's shape.

The bundled table, `auditlib/data/eol.json`, was assembled on 2026-11-29 from endoflife.date data
as known then (its product pages and release data), for Alpine, Debian, Ubuntu, RHEL (UBI follows
RHEL), CentOS, CentOS Stream, Amazon Linux, Fedora, Rocky Linux, AlmaLinux, Oracle Linux,
openSUSE Leap and SLES. Dates move (Amazon Linux 2 was extended several times), so refresh it
without network at run time: download `https://endoflife.date/api/<product>.json` and run
`auditlib eol update --from FILE`. Every answer says which table and date it came from. The
`latest` point releases it records lag behind; lookups do not use them.

Which table is read (the first that exists wins):

1. a path given explicitly (`EolTable.load(path)`, `auditlib eol show --table PATH`);
2. the file named by the `AUDITLIB_EOL_FILE` environment variable (an error if it is missing);
3. the cache written by `auditlib eol update`: `$XDG_CACHE_HOME/auditlib/eol.json`, by default
   `~/.cache/auditlib/eol.json`;
4. the bundled table.

Which date counts as the end (`kind`): `"standard"` (default) takes endoflife.date's `eol`, which
for Debian is the end of Debian Security support (EolInfo.kind `security`) and for the others the
end of standard/maintenance support (`standard`). `"extended"` takes `extendedSupport` when the
cycle has one: Debian LTS, RHEL ELS, SLES LTSS, Oracle Extended Support (kind `lts`), Ubuntu ESM
(kind `esm`); cycles without one fall back to `eol`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from auditlib.eol.schema import EolDataError, check_table, dump_table, parse_date
from auditlib.eol.versions import candidate_cycles, is_rolling, product_for
from auditlib.files import user_cache_dir
from auditlib.normalize.times import utc_day

ENV_FILE = "AUDITLIB_EOL_FILE"
Kind = Literal["standard", "extended"]


def _day(as_of: dt.date | dt.datetime | None) -> dt.date:
    """Return the UTC day of `as_of` (a date, a datetime or a pandas timestamp; a naive time is
    taken as UTC); None, or a value that is not a time, is today."""
    return utc_day(as_of) or dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class EolInfo:
    """One OS release's end of life, as one table says."""

    product: str
    """The endoflife.date product (`debian`, `rhel`, `amazon-linux`...)."""
    cycle: str
    """The release cycle (`12`, `3.18`, `22.04`, `2023`)."""
    eol_date: dt.date | None
    """The day support ends; None when the table gives a bool instead of a date."""
    kind: str
    """Which end `eol_date` is: `security` (Debian), `standard`, `lts` or `esm` (Ubuntu)."""
    source: str
    """Where it comes from, e.g. `endoflife.date debian, table of 2026-11-29`."""
    table_date: dt.date
    """When the table's data for this product was taken."""
    ended: bool | None = None
    """The table's true/false when it has no date (true: ended, day unknown; false: no end set)."""

    def is_eol(self, as_of: dt.date | dt.datetime | None = None) -> bool:
        """Return True when support has ended on `as_of` (default today): on or after `eol_date`,
        or when the table says `true` without a date.
        """
        if self.eol_date is None:
            return bool(self.ended)
        return _day(as_of) >= self.eol_date

    def days_to_eol(self, as_of: dt.date | dt.datetime | None = None) -> int | None:
        """Return the days from `as_of` (default today) to `eol_date`: 0 on the day, negative
        after it; None when the table gives no date.
        """
        return None if self.eol_date is None else (self.eol_date - _day(as_of)).days


@dataclass(frozen=True)
class EolTable:
    """A dated end-of-life table: endoflife.date product files under one `generated_at`."""

    generated_at: dt.date
    """The table's date: when its newest data was taken."""
    source: str
    """Where the data comes from (`https://endoflife.date`)."""
    products: dict[str, list[dict[str, Any]]]
    """Product -> its release cycles, in endoflife.date's API shape."""
    product_dates: dict[str, dt.date] = field(default_factory=dict)
    """Product -> when its data was taken (products updated later than others differ)."""
    origin: str = "bundled"
    """How it was found: `path`, `AUDITLIB_EOL_FILE`, `cache` or `bundled`."""
    location: str = ""
    """The file it was read from."""
    note: str | None = None
    """Something to tell the user about how it was chosen (a cache that could not be looked
    at), in one line; None when there is nothing to say."""

    @classmethod
    def from_text(cls, text: str | bytes, where: str, origin: str = "path") -> EolTable:
        """Return the table in `text`; raises EolDataError naming `where` when it is not JSON or
        not a valid table.
        """
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise EolDataError(f"{where}: not JSON ({e})") from None
        generated, source, products, dates = check_table(doc, where)
        return cls(generated, source, products, dates, origin, where)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], origin: str = "path") -> EolTable:
        """Return the table in file `path`; raises EolDataError when it cannot be read or is
        malformed.
        """
        try:
            text = Path(path).read_bytes()
        except OSError as e:
            raise EolDataError(f"{path}: cannot read the EOL table ({e.strerror})") from None
        return cls.from_text(text, str(path), origin)

    @classmethod
    def bundled(cls) -> EolTable:
        """Return the table shipped with auditlib (see the module docstring for its date)."""
        res = bundled_path()
        return cls.from_text(res.read_bytes(), str(res), "bundled")

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> EolTable:
        """Return the table to use: `path`, else AUDITLIB_EOL_FILE, else the cache, else the
        bundled one. Raises EolDataError when the chosen file is missing or malformed.
        """
        if path is not None:
            return cls.from_file(path, "path")
        env = os.environ.get(ENV_FILE)
        if env:
            if not Path(env).is_file():
                raise EolDataError(f"{ENV_FILE}={env}: no such file")
            return cls.from_file(env, ENV_FILE)
        cached = cache_path()
        try:
            present = cached.is_file()
        except OSError as e:  # a cache folder this user may not look into
            return replace(cls.bundled(), note=(
                f"{cached}: cannot look for the cached EOL table ({e.strerror}); using the "
                "bundled one"))
        return cls.from_file(cached, "cache") if present else cls.bundled()

    @cached_property
    def _index(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {p: {c["cycle"]: c for c in cycles} for p, cycles in self.products.items()}

    @cached_property
    def _codenames(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for p, cycles in self.products.items():
            for c in cycles:
                words = str(c.get("codename") or "").lower().split()
                if words:
                    out.setdefault(p, {}).setdefault(words[0], c["cycle"])
        return out

    def cycles(self, product: str) -> list[dict[str, Any]]:
        """Return a product's release cycles as the table has them ([] for an unknown product)."""
        return list(self.products.get(product, []))

    def cycle_for(self, os_family: str | None, os_version: str | None) -> tuple[str, str] | None:
        """Return (product, cycle) for a scanner's OS family and version, or None when the family
        is unknown or rolling, or the table has no such cycle.

        A CentOS version the table lacks for CentOS Linux (`9`) is looked up in CentOS Stream.
        """
        if not isinstance(os_version, str) or not os_version.strip():
            return None
        if is_rolling(os_family, os_version):
            return None
        product = product_for(os_family)
        if product is None:
            return None
        for p in (product, "centos-stream") if product == "centos" else (product,):
            known = self._index.get(p, {})
            for cycle in candidate_cycles(p, os_version, self._codenames.get(p, {})):
                if cycle in known:
                    return p, cycle
        return None

    def lookup(self, os_family: str | None, os_version: str | None,
               kind: Kind = "standard") -> EolInfo | None:
        """Return the end of life of an OS release, or None (unknown family, rolling release, or
        a cycle the table lacks).

        `kind="standard"` uses `eol`; `kind="extended"` uses `extendedSupport` when the cycle has
        one (see the module docstring). Raises ValueError for another `kind`.
        """
        if kind not in ("standard", "extended"):
            raise ValueError(f"kind must be 'standard' or 'extended', not {kind!r}")
        found = self.cycle_for(os_family, os_version)
        if found is None:
            return None
        product, cycle = found
        row = self._index[product][cycle]
        day = self.product_dates.get(product, self.generated_at)
        label = "endoflife.date" if "endoflife.date" in self.source else (self.source or "table")
        source = f"{label} {product}, table of {day.isoformat()}"
        value, what = row["eol"], "security" if product == "debian" else "standard"
        extended = row.get("extendedSupport")
        if kind == "extended" and (extended is True or isinstance(extended, str)):
            value, what = extended, "esm" if product == "ubuntu" else "lts"
        if isinstance(value, str):
            return EolInfo(product, cycle, parse_date(value), what, source, day)
        # `eol: true` means ended on an unknown day; `extendedSupport: true` means it is ongoing.
        ended = bool(value) and what in ("security", "standard")
        return EolInfo(product, cycle, None, what, source, day, ended=ended)

    def table_age_days(self, as_of: dt.date | dt.datetime | None = None,
                       product: str | None = None) -> int:
        """Return how many days old the table is on `as_of` (default today): from `generated_at`,
        or from the given product's own date.
        """
        since = self.product_dates.get(product, self.generated_at) if product else self.generated_at
        return (_day(as_of) - since).days

    def describe(self, as_of: dt.date | dt.datetime | None = None) -> str:
        """Return one line for reports: `2026-11-29 from endoflife.date (bundled, 3 days old)`,
        the age counted to `as_of` (default today).
        """
        label = "endoflife.date" if "endoflife.date" in self.source else (self.source or "?")
        return (f"{self.generated_at.isoformat()} from {label} "
                f"({self.origin}, {self.table_age_days(as_of)} days old)")

    def to_text(self) -> str:
        """Return the table as JSON text in the shape it is read from (one cycle per line)."""
        return dump_table(self.generated_at, self.source, self.products, self.product_dates)


def cache_path() -> Path:
    """Return where `auditlib eol update` writes by default: `$XDG_CACHE_HOME/auditlib/eol.json`,
    or `~/.cache/auditlib/eol.json` (`auditlib.files.user_cache_dir`); without a home folder,
    `<temporary folder>/auditlib-<uid>/eol.json`.
    """
    base = user_cache_dir()
    if base is None:
        base = Path(tempfile.gettempdir()) / f"auditlib-{os.getuid()}"
    return base / "eol.json"


def bundled_path() -> Any:
    """Return the bundled table's resource (a `Traversable`, a Path in a normal install)."""
    return resources.files("auditlib").joinpath("data", "eol.json")


_memo: dict[str, tuple[tuple[str, int], EolTable]] = {}


def default_table() -> EolTable:
    """Return `EolTable.load()`, read again only when the chosen file changes.

    Raises EolDataError as `EolTable.load` does.
    """
    env = os.environ.get(ENV_FILE)
    chosen = Path(env) if env else cache_path()
    try:
        key = (str(chosen), chosen.stat().st_mtime_ns)
    except OSError:
        key = (str(chosen), -1)
    hit = _memo.get("table")
    if hit is None or hit[0] != key:
        hit = (key, EolTable.load())
        _memo["table"] = hit
    return hit[1]


def load_table(path: str | os.PathLike[str] | None = None) -> EolTable:
    """Return the table to use: `EolTable.load(path)` for a path, else `default_table()`.

    Raises EolDataError when the chosen file is missing or malformed.
    """
    return EolTable.load(path) if path is not None else default_table()


def lookup(os_family: str | None, os_version: str | None, kind: Kind = "standard", *,
           table: EolTable | None = None) -> EolInfo | None:
    """Return `EolTable.lookup` on `table`, by default `default_table()`.

    Raises EolDataError when the table to use is malformed, ValueError for an unknown `kind`.
    """
    return (table or default_table()).lookup(os_family, os_version, kind)
