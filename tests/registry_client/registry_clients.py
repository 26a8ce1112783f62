"""Clients for the registry tests: fixed credentials per host, fast retries.

A module of its own (not conftest.py) so that tests import it by a name no other test
directory's conftest can shadow.
"""
from __future__ import annotations

from registry_client import Credentials, RegistryClient, RegistryOptions, RetryPolicy

USER, PASSWORD = "testuser", "testpass"


class StaticCredentials:
    """A CredentialSource for tests: host -> Credentials, anonymous otherwise."""

    def __init__(self, entries: dict[str, Credentials] | None = None) -> None:
        self.entries = entries or {}
        self.asked: list[str] = []

    def get(self, registry: str) -> Credentials:
        self.asked.append(registry)
        return self.entries.get(registry, Credentials())


def make_client(credentials: dict[str, Credentials] | None = None, **options: object) -> RegistryClient:
    defaults: dict[str, object] = {"certs_dirs": (), "retry": RetryPolicy(base_delay=0.05)}
    defaults.update(options)
    return RegistryClient(RegistryOptions(**defaults), StaticCredentials(credentials))  # type: ignore[arg-type]
