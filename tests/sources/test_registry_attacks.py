"""The registry collector against a hostile registry (`fake_registry`'s attacks).

Credentials: they go only to the origin they are for (a tag list's `next` page elsewhere is
refused, a redirect elsewhere gets no `Authorization`, plain HTTP to a host that is not loopback is
refused), and a registry that echoes them (the header, its base64, the decoded `user:password`)
cannot put them in a table, a snapshot or the command's output.

Limits: an endless body, a body that lies about its length, an answer dripped one byte at a time,
a registry that never answers, endless pagination and endless retries all end at a limit of
`RegistryLimits`, in a bounded time (and, for the endless body, a bounded memory, checked under
`RLIMIT_AS` in a subprocess), with a message naming the registry, the repository and the limit;
`auditlib collect` then exits 2.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests
from click.testing import CliRunner

from auditlib.cli import main
from auditlib.ingest.collect import to_audit_data
from auditlib.sources._registry_http import Budget
from auditlib.sources._registry_platform import Platform
from auditlib.sources.docker_credentials import Credentials
from auditlib.sources.record import Collection
from auditlib.sources.registry import (
    RegistryClient,
    RegistryError,
    RegistryLimits,
    RetryPolicy,
    collect_registry,
)
from auditlib.store import write_snapshot
from tests.sources.fake_registry import (
    FakeRegistry,
    Req,
    Resp,
    ScriptedAdapter,
    config_for,
    dumps,
    is_manifest,
    is_ping,
    is_tag_list,
    response,
)

USER, PASSWORD = "audit-bot", "S3cret-Pa55-7f3e9a"
B64 = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SECRETS = [PASSWORD, B64, B64.rstrip("=")]
"""Every form of the credential that must appear nowhere."""

LIMITS = RegistryLimits(
    connect_timeout=1.0, read_timeout=0.5, request_deadline=1.0, source_deadline=3.0,
    max_response_bytes=64 * 1024, max_manifest_bytes=64 * 1024, max_config_bytes=64 * 1024,
    max_error_bytes=4096, max_tag_pages=10, max_listed_tags=100,
)
"""Small limits, so that every attack ends fast."""
RETRY = RetryPolicy(retries=1, backoff=0.05)
CLI_LIMITS = [
    "--registry-limit", "read_timeout=0.5", "--registry-limit", "request_deadline=1",
    "--registry-limit", "source_deadline=2", "--registry-limit", "max_response_bytes=65536",
    "--registry-limit", "max_tag_pages=10",
]


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    with FakeRegistry() as f:
        yield f


@pytest.fixture
def elsewhere() -> Iterator[FakeRegistry]:
    """A second server, on another loopback address (127.0.0.2)."""
    with FakeRegistry("127.0.0.2") as f:
        yield f


def _docker_config(tmp_path: Path, host: str) -> Path:
    path = tmp_path / "docker-config.json"
    path.write_text(json.dumps({"auths": {host: {"auth": B64}}}))
    return path


def _store_bytes(store: Path) -> bytes:
    """Every file of the store as bytes, and the text of every Parquet table (its pages may be
    compressed)."""
    out = []
    for path in sorted(p for p in store.rglob("*") if p.is_file()):
        out.append(path.read_bytes())
        if path.suffix == ".parquet":
            out.append(pq.read_table(path).to_pandas().astype(str).to_csv().encode())
    return b"\n".join(out)


def _everywhere(cols: list[Collection], tmp_path: Path) -> bytes:
    """The collections' tables and errors, and a snapshot of them written to a store."""
    data = to_audit_data(cols)
    store = tmp_path / "store"
    write_snapshot(store, data, sources=[f.path for f in data.files])
    frames = [getattr(data, name).astype(str).to_csv() for name in data.__dataclass_fields__
              if hasattr(getattr(data, name), "to_csv")]
    text = "\n".join([*frames, repr(data.files), repr(cols), *(e for c in cols for e in c.errors)])
    return text.encode() + _store_bytes(store)


def _assert_no_secret(blob: bytes, *extra: str) -> None:
    for secret in [*SECRETS, *extra]:
        assert secret.encode() not in blob, f"{secret!r} leaked"


