"""HTTP to one registry host: scheme choice, TLS, auth retry, backoff and safe redirects.

- The scheme is chosen once by pinging ``/v2/``: https always; plain http only for insecure
  hosts (loopback by default), after https failed, as dockerd does.
- ``Authorization`` is attached only to URLs on this endpoint's own origin. Redirects are
  followed by hand so a CDN never sees it, and ``~/.netrc`` is never consulted (requests
  would otherwise re-add credentials after stripping them).
- Idempotent requests are retried on connection errors, 408, 429 and 5xx with exponential
  backoff and jitter, honouring ``Retry-After``.
"""
from __future__ import annotations

import random
import threading
import urllib.parse
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Mapping

from .auth import Authenticator, Credentials
from .errors import AuthError, RateLimited, TransportError
from .options import RegistryOptions
from .responses import error_codes, out_of_quota, rate_limit_message, retry_after_seconds
from .proxies import ProxySettings
from .tls import mount_tls, speaks_plain_http

if TYPE_CHECKING:  # requests costs ~100 ms to import: only a network call pays for it
    import requests

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


@cache
def _session_class() -> type[requests.Session]:
    """A Session that never reads ~/.netrc or requests' environment variables, and takes its
    proxies from ``ProxySettings`` (Go's rules, read once) instead.

    Built on first use so that importing registry_client does not import requests.
    """
    import requests

    class RegistrySession(requests.Session):
        def __init__(self, proxies: ProxySettings) -> None:
            super().__init__()
            # trust_env=False: no ~/.netrc credentials (they would reach CDNs after a redirect
            # strips ours), no REQUESTS_CA_BUNDLE, and no walk of os.environ per request.
            self.trust_env = False
            self.proxy_settings = proxies

        def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
            if not proxies:
                proxies = self.proxy_settings.requests_proxies(url)
            return super().merge_environment_settings(url, proxies, stream, verify, cert)

    return RegistrySession


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
    """One registry host (``host[:port]``) reached with one keep-alive session."""

    def __init__(self, host: str, options: RegistryOptions, credentials: Credentials, *,
                 base_url: str | None = None) -> None:
        self.host = host
        self.options = options
        self.proxies = ProxySettings.from_environment()
        self.session = _session_class()(self.proxies)
        self.session.headers["User-Agent"] = options.user_agent
        mount_tls(self.session, host, options.certs_dirs)
        self.insecure = options.is_insecure(host) or (base_url or "").startswith("http:")
        self.auth = Authenticator(self.session, credentials, registry=host, allow_http_realm=self.insecure)
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

    def request(self, call: Call) -> requests.Response:
        """Send ``call`` with auth, retries and redirects; the caller checks the status."""
        import requests

        retry = self.options.retry
        for attempt in range(retry.attempts):
            try:
                response = self._send_authorized(call)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt + 1 >= retry.attempts or not call.replayable:
                    raise TransportError(f"cannot reach {self.host}: {exc}") from exc
                self.options.sleep(self._backoff(attempt))
                continue
            if (response.status_code not in RETRY_STATUSES or attempt + 1 >= retry.attempts
                    or not call.replayable or out_of_quota(response)):
                return response
            delay = retry_after_seconds(response.headers)
            if response.status_code == 429 and delay is not None and delay > retry.max_retry_after:
                raise RateLimited(rate_limit_message(self.host, response), retry_after=delay)
            response.close()
            self.options.sleep(delay if delay is not None else self._backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_authorized(self, call: Call) -> requests.Response:
        header = self.auth.header(call.scopes)
        response = self._send_following(call, header)
        if response.status_code != 401:
            return response
        response.close()
        header = self.auth.handle_unauthorized(response, call.scopes)
        response = self._send_following(call, header)
        if response.status_code == 401:
            response.close()
            raise AuthError(f"{self.host} refused access ({_error_text(response)}); "
                            f"check pybuild login for {self.host}")
        return response

    def _send_following(self, call: Call, authorization: str | None) -> requests.Response:
        url = call.url
        for _ in range(MAX_REDIRECTS + 1):
            headers = dict(call.headers or {})
            if authorization and self._same_origin(url):
                headers["Authorization"] = authorization
            body = call.data() if callable(call.data) else call.data
            try:
                response = self.session.request(
                    call.method, url, headers=headers, data=body, stream=call.stream,
                    allow_redirects=False, timeout=self.options.timeout)
            finally:
                if hasattr(body, "close"):
                    body.close()
            self.last_response_headers = response.headers
            location = response.headers.get("Location")
            if not (call.follow_redirects and response.status_code in REDIRECT_STATUSES and location):
                return response
            response.close()
            url = urllib.parse.urljoin(url, location)
        raise TransportError(f"too many redirects from {self.host} for {call.url}")

    def _same_origin(self, url: str) -> bool:
        ours, theirs = urllib.parse.urlsplit(self.base_url), urllib.parse.urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    def _backoff(self, attempt: int) -> float:
        retry = self.options.retry
        delay = min(retry.max_delay, retry.base_delay * (2 ** attempt))
        return delay * random.uniform(0.8, 1.2)

    def _choose_scheme(self) -> str:
        import requests

        # (scheme, verify): insecure hosts may use an unverified TLS or plain HTTP, like dockerd.
        attempts = [("https", True)]
        direct = self.proxies.proxy_for(f"https://{self.host}/") is None
        if self.insecure and direct and speaks_plain_http(self.host, min(self.options.timeout[0], 2.0)):
            attempts = [("http", True)]  # TLS attempts could only fail, slowly
        elif self.insecure:
            attempts += [("https", False), ("http", True)]
        failure: Exception | None = None
        for scheme, verify in attempts:
            if not verify:
                _quiet_insecure_warnings()  # the user listed this registry as insecure
            try:
                response = self.session.get(f"{scheme}://{self.host}/v2/", timeout=self.options.timeout,
                                            verify=verify, allow_redirects=False)
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure = failure or exc  # the https error says more than a later http one
                continue
            response.close()
            if response.status_code == 400 and scheme == "http":
                continue  # "client sent an HTTP request to an HTTPS server": TLS it is, and it failed
            self.session.verify = verify
            return f"{scheme}://{self.host}"
        raise TransportError(f"cannot reach registry {self.host}: {failure}{_tls_hint(self.host, failure)}")


def _quiet_insecure_warnings() -> None:
    import warnings

    from urllib3.exceptions import InsecureRequestWarning

    warnings.filterwarnings("ignore", category=InsecureRequestWarning)


def _tls_hint(host: str, failure: Exception | None) -> str:
    """What to do about the TLS failures users meet, in docker's terms."""
    text = str(failure).upper()
    # TLS 1.3 servers say "certificate required"; Go's TLS 1.2 answers "bad certificate".
    if any(alert in text for alert in ("CERTIFICATE_REQUIRED", "ALERT_BAD_CERTIFICATE", "CERTIFICATE REQUIRED")):
        return (f" (the registry requires a valid client certificate: put client.cert and client.key "
                f"in /etc/docker/certs.d/{host}/)")
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (f" (put the registry's CA certificate in /etc/docker/certs.d/{host}/ca.crt, "
                f"or list it with --insecure-registry {host})")
    return ""


def _error_text(response: requests.Response) -> str:
    return "; ".join(f"{code}: {message}" for code, message in error_codes(response)) or str(response.status_code)
