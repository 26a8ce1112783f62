"""Turning registry HTTP responses into errors, Retry-After delays and rate-limit facts."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from .errors import AuthError, NotFound, RateLimited, RegistryError, TransportError

if TYPE_CHECKING:
    from requests import Response


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Docker Hub's ``ratelimit-*`` headers: ``limit``/``remaining`` per ``window`` seconds."""

    limit: int | None
    remaining: int | None
    window_seconds: int | None
    source: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit | None:
        limit = _parse_quota(headers.get("ratelimit-limit"))
        remaining = _parse_quota(headers.get("ratelimit-remaining"))
        if limit is None and remaining is None:
            return None
        window = (limit or remaining or (None, None))[1]
        return cls(limit[0] if limit else None, remaining[0] if remaining else None, window,
                   headers.get("docker-ratelimit-source"))


def _parse_quota(value: str | None) -> tuple[int, int | None] | None:
    # "100;w=21600" -> (100, 21600)
    if not value:
        return None
    count, _, rest = value.partition(";")
    window = None
    if rest.strip().startswith("w="):
        window = int(rest.strip()[2:]) if rest.strip()[2:].isdigit() else None
    return (int(count), window) if count.strip().isdigit() else None


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """``Retry-After`` as seconds (it may be a number or an HTTP date); None if absent."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        import email.utils  # only a Retry-After with a date needs it

        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def rate_limit_message(host: str, response: Response) -> str:
    """A 429 explained: which limit, when it resets, what to do about it."""
    parts = [f"{host}: too many requests (HTTP 429{_codes(response)})"]
    limit = RateLimit.from_headers(response.headers)
    if limit is not None and limit.limit is not None:
        window = f" per {limit.window_seconds} s" if limit.window_seconds else ""
        parts.append(f"pull limit {limit.limit}{window}, {limit.remaining or 0} left")
    delay = retry_after_seconds(response.headers)
    reset = _reset_seconds(response.headers)
    if delay is not None or reset is not None:
        seconds = delay if delay is not None else reset
        parts.append(f"the limit resets in about {int(seconds)} s (at {_clock(seconds)})")  # type: ignore[arg-type]
    elif limit is not None and limit.window_seconds:
        parts.append(f"the limit resets within {limit.window_seconds} s (by {_clock(limit.window_seconds)})")
    parts.append("log in (pybuild login) or use a registry mirror to raise it")
    return "; ".join(parts)


def out_of_quota(response: Response) -> bool:
    """A 429 saying the quota is used up (Docker Hub's pull limit): retrying within seconds
    cannot help, so it is reported at once."""
    if response.status_code != 429:
        return False
    limit = RateLimit.from_headers(response.headers)
    if limit is not None and limit.remaining == 0:
        return True
    return retry_after_seconds(response.headers) is None and any(
        code == "TOOMANYREQUESTS" for code, _ in error_codes(response))


def _reset_seconds(headers: Mapping[str, str]) -> float | None:
    # The IETF draft's "RateLimit-Reset: <seconds>" (Docker Hub sends only limit/remaining).
    value = (headers.get("ratelimit-reset") or "").partition(";")[0].strip()
    return float(value) if value.isdigit() else None


def _clock(seconds_from_now: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(time.time() + seconds_from_now))


def error_codes(response: Response) -> list[tuple[str, str]]:
    """The ``errors`` list of a registry error body as (code, message) pairs."""
    try:
        errors = response.json().get("errors") or []
        return [(str(e.get("code", "")), str(e.get("message", ""))) for e in errors]
    except (ValueError, AttributeError):
        return []


def _codes(response: Response) -> str:
    codes = [code for code, _ in error_codes(response) if code]
    return f" {', '.join(codes)}" if codes else ""


def raise_for_status(response: Response, *, ref: str | None = None,
                     digest: str | None = None, what: str = "request") -> None:
    """Raise the RegistryError subclass that fits a non-2xx response."""
    status = response.status_code
    if status < 300:
        return
    detail = "; ".join(f"{c}: {m}" for c, m in error_codes(response)) or response.reason or ""
    message = f"{what} failed: HTTP {status} {detail}".rstrip()
    if status == 404:
        raise NotFound(f"{what}: not found ({detail or 'HTTP 404'})", ref=ref, digest=digest)
    if status in (401, 403):
        raise AuthError(message, ref=ref, digest=digest)
    if status == 429:
        raise RateLimited(rate_limit_message(response.url.split("/")[2], response), ref=ref,
                          digest=digest, retry_after=retry_after_seconds(response.headers))
    if status >= 500:
        raise TransportError(message, ref=ref, digest=digest)
    raise RegistryError(message, ref=ref, digest=digest)
