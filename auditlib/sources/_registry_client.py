"""A small client of the OCI distribution API v2: ping, tags, manifests and config blobs.

One `RegistryClient` talks to one registry, from many threads. It speaks HTTPS; plain HTTP only to
a loopback host (127.0.0.0/8, ::1, localhost), as Docker does, or when the caller allows insecure
registries, and then only after HTTPS failed. Content is verified: a manifest's digest is the
sha256 of its bytes and must equal `Docker-Content-Digest` (and the digest it was fetched by); a
config blob must hash to its descriptor's digest. Manifests and configs fetched by digest are
cached for the client's life, so tags that share content cost one fetch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin

import orjson
import requests
from requests.utils import parse_header_links

from auditlib.identity import is_digest
from auditlib.sources._registry_auth import Authenticator
from auditlib.sources._registry_http import (
    RegistryError,
    RetryPolicy,
    Transport,
    is_loopback,
    status_text,
)
from auditlib.sources._registry_manifest import (
    ACCEPT,
    INDEX_TYPES,
    MANIFEST_TYPES,
    MAX_MANIFEST_BYTES,
    Manifest,
    ResolvedImage,
    digest_of,
    media_type_of,
    read_limited,
    resolve_image,
)
from auditlib.sources._registry_platform import Platform
from auditlib.sources.docker_credentials import Credentials

MAX_CONFIG_BYTES = 16 * 1024 * 1024
"""Largest image config blob read."""
DOCKER_HUB_API = "registry-1.docker.io"
"""Where Docker Hub's (`docker.io`) registry API answers."""


