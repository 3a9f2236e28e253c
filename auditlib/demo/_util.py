"""Helpers for the synthetic fleet: stable ids, digests, and the time formats the tools write."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from datetime import UTC, datetime, time
from pathlib import Path

from auditlib.files import atomic_path


def hexid(*parts: object, n: int = 16) -> str:
    """Return `n` hex digits (even, at most 128) derived from `parts`; same parts, same id."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return hashlib.blake2b(text, digest_size=n // 2).hexdigest()


def sha256_of(*parts: object) -> str:
    """Return a `sha256:`-prefixed digest derived from `parts`."""
    return "sha256:" + hexid(*parts, n=64)


def rng_for(seed: int, *parts: object) -> random.Random:
    """Return a random generator seeded from `seed` and `parts` (independent of PYTHONHASHSEED)."""
    return random.Random(hexid(seed, *parts, n=32))


def go_time(dt: datetime) -> str:
    """Return `dt` as Go writes RFC 3339 with nanoseconds (`2024-05-01T10:11:12.123456789Z`)."""
    dt = dt.astimezone(UTC)
    frac = f"{dt.microsecond:06d}{dt.microsecond % 997:03d}".rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def nvd_time(dt: datetime) -> str:
    """Return `dt` as the vulnerability databases write it (`2023-05-12T15:15:09.163Z`)."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{dt.microsecond // 1000:03d}Z"


def uuid7(when: datetime, rng: random.Random) -> str:
    """Return a UUID version 7 string for time `when`, its random bits taken from `rng`."""
    ms = int(when.timestamp() * 1000) & ((1 << 48) - 1)
    value = (
        (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | rng.getrandbits(62)
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def write_pieces(path: Path, pieces: Iterable[bytes]) -> int:
    """Write `pieces` to `path` through a hidden temporary file (`auditlib.load` never reads it);
    return the size written. Not fsynced: a synthetic fleet is made again, not recovered.

    Raises:
        OSError: if it cannot be written.
    """
    with atomic_path(path, sync=False) as tmp, tmp.open("wb") as f:
        f.writelines(pieces)
        size = f.tell()
    return size


def fleet_now(now: datetime | None) -> datetime:
    """Return a fleet's present: `now` (a naive time taken as UTC), else midnight UTC today, so
    that runs on the same day give the same bytes."""
    if now is None:
        return datetime.combine(datetime.now(UTC).date(), time(), tzinfo=UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now
