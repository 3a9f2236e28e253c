"""`AuditData`: every table of one load, as attributes, and what happened to each file."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from auditlib.errors import AuditlibError
from auditlib.normalize.redact import redact
from auditlib.tables import DATA_TABLES, TABLES_BY_NAME, concat, data_table, empty


@dataclass(frozen=True, slots=True)
class FileResult:
    """What reading one file gave."""

    path: str
    """The file."""
    format: str | None = None
    """The format id it was read (or looked like it should be read) as."""
    format_version: str | None = None
    """The format version it declared."""
    rows: dict[str, int] = field(default_factory=dict)
    """Rows it gave, by table."""
    error: str | None = None
    """Why it gave no rows, or None."""
    skipped: str | None = None
    """Why it was not read at all (plainly not JSON), or None."""
    warnings: int = 0
    """Records skipped inside it (each is a `load_errors` row of level `warning`)."""

    def __post_init__(self) -> None:
        # Why a file failed or was skipped may quote what was read (its first bytes, a
        # collector's message), and is printed and kept in the store's manifest: redacted as
        # the `load_errors.reason` column is.
        for name in ("error", "skipped"):
            text = getattr(self, name)
            if text:
                object.__setattr__(self, name, redact(text))

    def summary(self) -> dict[str, Any]:
        """Return the file's `summarize` entry: path, format, format_version, rows, error."""
        return {
            "path": self.path,
            "format": self.format,
            "format_version": self.format_version,
            "rows": self.rows,
            "error": self.error,
        }


def _empty(name: str) -> pd.DataFrame:
    return empty(data_table(name))


class TableNotHeldError(AuditlibError, AttributeError):
    """A table of an `AuditData` that lives in an engine, not in memory, was read (an
    `AttributeError` too, so `hasattr` and `getattr(..., default)` see no such table)."""


@dataclass(slots=True)
class AuditData:
    """The tables of one load (`auditlib.load`) or one store snapshot.

    Each attribute is a DataFrame, one per table of `auditlib.tables.DATA_TABLES` (the store's
    licence tables are files only, `auditlib.tables.STORE_ONLY_TABLES`), except a table `without`
    left in an engine (an assessment of a store keeps `vulnerabilities`, `packages` and
    `package_licenses` in its engine): reading one raises `TableNotHeldError`, never gives an
    empty frame that would read as "no rows".
    """

    scans: pd.DataFrame = field(default_factory=lambda: _empty("scans"))
    images: pd.DataFrame = field(default_factory=lambda: _empty("images"))
    image_tags: pd.DataFrame = field(default_factory=lambda: _empty("image_tags"))
    image_labels: pd.DataFrame = field(default_factory=lambda: _empty("image_labels"))
    image_layers: pd.DataFrame = field(default_factory=lambda: _empty("image_layers"))
    image_history: pd.DataFrame = field(default_factory=lambda: _empty("image_history"))
    image_env: pd.DataFrame = field(default_factory=lambda: _empty("image_env"))
    containers: pd.DataFrame = field(default_factory=lambda: _empty("containers"))
    container_mounts: pd.DataFrame = field(default_factory=lambda: _empty("container_mounts"))
    container_changes: pd.DataFrame = field(default_factory=lambda: _empty("container_changes"))
    registry_tags: pd.DataFrame = field(default_factory=lambda: _empty("registry_tags"))
    image_signatures: pd.DataFrame = field(default_factory=lambda: _empty("image_signatures"))
    image_attestations: pd.DataFrame = field(
        default_factory=lambda: _empty("image_attestations")
    )
    packages: pd.DataFrame = field(default_factory=lambda: _empty("packages"))
    package_licenses: pd.DataFrame = field(default_factory=lambda: _empty("package_licenses"))
    vulnerabilities: pd.DataFrame = field(default_factory=lambda: _empty("vulnerabilities"))
    package_dependencies: pd.DataFrame = field(
        default_factory=lambda: _empty("package_dependencies")
    )
    vulnerability_cwes: pd.DataFrame = field(default_factory=lambda: _empty("vulnerability_cwes"))
    vulnerability_aliases: pd.DataFrame = field(
        default_factory=lambda: _empty("vulnerability_aliases")
    )
    misconfigurations: pd.DataFrame = field(default_factory=lambda: _empty("misconfigurations"))
    secrets: pd.DataFrame = field(default_factory=lambda: _empty("secrets"))
    dockerfiles: pd.DataFrame = field(default_factory=lambda: _empty("dockerfiles"))
    dockerfile_stages: pd.DataFrame = field(default_factory=lambda: _empty("dockerfile_stages"))
    dockerfile_secret_names: pd.DataFrame = field(
        default_factory=lambda: _empty("dockerfile_secret_names")
    )
    dockerfile_copies: pd.DataFrame = field(default_factory=lambda: _empty("dockerfile_copies"))
    vex_statements: pd.DataFrame = field(default_factory=lambda: _empty("vex_statements"))
    load_errors: pd.DataFrame = field(default_factory=lambda: _empty("load_errors"))
    files: list[FileResult] = field(default_factory=list)
    """One entry per file found, in the order read."""

    def __getattr__(self, name: str) -> pd.DataFrame:
        """Raise `TableNotHeldError` for a table left in an engine (`without`).

        Raises:
            TableNotHeldError: if `name` is a table this data does not hold.
            AttributeError: if `name` is not a table, or is one the store keeps as files only
                (`auditlib.tables.data_table` says so).
        """
        if name in TABLES_BY_NAME:
            try:
                data_table(name)
            except KeyError as e:  # a table the store keeps as files only
                raise AttributeError(e.args[0]) from None
            raise TableNotHeldError(
                f"{name}: not held in memory: its rows stay in the engine that reads the store's "
                f"files (`Assessment.sql(...)` runs a query over them there, "
                f"`Assessment.table({name!r})` returns them as a DataFrame, "
                f"`Assessment.relation({name!r})` as the engine's relation)")
        raise AttributeError(name)

    @property
    def not_held(self) -> tuple[str, ...]:
        """Return the tables this data does not hold in memory (`without`), in table order."""
        return tuple(t.name for t in DATA_TABLES if not _holds(self, t.name))

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return every table held in memory by name, in the order of `auditlib.tables.DATA_TABLES`
        (the `not_held` ones left out)."""
        return {t.name: getattr(self, t.name) for t in DATA_TABLES if _holds(self, t.name)}

    def read_now(self) -> dict[str, pd.DataFrame]:
        """Return the tables `tables()` gives that are in memory already: all of them, but for
        a `DeferredData`'s tables not yet read (none is read here)."""
        return self.tables()

    def without(self, *names: str) -> AuditData:
        """Return this data without the tables `names` (they live elsewhere: reading one raises
        `TableNotHeldError`); the other tables are the same frames.

        Raises:
            KeyError: if a name is not a table.
        """
        for n in names:
            data_table(n)
        out = self.replace()
        for n in names:
            if _holds(out, n):
                delattr(out, n)
        return out

    def replace(self, **frames: pd.DataFrame) -> AuditData:
        """Return a copy with the tables `frames` replaced (the tables not held stay not held).

        Raises:
            TableNotHeldError: if a table given is one this data does not hold.
        """
        missing = set(self.not_held)
        for n in frames:
            if n in missing:
                _ = getattr(self, n)  # raises, naming the table
        keep = {n: df for n, df in self.tables().items() if n not in frames}
        out = AuditData(**keep, **frames, files=list(self.files))
        for n in missing:
            delattr(out, n)
        return out

    def __repr__(self) -> str:
        """Return the row count of each table (`in engine` for a table not held)."""
        counts = ", ".join(f"{t.name}={len(getattr(self, t.name))}" if _holds(self, t.name)
                           else f"{t.name}=in engine" for t in DATA_TABLES)
        return f"AuditData({counts})"


