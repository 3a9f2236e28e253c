"""The registry transport's lean path: kept-alive connections, and `requests` wherever it would
not go direct (a proxy, `.netrc`, session auth or hooks, another adapter)."""

from __future__ import annotations

import shutil
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from auditlib.sources._registry_http import (
    _WATCHDOG,
    RegistryError,
    RetryPolicy,
    Transport,
    WatchedAdapter,
    _Watch,
    new_session,
)
from auditlib.sources._registry_limits import RegistryLimits
from auditlib.sources.registry import RegistryClient
from tests.skip_or_fail import skip_or_fail
from tests.sources.fake_registry import FakeRegistry


class _KeepAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: list[int] = []  # noqa: RUF012 - one server per test, reset there
    close_after: int | None = None
    """Close each connection after this many answers (a server ending idle connections)."""

    def setup(self) -> None:
        super().setup()
        self.connections.append(1)
        self.answered = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = f'{{"path": "{self.path}"}}'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.answered += 1
        if self.close_after is not None and self.answered >= self.close_after:
            self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    _KeepAlive.connections = []
    _KeepAlive.close_after = None
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def through_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return the list that the URL of every request sent through `requests` is added to."""
    sent: list[str] = []
    real = requests.Session.request

    def counted(self: requests.Session, method: str, url: str, *a: Any, **k: Any) -> Any:
        sent.append(url)
        return real(self, method, url, *a, **k)

    monkeypatch.setattr(requests.Session, "request", counted)
    return sent


def _url(srv: ThreadingHTTPServer, path: str) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


def test_gets_share_one_kept_alive_connection(server: ThreadingHTTPServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    sent = through_requests(monkeypatch)
    transport = Transport(new_session(), limits=RegistryLimits())
    for i in range(5):
        reply = transport.fetch("GET", _url(server, f"/v2/x/manifests/{i}"), subject="t",
                                what="manifest")
        assert reply.status == 200 and reply.json() == {"path": f"/v2/x/manifests/{i}"}
        assert reply.headers["content-type"] == "application/json"
    assert len(_KeepAlive.connections) == 1 and sent == []


def test_connection_closed_by_the_server_is_replaced(server: ThreadingHTTPServer) -> None:
    _KeepAlive.close_after = 2
    transport = Transport(new_session(), limits=RegistryLimits())
    got = [transport.fetch("GET", _url(server, f"/v2/{i}"), subject="t", what="x").status
           for i in range(5)]
    assert got == [200] * 5 and len(_KeepAlive.connections) == 3


def test_proxy_netrc_auth_hooks_and_adapters_go_through_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC", "HTTPS_PROXY", "https_proxy",
                 "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    url = "https://reg.example.com/v2/a/manifests/1"
    session = new_session()
    lean = session.connections.route(url, True, session.adapter)
    assert lean is not None and lean.verify is True
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    bundled = new_session()  # the CA bundle requests would take from the environment
    route = bundled.connections.route(url, True, bundled.adapter)
    assert route is not None and route.verify == "/etc/ssl/certs/ca-certificates.crt"

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "blobs.example.net")
    proxied = new_session()
    assert proxied.connections.route(url, True, proxied.adapter) is None
    direct = "https://blobs.example.net/x"
    assert proxied.connections.route(direct, True, proxied.adapter) is not None
    monkeypatch.delenv("HTTPS_PROXY")

    netrc = tmp_path / "netrc"
    netrc.write_text("machine reg.example.com login u password p\n")
    monkeypatch.setenv("NETRC", str(netrc))
    with_netrc = new_session()
    assert with_netrc.connections.route(url, True, with_netrc.adapter) is None
    monkeypatch.delenv("NETRC")

    authed = new_session()
    authed.auth = ("u", "p")
    assert authed.connections.route(url, True, authed.adapter) is None
    hooked = new_session()
    hooked.hooks["response"].append(lambda r, **k: r)
    assert hooked.connections.route(url, True, hooked.adapter) is None
    other = new_session()
    other.mount("https://", requests.adapters.HTTPAdapter())
    assert other.connections.route(url, True, other.adapter) is None
    verified = new_session()
    bundle = verified.connections.route(url, "/etc/ssl/certs", verified.adapter)
    assert bundle is not None and bundle.verify == "/etc/ssl/certs"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A kept-alive HTTPS server with a certificate of a test CA; yields its URL and the CA."""
    if shutil.which("openssl") is None:
        skip_or_fail("openssl is not installed (apt-get install openssl)")
    from tests.integration.engine import make_tls

    certs = make_tls(tmp_path_factory.mktemp("tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs / "server-cert.pem", certs / "server-key.pem")
    _KeepAlive.connections = []
    _KeepAlive.close_after = None
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{srv.server_address[1]}", certs / "ca.pem"
    srv.shutdown()
    srv.server_close()


def _plain_requests() -> requests.Session:
    session = requests.Session()
    session.mount("https://", WatchedAdapter())
    return session


def test_tls_verified_and_refused_as_through_requests(tls_server: tuple[str, Path]) -> None:
    url, ca = tls_server
    _KeepAlive.connections.clear()
    lean = Transport(new_session(), verify=str(ca))
    for i in range(3):
        assert lean.fetch("GET", f"{url}/v2/{i}", subject="t", what="x").json() == {
            "path": f"/v2/{i}"}
    assert len(_KeepAlive.connections) == 1
    errors = []
    for session in (new_session(), _plain_requests()):  # no CA given: the system's refuse it
        with pytest.raises(RegistryError) as e:
            Transport(session, retry=RetryPolicy(retries=0)).fetch(
                "GET", f"{url}/v2/", subject="reg", what="x")
        errors.append(str(e.value))
    assert errors[0] == errors[1]
    assert errors[0].startswith("reg: TLS error: certificate verify failed"), errors[0]


class _AnswersOnce(BaseHTTPRequestHandler):
    """Answers the first request of each connection, after `together` connections are open,
    and closes the connection at the next one without answering: as a server that closed its
    idle connections all at once, between the client's check and its request."""

    protocol_version = "HTTP/1.1"
    together: threading.Barrier
    connections: list[int] = []  # noqa: RUF012 - one server per test, reset there

    def setup(self) -> None:
        super().setup()
        self.connections.append(1)
        self.answered = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.answered:
            self.close_connection = True
            return
        if len(self.connections) <= self.together.parties:
            self.together.wait(timeout=10)
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.answered += 1

    def log_message(self, *args: object) -> None:
        pass


def test_several_idle_connections_closed_at_once_cost_one_new_connection() -> None:
    _AnswersOnce.together, _AnswersOnce.connections = threading.Barrier(3), []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _AnswersOnce)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01},
                     daemon=True).start()
    try:
        transport = Transport(new_session(), limits=RegistryLimits(),
                              retry=RetryPolicy(retries=0))
        got: list[int] = []
        threads = [threading.Thread(target=lambda i=i: got.append(transport.fetch(
            "GET", _url(srv, f"/v2/{i}"), subject="t", what="x").status)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        assert got == [200] * 3 and len(_AnswersOnce.connections) == 3  # 3 idle now
        # the first idle one is found closed: the next try is a new connection, not another
        # idle one (closed too), and nothing but a reply comes out
        reply = transport.fetch("GET", _url(srv, "/v2/again"), subject="t", what="x")
        assert reply.status == 200 and len(_AnswersOnce.connections) == 4
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_cancelled_watch_lets_go_of_its_connection() -> None:
    conn = object()
    watches = [_Watch(time.monotonic() + 120) for _ in range(200)]
    for w in watches:
        w.attach(conn)
    watches[0].cancel()
    assert watches[0]._conn is None and watches[1]._conn is conn
    for w in watches[1:]:
        w.cancel()
    # cancelled watches that are most of the queue are dropped, not kept for their 120 s: at
    # most 64 of the 200 are left
    with _WATCHDOG._wake:
        assert len([e for e in _WATCHDOG._queue if e[2] in watches]) <= 64


def test_digest_locks_are_dropped_after_their_read() -> None:
    with FakeRegistry() as fake:
        digest, config = fake.image("team/app", "1.0")
        client = RegistryClient(fake.host)
        for _ in range(2):
            assert client.manifest("team/app", digest).digest == digest
            assert isinstance(client.config("team/app", config), dict)
        assert client._locks == {}
        assert len([r for r in fake.requests if config in r.path]) == 1  # cached, read once
