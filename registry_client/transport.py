"""HTTP to one registry host: scheme choice, TLS, auth retry, backoff and safe redirects.

- The scheme is chosen once by pinging ``/v2/``: https, verified unless the host is insecure
  (loopback by default, or listed), then for insecure hosts plain http, as dockerd does.
- ``Authorization`` is attached only to URLs on this endpoint's own origin. Redirects are
  followed by hand so a CDN never sees it; ``~/.netrc`` is never consulted (httpclient).
- Idempotent requests are retried on connection errors, 408, 429 and 5xx with exponential
  backoff and jitter, honouring ``Retry-After``.
"""
from __future__ import annotations

import threading
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Callable, Mapping

from .auth import Authenticator, Credentials
from .errors import AuthError, RateLimited, TransportError
from .httpclient import ConnectionFailed, HTTPClient, drain
from .options import RegistryOptions
from .proxies import ProxySettings
from .responses import error_codes, out_of_quota, rate_limit_message, retry_after_seconds
from .tls import HostTLS, answered_in_plain_http

if TYPE_CHECKING:
    from requests import Response

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class Call:
    """One logical request; ``scopes`` are the token scopes it needs."""

    method: str
    url: str
    scopes: tuple[str, ...] = ()
    headers: Mapping[str, str] | None = None
    data: bytes | Callable[[], BinaryIO] | None = None  # a callable gives a fresh body per send
    stream: bool = False
    follow_redirects: bool = True
    retry: bool = True  # False: one attempt (e.g. a best-effort clean-up)

    @property
    def replayable(self) -> bool:
        """Whether sending it again after a failure is safe. A PATCH appends at an offset the
        registry may already have moved: its caller asks for the upload's state instead."""
        return self.retry and self.method != "PATCH"