class DeferredData(AuditData):
    """An `AuditData` whose tables are each read on first use (a saved assessment's files,
    `auditlib.assess.saved`), so that a process holds only the tables it reads.

    Reading a table calls its loader once and keeps the frame. `tables()`, `replace()` and
    `without()` read every table still waiting; `read_now()` reads none."""

    __slots__ = ("loaders",)

    def __init__(self, loaders: dict[str, Callable[[], pd.DataFrame]],
                 not_held: Iterable[str] = ()) -> None:
        """Make the data: `loaders` give tables by name, the tables `not_held` live in an
        engine (`without`), and every other table is empty.

        Raises:
            KeyError: if a name is not a table.
        """
        AuditData.__init__(self)
        self.loaders = dict(loaders)
        for name in (*self.loaders, *not_held):
            data_table(name)
            delattr(self, name)

    def __getattr__(self, name: str) -> pd.DataFrame:
        """Return a table not read yet, read now (and kept).

        Raises:
            TableNotHeldError: if `name` is a table this data does not hold.
            AttributeError: if `name` is not a table.
            Exception: what the table's loader raises.
        """
        load = self.loaders.get(name) if name != "loaders" else None
        if load is None:
            return AuditData.__getattr__(self, name)
        frame = load()  # a loader that fails is asked again next time
        object.__setattr__(self, name, frame)
        del self.loaders[name]
        return frame

    def read_now(self) -> dict[str, pd.DataFrame]:
        """Return the tables read already, by name, in table order (none is read here)."""
        return {t.name: object.__getattribute__(self, t.name) for t in DATA_TABLES
                if _holds(self, t.name) and t.name not in self.loaders}

    def map(self, fn: Callable[[str, pd.DataFrame], pd.DataFrame]) -> DeferredData:
        """Return this data with `fn(name, frame)` in place of each table: now for the tables
        read already, on first use for the others (none is read here)."""
        def then(name: str, load: Callable[[], pd.DataFrame]) -> Callable[[], pd.DataFrame]:
            return lambda: fn(name, load())
        out = DeferredData({n: then(n, load) for n, load in self.loaders.items()},
                           self.not_held)
        for name, frame in self.read_now().items():
            object.__setattr__(out, name, fn(name, frame))
        out.files = list(self.files)
        return out


def _holds(data: AuditData, name: str) -> bool:
    """Return whether `data` holds the table `name` in memory (or reads it on first use:
    `DeferredData`)."""
    try:
        object.__getattribute__(data, name)
    except AttributeError:
        return isinstance(data, DeferredData) and name in data.loaders
    return True


def merge(*parts: AuditData) -> AuditData:
    """Return one `AuditData` holding the rows and files of every part, in order."""
    if not parts:
        return AuditData()
    if len(parts) == 1:
        return parts[0]
    tables = {
        t.name: concat(t, [getattr(p, t.name) for p in parts]) for t in DATA_TABLES
    }
    files = [f for p in parts for f in p.files]
    return AuditData(**tables, files=files)
