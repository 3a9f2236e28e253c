"""Package URLs: the ecosystem (`type`) of a purl, read without a full parse."""

from __future__ import annotations


def purl_type(purl: str | None) -> str | None:
    """Return the lower-cased type of a package URL (`deb` of `pkg:deb/debian/x@1`), or None.

    A slice, not a `packageurl` parse: this runs once per package of every document.
    """
    if purl and purl.startswith("pkg:"):
        slash = purl.find("/", 4)
        if slash > 4:
            return purl[4:slash].lower()
    return None
