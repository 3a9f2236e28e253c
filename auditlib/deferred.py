"""`deferred_property`: a cached property whose value may wait somewhere else (a saved
assessment's Parquet file) until it is first read.

`FleetView` and `Assessment` compute their parts on first use and keep them
(`functools.cached_property`). A saved assessment read back (`auditlib.assess.saved`) already
has some of them in files; `defer(obj, name, load)` says where, and the property's first read
calls `load` instead of computing it, so a report kernel holds only the parts its page reads.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar, overload

T = TypeVar("T")

LOADERS = "_deferred_loaders"
"""The instance attribute that holds the loaders not yet called (name -> loader)."""


class deferred_property(cached_property[T]):  # noqa: N801 - named as the decorator it extends
    """A `functools.cached_property` whose first read calls the loader `defer` gave the
    instance for it, when there is one, instead of computing it."""

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> deferred_property[T]:
        ...

    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> T:
        ...

    def __get__(self, instance: object | None, owner: type[Any] | None = None) -> Any:
        """Return the value: kept, else loaded (`defer`), else computed (and kept)."""
        if instance is None:
            return self
        loaders: dict[str, Callable[[], Any]] | None = vars(instance).get(LOADERS)
        if loaders and self.attrname in loaders:
            value = loaders.pop(self.attrname)()
            vars(instance)[str(self.attrname)] = value
            return value
        return super().__get__(instance, owner)


def defer(instance: object, name: str, load: Callable[[], Any]) -> None:
    """Make `load()` the value of `instance`'s deferred property `name` on its first read."""
    vars(instance).setdefault(LOADERS, {})[name] = load


def deferred(instance: object) -> tuple[str, ...]:
    """Return the names of `instance`'s properties whose loader has not been called yet."""
    return tuple(vars(instance).get(LOADERS, {}))