class RegistryClient:
    """Reads one registry. Thread-safe; holds no secret in its repr."""

    def __init__(
        self,
        registry: str,
        *,
        credentials: Credentials | Callable[[], Credentials | None] | None = None,
        insecure: bool = False,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (10.0, 60.0),
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        scheme: str | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """Make a client of `registry` (`ghcr.io`, `127.0.0.1:5000`; `docker.io` means Docker
        Hub's API host). Nothing is sent until the first call.

        Args:
            registry: the registry name, as in references.
            credentials: credentials, or a function returning them (called at the first
                challenge), or None for anonymous access.
            insecure: allow plain HTTP to a host that is not loopback (after HTTPS failed).
            session: the `requests.Session` to use (a new one when None).
            timeout: connect and read timeouts, in seconds.
            retry: how transient failures are retried.
            verify: TLS verification: True, False, or a CA bundle path.
            scheme: force `https` or `http` instead of trying HTTPS first.
            sleep: replaces `time.sleep` between retries (tests).

        Raises:
            RegistryError: `scheme="http"` for a host that is not loopback, without `insecure`.
        """
        self.registry = registry
        self.host = DOCKER_HUB_API if registry == "docker.io" else registry
        self.allow_http = insecure or is_loopback(self.host)
        if scheme not in (None, "https", "http"):
            raise ValueError(f"scheme {scheme!r} is not https or http")
        if scheme == "http" and not self.allow_http:
            raise RegistryError(
                f"{registry}: plain HTTP refused for a host that is not loopback; "
                "allow insecure registries to use it"
            )
        tries = ["https", "http"] if self.allow_http else ["https"]
        self._schemes = [scheme] if scheme else tries
        self.scheme: str | None = None
        kwargs: dict[str, Any] = {"timeout": timeout, "retry": retry or RetryPolicy()}
        if sleep is not None:
            kwargs["sleep"] = sleep
        self._session = session or requests.Session()
        self._transport = Transport(self._session, verify=verify, **kwargs)
        if credentials is None or isinstance(credentials, Credentials):
            creds = credentials
            self._auth = Authenticator(registry, self._transport, lambda: creds, insecure=insecure)
        else:
            self._auth = Authenticator(registry, self._transport, credentials, insecure=insecure)
        self._lock = threading.Lock()
        self._ping_lock = threading.Lock()
        self._cache: dict[tuple[str, str], Any] = {}

    def __repr__(self) -> str:
        """Return `RegistryClient('ghcr.io')`."""
        return f"RegistryClient({self.registry!r})"

    @property
    def base_url(self) -> str:
        """Return `scheme://host` (the scheme settled by `ping`, else the first to try)."""
        return f"{self.scheme or self._schemes[0]}://{self.host}"

    def secrets(self) -> list[str]:
        """Return the secrets this client holds (credentials, tokens), for scrubbing text."""
        return self._auth.secrets()

    def close(self) -> None:
        """Close the session's connections."""
        self._session.close()

    # -- requests ---------------------------------------------------------------------------

    def ping(self) -> None:
        """Check that the host speaks the v2 API, settle HTTPS or HTTP, and learn its auth.

        Raises:
            RegistryError: unreachable, TLS failure, or not a v2 registry.
        """
        with self._ping_lock:
            if self.scheme is None:
                self._ping()

    def _ping(self) -> None:
        failures: list[str] = []
        for scheme in self._schemes:
            try:
                resp = self._transport.request(
                    "GET", f"{scheme}://{self.host}/v2/", subject=self.registry,
                    retry=len(self._schemes) == 1 or scheme == "http",
                )
            except RegistryError as e:
                failures.append(f"{scheme}: {str(e).removeprefix(self.registry + ': ')}")
                continue
            with resp:
                if resp.status_code == 401:
                    self._auth.learn(resp)
                elif resp.status_code != 200:
                    failures.append(f"{scheme}: not a registry ({status_text(resp)} from /v2/)")
                    continue
            self.scheme = scheme
            return
        if len(failures) == 1:
            failures = [failures[0].split(": ", 1)[1]]
        raise RegistryError(f"{self.registry}: " + "; ".join(failures))

    def _get(
        self, path: str, *, scope: str, subject: str, url: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """GET `path` (or the full `url`) with authentication; a 401 is answered once."""
        self.ping()
        target = url or f"{self.base_url}{path}"
        headers = {**kwargs.pop("headers", {}), **self._auth.headers(scope)}
        resp = self._transport.request("GET", target, subject=subject, headers=headers, **kwargs)
        if resp.status_code == 401:
            refused = self._auth.learn(resp)
            resp.close()
            if refused is None:
                raise RegistryError(f"{subject}: {self._auth.hint()}", status=401)
            headers.update(self._auth.headers(scope, refused=refused))
            resp = self._transport.request(
                "GET", target, subject=subject, headers=headers, **kwargs
            )
            if resp.status_code == 401:
                resp.close()
                again = self._auth.learn(resp)
                raise RegistryError(f"{subject}: {self._auth.hint(again)}", status=401)
        if resp.status_code == 403:
            text = status_text(resp)
            resp.close()
            raise RegistryError(f"{subject}: access denied ({text})", status=403)
        return resp

    def tags(self, repository: str, *, page_size: int = 1000) -> list[str]:
        """Return every tag of `repository`, following `Link: <...>; rel="next"` pages.

        Raises:
            RegistryError: the repository does not exist, access is refused, or the registry
                fails or answers something that is not a tag list.
        """
        subject = f"{self.registry}/{repository}"
        scope = f"repository:{repository}:pull"
        self.ping()
        url: str | None = f"{self.base_url}/v2/{repository}/tags/list?n={page_size}"
        tags: list[str] = []
        seen_urls: set[str] = set()
        while url and url not in seen_urls and len(seen_urls) < 10_000:
            seen_urls.add(url)
            resp = self._get("", url=url, scope=scope, subject=subject)
            with resp:
                if resp.status_code == 404:
                    raise RegistryError(
                        f"{subject}: repository not found ({status_text(resp)})", status=404
                    )
                if resp.status_code != 200:
                    raise RegistryError(
                        f"{subject}: cannot list tags ({status_text(resp)})",
                        status=resp.status_code,
                    )
                try:
                    body = orjson.loads(read_limited(resp, MAX_MANIFEST_BYTES, subject, "page"))
                except orjson.JSONDecodeError:
                    body = None
                link = resp.headers.get("Link", "")
                current = resp.url or url
            page = body.get("tags") if isinstance(body, dict) else None
            if page is None and isinstance(body, dict) and "tags" in body:
                page = []  # distribution answers `"tags": null` for a repository with no tags
            if not isinstance(page, list):
                raise RegistryError(f"{subject}: the tag list is not a JSON tag list")
            tags.extend(t for t in page if isinstance(t, str))
            url = None
            for entry in parse_header_links(link) if link else []:
                if entry.get("rel") == "next" and entry.get("url"):
                    url = urljoin(self.base_url if current is None else current, entry["url"])
        return list(dict.fromkeys(tags))

    def manifest(self, repository: str, reference: str) -> Manifest:
        """Return the manifest or index `reference` (a tag or a digest) names.

        Raises:
            RegistryError: not found (404), access refused, over the size limit, not JSON, of an
                unsupported media type (schema 1), or a digest that does not match the bytes.
        """
        by_digest = is_digest(reference)
        key = (repository, reference)
        if by_digest:
            with self._lock:
                if key in self._cache:
                    return self._cache[key]  # type: ignore[no-any-return]
        sep = "@" if by_digest else ":"
        subject = f"{self.registry}/{repository}{sep}{reference}"
        resp = self._get(
            f"/v2/{repository}/manifests/{reference}", scope=f"repository:{repository}:pull",
            subject=subject, headers={"Accept": ACCEPT}, stream=True,
        )
        with resp:
            if resp.status_code == 404:
                what = "manifest" if by_digest else "tag"
                raise RegistryError(
                    f"{subject}: {what} not found ({status_text(resp)})", status=404
                )
            if resp.status_code != 200:
                raise RegistryError(
                    f"{subject}: cannot read manifest ({status_text(resp)})",
                    status=resp.status_code,
                )
            data = read_limited(resp, MAX_MANIFEST_BYTES, subject, "manifest")
            header = resp.headers.get("Docker-Content-Digest", "").strip()
            content_type = resp.headers.get("Content-Type", "")
        digest = digest_of(data)
        if header and is_digest(header):
            algorithm = header.split(":", 1)[0]
            if digest_of(data, algorithm) != header:
                raise RegistryError(
                    f"{subject}: manifest digest mismatch: the registry says {header}, its bytes "
                    f"hash to {digest_of(data, algorithm)}"
                )
        if by_digest and digest_of(data, reference.split(":", 1)[0]) != reference:
            raise RegistryError(f"{subject}: manifest digest mismatch: its bytes hash to {digest}")
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise RegistryError(f"{subject}: the manifest is not JSON") from None
        if not isinstance(body, dict):
            raise RegistryError(f"{subject}: the manifest is not a JSON object")
        media_type = media_type_of(body, content_type)
        if media_type not in INDEX_TYPES and media_type not in MANIFEST_TYPES:
            raise RegistryError(f"{subject}: unsupported manifest media type {media_type!r}")
        found = Manifest(reference if by_digest else digest, media_type, body)
        with self._lock:
            self._cache[(repository, found.digest)] = found
        return found

    def blob(self, repository: str, digest: str, *, max_bytes: int = MAX_CONFIG_BYTES) -> bytes:
        """Return blob `digest` of `repository`, following redirects, verified against `digest`.

        Raises:
            RegistryError: not found, access refused, over `max_bytes`, or a digest mismatch.
        """
        subject = f"{self.registry}/{repository}@{digest}"
        if not is_digest(digest):
            raise RegistryError(f"{subject}: not a valid blob digest")
        resp = self._get(
            f"/v2/{repository}/blobs/{digest}", scope=f"repository:{repository}:pull",
            subject=subject, stream=True, allow_redirects=True,
        )
        with resp:
            if resp.status_code == 404:
                raise RegistryError(f"{subject}: blob not found ({status_text(resp)})", status=404)
            if resp.status_code != 200:
                raise RegistryError(
                    f"{subject}: cannot read blob ({status_text(resp)})", status=resp.status_code
                )
            data = read_limited(resp, max_bytes, subject, "blob")
        got = digest_of(data, digest.split(":", 1)[0])
        if got != digest:
            raise RegistryError(f"{subject}: blob digest mismatch: its bytes hash to {got}")
        return data

    def config(self, repository: str, digest: str) -> Mapping[str, Any]:
        """Return the decoded image config blob `digest` (cached per digest).

        Raises:
            RegistryError: as `blob`, or the config is not a JSON object.
        """
        key = (repository, "config:" + digest)
        with self._lock:
            if key in self._cache:
                return self._cache[key]  # type: ignore[no-any-return]
        try:
            config = orjson.loads(self.blob(repository, digest))
        except orjson.JSONDecodeError:
            config = None
        if not isinstance(config, dict):
            raise RegistryError(
                f"{self.registry}/{repository}@{digest}: the image config is not a JSON object"
            )
        with self._lock:
            self._cache[key] = config
        return config

    def image(self, repository: str, reference: str, platform: Platform) -> ResolvedImage:
        """Resolve `reference` to one image: its manifest (chosen from an index for `platform`)
        and its config.

        Raises:
            RegistryError: as `manifest` and `config`; an index without that platform; a manifest
                without a config descriptor.
        """
        return resolve_image(self, repository, reference, platform)
