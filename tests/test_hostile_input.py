"""Hostile input, as an adversarial run made it, against `auditlib.load`, `collect` and the
commands that run them.

Each attack runs in a fresh interpreter under a time bound and, where the attack was about memory
(links to devices, the decompression bomb, big documents), under an address-space bound set with
`resource.setrlimit(RLIMIT_AS, ...)`. Each must end with one error naming the file (and the
member) and the limit, while a good file in the same run is still read; `auditlib ingest` and
`auditlib collect --archive` exit 2 with the messages on standard error.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import struct
import subprocess
import sys
import tarfile
import textwrap
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from auditlib.store import read_latest
from tests.samples import TRIVY

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="FIFOs, /dev and RLIMIT_AS as on Linux"
)

REPO = Path(__file__).resolve().parents[1]

AS_MB = 1024
"""The address space the attacks run in: the interpreter with pandas and pyarrow, and two reader
threads, needs about 0.5 GB of it; an attack that read what it was given (6 GB from /dev/zero,
10 GiB from the bomb) would fail under it."""

SECONDS = 10.0
"""Each attack ends well within this (every one takes under 2 s here); a hang is killed at
`TIMEOUT`."""

TIMEOUT = 60.0


def _child(code: str, *, as_mb: int | None = AS_MB) -> dict[str, Any]:
    """Run `code` in a fresh interpreter (with at most `as_mb` MB of address space) and return
    the JSON object it prints last."""
    limit = f"resource.setrlimit(resource.RLIMIT_AS, ({as_mb} << 20, {as_mb} << 20))\n"
    script = "import resource\n" + (limit if as_mb else "") + textwrap.dedent(code)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT,
            cwd=REPO, check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not end within {TIMEOUT} s")
    assert proc.returncode == 0, proc.stderr[-4000:]
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


_REPORT = """
result["seconds"] = time.monotonic() - start
# VmHWM, not ru_maxrss: ru_maxrss survives exec, so a child forked from a large pytest
# process would report the parent's size.
result["peak_rss_mb"] = next(int(line.split()[1]) for line in open("/proc/self/status")
                             if line.startswith("VmHWM:")) / 1024
