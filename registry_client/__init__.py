"""registry_client: OCI vocabulary, content store and distribution client.

Concepts: a ``Reference`` names an image (``docker.io/library/ubuntu:latest``); a ``Digest``
names bytes; a ``Descriptor`` points at a blob; a ``Manifest`` is one image and an ``Index``
one per platform. ``ContentStore`` keeps verified blobs by digest. ``RegistryClient`` speaks
the distribution API (auth, retries, mirrors, TLS); ``pull`` and ``push`` are the verbs.
Nothing here prints: progress leaves through ``on_progress(BlobProgress)``.

The exports load lazily (PEP 562), as grammar's do: ``from registry_client import pull``
imports what a pull needs and not, say, the push or login code. ``_EXPORTS`` drives the
loader; the ``TYPE_CHECKING`` block says the same for type checkers (tests/test_exports.py
checks that they and ``__all__`` agree).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .auth import Credentials
    from .client import FetchedManifest, RegistryClient
    from .config import History, ImageConfig
    from .content import BlobWriter, ContentStore
    from .credentials import DockerConfig
    from .download import BlobProgress
    from .errors import (
        AuthError,
        CredentialsError,
        DigestMismatch,
        InvalidReference,
        NotFound,
        PlatformNotFound,
        ProtocolError,
        RateLimited,
        RegistryError,
        TransportError,
        UnsupportedMediaType,
    )
    from .layers import open_uncompressed
    from .login import registry_host, verify_login
    from .mediatypes import MediaType
    from .oci import Descriptor, Digest, Index, Manifest, canonical_json, parse_manifest, select_platform
    from .options import RegistryOptions, RetryPolicy
    from .platform import Platform, host_platform
    from .pulling import PulledImage, ResolvedImage, pull, resolve
    from .pushing import PushSettings, push, push_blob, push_manifest, tag
    from .reference import Reference, parse_reference
    from .responses import RateLimit

_EXPORTS: dict[str, str] = {
    "Credentials": "registry_client.auth",
    "FetchedManifest": "registry_client.client",
    "RegistryClient": "registry_client.client",
    "History": "registry_client.config",
    "ImageConfig": "registry_client.config",
    "BlobWriter": "registry_client.content",
    "ContentStore": "registry_client.content",
    "DockerConfig": "registry_client.credentials",
    "BlobProgress": "registry_client.download",
    "AuthError": "registry_client.errors",
    "CredentialsError": "registry_client.errors",
    "DigestMismatch": "registry_client.errors",
    "InvalidReference": "registry_client.errors",
    "NotFound": "registry_client.errors",
    "PlatformNotFound": "registry_client.errors",
    "ProtocolError": "registry_client.errors",
    "RateLimited": "registry_client.errors",
    "RegistryError": "registry_client.errors",
    "TransportError": "registry_client.errors",
    "UnsupportedMediaType": "registry_client.errors",
    "open_uncompressed": "registry_client.layers",
    "registry_host": "registry_client.login",
    "verify_login": "registry_client.login",
    "MediaType": "registry_client.mediatypes",
    "Descriptor": "registry_client.oci",
    "Digest": "registry_client.oci",
    "Index": "registry_client.oci",
    "Manifest": "registry_client.oci",
    "canonical_json": "registry_client.oci",
    "parse_manifest": "registry_client.oci",
    "select_platform": "registry_client.oci",
    "RegistryOptions": "registry_client.options",
    "RetryPolicy": "registry_client.options",
    "Platform": "registry_client.platform",
    "host_platform": "registry_client.platform",
    "PulledImage": "registry_client.pulling",
    "ResolvedImage": "registry_client.pulling",
    "pull": "registry_client.pulling",
    "resolve": "registry_client.pulling",
    "PushSettings": "registry_client.pushing",
    "push": "registry_client.pushing",
    "push_blob": "registry_client.pushing",
    "push_manifest": "registry_client.pushing",
    "tag": "registry_client.pushing",
    "Reference": "registry_client.reference",
    "parse_reference": "registry_client.reference",
    "RateLimit": "registry_client.responses",
}

__all__ = [
    "AuthError",
    "BlobProgress",
    "BlobWriter",
    "ContentStore",
    "Credentials",
    "CredentialsError",
    "Descriptor",
    "Digest",
    "DigestMismatch",
    "DockerConfig",
    "FetchedManifest",
    "History",
    "ImageConfig",
    "Index",
    "InvalidReference",
    "Manifest",
    "MediaType",
    "NotFound",
    "Platform",
    "PlatformNotFound",
    "ProtocolError",
    "PulledImage",
    "PushSettings",
    "RateLimit",
    "RateLimited",
    "Reference",
    "RegistryClient",
    "RegistryError",
    "RegistryOptions",
    "ResolvedImage",
    "RetryPolicy",
    "TransportError",
    "UnsupportedMediaType",
    "canonical_json",
    "host_platform",
    "open_uncompressed",
    "parse_manifest",
    "parse_reference",
    "pull",
    "push",
    "push_blob",
    "push_manifest",
    "registry_host",
    "resolve",
    "select_platform",
    "tag",
    "verify_login",
]


def __getattr__(name: str) -> object:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'registry_client' has no attribute {name!r}")
    value = getattr(__import__(module_name, fromlist=(name,)), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
