"""A small client of the OCI distribution API v2: ping, tags, manifests and config blobs.

One `RegistryClient` talks to one registry, from many threads. It speaks HTTPS; plain HTTP only to
a loopback host (127.0.0.0/8, ::1, localhost), as Docker does, or when the caller allows insecure
registries, and then only after HTTPS failed. Content is verified: a manifest's digest is the
sha256 of its bytes and must equal `Docker-Content-Digest` (and the digest it was fetched by); a
config blob must hash to its descriptor's digest. A manifest named by its digest is read once
per repository for the client's life (whether a repository holds it, and may be read, is the
registry's to say for each), and an image config once per registry, whichever repository's
manifest names it, since its bytes are verified against that digest: tags that share content,
and repositories that share images (one image promoted from `dev/app` to `prod/app`), cost one
fetch. Whether the registry has the referrers API is learnt once per client too.

Nothing is read without a bound (`RegistryLimits`): bytes per answer, time per request, pages and
tags per listing; each method takes the caller's `Budget` too (a repository's time and bytes).
Credentials and tokens go only to the registry's origin: a tag list whose `next` link names
another scheme, host or port is refused (an error naming both origins), not followed, since the
pages of another server are not this repository's and must not get its credentials.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import orjson
import requests
from requests.utils import parse_header_links

from auditlib.identity import is_digest
from auditlib.sources._registry_auth import Authenticator
from auditlib.sources._registry_http import (
    Budget,
    RegistryError,
    Reply,
    RetryPolicy,
    SourceLimitError,
    Transport,
    is_loopback,
    new_session,
    origin,
    origin_text,
)
from auditlib.sources._registry_limits import RegistryLimits
from auditlib.sources._registry_manifest import (
    ACCEPT,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    Manifest,
    ResolvedImage,
    digest_of,
    media_type_of,
    resolve_image,
)
from auditlib.sources._registry_platform import Platform
from auditlib.sources.docker_credentials import Credentials

DOCKER_HUB_API = "registry-1.docker.io"
"""Where Docker Hub's (`docker.io`) registry API answers."""
INDEX_ACCEPT = OCI_INDEX
"""What the referrers API answers."""
TAG_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
"""A valid tag (the distribution reference grammar); tags listed that do not match are skipped."""


@dataclass(frozen=True, slots=True)
class TagListing:
    """A repository's tag list, as `RegistryClient.list_tags` read it."""

    tags: list[str]
    """The valid tag names, each once, in the registry's order."""
    skipped: int = 0
    """Names listed that are not valid tags (never used in a request, a table or a message)."""
    pages: int = 1
    """Pages read."""