def _collect(fake: FakeRegistry, repos: list[str], tmp_path: Path, **kw: Any
             ) -> list[Collection]:
    kw.setdefault("limits", LIMITS)
    kw.setdefault("retry", RETRY)
    return collect_registry(repos, docker_config=_docker_config(tmp_path, fake.host), **kw)


# -- credentials echoed -----------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_echoed_credentials_masked_in_tables_snapshot_and_errors(
    fake: FakeRegistry, tmp_path: Path, auth: str
) -> None:
    issued: list[str] = []
    if auth == "basic":
        fake.basic(USER, PASSWORD)
    else:
        fake.bearer(user=USER, password=PASSWORD, issued=issued)
    fake.image("team/app", "1")
    fake.image("team/other", "1")
    fake.image("team/other", "2")
    fake.echo_auth(lambda r: is_tag_list(r) or r.path.endswith("/manifests/2"))
    cols = _collect(fake, [f"{fake.host}/team/app", f"{fake.host}/team/other:1",
                           f"{fake.host}/team/other:2"], tmp_path)
    app, other = cols
    scheme = "Basic" if auth == "basic" else "Bearer"
    assert app.errors == [
        f"{fake.host}/team/app: access denied (HTTP 403 DENIED: denied for {scheme} <redacted> "
        f"(credential <redacted>, user " + (f"{USER}:<redacted>))" if auth == "basic" else "))")
    ]
    assert len(other.records) == 1
    assert other.errors[0].startswith(f"{fake.host}/team/other:2: access denied (HTTP 403")
    assert [r.auth.split()[0] for r in fake.requests if r.auth] and any(
        B64 in r.auth or r.auth.startswith("Bearer") for r in fake.requests
    )  # the credential was sent, and echoed
    _assert_no_secret(_everywhere(cols, tmp_path), *issued)


def test_token_service_echo_masked(fake: FakeRegistry, tmp_path: Path) -> None:
    fake.bearer(user=USER, password=PASSWORD)
    fake.echo_auth(lambda r: r.path == "/token", status=400)
    fake.hooks.insert(0, fake.hooks.pop())  # before the token service answers
    fake.image("team/app", "1")
    cols = _collect(fake, [f"{fake.host}/team/app"], tmp_path)
    assert cols[0].errors == [
        f"{fake.host}/team/app: token service {fake.url}: no token (HTTP 400 DENIED: denied for "
        f"Basic <redacted> (credential <redacted>, user {USER}:<redacted>))"
    ]
    _assert_no_secret(_everywhere(cols, tmp_path))


def test_tag_names_that_are_not_tags_or_hold_the_credential_are_skipped(
    fake: FakeRegistry, tmp_path: Path
) -> None:
    fake.basic(USER, PASSWORD)
    fake.image("team/app", "ok")
    names = ["ok", "../../../v2/_catalog", "x" * 129, "", 7, f"x{PASSWORD}x"]
    fake.hooks.append(lambda r: Resp(200, dumps({"tags": names})) if is_tag_list(r) else None)
    cols = _collect(fake, [f"{fake.host}/team/app"], tmp_path)
    assert cols[0].errors == [
        f"{fake.host}/team/app: 5 listed name(s) skipped: not valid tags, or holding a credential"
    ]
    assert [r.path for r in fake.requests if is_manifest(r)] == ["/v2/team/app/manifests/ok"]
    _assert_no_secret(_everywhere(cols, tmp_path))


# -- credentials stay on their origin ---------------------------------------------------------


def test_next_page_on_another_address_is_refused(
    fake: FakeRegistry, elsewhere: FakeRegistry, tmp_path: Path
) -> None:
    fake.basic(USER, PASSWORD)
    fake.image("team/app", "a")
    fake.next_page_at(elsewhere.url)
    cols = _collect(fake, [f"{fake.host}/team/app"], tmp_path)
    assert cols[0].errors == [
        f"{fake.host}/team/app: the tag list's next page is on another origin ({elsewhere.url}, "
        f"not {fake.url}); refusing to follow it (credentials go only to the registry they are "
        "for)"
    ]
    assert elsewhere.requests == []
    assert not cols[0].records


def test_next_page_on_another_port_is_refused(fake: FakeRegistry, tmp_path: Path) -> None:
    with FakeRegistry() as other:
        fake.basic(USER, PASSWORD)
        fake.image("team/app", "a")
        fake.next_page_at(other.url)
        c = RegistryClient(fake.host, credentials=Credentials(USER, PASSWORD), limits=LIMITS)
        with pytest.raises(RegistryError, match="next page is on another origin"):
            c.tags("team/app")
        assert other.requests == []


def _scripted(pages: dict[str, requests.Response]) -> ScriptedAdapter:
    def answer(req: requests.PreparedRequest) -> requests.Response | BaseException:
        for prefix, resp in pages.items():
            if str(req.url).startswith(prefix):
                return resp
        return requests.ConnectionError("Connection refused")

    return ScriptedAdapter(answer)


def test_next_page_over_plain_http_is_refused() -> None:
    # https://reg.example.com links its next page to http://reg.example.com: another origin.
    adapter = _scripted({
        "https://reg.example.com/v2/team/app/tags": response(
            200, b'{"tags": ["1"]}', {"Link": '<http://reg.example.com/v2/team/app/tags/list?'
                                               'last=1>; rel="next"'}),
        "https://reg.example.com/v2/": response(200, b"{}"),
    })
    c = RegistryClient("reg.example.com", session=adapter.mount_on(),
                       credentials=Credentials(USER, PASSWORD))
    with pytest.raises(RegistryError, match="another origin \\(http://reg.example.com, not "
                                            "https://reg.example.com\\)"):
        c.tags("team/app")
    assert not [u for u in adapter.urls if u.startswith("http://")]


def test_redirect_elsewhere_gets_no_authorization(
    fake: FakeRegistry, elsewhere: FakeRegistry
) -> None:
    fake.basic(USER, PASSWORD)
    _, config = fake.image("team/app", "1")
    elsewhere.blobs[config] = fake.blobs[config]
    fake.hooks.insert(0, lambda r: Resp(307, b"", {"Location": f"{elsewhere.url}/v2/team/app/"
                                                   f"blobs/{config}"})
                      if r.path.endswith(config) and r.auth else None)
    c = RegistryClient(fake.host, credentials=Credentials(USER, PASSWORD), limits=LIMITS)
    assert c.config("team/app", config)["architecture"] == "amd64"
    assert [r.auth for r in elsewhere.requests] == [""]


def test_redirect_to_plain_http_elsewhere_needs_insecure() -> None:
    pages = {
        "https://reg.example.com/v2/team/app/blobs/": response(
            307, b"", {"Location": "http://cdn.example.com/blob"}),
        "https://reg.example.com/v2/": response(200, b"{}"),
        "http://cdn.example.com/blob": response(200, b"{}"),
    }
    digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    adapter = _scripted(pages)
    c = RegistryClient("reg.example.com", session=adapter.mount_on())
    with pytest.raises(RegistryError, match="refusing plain HTTP to http://cdn.example.com, "
                                            "which is not a loopback address"):
        c.blob("team/app", digest)
    assert not [u for u in adapter.urls if "cdn" in u]
    insecure = RegistryClient("reg.example.com", session=_scripted(pages).mount_on(),
                              insecure=True)
    assert insecure.blob("team/app", digest) == b"{}"


def test_token_realm_with_credentials_in_its_url_is_refused(fake: FakeRegistry) -> None:
    fake.hooks.append(lambda r: Resp(401, b"", {
        "WWW-Authenticate": f'Bearer realm="http://someone:pw@{fake.host}/token"'})
        if r.path.startswith("/v2/") else None)
    c = RegistryClient(fake.host, credentials=Credentials(USER, PASSWORD), limits=LIMITS)
    with pytest.raises(RegistryError, match="refusing a URL with credentials in it"):
        c.tags("team/app")
    assert not [r for r in fake.requests if r.path == "/token"]


# -- bytes ------------------------------------------------------------------------------------

WHERE: dict[str, Callable[[Req], bool]] = {
    "ping": is_ping,
    "tag list": is_tag_list,
    "manifest": is_manifest,
    "config": lambda r: "/blobs/" in r.path,
}
EXPECT = {
    "ping": f"answer to /v2/ is over the {65536:,}-byte limit (max_response_bytes)",
    "tag list": f"the tag list page is over the {65536:,}-byte limit (max_response_bytes)",
    "manifest": f"the manifest is over the {65536:,}-byte limit (max_manifest_bytes)",
    "config": f"the config blob is over the {65536:,}-byte limit (max_config_bytes)",
}


