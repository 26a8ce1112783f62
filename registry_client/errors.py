"""The exception tree of registry_client: one root, every error names what it was about.

``RegistryError`` carries an optional ``ref`` (an image reference as text) and an optional
``digest`` so that the CLI can say *which* image or blob failed without parsing messages.
"""
from __future__ import annotations


class RegistryError(Exception):
    """Root of every error raised by registry_client."""

    def __init__(self, message: str, *, ref: str | None = None, digest: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ref = ref
        self.digest = digest

    def __str__(self) -> str:
        subject = self.ref or self.digest
        if subject and subject not in self.message:
            return f"{subject}: {self.message}"
        return self.message


class InvalidReference(RegistryError):
    """The text is not a valid image reference (docker's grammar)."""


class AuthError(RegistryError):
    """The registry or its token server refused our (possibly anonymous) credentials."""


class CredentialsError(RegistryError):
    """config.json or a docker-credential-* helper could not be read or written."""


class NotFound(RegistryError):
    """The repository, tag, manifest or blob does not exist (or is hidden from us)."""


class DigestMismatch(RegistryError):
    """Bytes received do not hash to the digest that was asked for or announced."""


class UnsupportedMediaType(RegistryError):
    """A manifest or layer whose media type we cannot use (schema1, encrypted, artifacts...)."""


class PlatformNotFound(RegistryError):
    """An index has no manifest for the requested platform."""


class RateLimited(RegistryError):
    """HTTP 429: too many requests, e.g. Docker Hub's pull limit."""

    def __init__(
        self,
        message: str,
        *,
        ref: str | None = None,
        digest: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, ref=ref, digest=digest)
        self.retry_after = retry_after


class TransportError(RegistryError):
    """The connection failed, or the registry kept answering 5xx, after all retries."""


class ProtocolError(RegistryError):
    """The registry answered something the distribution spec does not allow."""