class Endpoint:
    """One registry host (``host[:port]``) reached over pooled keep-alive connections."""

    def __init__(self, host: str, options: RegistryOptions, credentials: Credentials, *,
                 base_url: str | None = None) -> None:
        self.host = host
        self.options = options
        self.proxies = ProxySettings.from_environment()
        # One pool per host, with room for every parallel download (and a few more requests).
        self.http = HTTPClient(self.proxies, options.timeout, options.user_agent,
                               tls=HostTLS(host, options.certs_dirs),
                               pool_size=max(10, options.max_concurrent_downloads + 2))
        self.insecure = options.is_insecure(host) or (base_url or "").startswith("http:")
        self.auth = Authenticator(self.http, credentials, registry=host, allow_http_realm=self.insecure)
        self._base_url: str | None = base_url  # given for mirrors configured with a scheme
        self._lock = threading.Lock()
        self.last_response_headers: Mapping[str, str] = {}

    @property
    def base_url(self) -> str:
        with self._lock:
            if self._base_url is None:
                self._base_url = self._choose_scheme()
            return self._base_url

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, call: Call) -> Response:
        """Send ``call`` with auth, retries and redirects; the caller checks the status."""
        retry = self.options.retry
        for attempt in range(retry.attempts):
            try:
                response = self._send_authorized(call)
            except ConnectionFailed as exc:
                if attempt + 1 >= retry.attempts or not call.replayable or exc.proxy_refused:
                    raise TransportError(f"cannot reach {self.host}: {exc}{_proxy_hint(exc)}") from exc
                self.options.sleep(self._backoff(attempt))
                continue
            if (response.status_code not in RETRY_STATUSES or attempt + 1 >= retry.attempts
                    or not call.replayable or out_of_quota(response)):
                return response
            delay = retry_after_seconds(response.headers)
            if response.status_code == 429 and delay is not None and delay > retry.max_retry_after:
                raise RateLimited(rate_limit_message(self.host, response), retry_after=delay)
            drain(response)
            self.options.sleep(delay if delay is not None else self._backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_authorized(self, call: Call) -> Response:
        header = self.auth.header(call.scopes)
        response = self._send_following(call, header)
        if response.status_code != 401:
            return response
        drain(response)
        header = self.auth.handle_unauthorized(response, call.scopes)
        response = self._send_following(call, header)
        if response.status_code == 401:
            drain(response)
            raise AuthError(f"{self.host} refused access ({_error_text(response)}); "
                            f"check pybuild login for {self.host}")
        return response

    def _send_following(self, call: Call, authorization: str | None) -> Response:
        url = call.url
        for _ in range(MAX_REDIRECTS + 1):
            headers = dict(call.headers or {})
            if authorization and self._same_origin(url):
                headers["Authorization"] = authorization
            body = call.data() if callable(call.data) else call.data
            try:
                response = self.http.request(call.method, url, headers=headers, body=body, stream=call.stream)
            finally:
                if hasattr(body, "close"):
                    body.close()
            self.last_response_headers = response.headers
            location = response.headers.get("Location")
            if not (call.follow_redirects and response.status_code in REDIRECT_STATUSES and location):
                return response
            drain(response)  # a redirect's small body: the connection stays usable
            url = urllib.parse.urljoin(url, location)
        raise TransportError(f"too many redirects from {self.host} for {call.url}")

    def _same_origin(self, url: str) -> bool:
        ours, theirs = urllib.parse.urlsplit(self.base_url), urllib.parse.urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    def _backoff(self, attempt: int) -> float:
        retry = self.options.retry
        import random  # only a retry needs it (1.5 ms to import)

        delay = min(retry.max_delay, retry.base_delay * (2 ** attempt))
        return delay * random.uniform(0.8, 1.2)

    def _choose_scheme(self) -> str:
        """https, then for an insecure host plain http, as dockerd does: an insecure host's https is
        not verified at all (moby's ``InsecureSkipVerify = !isSecure``), so no CA bundle is loaded
        for it. http is taken unless it answers 400, as Go's TLS servers answer plain HTTP. The
        https failure is reported, unless http says more."""
        verify = not self.insecure
        try:
            self._ping("https", verify=verify)
            self.http.verify = verify
            return f"https://{self.host}"
        except ConnectionFailed as exc:
            failure = exc  # the https error says more than a later http one
        if self.insecure:
            try:
                plain = self._ping("http", verify=True)
            except ConnectionFailed as exc:
                if answered_in_plain_http(failure.reason):
                    failure = exc  # it did not speak TLS: what http met says more
            else:
                # Go's "client sent an HTTP request to an HTTPS server" is a 400: TLS it is, and it failed.
                if plain.status_code != 400:
                    return f"http://{self.host}"
        raise TransportError(f"cannot reach registry {self.host}: {failure}{_tls_hint(self.host, failure)}")

    def _ping(self, scheme: str, *, verify: bool) -> Response:
        return self.http.request("GET", f"{scheme}://{self.host}/v2/", verify=verify)


def _proxy_hint(failure: ConnectionFailed) -> str:
    """What to do about a proxy that refused us or could not be verified (never showing its URL,
    which may hold credentials)."""
    if failure.proxy is None:
        return ""
    text = str(failure)
    if failure.proxy_refused:
        return (" (the proxy wants valid credentials in its URL: "
                "HTTPS_PROXY=http://USER:PASSWORD@HOST:PORT, HTTP_PROXY likewise)")
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (f" (put the proxy's CA certificate in /etc/docker/certs.d/{failure.proxy}/ca.crt "
                "or in the system's CA store)")
    return ""


def _tls_hint(host: str, failure: ConnectionFailed) -> str:
    """What to do about the TLS failures users meet, in docker's terms."""
    if failure.proxy is not None:
        return _proxy_hint(failure)
    if answered_in_plain_http(failure.reason):
        return f" (the registry answers plain HTTP: list it with --insecure-registry {host})"
    text = str(failure).upper()
    # TLS 1.3 servers say "certificate required"; Go's TLS 1.2 answers "bad certificate".
    if any(alert in text for alert in ("CERTIFICATE_REQUIRED", "ALERT_BAD_CERTIFICATE", "CERTIFICATE REQUIRED")):
        return (f" (the registry requires a valid client certificate: put client.cert and client.key "
                f"in /etc/docker/certs.d/{host}/)")
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (f" (put the registry's CA certificate in /etc/docker/certs.d/{host}/ca.crt, "
                f"or list it with --insecure-registry {host})")
    return ""


def _error_text(response: Response) -> str:
    return "; ".join(f"{code}: {message}" for code, message in error_codes(response)) or str(response.status_code)
