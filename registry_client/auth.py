"""Registry authentication: WWW-Authenticate challenges, Basic, and Bearer tokens.

Flow (distribution ``docs/spec/auth/token.md``): a request answered ``401`` carries a
challenge such as ``Bearer realm="https://auth.docker.io/token",service="registry.docker.io",
scope="repository:library/ubuntu:pull"``. We ask the realm for a token covering the scopes
(``scope`` repeated once per scope), cache it by scope set until shortly before it expires,
and retry the request once. Credentials go to the realm only as Basic auth (or, with an
identity token, as an OAuth2 refresh-token POST); the token goes only to the registry host.
"""
from __future__ import annotations

import base64
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

from .errors import AuthError
from .patterns import pattern

if TYPE_CHECKING:
    from requests import Response

    from .httpclient import HTTPClient

EXPIRY_MARGIN_SECONDS = 10.0
DEFAULT_TOKEN_LIFETIME = 60.0
CLIENT_ID = "pybuild"
# Compiled when a challenge is first parsed (``patterns``): a registry without auth never asks.
_PARAM = r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?'
_SCHEME = r"\s*([A-Za-z][A-Za-z0-9_-]*)(?=\s|$)"
_QUOTED_PAIR = r"\\(.)"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What config.json or a credential helper knows about one registry."""

    username: str = ""
    password: str = ""
    identity_token: str | None = None  # an OAuth2 refresh token ("identitytoken")
    registry_token: str | None = None  # a ready-made bearer token ("registrytoken")

    @property
    def is_anonymous(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


ANONYMOUS = Credentials()


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lower case: "bearer" or "basic"
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(s for s in self.params.get("scope", "").split(" ") if s)


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a WWW-Authenticate header; quoted values may hold commas and spaces."""
    challenges: list[Challenge] = []
    scheme_pattern, param_pattern = pattern(_SCHEME), pattern(_PARAM)
    position = 0
    while position < len(header):
        scheme = scheme_pattern.match(header, position)
        if scheme is None:
            break
        params: dict[str, str] = {}
        position = scheme.end()
        while (param := param_pattern.match(header, position)) is not None and param.group(0).strip():
            value = param.group(2)
            if value.startswith('"'):
                value = pattern(_QUOTED_PAIR).sub(r"\1", value[1:-1])
            params[param.group(1).lower()] = value
            position = param.end()
        challenges.append(Challenge(scheme.group(1).lower(), params))
        position = _skip_commas(header, position)
    return challenges


def _skip_commas(text: str, position: int) -> int:
    while position < len(text) and text[position] in ", \t":
        position += 1
    return position


def pick_challenge(challenges: list[Challenge]) -> Challenge | None:
    """Prefer Bearer, then Basic (what go-containerregistry does)."""
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def push_scope(repository: str) -> str:
    return f"repository:{repository}:pull,push"


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: float


class Authenticator:
    """Authorization for one registry host; thread-safe, shared by parallel downloads."""

    def __init__(
        self,
        http: HTTPClient,
        credentials: Credentials,
        *,
        registry: str,
        allow_http_realm: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._credentials = credentials
        self._registry = registry
        self._allow_http_realm = allow_http_realm
        self._clock = clock
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._tokens: dict[frozenset[str], _Token] = {}
        self.tokens_fetched = 0

    def header(self, scopes: tuple[str, ...]) -> str | None:
        """The Authorization value to send now, from the last challenge and the token cache."""
        with self._lock:
            challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return None if self._credentials.is_anonymous else self._credentials.basic_header()
        token = self._cached_token(frozenset(scopes))
        return f"Bearer {token}" if token else None

    def handle_unauthorized(self, response: Response, scopes: tuple[str, ...]) -> str:
        """Answer a 401: learn the challenge, get a token; return the header for the retry."""
        challenge = pick_challenge(parse_challenges(response.headers.get("WWW-Authenticate", "")))
        if challenge is None:
            raise AuthError(f"{self._registry} answered 401 without a usable WWW-Authenticate challenge")
        with self._lock:
            self._challenge = challenge
        if challenge.scheme == "basic":
            if self._credentials.is_anonymous:
                raise AuthError(f"{self._registry} requires a login (basic auth); run pybuild login {self._registry}")
            return self._credentials.basic_header()
        wanted = frozenset(scopes) | frozenset(challenge.scopes)
        return f"Bearer {self._fetch_token(challenge, wanted)}"

    def _cached_token(self, scopes: frozenset[str]) -> str | None:
        if self._credentials.registry_token:
            return self._credentials.registry_token
        with self._lock:
            token = self._tokens.get(scopes)
        if token is None or token.expires_at - EXPIRY_MARGIN_SECONDS <= self._clock():
            return None
        return token.value

    def _fetch_token(self, challenge: Challenge, scopes: frozenset[str]) -> str:
        if self._credentials.registry_token:
            return self._credentials.registry_token
        realm = challenge.params.get("realm", "")
        self._check_realm(realm)
        service = challenge.params.get("service", "")
        started = self._clock()
        if self._credentials.identity_token:
            body = self._refresh_token_grant(realm, service, scopes)
        else:
            body = self._token_get(realm, service, scopes)
        value = body.get("token") or body.get("access_token")
        if not value:
            raise AuthError(f"token server {realm} sent no token")
        lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        with self._lock:
            self._tokens[scopes] = _Token(str(value), started + lifetime)
            self.tokens_fetched += 1
        return str(value)

    def _token_get(self, realm: str, service: str, scopes: frozenset[str]) -> dict:
        params = [("service", service)] if service else []
        params += [("scope", s) for s in sorted(scopes)]
        headers = {}
        if self._credentials.username or self._credentials.password:
            headers["Authorization"] = self._credentials.basic_header()
        separator = "&" if urllib.parse.urlsplit(realm).query else "?"
        url = realm + (separator + urllib.parse.urlencode(params) if params else "")
        response = self._http.request("GET", url, headers=headers)
        return self._token_body(response, realm)

    def _refresh_token_grant(self, realm: str, service: str, scopes: frozenset[str]) -> dict:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._credentials.identity_token or "",
            "service": service,
            "client_id": CLIENT_ID,
            "scope": " ".join(sorted(scopes)),
        }
        response = self._http.request("POST", realm, body=urllib.parse.urlencode(form).encode(),
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        if response.status_code in (404, 405):
            response.close()
            # Token servers without OAuth2 support: fall back to GET + Basic (like ggcr).
            return self._token_get(realm, service, scopes)
        return self._token_body(response, realm)

    def _token_body(self, response: Response, realm: str) -> dict:
        if response.status_code in (401, 403):
            raise AuthError(f"token server {realm} refused the credentials for {self._registry}: "
                            f"{response.status_code} {response.text[:200].strip()}")
        if response.status_code != 200:
            raise AuthError(f"token server {realm} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise AuthError(f"token server {realm} sent invalid JSON") from exc
        if not isinstance(body, dict):
            raise AuthError(f"token server {realm} sent invalid JSON")
        return body

    def _check_realm(self, realm: str) -> None:
        # A plain-HTTP realm would leak credentials; allow it only for insecure registries.
        scheme = urllib.parse.urlsplit(realm).scheme
        if scheme == "https" or (scheme == "http" and self._allow_http_realm):
            return
        raise AuthError(f"refusing token realm {realm!r} for {self._registry}: not https")
