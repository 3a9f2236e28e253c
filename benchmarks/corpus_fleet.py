"""Documents for the ingest benchmark made from real tool output in `../shared/corpus`.

The demo generator (`auditlib.demo`) writes Trivy and Syft documents; for the other formats the
benchmark copies a real document of a real image, once per image of the fleet, and makes each copy
a distinct image: every 64-digit hex id (image, layer and file digests) and every UUID (serial
numbers, document namespaces) is replaced by one derived from the copy's number, byte for byte in
place, so the copy keeps the tool's exact layout (indentation, key order, escapes). The packages
and vulnerabilities stay those of the original, as they are for images built on one base.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(os.environ.get("AUDITLIB_CORPUS",
                             Path(__file__).resolve().parents[2] / "shared" / "corpus"))
"""The corpus of real tool output: `$AUDITLIB_CORPUS`, else `../shared/corpus` (as the tests)."""


@dataclass(frozen=True, slots=True)
class CorpusFormat:
    """One format of the benchmark made from a corpus document."""

    folder: str
    """The folder under the fleet's `derived/` that holds the copies."""
    label: str
    """What the benchmark prints for it."""
    source: str
    """The corpus document, relative to the corpus folder."""


CORPUS_FORMATS: tuple[CorpusFormat, ...] = (
    CorpusFormat("grype", "grype-json (Grype 0.96 image)",
                 "grype-json/dd-grype-0.96.0-image-35-matches.json"),
    CorpusFormat("cyclonedx-trivy", "cyclonedx-json (Trivy 0.76)",
                 "cyclonedx-json/trivy-0.76.0-cdx-debian-bookworm-image.json"),
    CorpusFormat("cyclonedx-syft", "cyclonedx-json (Syft 1.18)",
                 "cyclonedx-json/syft-1.18.1-cdx-debian-bookworm-image.json"),
    CorpusFormat("spdx-trivy", "spdx-json (Trivy 0.76)",
                 "spdx-json/trivy-0.76.0-spdx-debian-bookworm-image.json"),
    CorpusFormat("spdx-syft", "spdx-json (Syft 1.18)",
                 "spdx-json/syft-1.18.1-spdx-debian-bookworm-image.json"),
)
"""Real documents of real images in the corpus: Trivy's and Syft's CycloneDX and SPDX of the
Debian bookworm image the demo's Trivy and Syft shapes follow, and Grype 0.96 on an image (the
corpus has no Grype output of the bookworm image)."""

_HEX64 = re.compile(rb"[0-9a-f]{64}")
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def distinct_copy(data: bytes, n: int) -> bytes:
    """Return `data` with every 64-digit hex id and UUID replaced by one derived from copy `n`
    (the same id always by the same replacement, so references within the document still agree).
    """
    salt = f"auditlib-bench-{n}".encode()

    def hex64(m: re.Match[bytes]) -> bytes:
        return hashlib.sha256(salt + m.group()).hexdigest().encode()

    def uuid(m: re.Match[bytes]) -> bytes:
        h = hashlib.sha256(salt + m.group()).hexdigest()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}".encode()

    return _UUID.sub(uuid, _HEX64.sub(hex64, data))


def write_corpus_copies(out: Path, fmt: CorpusFormat, copies: int) -> int:
    """Write `copies` distinct copies of `fmt`'s corpus document into `out`; return the bytes.

    Raises:
        OSError: if the corpus document cannot be read or a copy cannot be written.
    """
    data = (CORPUS / fmt.source).read_bytes()
    out.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(copies - 1)))
    total = 0
    for n in range(copies):
        copy = distinct_copy(data, n)
        (out / f"{n:0{width}d}.json").write_bytes(copy)
        total += len(copy)
    return total
