"""What `auditlib scan` scans: image archives, images on a Docker Engine, and Dockerfiles.

Image archives are `docker save` tarballs, or OCI layouts in a tarball (read by
`read_archive_image_id`). Images on a Docker Engine are exported with `docker save` into the
store's scratch folder when a scanner needs them (`export_engine_image`), and deleted after.
Images are keyed in the store by their id (the config digest), Dockerfiles by their content
(`target_key`).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditlib.errors import SourceUnavailableError
from auditlib.scanners._archive_id import read_archive_image_id
from auditlib.scanners.raw_store import dockerfile_key, image_key
from auditlib.scanners.tools import IMAGE_KINDS, ScanError, TargetError, TargetKind
from auditlib.sources.engine import connect, how_to_fix

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
"""Where the docker SDK looks for the engine when DOCKER_HOST is not set."""


class EngineUnreachableError(ScanError):
    """The Docker Engine cannot be reached (not running, no permission, bad address)."""


# --- the targets ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageArchive:
    """A `docker save` tarball (or an OCI image layout in a tarball) holding one image."""

    path: Path

    @property
    def label(self) -> str:
        """Return how messages name the target."""
        return str(self.path)


@dataclass(frozen=True, slots=True)
class EngineImage:
    """An image on a Docker Engine."""

    ref: str
    """A reference (`nginx:1.27`) or an id, as `docker image inspect` takes it."""
    client: Any = field(compare=False, repr=False)
    """The `docker.DockerClient` of the engine."""
    engine: str = DEFAULT_DOCKER_HOST
    """The engine's address, for messages."""

    @property
    def label(self) -> str:
        """Return how messages name the target."""
        return self.ref


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """A Dockerfile."""

    path: Path

    @property
    def label(self) -> str:
        """Return how messages name the target."""
        return str(self.path)


Target = ImageArchive | EngineImage | Dockerfile


def target_kinds(target: Target) -> frozenset[TargetKind]:
    """Return the kinds of target a tool must take to scan `target` (see `Tool.targets`)."""
    return frozenset({TargetKind.DOCKERFILE}) if isinstance(target, Dockerfile) else IMAGE_KINDS


def target_key(target: Target) -> tuple[TargetKind, str, Path | None]:
    """Return how the scanners read a target, its key in the store, and the file they read.

    Archives' configs are read and engine images inspected (not exported); Dockerfiles are read.

    Returns:
        The target's kind, its key (`raw_store.image_key` of the image id, or
        `raw_store.dockerfile_key`), and the file the scanners read: None for an engine image,
        which `export_engine_image` makes when a scan needs it.

    Raises:
        TargetError: if the target cannot be read at all (missing or unreadable file, not an
            image archive, no such image on the engine, engine not answering).
    """
    if isinstance(target, Dockerfile):
        try:
            content = target.path.read_bytes()
        except OSError as e:
            raise TargetError(f"{target.path}: cannot read: {e.strerror or e}") from e
        return TargetKind.DOCKERFILE, dockerfile_key(content), target.path
    if isinstance(target, ImageArchive):
        kind, image_id = read_archive_image_id(target.path)
        return kind, image_key(image_id), target.path
    import docker
    import requests

    try:
        image_id = target.client.images.get(target.ref).id
    except docker.errors.ImageNotFound as e:
        raise TargetError(
            f"{target.ref}: no such image on the Docker Engine at {target.engine}"
        ) from e
    except (docker.errors.DockerException, requests.RequestException) as e:
        raise TargetError(
            f"{target.ref}: cannot inspect the image on the Docker Engine at {target.engine}: {e}"
        ) from e
    try:
        key = image_key(str(image_id))
    except ValueError as e:
        raise TargetError(f"{target.ref}: {e}") from e
    return TargetKind.DOCKER_ARCHIVE, key, None


# --- the Docker Engine ---------------------------------------------------------------------


def connect_engine(url: str | None = None, *, timeout: int = 120) -> tuple[Any, str]:
    """Connect to a Docker Engine and check that it answers.

    Args:
        url: the engine's address (`unix:///var/run/docker.sock`, `tcp://host:2376`,
            `ssh://user@host`); None reads DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)
            like the docker CLI.
        timeout: seconds one API call may take.

    Returns:
        The `docker.DockerClient` and the address it uses.

    Raises:
        EngineUnreachableError: with one line that says which engine and how to fix it.
    """

    try:
        client, shown = connect(url, timeout=timeout)
    except SourceUnavailableError as e:
        raise EngineUnreachableError(str(e)) from e
    return client, shown


def engine_error_message(address: str, error: BaseException) -> str:
    """Return one line: why the engine at `address` cannot be reached, and what to do about it."""

    return f"cannot connect to the Docker Engine at {address}: {how_to_fix(address, error)}"


def tagged_images(client: Any, engine: str) -> list[EngineImage]:
    """Return every tagged image on the engine, one target per image (named by its first tag).

    Raises:
        EngineUnreachableError: if the engine stops answering.
    """
    import docker
    import requests

    try:
        rows = client.api.images()
    except (docker.errors.DockerException, requests.RequestException) as e:
        raise EngineUnreachableError(engine_error_message(engine, e)) from e
    found: list[EngineImage] = []
    for row in rows:
        tags = sorted(t for t in row.get("RepoTags") or [] if t and t != "<none>:<none>")
        if tags:
            found.append(EngineImage(tags[0], client, engine))
    return sorted(found, key=lambda t: t.ref)


def export_engine_image(target: EngineImage, folder: Path) -> Path:
    """Export an engine image with `docker save` into a new tarball under `folder`.

    Returns:
        The tarball (the caller deletes it).

    Raises:
        TargetError: if the image cannot be exported; no file is left then.
    """
    import docker
    import requests

    temp = folder / f"export-{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}.tar"
    try:
        image = target.client.images.get(target.ref)
        with temp.open("wb") as f:
            for chunk in image.save(named=True):
                f.write(chunk)
    except (docker.errors.DockerException, requests.RequestException, OSError) as e:
        temp.unlink(missing_ok=True)
        raise TargetError(
            f"{target.ref}: cannot export the image from the Docker Engine at {target.engine}: {e}"
        ) from e
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp
