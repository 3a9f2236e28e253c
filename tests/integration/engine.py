"""A real Docker Engine for the integration tests, started by the tests themselves (design.md §9).

`start_engine` runs Debian's `dockerd` as root with its own data root, exec root and socket, no
iptables and no bridge, on the vfs storage driver; nothing can be pulled on these machines, so the
base images are made here: `busybox_image` imports a rootfs of Debian's `busybox-static`, and
`debian_image` imports a real Debian rootfs made with `debootstrap` (cached between runs).

Where the engine cannot be started (no root, no dockerd) the tests skip with one line saying why;
under CI=true they fail instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker

from tests.skip_or_fail import skip_or_fail

CACHE = Path(os.environ.get("AUDITLIB_TEST_CACHE", Path.home() / ".cache" / "auditlib-tests"))


@dataclass
class Engine:
    """A running engine the tests own."""

    url: str
    """Its DOCKER_HOST value (`unix:///tmp/.../docker.sock`)."""
    client: docker.DockerClient
    root: Path
    process: subprocess.Popen[bytes]
    tls_url: str | None = None
    """`tcp://127.0.0.1:PORT`: the same engine over TCP with mutual TLS (`tls=True`)."""
    cert_path: Path | None = None
    """The DOCKER_CERT_PATH of a client allowed on `tls_url` (ca.pem, cert.pem, key.pem)."""

    def env(self) -> dict[str, str]:
        """Return os.environ with DOCKER_HOST pointing at this engine."""
        return {**os.environ, "DOCKER_HOST": self.url}

    def docker(self, *args: str, input: bytes | None = None) -> str:
        """Run the docker CLI against this engine; return its stdout.

        Raises:
            subprocess.CalledProcessError: with stderr, when the command fails.
        """
        done = subprocess.run(
            ["docker", *args], env=self.env(), input=input, capture_output=True, check=False,
            timeout=600,
        )
        if done.returncode:
            raise subprocess.CalledProcessError(
                done.returncode, done.args, done.stdout, done.stderr
            )
        return done.stdout.decode()


def make_tls(folder: Path) -> Path:
    """Make a test CA, a server certificate for 127.0.0.1 and a client certificate with openssl.

    Returns:
        `folder`, holding the server's `server-cert.pem`/`server-key.pem` and the client's
        `ca.pem`, `cert.pem`, `key.pem` (the layout DOCKER_CERT_PATH expects).
    """
    folder.mkdir(parents=True, exist_ok=True)

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    (folder / "server.ext").write_text(
        "subjectAltName = IP:127.0.0.1,DNS:localhost\nextendedKeyUsage = serverAuth\n"
    )
    (folder / "client.ext").write_text("extendedKeyUsage = clientAuth\n")
    ssl("genrsa", "-out", "ca-key.pem", "2048")
    ssl("req", "-new", "-x509", "-days", "2", "-key", "ca-key.pem", "-subj", "/CN=auditlib-test-ca",
        "-out", "ca.pem")
    for name, key, cn, ext in (
        ("server-cert.pem", "server-key.pem", "127.0.0.1", "server.ext"),
        ("cert.pem", "key.pem", "auditlib-test-client", "client.ext"),
    ):
        ssl("genrsa", "-out", key, "2048")
        ssl("req", "-new", "-key", key, "-subj", f"/CN={cn}", "-out", "req.csr")
        ssl("x509", "-req", "-days", "2", "-in", "req.csr", "-CA", "ca.pem", "-CAkey",
            "ca-key.pem", "-CAcreateserial", "-out", name, "-extfile", ext)
    return folder


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_engine(root: Path, *, tls: bool = False, wrap: Sequence[str] = ()) -> Engine:
    """Start dockerd with everything under `root`; return it once its API answers.

    With `tls`, it also listens on a TCP port of 127.0.0.1 with mutual TLS (certificates made
    by `make_tls`). `wrap` goes before `dockerd` on its command line (`nsenter --net=...`: the
    fleet benchmark runs each engine in a network namespace of its own).

    Raises:
        RuntimeError: with the end of dockerd's log when it does not come up in 60 s.
    """
    for sub in ("data", "exec"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    sock = root / "docker.sock"
    log = (root / "dockerd.log").open("wb")
    argv = [
        "dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
        "-H", f"unix://{sock}", "--pidfile", str(root / "dockerd.pid"),
        "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
    ]
    tls_url = cert_path = None
    if tls:
        cert_path = make_tls(root / "certs")
        tls_url = f"tcp://127.0.0.1:{_free_port()}"
        argv += [
            "-H", tls_url, "--tlsverify", "--tlscacert", str(cert_path / "ca.pem"),
            "--tlscert", str(cert_path / "server-cert.pem"),
            "--tlskey", str(cert_path / "server-key.pem"),
        ]
    proc = subprocess.Popen([*wrap, *argv], stdout=log, stderr=subprocess.STDOUT)
    url = f"unix://{sock}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if sock.exists():
            try:
                client = docker.DockerClient(base_url=url, timeout=120)
                client.ping()
                return Engine(url, client, root, proc, tls_url, cert_path)
            except docker.errors.DockerException:
                pass
        time.sleep(0.2)
    proc.terminate()
    tail = (root / "dockerd.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"dockerd did not start under {root}:\n{tail}")


def stop_engine(engine: Engine) -> None:
    """Stop the engine's containers and the daemon; remove its folders."""
    with contextlib.suppress(Exception):
        for c in engine.client.containers.list(all=True):
            c.remove(force=True)
    engine.client.close()
    engine.process.terminate()
    try:
        engine.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        engine.process.kill()
        engine.process.wait()
    subprocess.run(["umount", "-R", str(engine.root / "exec")], capture_output=True, check=False)
    shutil.rmtree(engine.root, ignore_errors=True)


def engine_or_skip() -> Iterator[Engine]:
    """Yield a started engine, or skip (fail under CI) with the reason it cannot be had."""
    if os.geteuid() != 0:
        skip_or_fail("the Docker Engine tests need root to start dockerd (run `make test` as root)")
    if not shutil.which("dockerd") or not shutil.which("docker"):
        skip_or_fail("dockerd not installed (Debian docker.io; `make test` installs it as root)")
    root = Path(tempfile.mkdtemp(prefix="auditlib-dockerd-", dir="/tmp"))
    try:
        engine = start_engine(root, tls=shutil.which("openssl") is not None)
    except RuntimeError as e:
        skip_or_fail(str(e))
        raise
    try:
        yield engine
    finally:
        stop_engine(engine)


# -- base images, made without pulling ------------------------------------------------------------

_BUSYBOX_APPLETS = (
    "sh", "ls", "cat", "echo", "sleep", "id", "mkdir", "touch", "rm", "cp", "mv", "env", "true",
    "false", "wget", "grep", "sed", "chmod", "chown", "adduser", "addgroup", "tee", "test",
)


def busybox_rootfs() -> bytes:
    """Return a tar of a minimal root filesystem: Debian's static busybox and its applets."""
    busybox = shutil.which("busybox")
    if busybox is None:
        skip_or_fail("busybox not installed (Debian busybox-static; `make test` installs it)")
        raise AssertionError  # unreachable
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "tmp", "var", "root", "home", "usr", "usr/bin"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in _BUSYBOX_APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        for name, text in {
            "etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home:/bin/sh\n",
            "etc/group": "root:x:0:\napp:x:1000:\n",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def import_image(engine: Engine, rootfs: bytes, ref: str, *changes: str) -> str:
    """`docker import` a rootfs tar as `ref`; return the image id."""
    args = ["import"]
    for c in changes:
        args += ["--change", c]
    return engine.docker(*args, "-", ref, input=rootfs).strip()


def apt_mirror() -> str:
    """Return the Debian mirror this machine's apt sources use (deb822 or one-line format)."""
    texts = [
        p.read_text(errors="replace")
        for p in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
        if p.is_file() and p.suffix in ("", ".list", ".sources")
    ]
    for text in texts:
        for m in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(\S+)", text, re.M):
            uri = m.group(1)
            if "debian" in uri and "security" not in uri:
                return uri
    return "http://deb.debian.org/debian"


def debian_rootfs() -> Path:
    """Return a tar of a real Debian bookworm rootfs made with debootstrap (cached in CACHE).

    Skips (fails under CI) when debootstrap is missing or fails.
    """
    out = CACHE / "debian-bookworm-minbase.tar"
    if out.exists():
        return out
    if not shutil.which("debootstrap"):
        skip_or_fail("debootstrap not installed (Debian debootstrap; `make test` installs it)")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="auditlib-debootstrap-", dir="/tmp") as tmp:
        target = Path(tmp) / "root"
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(target), apt_mirror()],
            capture_output=True, check=False, timeout=900,
        )
        if done.returncode:
            skip_or_fail(f"debootstrap failed: {done.stderr.decode(errors='replace')[-500:]}")
        partial = out.with_suffix(".part")
        subprocess.run(
            ["tar", "-C", str(target), "--numeric-owner", "-cf", str(partial), "."], check=True
        )
        partial.rename(out)
    return out


def build(engine: Engine, context: Path, tag: str, dockerfile: str) -> str:
    """Write `dockerfile` into `context`, `docker build` it as `tag`; return the image id."""
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    engine.docker("build", "-q", "-t", tag, str(context))
    return str(engine.client.images.get(tag).id)


def sha256_file(path: Path) -> str:
    """Return `sha256:` and the hex digest of a file."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()
