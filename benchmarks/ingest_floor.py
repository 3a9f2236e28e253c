"""The floor under a load (issue 13): what reading, hashing and the leanest typed decode cost
against `orjson.loads`, before any row is made (`ingest.py --sections floor`).

A load must read each file, hash it (its sha256 is the document's identity in the store) and
decode it. Here each is timed alone, in this process, on CPU time (best of 3, the cyclic
collector paused): the read; the read and sha256; the read and a `msgspec` decode into the
leanest typed model that still gives a row its key (`MINIMAL`: three to five fields a record,
where auditlib's models read every field a table has). Hashing can run on another core while
the decode runs (`auditlib.load` hashes on other threads), so the wall-time floor is the read
plus the longer of decode and hash; the CPU floor is their sum.

What is left of the goal (at most `GOAL_RATIO` of orjson's time) once the floor is paid, divided
by the records the documents hold, is the time a record's rows and tables may take: printed in
microseconds ("none" when the floor alone is past the goal), beside what the least row takes in
Python: each record's key fields appended to column lists, nothing checked or converted.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import orjson


class _TrivyVuln(msgspec.Struct):
    VulnerabilityID: str = ""
    PkgName: str = ""
    InstalledVersion: str = ""
    Severity: str = ""
    FixedVersion: str | None = None


class _TrivyPackage(msgspec.Struct):
    Name: str = ""
    Version: str = ""


class _TrivyResult(msgspec.Struct):
    Target: str = ""
    Vulnerabilities: list[_TrivyVuln] = []
    Packages: list[_TrivyPackage] = []


class _Trivy(msgspec.Struct):
    Results: list[_TrivyResult] = []

    def each(self) -> list[msgspec.Struct]:
        return [x for r in self.Results for x in (*r.Vulnerabilities, *r.Packages)]


class _SyftArtifact(msgspec.Struct):
    name: str = ""
    version: str = ""
    type: str = ""


class _Syft(msgspec.Struct):
    artifacts: list[_SyftArtifact] = []

    def each(self) -> list[msgspec.Struct]:
        return list(self.artifacts)


class _GrypeVuln(msgspec.Struct):
    id: str = ""
    severity: str | None = None


class _GrypeArtifact(msgspec.Struct):
    name: str = ""
    version: str = ""
    type: str = ""


class _GrypeMatch(msgspec.Struct):
    vulnerability: _GrypeVuln
    artifact: _GrypeArtifact


class _Grype(msgspec.Struct):
    matches: list[_GrypeMatch] = []

    def each(self) -> list[msgspec.Struct]:
        return list(self.matches)


class _CdxComponent(msgspec.Struct):
    name: str = ""
    version: str | None = None
    purl: str | None = None
    type: str = ""


class _Cdx(msgspec.Struct):
    components: list[_CdxComponent] = []

    def each(self) -> list[msgspec.Struct]:
        return list(self.components)


class _SpdxPackage(msgspec.Struct):
    SPDXID: str = ""
    name: str = ""
    versionInfo: str | None = None


class _Spdx(msgspec.Struct):
    packages: list[_SpdxPackage] = []

    def each(self) -> list[msgspec.Struct]:
        return list(self.packages)


MINIMAL: dict[str, type[msgspec.Struct]] = {
    "trivy": _Trivy, "syft": _Syft, "grype": _Grype, "cyclonedx": _Cdx, "spdx": _Spdx}
"""The leanest typed model per format (by the start of its folder's name): a record's key
fields only (Trivy: a vulnerability's id, package, version, severity and fixed version, a
package's name and version; Syft, Grype, CycloneDX and SPDX: name, version and type or id)."""


def best_cpu(fn: Callable[[], object]) -> float:
    """Return the least CPU seconds of three runs of `fn`, the cyclic collector paused."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        times = []
        for _ in range(3):
            start = time.process_time()
            fn()
            times.append(time.process_time() - start)
        return min(times)
    finally:
        if enabled:
            gc.enable()


def floor_line(label: str, paths: list[Path], goal: float) -> str:
    """Return the floor's line for one format's documents `paths` (see the module's text).

    Raises:
        KeyError: if no `MINIMAL` model matches the folder's name.
    """
    folder = paths[0].parent.name
    model = next((m for k, m in MINIMAL.items() if folder.startswith(k)), None)
    if model is None:
        raise KeyError(f"{folder}: no leanest model for this folder (one of {sorted(MINIMAL)})")
    decoder = msgspec.json.Decoder(model)

    def read() -> None:
        for p in paths:
            p.read_bytes()

    def hashed() -> None:
        for p in paths:
            hashlib.sha256(p.read_bytes()).digest()

    def decoded() -> None:
        for p in paths:
            decoder.decode(p.read_bytes())

    def orjson_each() -> None:
        for p in paths:
            orjson.loads(p.read_bytes())

    docs = [decoder.decode(p.read_bytes()).each() for p in paths]  # type: ignore[attr-defined]
    records = sum(len(d) for d in docs)
    width = max((len(rec.__struct_fields__) for d in docs for rec in d), default=0)

    def rows() -> None:  # the least a row can be: each record's fields appended to columns
        for doc in docs:
            columns: list[list[object]] = [[] for _ in range(width)]
            for rec in doc:
                for column, value in zip(columns, msgspec.structs.astuple(rec), strict=False):
                    column.append(value)

    base = best_cpu(orjson_each)
    r, rh, rd = best_cpu(read), best_cpu(hashed), best_cpu(decoded)
    row_us = best_cpu(rows) / records * 1e6 if records else float("nan")
    hash_s, decode_s = max(rh - r, 0.0), max(rd - r, 0.0)
    wall = r + max(hash_s, decode_s)
    cpu = r + hash_s + decode_s
    left = goal * base - wall
    per_record = f"{left / records * 1e6:.2f}" if left > 0 and records else "none"
    return (f"{label:<32}{len(paths):>6}{records:>9}{base:>10.3f}{r / base:>8.2f}x"
            f"{hash_s / base:>8.2f}x{decode_s / base:>8.2f}x{wall / base:>8.2f}x{cpu / base:>8.2f}x"
            f"{per_record:>12}{row_us:>9.2f}")


HEADER = (f"{'format':<32}{'docs':>6}{'records':>9}{'orjson s':>10}{'read':>9}{'sha256':>9}"
          f"{'decode':>9}{'wall':>9}{'cpu':>9}{'us/record':>12}{'row us':>9}")
"""The columns of `floor_line`: ratios to orjson (read, hash, leanest decode, and the floors),
the microseconds per record left at the goal, and the microseconds the least row takes (a
record's key fields appended to column lists, in Python)."""