@pytest.mark.parametrize("how", ["chunked", "close", "huge", "lie"])
@pytest.mark.parametrize("where", list(WHERE))
def test_endless_body_stops_at_its_limit(fake: FakeRegistry, where: str, how: str) -> None:
    fake.image("team/app", "1")
    fake.endless(WHERE[where], how)
    c = RegistryClient(fake.host, scheme="http", limits=LIMITS, retry=RETRY)
    started = time.monotonic()
    if where == "ping" and how == "lie":  # its 64 bytes are read; what they say does not count
        assert c.image("team/app", "1", _platform()).config["architecture"] == "amd64"
        return
    with pytest.raises(RegistryError) as err:
        c.tags("team/app") if where == "tag list" else c.image(
            "team/app", "1", _platform())
    assert time.monotonic() - started < 3
    message = str(err.value)
    assert message.startswith(fake.host)
    if how == "huge":
        what = EXPECT[where].split(" is over")[0]
        assert f"{what} is 1,000,000,000,000 bytes, over the {65536:,}-byte limit" in message
    elif how == "lie":  # the 64 bytes it declared are read, and are not what they should be
        assert any(w in message for w in ("not JSON", "not a JSON", "digest mismatch"))
    else:
        assert EXPECT[where] in message


def _platform() -> Platform:
    return Platform.parse("linux/amd64")


def test_endless_error_body_is_cut(fake: FakeRegistry) -> None:
    fake.image("team/app", "1")
    fake.endless(is_manifest, "chunked", status=500)
    c = RegistryClient(fake.host, scheme="http", limits=LIMITS, retry=RETRY)
    with pytest.raises(RegistryError) as err:
        c.manifest("team/app", "1")
    assert str(err.value) == f"{fake.host}/team/app:1: registry error (HTTP 500) after 2 attempts"


CHILD = textwrap.dedent("""
    import json, resource, sys
    from auditlib.sources.registry import RegistryLimits, RetryPolicy, collect_registry

    def address_space():
        with open("/proc/self/status") as status:
            line = next(x for x in status if x.startswith("VmSize:"))
        return int(line.split()[1]) * 1024

    headroom, host, cap = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    limit = address_space() + headroom  # what the imports took, and the headroom
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cols = collect_registry([host + "/team/app"], retry=RetryPolicy(retries=0),
                            limits=RegistryLimits(max_response_bytes=cap))
    print(json.dumps(cols[0].errors))
""")
HEADROOM = 256 * 1024 * 1024
"""The address space the child may add once imported (threads' stacks and malloc arenas
included): far below the gigabytes an uncapped read reaches in a second or two."""


@pytest.mark.slow
def test_endless_body_memory_stays_bounded(fake: FakeRegistry) -> None:
    fake.endless(is_tag_list, "chunked")
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}  # fewer per-thread arenas of address space

    def child(cap: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", CHILD, str(HEADROOM), fake.host, str(cap)],
            capture_output=True, text=True, timeout=120, env=env,
        )

    # The default limit: the read stops at 4 MB, and the child ends well within its memory.
    done = child(RegistryLimits().max_response_bytes)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        f"{fake.host}/team/app: the tag list page is over the 4,194,304-byte limit "
        "(max_response_bytes)"
    ]
    # The control: without the cap, the same read runs out of that memory.
    uncapped = child(2**50)
    assert uncapped.returncode != 0 and "MemoryError" in uncapped.stderr


# -- time -------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers_too", [True, False], ids=["whole-answer", "body"])
def test_dripped_answer_is_cut_at_the_request_deadline(
    fake: FakeRegistry, headers_too: bool
) -> None:
    fake.image("team/app", "1")
    fake.drip(is_manifest, b"{" + b" " * 100 + b"}", every=0.1, headers_too=headers_too)
    # A byte every 0.1 s never trips a 5 s read timeout: only the request's deadline cuts it.
    slow_reads = RegistryLimits(read_timeout=5.0, request_deadline=1.0)
    c = RegistryClient(fake.host, scheme="http", limits=slow_reads, retry=RETRY)
    started = time.monotonic()
    with pytest.raises(RegistryError) as err:
        c.manifest("team/app", "1")
    assert time.monotonic() - started < 2.5
    assert str(err.value) == (
        f"{fake.host}/team/app:1: no whole answer within the 1 s request deadline "
        "(request_deadline)"
    )


def test_silent_registry_ends_within_the_timeouts(fake: FakeRegistry, tmp_path: Path) -> None:
    fake.silent()
    started = time.monotonic()
    cols = _collect(fake, [f"{fake.host}/team/app"], tmp_path)
    assert time.monotonic() - started < 3.5
    assert cols[0].errors == [
        f"{fake.host}/team/app: https: TLS error: TLS handshake failed (wrong version number); "
        "is it a plain HTTP registry?; http: no answer (nothing for 0.5 s: read_timeout)"
    ]


def test_silent_manifests_end_at_the_source_deadline(fake: FakeRegistry, tmp_path: Path) -> None:
    for i in range(6):
        fake.image("team/app", f"t{i}")
    fake.silent(is_manifest)
    limits = RegistryLimits(read_timeout=0.4, source_deadline=1.5)
    started = time.monotonic()
    cols = _collect(fake, [f"{fake.host}/team/app"], tmp_path, limits=limits,
                    retry=RetryPolicy(retries=10, backoff=0.05), workers=2)
    assert time.monotonic() - started < 3
    assert cols[0].errors == [
        f"{fake.host}/team/app: 6 of 6 tag(s) not read: the 1.5 s per-repository deadline "
        "(source_deadline) passed"
    ]


def test_retries_stop_at_the_source_deadline(fake: FakeRegistry, tmp_path: Path) -> None:
    fake.image("team/app", "1")
    fake.hooks.append(lambda r: Resp(503, b"busy") if is_manifest(r) else None)
    limits = RegistryLimits(source_deadline=1.0)
    started = time.monotonic()
    # Backoff 0.6 s: after the second try 0.4 s are left, less than a backoff, so the retries
    # stop there (a request under heavy load still has 0.4 s to answer before the deadline).
    cols = _collect(fake, [f"{fake.host}/team/app"], tmp_path, limits=limits,
                    retry=RetryPolicy(retries=100, backoff=0.6, backoff_max=0.6))
    assert time.monotonic() - started < 2
    assert cols[0].errors == [
        f"{fake.host}/team/app: 1 of 1 tag(s) not read: HTTP 503; no time left to retry within "
        "the 1 s per-repository deadline (source_deadline)"
    ]
    c = RegistryClient(fake.host, scheme="http",
                       retry=RetryPolicy(retries=100, backoff=0.6, backoff_max=0.6), limits=limits)
    with pytest.raises(RegistryError, match="HTTP 503; no time left to retry within the 1 s "
                                            "per-repository deadline \\(source_deadline\\)"):
        c.manifest("team/app", "1", budget=Budget(limits))


def test_bytes_per_repository_stop_at_max_source_bytes(
    fake: FakeRegistry, tmp_path: Path
) -> None:
    # Six images with 20 kB configs each: a repository's memory is bounded, not its tag count.
    for i in range(6):
        fake.image("team/app", f"t{i}", config_for(labels={"big": f"{i}" * 20_000}))
    fake.image("team/small", "1")
    limits = RegistryLimits(max_source_bytes=50_000)
    cols = _collect(fake, [f"{fake.host}/team/app", f"{fake.host}/team/small"], tmp_path,
                    limits=limits, workers=1)
    assert len(cols[0].records) == 2
    assert cols[0].errors == [
        f"{fake.host}/team/app: 4 of 6 tag(s) not read: more than 50,000 bytes were read for it "
        "(max_source_bytes)"
    ]
    assert len(cols[1].records) == 1 and not cols[1].errors  # its own budget


def test_endless_pagination_stops_at_max_tag_pages(fake: FakeRegistry, tmp_path: Path) -> None:
    fake.endless_pages()
    cols = _collect(fake, [f"{fake.host}/team/app"], tmp_path)
    assert cols[0].errors == [
        f"{fake.host}/team/app: the tag list goes on past 10 pages (max_tag_pages); not read"
    ]
    assert len([r for r in fake.requests if is_tag_list(r)]) == 10
    assert not [r for r in fake.requests if is_manifest(r)]


