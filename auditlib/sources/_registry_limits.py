"""The limits of the registry collector: bytes per answer, time per request and per repository,
pages and tags per listing.

A registry is untrusted: it can answer forever, drip one byte at a time, lie about its lengths or
paginate without end. Every read of the collector stops at one of these limits, so its memory is
proportional to them and its time bounded, whatever the registry sends. A limit that is hit is an
error naming the registry, the repository and the setting (`max_tag_pages`), so it can be raised
where a real registry needs more: `RegistryLimits(max_tag_pages=5000)` in Python,
`auditlib collect --registry-limit max_tag_pages=5000` on the command line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RegistryLimits:
    """How far the registry collector reads before it stops (each a default you can override)."""

    connect_timeout: float = 10.0
    """Seconds to open a connection (TCP and TLS)."""
    read_timeout: float = 30.0
    """Seconds to wait for the next bytes of an answer; a registry that says nothing for this
    long has failed this attempt (retried as a connection error)."""
    request_deadline: float = 120.0
    """Seconds for one whole request: connecting, the status line, the headers and the body,
    redirects included. A registry that drips its answer is cut here, however often it sends a
    byte. Not retried."""
    source_deadline: float = 600.0
    """Seconds for one repository: its listing and every tag's manifests and config, retries and
    their waits included. Once passed, the repository's remaining tags are not read (one error
    says how many) and no retry starts."""
    max_response_bytes: int = 4 * 1024 * 1024
    """Largest body of the answers that are not manifests or configs: `/v2/`, each tag list
    page, token answers. Reading stops at the limit, whatever `Content-Length` says."""
    max_manifest_bytes: int = 4 * 1024 * 1024
    """Largest manifest or index (the Docker engine's own limit)."""
    max_config_bytes: int = 16 * 1024 * 1024
    """Largest image config blob."""
    max_artifact_bytes: int = 16 * 1024 * 1024
    """Largest cosign signature payload or attestation envelope (an attestation can carry a whole
    SBOM); one over it is a failure of that artifact, the others are read."""
    max_source_bytes: int = 256 * 1024 * 1024
    """Bytes read from the registry for one repository, everything together (tag list pages,
    manifests, configs, error bodies; content cached by digest is read once). Once passed, its
    remaining tags are not read (one error says how many): the memory a repository's images
    take is bounded, however many tags it has."""
    max_error_bytes: int = 64 * 1024
    """How much of an error answer's body is read for its message (the rest is left unread)."""
    max_tag_pages: int = 1000
    """Pages of one repository's tag list (`Link: <...>; rel="next"`); more is an error."""
    max_listed_tags: int = 100_000
    """Tags in one repository's tag list, all pages together; more is an error."""
    max_redirects: int = 5
    """Redirects followed by one request (blobs on a CDN); more is an error."""

    def __post_init__(self) -> None:
        """Check that every limit is positive.

        Raises:
            ValueError: a limit is zero or negative.
        """
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "max_redirects" and value == 0:
                continue
            if not value > 0:
                raise ValueError(f"registry limit {f.name} must be positive, not {value}")

    def override(self, pairs: Iterable[str]) -> RegistryLimits:
        """Return these limits with `NAME=VALUE` pairs applied (`source_deadline=30`,
        `max_tag_pages=5000`); values are seconds or counts as each limit says.

        Raises:
            ValueError: an unknown name (the message lists the known ones), a value that is not
                a number of the limit's kind, or one that is not positive.
        """
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for pair in pairs:
            name, sep, text = pair.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in fields:
                raise ValueError(
                    f"{pair!r}: not NAME=VALUE with a registry limit name (one of: "
                    f"{', '.join(fields)})"
                )
            kind = int if isinstance(getattr(self, name), int) else float
            try:
                changes[name] = kind(text.strip())
            except ValueError:
                what = "a whole number" if kind is int else "a number of seconds"
                raise ValueError(f"{pair!r}: {name} must be {what}") from None
        return dataclasses.replace(self, **changes)
