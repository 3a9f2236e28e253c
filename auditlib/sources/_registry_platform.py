"""Platforms (`linux/amd64`, `linux/arm/v7`) and the choice of one manifest from an index.

Names are normalised as containerd's `platforms.Normalize` does: `x86_64` is `amd64`, `aarch64`
is `arm64`, the default variant of an architecture is left out (`arm64/v8`, `amd64/v1`), and
32-bit `arm` without a variant is `arm/v7`. A wanted variant also accepts older variants of the
same architecture (`arm/v7` runs `arm/v6`; `amd64/v3` runs `amd64/v2`), as the engine does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_ARCH_ALIASES = {
    "x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm",
    "i386": "386", "i686": "386",
}
_ARCH_VARIANT = {"armhf": "v7", "armel": "v6"}
_DEFAULT_VARIANT = {"arm64": "v8", "amd64": "v1"}
_VARIANT_ORDER = {
    "arm": ["v8", "v7", "v6", "v5"],
    "amd64": ["v4", "v3", "v2", ""],
    "arm64": [f"v9.{i}" for i in range(5, -1, -1)] + ["v9"] + [f"v8.{i}" for i in range(9, 0, -1)]
    + [""],
}


@dataclass(frozen=True, slots=True)
class Platform:
    """An OS, architecture and variant, normalised."""

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def of(cls, os: str, architecture: str, variant: str | None = None) -> Platform:
        """Return the normalised platform of these parts."""
        arch = architecture.strip().lower()
        var = (variant or "").strip().lower() or _ARCH_VARIANT.get(arch, "")
        arch = _ARCH_ALIASES.get(arch, arch)
        if arch == "arm64" and var == "8":
            var = "v8"
        if var == _DEFAULT_VARIANT.get(arch):
            var = ""
        if arch == "arm" and not var:
            var = "v7"
        return cls(os.strip().lower(), arch, var)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Return the platform of `os/arch[/variant]` text (`linux/arm64/v8`).

        Raises:
            ValueError: the text is not of that shape.
        """
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform {text!r} is not os/architecture[/variant]")
        return cls.of(*parts)

    @classmethod
    def from_descriptor(cls, value: Any) -> Platform | None:
        """Return the platform of an index descriptor's `platform` object, or None."""
        if not isinstance(value, Mapping):
            return None
        os, arch, var = value.get("os"), value.get("architecture"), value.get("variant")
        if not isinstance(os, str) or not isinstance(arch, str) or not os or not arch:
            return None
        return cls.of(os, arch, var if isinstance(var, str) else None)

    def __str__(self) -> str:
        """Return `os/arch` or `os/arch/variant`."""
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def _acceptable(want: Platform) -> list[str]:
    """Return the variants acceptable for `want`, best first."""
    order = _VARIANT_ORDER.get(want.architecture)
    if order is None or want.variant not in order:
        return [want.variant]
    return order[order.index(want.variant):]


def choose(
    descriptors: Sequence[Any], want: Platform
) -> tuple[Mapping[str, Any], Platform] | None:
    """Return the index descriptor that best fits `want`, and its platform, or None.

    Descriptors of another OS or architecture never fit. Among the rest: the wanted variant,
    then older variants of the architecture, best first; a descriptor of an unknown variant only
    when nothing else fits. Ties go to the first in the index, as in the engine.
    """
    fits: list[tuple[int, int, Mapping[str, Any], Platform]] = []
    ranks = _acceptable(want)
    for pos, desc in enumerate(descriptors):
        if not isinstance(desc, Mapping):
            continue
        got = Platform.from_descriptor(desc.get("platform"))
        if got is None or (got.os, got.architecture) != (want.os, want.architecture):
            continue
        rank = ranks.index(got.variant) if got.variant in ranks else None
        if rank is None:
            # A newer variant cannot run on the wanted one; an unknown one might.
            known = _VARIANT_ORDER.get(want.architecture, [])
            if got.variant in known:
                continue
            rank = len(ranks)
        fits.append((rank, pos, desc, got))
    if not fits:
        return None
    _, _, desc, got = min(fits, key=lambda f: (f[0], f[1]))
    return desc, got