print(json.dumps(result))
"""


def _load(paths: list[Path], setup: str = "") -> dict[str, Any]:
    code = f"""
    import json, time
    import auditlib
    from auditlib.ingest import documents
    {setup}
    start = time.monotonic()
    data = auditlib.load(*{[str(p) for p in paths]!r})
    df = data.load_errors
    result = {{
        "scans": data.scans["source"].astype(str).tolist(),
        "errors": dict(df.loc[df["level"] == "error", ["source", "reason"]].astype(str).values),
        "vulnerabilities": len(data.vulnerabilities),
    }}
    """
    return _child(textwrap.dedent(code) + _REPORT)


# --- documents ----------------------------------------------------------------------------------


def _good(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "good.json"
    path.write_text(json.dumps(TRIVY))
    return path


def _fifo(name: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        os.mkfifo(folder / name)
        return folder / name

    return make


def _link(name: str, target: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).symlink_to(target)
        return folder / name

    return make


def _link_to_fifo(folder: Path) -> Path:
    os.mkfifo(folder.parent / "pipe-elsewhere")
    (folder / "linked.json").symlink_to(folder.parent / "pipe-elsewhere")
    return folder / "linked.json"


def _socket(folder: Path) -> Path:
    path = folder / "report.json"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
    return path


def _big_document(folder: Path) -> Path:
    """1 GiB that claims to be a document (sparse: costs no disk)."""
    path = folder / "huge.json"
    with path.open("wb") as f:
        f.write(b'{"SchemaVersion": 2, "ArtifactName": "')
        f.truncate(1024**3)
    return path


def _deep(folder: Path) -> Path:
    path = folder / "deep.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    return path


def _token(folder: Path) -> Path:
    path = folder / "token.json"
    path.write_bytes(b"ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8\n")
    return path


_REGULAR_ONLY = "not a regular file; only regular files are read"
_BIG = (
    "1,073,741,824 bytes, more than auditlib reads of one document (limit "
    "MAX_DOCUMENT_BYTES=134217728); refused"
)
_DEEP = "arrays and objects nested deeper than 500 levels (limit MAX_NESTING_DEPTH=500); refused"

DOCUMENT_ATTACKS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "fifo-named-json": (_fifo("scan.json"), f"a FIFO (named pipe), {_REGULAR_ONLY}"),
    "fifo-without-a-name": (_fifo("scan-output"), f"a FIFO (named pipe), {_REGULAR_ONLY}"),
    "link-to-a-fifo": (_link_to_fifo, "a symbolic link to a FIFO (named pipe) ("),
    "socket": (_socket, f"a socket, {_REGULAR_ONLY}"),
    "link-to-dev-zero": (
        _link("zero.json", "/dev/zero"),
        f"a symbolic link to a character device (/dev/zero), {_REGULAR_ONLY}",
    ),
    "link-to-dev-urandom": (
        _link("random.json", "/dev/urandom"),
        f"a symbolic link to a character device (/dev/urandom), {_REGULAR_ONLY}",
    ),
    "big-document": (_big_document, _BIG),
    "deep-nesting": (_deep, _DEEP),
    "starts-with-a-token": (_token, "not valid JSON: JSON is malformed"),
}


@pytest.mark.parametrize("attack", list(DOCUMENT_ATTACKS))
def test_document_attack(tmp_path: Path, attack: str) -> None:
    make, message = DOCUMENT_ATTACKS[attack]
    good = _good(tmp_path / "in")
    bad = make(tmp_path / "in")
    result = _load([tmp_path / "in"])
    assert result["seconds"] < SECONDS
    assert list(result["errors"]) == [str(bad)]
    reason = result["errors"][str(bad)]
    assert reason.startswith(f"{bad}: {message}"), reason
    assert "ghp_" not in reason and "A1b2" not in reason
    assert result["scans"] == [str(good)]  # the rest of the run is read


def test_a_fifo_put_in_place_after_find_files_looked_is_never_waited_on(tmp_path: Path) -> None:
    """Reading checks again what it opened (without waiting on it): a file replaced by a FIFO
    between `find_files` and the read is refused."""
    fifo = tmp_path / "report"
    os.mkfifo(fifo)
    code = f"""
    import json, time
    from pathlib import Path
    from auditlib.errors import NotJsonError
    from auditlib.ingest import documents
    start = time.monotonic()
    result = {{"sniff": documents._looks_like_json(Path({str(fifo)!r}))}}
    try:
        documents.read_file(Path({str(fifo)!r}))
    except NotJsonError as e:
        result["read"] = str(e)
    """
    result = _child(textwrap.dedent(code) + _REPORT)
    assert result["sniff"] is None
    assert result["read"] == f"{fifo}: a FIFO (named pipe), {_REGULAR_ONLY}"


def test_a_huge_single_string_is_refused_and_memory_follows_the_limit(tmp_path: Path) -> None:
    """With the limit lowered to 16 MiB: a 40 MiB string is refused unread; a document with a
    string just under the limit is read whole, at a cost proportional to the limit (in 1 GB of
    address space)."""
    folder = tmp_path / "in"
    good = _good(folder)
    doc = json.loads(json.dumps(TRIVY))
    doc["Results"][0]["Vulnerabilities"][0]["Description"] = "A" * (40 << 20)
    huge = folder / "huge-string.json"
    huge.write_text(json.dumps(doc))
    doc["Results"][0]["Vulnerabilities"][0]["Description"] = "A" * ((16 << 20) - 1000)
    doc["Metadata"]["ImageID"] = "sha256:" + "2" * 64
    under = folder / "string-under-the-limit.json"
    under.write_text(json.dumps(doc))
    result = _load([folder], "documents.MAX_DOCUMENT_BYTES = 16 << 20")
    assert result["seconds"] < SECONDS
    assert result["errors"] == {
        str(huge): f"{huge}: {huge.stat().st_size:,} bytes, more than auditlib reads of one "
        "document (limit MAX_DOCUMENT_BYTES=16777216); refused"
    }
    assert result["scans"] == [str(good), str(under)]
    assert result["peak_rss_mb"] < 640  # 0.28 GB here (0.44 GB on a busy machine), in 1 GB


def test_a_document_of_many_records_at_the_limit_is_read_in_memory_bounded_by_the_limit(
    tmp_path: Path,
) -> None:
    """The worst shape per byte (vulnerabilities of three short fields) just under a limit
    lowered to 8 MiB: read whole in 1 GB of address space, peak RSS about 25 times the limit
    over the interpreter's (at the default 128 MiB: 2.5 GB)."""
    head = json.dumps(TRIVY).encode()
    head = head[: head.index(b'"Vulnerabilities": [') + len(b'"Vulnerabilities": [')]
    vuln = b'{"VulnerabilityID": "CVE-2024-%07d", "PkgName": "musl", "Severity": "HIGH"}'
    count = ((8 << 20) - len(head) - 10) // len(vuln % 0 + b",")
    body = b",".join(vuln % i for i in range(count))
    path = tmp_path / "many.json"
    path.write_bytes(head + body + b"]}]}")
    assert (8 << 20) - 2000 < path.stat().st_size <= 8 << 20
    result = _load([path], "documents.MAX_DOCUMENT_BYTES = 8 << 20")
    assert result["errors"] == {}
    assert result["vulnerabilities"] > 90_000
    assert result["peak_rss_mb"] < 640  # 0.35 GB here: 0.15 GB for the interpreter + 25 x 8 MiB


def test_auditlib_ingest_exits_2_naming_each_attack_and_stores_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _good(folder)
    bad = {make(folder): message for make, message in DOCUMENT_ATTACKS.values()}
    store = tmp_path / "store"
    code = f"""
    import sys
    from auditlib.cli.main import main
    sys.argv = ["auditlib", "ingest", {str(folder)!r}, "--store", {str(store)!r}, "--quiet"]
    main()
    """
    script = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({AS_MB} << 20,) * 2)\n"
    proc = subprocess.run(
        [sys.executable, "-c", script + textwrap.dedent(code)], capture_output=True, text=True,
        timeout=TIMEOUT, cwd=REPO, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    for path, message in bad.items():
        assert any(line.startswith(f"error: {path}: {message}") for line in lines), lines
    assert "ghp_" not in proc.stderr
    assert read_latest(store).vulnerabilities["vuln_id"].tolist() == ["CVE-2024-0001"]


# --- image archives -----------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _config(**extra: Any) -> bytes:
    return json.dumps({
        "architecture": "amd64", "os": "linux", "config": {"User": "app"},
        "rootfs": {"type": "layers", "diff_ids": []}, **extra,
    }).encode()


def _docker_save(path: Path, config: bytes, entries: int = 1, name: str | None = None) -> Path:
    """A `docker save` tar whose config is named by `entries` entries of manifest.json."""
    name = name or f"blobs/sha256/{_sha(config)}"
    manifest = [{"Config": name, "RepoTags": [f"app:{i}"], "Layers": []} for i in range(entries)]
    return _tar(path, {"manifest.json": json.dumps(manifest).encode(), name: config})


def _good_archive(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return _docker_save(folder / "good.tar", _config(created="2024-05-01T10:00:00Z"))


def _desc(media: str, blob: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media, "digest": f"sha256:{_sha(blob)}", "size": len(blob), **extra}


OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _nested_layout(path: Path, levels: int, fanout: int = 30) -> Path:
    """An OCI layout tar of `levels` nested indexes, each naming the next `fanout` times."""
    config = _config()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [],
        "config": _desc("application/vnd.oci.image.config.v1+json", config),
    }).encode()
    blobs = [config, manifest]
    child = _desc(OCI_MANIFEST, manifest)
    for _ in range(levels):
        index = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child] * fanout,
        }).encode()
        blobs.append(index)
        child = _desc(OCI_INDEX, index)
    top = dict(child, annotations={"io.containerd.image.name": "docker.io/library/app:1"})
    members = {
        "oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
        "index.json": json.dumps({"schemaVersion": 2, "manifests": [top]}).encode(),
    }
    members.update({f"blobs/sha256/{_sha(b)}": b for b in blobs})
    return _tar(path, members)


