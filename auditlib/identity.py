"""Image identity: config digests, manifest digests and references by the Docker reference grammar.

`image_id` is the config digest (`sha256:` + 64 hex), `repo_digest` the manifest digest, and a
reference is normalised as the Docker CLI does: `nginx` -> `docker.io/library/nginx:latest`.
See distribution/reference `normalize.go` for the grammar this follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$"
)

_SPACE = re.compile(r"\s")
"""Any white space, as `str.isspace` knows it: no reference holds one."""
_IMAGE_ID = re.compile(r"^(sha256:[0-9a-f]{12,64}|[0-9a-f]{64})$")
DEFAULT_REGISTRY = "docker.io"
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz")
_LEGACY_REGISTRIES = {"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed, normalised image reference."""

    registry: str
    """`docker.io`, `ghcr.io`, `localhost:5000`, ..."""
    repository: str
    """The path inside the registry: `library/nginx`, `org/app`."""
    tag: str | None
    """The tag, `latest` when the reference had neither tag nor digest."""
    digest: str | None
    """The manifest digest pinned with `@sha256:...`, if any."""

    @property
    def name(self) -> str:
        """Return `registry/repository`."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        """Return the canonical form: `docker.io/library/nginx:1.25@sha256:...`."""
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def is_digest(value: object) -> bool:
    """Return whether `value` is a content digest such as `sha256:` + 64 lowercase hex."""
    return isinstance(value, str) and bool(_DIGEST.match(value))


_HEX64 = re.compile(r"[0-9a-f]{64}")


def normalize_digest(value: object) -> str | None:
    """Return a digest in canonical form, or None if `value` is not one.

    Accepts a bare 64-hex sha256 (as some tools write image ids) and upper-case hex.
    """
    if not isinstance(value, str):
        return None
    v = value.strip().lower()
    if _HEX64.fullmatch(v):
        v = "sha256:" + v
    return v if _DIGEST.match(v) else None


@lru_cache(maxsize=4096)
def parse_reference(text: str) -> Reference | None:
    """Parse and normalise an image reference.

    Cached (a `Reference` is immutable): a load parses each document's references, and a fleet
    names the same few repositories document after document.

    Args:
        text: `nginx`, `nginx:1.25-alpine`, `ghcr.io/org/app@sha256:...`, `localhost:5000/a/b:t`.

    Returns:
        The normalised reference, or None when `text` is not a valid reference (a file path,
        an archive name, a folder, an upper-case repository).
    """
    if not text or _SPACE.search(text) or text.startswith(("/", ".")):
        return None
    if text.lower().endswith(_ARCHIVE_SUFFIXES):
        # Valid by the grammar, but Trivy and Grype name `docker save` archives this way.
        return None
    if _IMAGE_ID.match(text):
        # An image id (`sha256:<hex>`, or 64 hex alone) names an image, not a repository: the
        # docker CLI refuses 64-hex repository names for this reason.
        return None
    rest, digest = text, None
    if "@" in rest:
        rest, digest = rest.rsplit("@", 1)
        digest = normalize_digest(digest)
        if digest is None:
            return None
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
        if not _TAG.match(tag):
            return None
    parts = rest.split("/")
    first = parts[0]
    if len(parts) > 1 and (
        "." in first or ":" in first or first == "localhost" or first.startswith("[")
    ):
        if not _DOMAIN.match(first):
            return None
        registry, path = first.lower(), parts[1:]
    else:
        registry, path = DEFAULT_REGISTRY, parts
    if registry in _LEGACY_REGISTRIES:
        registry = DEFAULT_REGISTRY
    if not path or not all(_COMPONENT.match(p) for p in path):
        return None
    if registry == DEFAULT_REGISTRY and len(path) == 1:
        path = ["library", *path]
    if tag is None and digest is None:
        tag = "latest"
    return Reference(registry, "/".join(path), tag, digest)


def normalize_reference(text: str | None) -> str | None:
    """Return the canonical string of a reference, or None if `text` is not a reference."""
    if not text:
        return None
    ref = parse_reference(text)
    return str(ref) if ref else None


SYNTHETIC_REGISTRY = "demo.auditlib.invalid/synthetic"
"""Every image of the synthetic demo fleet lives under this repository prefix (`.invalid` is
reserved, RFC 2606)."""
SYNTHETIC_PREFIX = SYNTHETIC_REGISTRY + "/"
"""The prefix of every synthetic image's reference."""
SYNTHETIC_LABEL = "org.auditlib.synthetic"
"""Image label set to `true` on every synthetic image."""
