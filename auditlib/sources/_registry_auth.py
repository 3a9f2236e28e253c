"""Registry authentication: `WWW-Authenticate` challenges, basic auth and bearer tokens.

The token flow is the distribution "token authentication" spec: a 401 carries
`WWW-Authenticate: Bearer realm="...",service="...",scope="..."`; the client asks the realm for a
token (with basic credentials, anonymously, or with an identity token as an OAuth2 refresh token
in a POST form) and sends it as `Authorization: Bearer`. Tokens are cached per scope until shortly
before they expire. Credentials are asked for lazily, at the first challenge, and are never sent
over plain HTTP to a host that is not loopback unless the user allowed insecure registries.

Where credentials go: basic credentials to the registry's own origin (scheme, host and port) and
to the token realm its challenge names (as Docker does); a bearer token only to the registry's
origin, never to a redirect or a next page elsewhere (`Transport` drops `Authorization` there).
`secrets()` lists every form a credential could be echoed in (the password, the identity token,
the base64 of `user:password` that `Authorization: Basic` carries, the tokens), so that text from
the server can be masked.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from auditlib.sources._registry_http import (
    Budget,
    RegistryError,
    Reply,
    Transport,
    is_loopback,
    origin_text,
)
from auditlib.sources.docker_credentials import Credentials

_PARAM = re.compile(
    r"\s*,?\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s*=\s*(?:\"((?:[^\"\\]|\\.)*)\"|([^,\s]*)))?"
)
_MIN_EXPIRY = 60.0
_MARGIN = 10.0
CLIENT_ID = "auditlib"
"""The `client_id` sent with OAuth2 token requests."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a `WWW-Authenticate` header."""

    scheme: str
    """Lower case: `bearer` or `basic` (others are ignored)."""
    params: dict[str, str] = field(default_factory=dict)
    """Parameters with lower-case names: `realm`, `service`, `scope`, `error`."""


def parse_challenges(header: str | None) -> list[Challenge]:
    """Return the challenges of a `WWW-Authenticate` header, in order (none for None)."""
    out: list[tuple[str, dict[str, str]]] = []
    pos, text = 0, header or ""
    while pos < len(text):
        m = _PARAM.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        name, quoted, bare = m.groups()
        if quoted is None and bare is None:
            out.append((name.lower(), {}))
        elif out:
            value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
            out[-1][1][name.lower()] = value
    return [Challenge(s, p) for s, p in out]


def _basic(creds: Credentials) -> str:
    raw = f"{creds.username}:{creds.password or creds.identity_token}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def secret_forms(creds: Credentials) -> list[str]:
    """Return every form in which `creds` could be echoed: the password and identity token as
    they are, and the base64 of `user:secret` (standard and URL-safe alphabets, with and
    without the `=` padding; padded first, so that a mask takes the padding too)."""
    found = list(creds.secrets())
    for secret in creds.secrets():
        raw = f"{creds.username}:{secret}".encode()
        for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
            text = encoded.decode("ascii")
            found += [text, text.rstrip("=")]
    return list(dict.fromkeys(found))