class RegistryClient:
    """Reads one registry. Thread-safe; holds no secret in its repr."""

    def __init__(
        self,
        registry: str,
        *,
        credentials: Credentials | Callable[[], Credentials | None] | None = None,
        insecure: bool = False,
        session: requests.Session | None = None,
        limits: RegistryLimits | None = None,
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
            session: the `requests.Session` to use (a new one when None, whose connections
                request deadlines can cut; see `_registry_http.WatchedAdapter`).
            limits: bytes, timeouts, deadlines, pages and tags (`RegistryLimits()` when None).
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
        self.limits = limits or RegistryLimits()
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self._session = session or new_session()
        self._transport = Transport(
            self._session, limits=self.limits, retry=retry, verify=verify,
            insecure=insecure, **kwargs,
        )
        if credentials is None or isinstance(credentials, Credentials):
            creds = credentials
            self._auth = Authenticator(registry, self._transport, lambda: creds, insecure=insecure)
        else:
            self._auth = Authenticator(registry, self._transport, credentials, insecure=insecure)
        self._transport.secrets = self._auth.secrets
        self._lock = threading.Lock()
        self._ping_lock = threading.Lock()
        self._ping_error: RegistryError | None = None
        self._cache: dict[str, Any] = {}
        """Manifests by `repository@digest`; decoded configs by `config:` + digest, for every
        repository of the registry (content-addressed and verified, and asked for only once a
        manifest of that repository, read through its own access, named it)."""
        self._locks: dict[str, threading.Lock] = {}
        """Held while a digest is read, so that threads wanting it at once read it once (each
        dropped when its read ends: the waiters find the value in `_cache`)."""
        self.referrers_api: bool | None = None
        """True once a referrers request was answered: the registry has the referrers API, for
        every repository; None until then."""
        self.without_referrers: set[str] = set()
        """The repositories whose referrers request was answered 404 or 405: a registry without
        the API answers so to every one, but one with it may answer so for a repository it
        will not serve, so each repository is asked once (not the registry)."""

    def __repr__(self) -> str:
        """Return `RegistryClient('ghcr.io')`."""
        return f"RegistryClient({self.registry!r})"

    @property
    def base_url(self) -> str:
        """Return `scheme://host` (the scheme settled by `ping`, else the first to try)."""
        return f"{self.scheme or self._schemes[0]}://{self.host}"

    def secrets(self) -> list[str]:
        """Return the secrets this client holds (credentials in every form they could be echoed
        in, tokens), for scrubbing text."""
        return self._auth.secrets()

    def text(self, raw: str, limit: int = 160) -> str:
        """Return text from the registry fit for a message (redacted, secrets masked, short)."""
        return self._transport.text(raw, limit)

    def close(self) -> None:
        """Close the session's connections."""
        self._session.close()

    # -- requests ---------------------------------------------------------------------------

    def ping(self, *, budget: Budget | None = None) -> None:
        """Check that the host speaks the v2 API, settle HTTPS or HTTP, and learn its auth. A
        registry that failed is not asked again: its error is raised at once (unless what
        failed was the caller's budget).

        Raises:
            SourceLimitError: `budget` is spent.
            RegistryError: unreachable, TLS failure, not a v2 registry, or an answer over
                `max_response_bytes`.
        """
        with self._ping_lock:
            if self._ping_error is not None:
                raise RegistryError(str(self._ping_error), status=self._ping_error.status)
            if self.scheme is None:
                try:
                    self._ping(budget)
                except SourceLimitError:
                    raise
                except RegistryError as e:
                    self._ping_error = e
                    raise

    def _ping(self, budget: Budget | None) -> None:
        failures: list[str] = []
        for scheme in self._schemes:
            try:
                resp = self._transport.fetch(
                    "GET", f"{scheme}://{self.host}/v2/", subject=self.registry,
                    what="answer to /v2/", budget=budget,
                    retry=len(self._schemes) == 1 or scheme == "http",
                )
            except SourceLimitError:
                raise
            except RegistryError as e:
                failures.append(f"{scheme}: {str(e).removeprefix(self.registry + ': ')}")
                continue
            if resp.status == 401:
                self._auth.learn(resp)
            elif resp.status != 200:
                failures.append(f"{scheme}: not a registry ({resp.status_text()} from /v2/)")
                continue
            self.scheme = scheme
            return
        if len(failures) == 1:
            failures = [failures[0].split(": ", 1)[1]]
        raise RegistryError(f"{self.registry}: " + "; ".join(failures))

    def _get(
        self, url: str, *, scope: str, subject: str, what: str, limit: str,
        budget: Budget | None, headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """GET `url` (a path of the registry, or a whole URL on its own origin) with
        authentication; a 401 is answered once; a 403 is an error."""
        self.ping(budget=budget)
        if url.startswith("/"):
            url = self.base_url + url  # the scheme is settled now: on the registry's origin
        elif origin(url) != origin(self.base_url):  # credentials go to their origin only
            raise RegistryError(
                f"{subject}: refusing to send credentials to {origin_text(url)}, which is not "
                f"the registry ({origin_text(self.base_url)})"
            )
        sent = {**(headers or {}), **self._auth.headers(scope, budget=budget)}

        def get() -> Reply:
            return self._transport.fetch(
                "GET", url, subject=subject, what=what, limit=limit, headers=sent,
                budget=budget,
            )

        resp = get()
        if resp.status == 401:
            refused = self._auth.learn(resp)
            if refused is None:
                raise RegistryError(f"{subject}: {self._auth.hint()}", status=401)
            sent.update(self._auth.headers(scope, refused=refused, budget=budget))
            resp = get()
            if resp.status == 401:
                again = self._auth.learn(resp)
                raise RegistryError(f"{subject}: {self._auth.hint(again)}", status=401)
        if resp.status == 403:
            raise RegistryError(f"{subject}: access denied ({resp.status_text()})", status=403)
        return resp

    def tags(
        self, repository: str, *, page_size: int = 1000, budget: Budget | None = None
    ) -> list[str]:
        """Return the valid tags of `repository` (see `list_tags`)."""
        return self.list_tags(repository, page_size=page_size, budget=budget).tags

    def list_tags(
        self, repository: str, *, page_size: int = 1000, budget: Budget | None = None
    ) -> TagListing:
        """Return the tags of `repository`, following `Link: <...>; rel="next"` pages on the
        registry's own origin, within `max_tag_pages` pages and `max_listed_tags` tags. Names
        that are not valid tags are counted, not kept.

        Raises:
            SourceLimitError: `budget` is spent.
            RegistryError: the repository does not exist, access is refused, the registry fails
                or answers something that is not a tag list, a page is over
                `max_response_bytes`, the list goes past `max_tag_pages` pages or
                `max_listed_tags` tags, or a next page is on another origin.
        """
        subject = f"{self.registry}/{repository}"
        scope = f"repository:{repository}:pull"
        limits = self.limits
        self.ping(budget=budget)
        url: str | None = f"{self.base_url}/v2/{repository}/tags/list?n={page_size}"
        tags: dict[str, None] = {}
        skipped, pages = 0, 0
        seen: set[bytes] = set()  # digests of the page URLs, not the URLs (bounded memory)
        while url:
            key = hashlib.sha256(url.encode()).digest()
            if key in seen:
                break  # a loop of pages: everything is read
            if pages >= limits.max_tag_pages:
                raise RegistryError(
                    f"{subject}: the tag list goes on past {limits.max_tag_pages:,} pages "
                    "(max_tag_pages); not read"
                )
            seen.add(key)
            pages += 1
            resp = self._get(
                url, scope=scope, subject=subject, what="tag list page",
                limit="max_response_bytes", budget=budget,
            )
            if resp.status == 404:
                raise RegistryError(
                    f"{subject}: repository not found ({resp.status_text()})", status=404
                )
            if resp.status != 200:
                raise RegistryError(
                    f"{subject}: cannot list tags ({resp.status_text()})", status=resp.status
                )
            body = resp.json()
            page = body.get("tags") if isinstance(body, dict) else None
            if page is None and isinstance(body, dict) and "tags" in body:
                page = []  # distribution answers `"tags": null` for a repository with no tags
            if not isinstance(page, list):
                raise RegistryError(f"{subject}: the tag list is not a JSON tag list")
            for tag in page:
                if isinstance(tag, str) and TAG_NAME.fullmatch(tag):
                    tags[tag] = None
                else:
                    skipped += 1
            if len(tags) > limits.max_listed_tags:
                raise RegistryError(
                    f"{subject}: the tag list has more than {limits.max_listed_tags:,} tags "
                    "(max_listed_tags); not read"
                )
            url = self._next_page(resp, subject)
        return TagListing(list(tags), skipped, pages)

    def _next_page(self, resp: Reply, subject: str) -> str | None:
        """Return the URL of the next tag list page (None at the end).

        Raises:
            RegistryError: the next page is on another origin than the registry's.
        """
        link = resp.headers.get("Link", "")
        for entry in parse_header_links(link) if link else []:
            if entry.get("rel") == "next" and entry.get("url"):
                url = urljoin(resp.url, entry["url"])
                if origin(url) != origin(self.base_url):
                    raise RegistryError(
                        f"{subject}: the tag list's next page is on another origin "
                        f"({origin_text(url)}, not {origin_text(self.base_url)}); refusing to "
                        "follow it (credentials go only to the registry they are for)"
                    )
                return url
        return None

    def manifest(
        self, repository: str, reference: str, *, budget: Budget | None = None
    ) -> Manifest:
        """Return the manifest or index `reference` (a tag or a digest) names.

        Raises:
            SourceLimitError: `budget` is spent.
            RegistryError: not found (404), access refused, over `max_manifest_bytes`, not
                JSON, of an unsupported media type (schema 1), or a digest that does not match
                the bytes.
        """
        if not is_digest(reference):
            return self._manifest(repository, reference, budget)
        key = f"{repository}@{reference}"
        with self._reading(key):  # the threads that want it wait for one read
            with self._lock:
                if key in self._cache:
                    return self._cache[key]  # type: ignore[no-any-return]
            return self._manifest(repository, reference, budget)

    @contextmanager
    def _reading(self, key: str) -> Iterator[None]:
        """Hold the lock of `key` (a digest) while it is read into the cache: threads wanting
        it at once wait for one read. The lock is forgotten when the read ends."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            try:
                yield
            finally:
                with self._lock:
                    if self._locks.get(key) is lock:
                        del self._locks[key]

    def _manifest(self, repository: str, reference: str, budget: Budget | None) -> Manifest:
        by_digest = is_digest(reference)
        sep = "@" if by_digest else ":"
        subject = f"{self.registry}/{repository}{sep}{reference}"
        resp = self._get(
            f"/v2/{repository}/manifests/{reference}",
            scope=f"repository:{repository}:pull", subject=subject, what="manifest",
            limit="max_manifest_bytes", budget=budget, headers={"Accept": ACCEPT},
        )
        if resp.status == 404:
            what = "manifest" if by_digest else "tag"
            raise RegistryError(f"{subject}: {what} not found ({resp.status_text()})", status=404)
        if resp.status != 200:
            raise RegistryError(
                f"{subject}: cannot read manifest ({resp.status_text()})", status=resp.status
            )
        data = resp.body
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
            raise RegistryError(
                f"{subject}: unsupported manifest media type {self.text(media_type, 120)!r}"
            )
        found = Manifest(reference if by_digest else digest, media_type, body)
        with self._lock:
            self._cache[f"{repository}@{found.digest}"] = found
        return found

    def blob(
        self, repository: str, digest: str, *, budget: Budget | None = None,
        what: str = "config blob", limit: str = "max_config_bytes",
    ) -> bytes:
        """Return blob `digest` of `repository` (at most the `limit` setting's bytes: configs,
        and signature payloads and attestations with `max_artifact_bytes`), following
        redirects, verified against `digest`.

        Raises:
            SourceLimitError: `budget` is spent.
            RegistryError: not found, access refused, over the limit, or a digest mismatch.
        """
        subject = f"{self.registry}/{repository}@{digest}"
        if not is_digest(digest):
            raise RegistryError(f"{subject}: not a valid blob digest")
        resp = self._get(
            f"/v2/{repository}/blobs/{digest}",
            scope=f"repository:{repository}:pull", subject=subject, what=what,
            limit=limit, budget=budget,
        )
        if resp.status == 404:
            raise RegistryError(f"{subject}: blob not found ({resp.status_text()})", status=404)
        if resp.status != 200:
            raise RegistryError(
                f"{subject}: cannot read blob ({resp.status_text()})", status=resp.status
            )
        got = digest_of(resp.body, digest.split(":", 1)[0])
        if got != digest:
            raise RegistryError(f"{subject}: blob digest mismatch: its bytes hash to {got}")
        return resp.body

    def referrers(
        self, repository: str, digest: str, *, budget: Budget | None = None
    ) -> list[Mapping[str, Any]] | None:
        """Return the descriptors the OCI referrers API lists for manifest `digest`
        (`/v2/<name>/referrers/<digest>`), or None when the registry does not have that API
        (it answers 404, as distribution 2.8 does: then the fallback tag `sha256-<hex>` holds
        them, `manifest(repository, "sha256-<hex>")`). One page is read (at most
        `max_manifest_bytes`). Each repository is asked whether it has the API once: while its
        first request is out, its others wait for the answer, and once it answered 404 (or
        405) no more are sent for it (`without_referrers`); once any repository's was answered,
        the registry has it (`referrers_api`) and its repositories are asked without waiting.

        Raises:
            SourceLimitError: `budget` is spent.
            RegistryError: access refused, or an answer that is not an image index.
        """
        subject = f"{self.registry}/{repository}@{digest}"
        if not is_digest(digest):
            raise RegistryError(f"{subject}: not a valid manifest digest")
        if repository in self.without_referrers:  # its 404/405 holds even when others said yes
            return None
        if self.referrers_api:
            return self._referrers(repository, digest, subject, budget)
        with self._reading("referrers:" + repository):  # its first answer decides for it
            if repository in self.without_referrers:
                return None
            return self._referrers(repository, digest, subject, budget)

    def _referrers(
        self, repository: str, digest: str, subject: str, budget: Budget | None
    ) -> list[Mapping[str, Any]] | None:
        resp = self._get(
            f"/v2/{repository}/referrers/{digest}",
            scope=f"repository:{repository}:pull", subject=subject, what="referrers list",
            limit="max_manifest_bytes", budget=budget, headers={"Accept": INDEX_ACCEPT},
        )
        if resp.status in (404, 405):
            with self._lock:
                self.without_referrers.add(repository)
            return None
        if resp.status != 200:
            raise RegistryError(
                f"{subject}: cannot list referrers ({resp.status_text()})", status=resp.status
            )
        self.referrers_api = True
        try:
            body = orjson.loads(resp.body)
        except orjson.JSONDecodeError:
            body = None
        found = body.get("manifests") if isinstance(body, dict) else None
        if not isinstance(found, list):
            raise RegistryError(f"{subject}: the referrers answer is not an image index")
        return [d for d in found if isinstance(d, dict)]

    def config(
        self, repository: str, digest: str, *, budget: Budget | None = None
    ) -> Mapping[str, Any]:
        """Return the decoded image config blob `digest` (cached per digest).

        Raises:
            RegistryError: as `blob`, or the config is not a JSON object.
        """
        key = "config:" + digest
        with self._reading(key):  # the threads that want it wait for one read
            return self._config(repository, digest, key, budget)

    def _config(
        self, repository: str, digest: str, key: str, budget: Budget | None
    ) -> Mapping[str, Any]:
        with self._lock:
            if key in self._cache:
                return self._cache[key]  # type: ignore[no-any-return]
        try:
            config = orjson.loads(self.blob(repository, digest, budget=budget))
        except orjson.JSONDecodeError:
            config = None
        if not isinstance(config, dict):
            raise RegistryError(
                f"{self.registry}/{repository}@{digest}: the image config is not a JSON object"
            )
        with self._lock:
            self._cache[key] = config
        return config

    def image(
        self, repository: str, reference: str, platform: Platform, *,
        budget: Budget | None = None,
    ) -> ResolvedImage:
        """Resolve `reference` to one image: its manifest (chosen from an index for `platform`)
        and its config.

        Raises:
            SourceLimitError: `budget` is spent.
            RegistryError: as `manifest` and `config`; an index without that platform; a manifest
                without a config descriptor.
        """
        return resolve_image(self, repository, reference, platform, budget=budget)