def test_endless_pagination_stops_at_max_listed_tags(fake: FakeRegistry, tmp_path: Path) -> None:
    fake.endless_pages(per_page=30)
    limits = RegistryLimits(max_listed_tags=100)
    cols = _collect(fake, [f"{fake.host}/team/app"], tmp_path, limits=limits)
    assert cols[0].errors == [
        f"{fake.host}/team/app: the tag list has more than 100 tags (max_listed_tags); not read"
    ]
    assert len([r for r in fake.requests if is_tag_list(r)]) == 4


# -- the command ------------------------------------------------------------------------------


def _echo(fake: FakeRegistry, other: FakeRegistry) -> str:
    fake.echo_auth()
    return "access denied (HTTP 403 DENIED: denied for Basic <redacted>"


def _other_host(fake: FakeRegistry, other: FakeRegistry) -> str:
    fake.next_page_at(other.url)
    return f"next page is on another origin ({other.url}, not {fake.url})"


def _drip(fake: FakeRegistry, other: FakeRegistry) -> str:
    fake.drip(is_tag_list, b'{"tags": []}', every=0.2)
    return "no whole answer within the 1 s request deadline (request_deadline)"


def _endless(fake: FakeRegistry, other: FakeRegistry) -> str:
    fake.endless(is_tag_list, "chunked")
    return f"the tag list page is over the {65536:,}-byte limit (max_response_bytes)"


def _silent(fake: FakeRegistry, other: FakeRegistry) -> str:
    fake.silent(is_tag_list)  # retried (the default policy) until the repository's time is up
    return ("no answer (nothing for 0.5 s: read_timeout)"
            "|2 s per-repository deadline (source_deadline)")


def _pages(fake: FakeRegistry, other: FakeRegistry) -> str:
    fake.endless_pages()
    return "the tag list goes on past 10 pages (max_tag_pages)"


@pytest.mark.parametrize("attack", [_echo, _other_host, _drip, _endless, _silent, _pages],
                         ids=lambda f: f.__name__.strip("_"))
def test_collect_command_ends_with_exit_2_and_no_secret(
    fake: FakeRegistry, elsewhere: FakeRegistry, tmp_path: Path,
    attack: Callable[[FakeRegistry, FakeRegistry], str],
) -> None:
    fake.basic(USER, PASSWORD)
    fake.image("team/app", "1")
    expect = attack(fake, elsewhere)
    store = tmp_path / "store"
    started = time.monotonic()
    result = CliRunner().invoke(main, [
        "collect", "--registry", f"{fake.host}/team/app", "--store", str(store), "--quiet",
        "--docker-config", str(_docker_config(tmp_path, fake.host)), *CLI_LIMITS,
    ])
    assert time.monotonic() - started < 4
    assert result.exit_code == 2, result.output
    assert f"error: {fake.host}/team/app: " in result.stderr
    assert all(part in result.stderr for part in expect.split("|"))
    assert elsewhere.requests == []
    _assert_no_secret(result.stdout.encode() + result.stderr.encode() + _store_bytes(store))


# -- the settings -----------------------------------------------------------------------------


def test_limits_override() -> None:
    got = RegistryLimits().override(["source_deadline=30", "max-tag-pages=5", "read_timeout=1"])
    assert (got.source_deadline, got.max_tag_pages, got.read_timeout) == (30.0, 5, 1.0)
    with pytest.raises(ValueError, match="one of: connect_timeout, read_timeout"):
        RegistryLimits().override(["nope=1"])
    with pytest.raises(ValueError, match="max_tag_pages must be a whole number"):
        RegistryLimits().override(["max_tag_pages=1.5"])
    with pytest.raises(ValueError, match="source_deadline must be positive"):
        RegistryLimits().override(["source_deadline=0"])


def test_collect_command_refuses_a_bad_limit(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["collect", "--registry", "127.0.0.1:1/a", "--store",
                                       str(tmp_path / "s"), "--registry-limit", "pages=3"])
    assert result.exit_code == 2
    assert "not NAME=VALUE with a registry limit name" in result.stderr
