"""Raw scanner outputs, kept in the store as the tools wrote them, every string passed through
the one redaction step first (`auditlib.normalize.redact`): Trivy's report repeats the image's
ENV values, and a store keeps no secret in any file.

Layout::

    STORE/raw/<image id hex>/<tool>-<tool version>.<format>.json
        e.g. raw/3f5a.../syft-1.18.1.syft-json.json, raw/3f5a.../trivy-0.76.0.trivy-json.json
    STORE/raw/dockerfile-<sha256 of the Dockerfile's bytes>/hadolint-2.15.1.hadolint-json.json
    STORE/raw/<key>/.<output name>.run.json    how the output was made (hidden: never ingested)
    STORE/tmp/                                 scratch (images exported from an engine)

An image is keyed by its id (the config digest) and a Dockerfile by its content, so an output made
once is found again by any later run, whatever path or tag the target had. An output is written to
a hidden temporary file in its own folder, flushed to disk and renamed into place: a reader never
sees half of one, and a run that dies leaves only a hidden temporary file that nothing reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from auditlib.files import atomic_path, read_json_object
from auditlib.normalize.redact import redact, redact_json
from auditlib.store.layout import raw_dir, run_record_file

TMP_DIR = "tmp"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY = re.compile(r"(dockerfile-)?[0-9a-f]{64}")


def image_key(image_id: str) -> str:
    """Return the folder name of an image's outputs: the hex of its id.

    Args:
        image_id: the config digest, `sha256:` + 64 hex digits (or the bare hex).

    Returns:
        The 64 hex digits, lowercase.

    Raises:
        ValueError: if `image_id` is not a sha256 digest.
    """
    hex_ = image_id.strip().lower().removeprefix("sha256:")
    if not _HEX64.fullmatch(hex_):
        raise ValueError(f"{image_id!r} is not a sha256 image id")
    return hex_


def dockerfile_key(content: bytes) -> str:
    """Return the folder name of a Dockerfile's outputs: `dockerfile-` + sha256 of its bytes."""
    return "dockerfile-" + hashlib.sha256(content).hexdigest()


@dataclass(slots=True)
class PendingOutput:
    """An output being written: the tool writes `temp`; the caller fills `record`."""

    temp: Path
    """The hidden temporary file, in the output's own folder."""
    record: dict[str, Any] = field(default_factory=dict)
    """How the output was made; kept beside it when the output is committed (if not empty)."""


class RawStore:
    """The raw outputs of one store folder."""

    def __init__(self, store: str | os.PathLike[str]) -> None:
        """Use the store folder `store` (created on first write)."""
        self.store = Path(store)
        self.root = raw_dir(self.store)

    def path(self, key: str, name: str) -> Path:
        """Return where the output `name` of the target `key` is kept.

        Raises:
            ValueError: if `key` is not an image or Dockerfile key, or `name` is not a plain file
                name.
        """
        if not _KEY.fullmatch(key):
            raise ValueError(f"{key!r} is not a raw output key")
        if not name or name.startswith(".") or "/" in name or "\\" in name:
            raise ValueError(f"{name!r} is not a raw output name")
        return self.root / key / name

    @staticmethod
    def record_path(path: Path) -> Path:
        """Return the hidden file that says how the output `path` was made (ingest reads it:
        `auditlib.ingest.run_record`)."""
        return run_record_file(path)

    def read_record(self, path: Path) -> dict[str, Any] | None:
        """Return how the output `path` was made, or None if that is not known (or unreadable)."""
        return read_json_object(run_record_file(path))

    def exists(self, path: Path, options: frozenset[str] = frozenset()) -> bool:
        """Return whether the output `path` is already made and covers `options`.

        Args:
            path: the output (from `path()`).
            options: what the run must have covered (Trivy's scanners); an output covers them
                when its record lists all of them. Without options, the file is enough.
        """
        if not path.is_file():
            return False
        if not options:
            return True
        record = self.read_record(path)
        covered = record.get("options") if record else None
        return isinstance(covered, list) and options <= set(covered)

    @contextlib.contextmanager
    def writing(self, path: Path) -> Iterator[PendingOutput]:
        """Write the output `path` atomically.

        Yields a `PendingOutput` whose temporary file (`auditlib.files.atomic_path`) the caller
        fills. When the block ends normally, the file is flushed to disk and renamed to `path`
        (replacing an older one), and the record, if any, is written beside it. When the block
        raises, the temporary file is removed and `path` is left as it was.

        Raises:
            OSError: if the folder or the files cannot be written (nothing is left half-written).
        """
        with atomic_path(path) as temp:
            pending = PendingOutput(temp)
            yield pending
            if path.suffix == ".json" and temp.exists():
                redact_file(temp)
            # The old record goes first: a crash before the new one is written leaves an output
            # that covers no options, which a later run makes again, never one that claims more.
            self.record_path(path).unlink(missing_ok=True)
        if pending.record:
            self.write_bytes(self.record_path(path), _json_bytes(pending.record))

    def write_bytes(self, path: Path, data: bytes) -> None:
        """Write `data` to `path` atomically (temporary file, fsync, rename).

        Raises:
            OSError: if it cannot be written; `path` is then left as it was.
        """
        with self.writing(path) as pending:
            pending.temp.write_bytes(data)

    def temp_folder(self) -> Path:
        """Return the store's scratch folder (`STORE/tmp`), created if missing.

        Raises:
            OSError: if it cannot be created.
        """
        tmp = self.store / TMP_DIR
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp


def redact_file(path: Path) -> None:
    """Rewrite a JSON output with every string redacted (`normalize.redact.redact_json`); a file
    that is not JSON is redacted as text (it is ingested as neither way)."""
    data = path.read_bytes()
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        text = data.decode("utf-8", errors="replace")
        clean = redact(text)
        if clean != text:
            path.write_text(clean, encoding="utf-8")
        return
    clean_doc = redact_json(doc)
    if clean_doc != doc:
        path.write_bytes(orjson.dumps(clean_doc))


def _json_bytes(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, default=str).encode() + b"\n"