def _gzip_bomb(path: Path, size: int = 10 * 1024**3) -> Path:
    """A tar.gz of one layer of `size` zero bytes in one gzip member, 10 MB for 10 GiB: the
    deflate segment of 64 MiB of zeros after a full flush is the same every time, so it is made
    once and written again and again."""
    info = tarfile.TarInfo("layer.tar")
    info.size = size
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)
    chunk = 64 * 1024**2
    segment = deflate.compress(bytes(chunk)) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.compress(bytes(1024)) + deflate.flush()
    with path.open("wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + start)
        for _ in range(size // chunk):
            f.write(segment)
        # The CRC is never reached: the bomb is refused long before its end.
        f.write(end + struct.pack("<II", 0, (len(header) + size + 1024) & 0xFFFFFFFF))
    return path


def _huge_member(path: Path) -> Path:
    """A tar.gz whose only header claims a 17 GiB member (the data is never there)."""
    info = tarfile.TarInfo("layer.tar")
    info.size = 17 * 1024**3
    path.write_bytes(zlib.compress(info.tobuf(format=tarfile.GNU_FORMAT), wbits=31))
    return path


def _fifo_in_layout(path: Path) -> Path:
    path.mkdir()
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    os.mkfifo(path / "index.json")
    return path


def _many_entries(path: Path) -> Path:
    config = _config()
    manifest = b"[" + b",".join([b'{"Config":"c.json"}'] * 600_000) + b"]"
    return _tar(path, {"manifest.json": manifest, "c.json": config})


def _too_large_config(path: Path) -> Path:
    return _docker_save(path, _config(padding="A" * (65 << 20)), entries=20)


ARCHIVE_ATTACKS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "fifo-as-archive": (
        lambda p: (os.mkfifo(p), p)[1],
        "a FIFO (named pipe), not a regular file; only regular files and folders are read",
    ),
    "link-to-dev-zero": (
        lambda p: (p.symlink_to("/dev/zero"), p)[1],
        "a symbolic link to a character device (/dev/zero), not a regular file; only regular "
        "files and folders are read",
    ),
    "fifo-in-oci-layout": (
        _fifo_in_layout,
        "index.json: a FIFO (named pipe), not a regular file; refusing it as a JSON member",
    ),
    "gzip-bomb": (
        _gzip_bomb,
        "layer.tar: the archive expands more than 100 times when decompressed (",
    ),
    "member-too-large-once-decompressed": (
        _huge_member,
        "layer.tar: 18253611008 bytes once decompressed (limit max_member_bytes=17179869184); "
        "refusing the archive",
    ),
    "nested-indexes-too-deep": (
        lambda p: _nested_layout(p, levels=10),
        "indexes nested deeper than 8 (limit max_index_depth=8); skipped",
    ),
    "manifest-with-600k-entries": (
        _many_entries,
        "manifest.json: 600000 entries (limit max_entries=100000); refusing the archive",
    ),
    "too-large-config-named-20-times": (
        _too_large_config,
        "absurd size for a JSON member: ",
    ),
}
"""Each attack (made at the path given) and what the one reason it gives (after the archive's
path) must say."""

_LIMIT_OF = {
    "gzip-bomb": "limit max_compression_ratio=100), as a decompression bomb does; refusing the "
    "archive",
    "too-large-config-named-20-times": "(limit max_json_bytes=67108864) (the Config of "
    "manifest.json[0] and 19 more entries)",
}


def _collect(archives: list[Path], *, as_mb: int | None = AS_MB) -> dict[str, Any]:
    code = f"""
    import json, time
    from auditlib.ingest.collect import CollectRequest, collect
    start = time.monotonic()
    data = collect(CollectRequest(archives={[str(a) for a in archives]!r}))
    result = {{
        "errors": {{f.path: f.error for f in data.files if f.error}},
        "images": data.images["image_ref"].astype(str).tolist(),
        "tags": len(data.image_tags),
    }}
    """
    return _child(textwrap.dedent(code) + _REPORT, as_mb=as_mb)


@pytest.mark.parametrize("attack", list(ARCHIVE_ATTACKS))
def test_archive_attack(tmp_path: Path, attack: str) -> None:
    make, message = ARCHIVE_ATTACKS[attack]
    good = _good_archive(tmp_path / "in")
    bad = make(tmp_path / "in" / f"{attack}.tar")
    # A large config is decoded by orjson, which reserves address space in proportion: only
    # its peak RSS is bounded (below).
    result = _collect([bad, good], as_mb=None if "config" in attack else AS_MB)
    assert result["seconds"] < SECONDS
    assert list(result["errors"]) == [str(bad)]
    reason = result["errors"][str(bad)]
    assert reason.startswith(f"{bad}: ") and message in reason, reason
    assert _LIMIT_OF.get(attack, "") in reason
    assert result["images"] == ["docker.io/library/app:0"]  # the good archive is read
    assert result["peak_rss_mb"] < 600  # about 0.3 GB; read once per entry it took 1.4 GB


def test_a_config_named_by_many_entries_is_read_once(tmp_path: Path) -> None:
    """60 MB of config named by 20 entries: one image with 20 tags, read in well under a
    second and about 0.3 GB (read 20 times, as before, it took 9 s and 1.4 GB)."""
    archive = _docker_save(tmp_path / "big.tar", _config(padding="A" * 60_000_000), entries=20)
    result = _collect([archive], as_mb=None)
    assert result["errors"] == {}
    assert len(result["images"]) == 1 and result["tags"] == 20
    assert result["seconds"] < SECONDS
    assert result["peak_rss_mb"] < 600


def test_nested_indexes_are_each_visited_once(tmp_path: Path) -> None:
    """6 levels of indexes each naming the next 30 times (30**6 paths): read in well under a
    second (it ran past 60 s, visiting every path)."""
    archive = _nested_layout(tmp_path / "nested.tar", levels=6)
    assert archive.stat().st_size < 50_000
    result = _collect([archive])
    assert result["errors"] == {}
    assert result["images"] == ["docker.io/library/app:1"]
    assert result["seconds"] < SECONDS


def test_auditlib_collect_exits_2_naming_each_archive_and_stores_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    good = _good_archive(folder)
    bad = {
        name: make(folder / f"{name}.tar")
        for name, (make, _) in ARCHIVE_ATTACKS.items()
        if "config" not in name  # those two cost address space to decode, bounded above
    }
    store = tmp_path / "store"
    argv = ["auditlib", "collect", "--store", str(store), "--quiet"]
    for path in [*bad.values(), good]:
        argv += ["--archive", str(path)]
    script = (
        f"import resource, sys\nresource.setrlimit(resource.RLIMIT_AS, ({AS_MB} << 20,) * 2)\n"
        f"from auditlib.cli.main import main\nsys.argv = {argv!r}\nmain()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT,
        cwd=REPO, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    for name, path in bad.items():
        message = ARCHIVE_ATTACKS[name][1]
        assert any(
            line.startswith(f"error: {path}: ") and message in line for line in lines
        ), (name, lines)
    assert "collected 1 of 8 sources" in proc.stdout
    assert read_latest(store).images["image_ref"].tolist() == ["docker.io/library/app:0"]