class Authenticator:
    """Adds `Authorization` to registry requests, learning the scheme from challenges."""

    def __init__(
        self,
        registry: str,
        transport: Transport,
        credentials: Callable[[], Credentials | None],
        *,
        insecure: bool,
    ) -> None:
        """Make it for `registry` (its name, as in `docker login NAME`).

        `credentials` is called at most once, when a challenge first asks for them.
        """
        self.registry = registry
        self._transport = transport
        self._get_credentials = credentials
        self._insecure = insecure
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._creds: Credentials | None = None
        self._creds_read = False

    def credentials(self) -> Credentials | None:
        """Return the registry's credentials, reading them on first use.

        Raises:
            AuditlibError: from the credentials lookup (a missing or failing helper).
        """
        with self._lock:
            if not self._creds_read:
                self._creds = self._get_credentials()
                self._creds_read = True
            return self._creds

    def secrets(self) -> list[str]:
        """Return the secret strings known so far (credentials in every form, tokens), for
        scrubbing."""
        with self._lock:
            found = secret_forms(self._creds) if self._creds else []
            return found + [t for t, _ in self._tokens.values()]

    def hint(self, refused: Challenge | None = None) -> str:
        """Return what went wrong on a 401 and what the user should do, for error messages."""
        what = "authentication failed" if self._creds is not None else "authentication required"
        if refused is not None and refused.params.get("error") == "insufficient_scope":
            what += " (or the repository does not exist)"
        return f"{what}; run `docker login {self.registry}`"

    def learn(self, resp: Reply) -> Challenge | None:
        """Take the challenge of a 401 response for the next requests, and return it (None when
        the response has no basic or bearer challenge).
        """
        found = [
            c for c in parse_challenges(resp.headers.get("WWW-Authenticate"))
            if c.scheme in ("bearer", "basic")
        ]
        if not found:
            return None
        new = next((c for c in found if c.scheme == "bearer"), found[0])
        keep = {k: v for k, v in new.params.items() if k in ("realm", "service")}
        general = Challenge(new.scheme, keep)
        with self._lock:
            self._challenge = general
        return new

    def headers(
        self, scope: str, *, refused: Challenge | None = None, budget: Budget | None = None
    ) -> dict[str, str]:
        """Return the `Authorization` header for a request needing `scope`
        (`repository:team/app:pull`, or empty for `/v2/`); none before any challenge.

        Args:
            scope: the token scope the request needs.
            refused: the challenge of a 401 the request just got: a cached token for `scope`
                is dropped, and the scope the challenge names is asked for too.
            budget: the caller's budget (a repository's time and bytes), for the token request.

        Raises:
            RegistryError: the token service refuses or fails; credentials over plain HTTP.
            AuditlibError: the credentials could not be read.
        """
        challenge = self._challenge
        if challenge is None:
            return {}
        if challenge.scheme == "basic":
            creds = self.credentials()
            return {"Authorization": _basic(creds)} if creds else {}
        scopes = scope.split() if scope else []
        extra = refused.params.get("scope", "").split() if refused is not None else []
        scopes += [s for s in extra if s not in scopes]
        with self._lock:
            cached = self._tokens.pop(scope, None) if refused else self._tokens.get(scope)
        if cached and cached[1] > time.monotonic():
            return {"Authorization": f"Bearer {cached[0]}"}
        token, ttl = self._fetch(challenge, scopes, budget)
        with self._lock:
            self._tokens[scope] = (token, time.monotonic() + max(ttl, _MIN_EXPIRY) - _MARGIN)
        return {"Authorization": f"Bearer {token}"}

    def _fetch(
        self, challenge: Challenge, scopes: list[str], budget: Budget | None
    ) -> tuple[str, float]:
        """Return a token and its lifetime in seconds from the challenge's realm."""
        realm = challenge.params.get("realm", "")
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RegistryError(f"{self.registry}: the registry gave no usable token realm")
        subject = f"{self.registry}: token service {origin_text(realm)}"
        creds = self.credentials()
        if (
            parts.scheme == "http" and creds is not None
            and not (self._insecure or is_loopback(parts.hostname))
        ):
            raise RegistryError(
                f"{subject}: refusing to send credentials over plain HTTP "
                "(allow insecure registries to permit it)"
            )
        service = challenge.params.get("service")
        if creds is not None and creds.identity_token:
            form = {
                "grant_type": "refresh_token", "refresh_token": creds.identity_token,
                "client_id": CLIENT_ID, "scope": " ".join(scopes),
            }
            if service:
                form["service"] = service
            resp = self._transport.fetch(
                "POST", realm, subject=subject, what="token answer", data=form,
                budget=budget,
            )
        else:
            params: list[tuple[str, str]] = [("service", service)] if service else []
            params += [("scope", s) for s in scopes]
            # The header, not requests' `auth`: the transport keeps it from other origins.
            headers = {"Authorization": _basic(creds)} if creds else {}
            resp = self._transport.fetch(
                "GET", realm, subject=subject, what="token answer", params=params,
                headers=headers, budget=budget,
            )
        if resp.status in (401, 403):
            raise RegistryError(f"{subject}: {self.hint()}", status=resp.status)
        if resp.status != 200:
            raise RegistryError(f"{subject}: no token ({resp.status_text()})", status=resp.status)
        body = resp.json()
        token = None
        if isinstance(body, dict):
            token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{subject}: the token service answered without a token")
        ttl = body.get("expires_in") if isinstance(body, dict) else None
        return token, float(ttl) if isinstance(ttl, int | float) and ttl > 0 else _MIN_EXPIRY
