"""How an image is named for people, defined once: every table, page and command shows an image
by `display_name` (through `FleetView.names`), and its id by `short_id`.

An image's name is, in this order:

1. `repository:tag`, a version tag before `latest` (`docker.io/library/nginx:1.27`);
2. else `repository@digest`, a repo digest reference with the digest shortened
   (`docker.io/library/nginx@sha256:0123456789ab`);
3. else its image id shortened and marked untagged (`<untagged> sha256:972772258713`): an image
   nothing names, never a bare hex string that reads like a name.

Digests are shortened to their algorithm and 12 hex digits, as `docker images` shows ids.
"""

from __future__ import annotations

from collections.abc import Iterable

from auditlib.identity import parse_reference

SHORT_HEX = 12
"""Hex digits a shortened digest keeps (as `docker images` shows image ids)."""

UNTAGGED = "<untagged>"
"""The mark of an image no tag or repo digest names, before its short id."""


def short_digest(digest: str) -> str:
    """Return a digest shortened to its algorithm and `SHORT_HEX` hex digits
    (`sha256:972772258713`); a digest without an algorithm to its first `SHORT_HEX` characters."""
    algorithm, colon, hex_digits = digest.partition(":")
    return f"{algorithm}:{hex_digits[:SHORT_HEX]}" if colon else digest[:SHORT_HEX]


def short_id(image_id: str) -> str:
    """Return an image id as `docker images` shows it: `SHORT_HEX` hex digits, no algorithm
    (`972772258713`). For id columns beside a name, never as the name."""
    return image_id.partition(":")[2][:SHORT_HEX] if ":" in image_id else image_id[:SHORT_HEX]


def untagged_name(image_id: str) -> str:
    """Return the name of an image nothing names: `<untagged> sha256:972772258713`."""
    return f"{UNTAGGED} {short_digest(image_id)}"


def shown_tag(tags: Iterable[str]) -> str | None:
    """Return the tag reference an image's name shows: the first version tag (not `latest`) in
    order, else the first tag; None when there is no tag."""
    given = list(tags)
    versioned = [t for t in given if not t.endswith(":latest")]
    return next(iter(versioned or given), None)


def digest_name(reference: str) -> str:
    """Return a repo digest reference with its digest shortened
    (`docker.io/library/nginx@sha256:0123456789ab`); a reference without a digest as it is."""
    name, at, digest = reference.rpartition("@")
    return f"{name}@{short_digest(digest)}" if at else reference


def display_name(image_id: str, references: Iterable[str]) -> str:
    """Return the name to show of an image named by `references` (its tags and repo digests,
    normalised; the first of each kind in order wins): `shown_tag`, else `digest_name` of a repo
    digest reference, else `untagged_name`."""
    tags: list[str] = []
    digests: list[str] = []
    for ref in references:
        p = parse_reference(ref)
        if p is not None:
            (tags if p.digest is None else digests).append(ref)
    tag = shown_tag(tags)
    if tag is not None:
        return tag
    return digest_name(digests[0]) if digests else untagged_name(image_id)
