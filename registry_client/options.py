"""Settings of a RegistryClient: insecure hosts, mirrors, TLS directories, retries, limits."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# dockerd always treats loopback as insecure (plain HTTP allowed); so do we by default.
DEFAULT_INSECURE = ("localhost", "127.0.0.0/8", "::1/128")
DEFAULT_CERTS_DIRS = (Path("/etc/docker/certs.d"), Path.home() / ".docker" / "certs.d")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of idempotent requests on connection errors, 408, 429 and 5xx."""

    attempts: int = 5
    base_delay: float = 0.5  # doubled per attempt, with jitter
    max_delay: float = 30.0
    max_retry_after: float = 60.0  # a longer Retry-After on 429 fails at once (Hub's hourly limit)
    resume_attempts: int = 5  # Range resumes of one blob after dropped connections


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    insecure_registries: tuple[str, ...] = DEFAULT_INSECURE  # hosts, host:port or CIDRs
    mirrors: tuple[str, ...] = ()  # docker.io only, tried in order before Docker Hub
    certs_dirs: tuple[Path, ...] = DEFAULT_CERTS_DIRS  # <dir>/<host[:port]>/{ca.crt,*.cert,*.key}
    max_concurrent_downloads: int = 6  # as containers/image (skopeo); dockerd uses 3 (settable)
    chunk_size: int = 1 << 20
    timeout: tuple[float, float] = (10.0, 60.0)  # connect, read
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    user_agent: str = "pybuild/0.1"
    sleep: Callable[[float], None] = time.sleep

    def is_insecure(self, host: str) -> bool:
        """Whether ``host`` (``name[:port]``) may be reached over plain HTTP."""
        name = _hostname(host)
        for entry in self.insecure_registries:
            if entry in (host, name):
                return True
            if "/" in entry and _looks_like_ip(name) and _in_network(name, entry):
                return True
        return False


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _looks_like_ip(name: str) -> bool:
    return ":" in name or name.replace(".", "").isdigit()


def _in_network(name: str, cidr: str) -> bool:
    try:
        import ipaddress  # only IP literals get here

        return ipaddress.ip_address(name) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
