"""registry_client: OCI vocabulary, content store and distribution client.

Concepts: a ``Reference`` names an image (``docker.io/library/ubuntu:latest``); a ``Digest``
names bytes; a ``Descriptor`` points at a blob; a ``Manifest`` is one image and an ``Index``
one per platform. ``ContentStore`` keeps verified blobs by digest. ``RegistryClient`` speaks
the distribution API (auth, retries, mirrors, TLS); ``pull`` and ``push`` are the verbs.
Nothing here prints: progress leaves through ``on_progress(BlobProgress)``.
"""
from __future__ import annotations

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
from .pull import PulledImage, ResolvedImage, pull, resolve
from .push import PushSettings, push, push_blob, push_manifest, tag
from .reference import Reference, parse_reference
from .responses import RateLimit

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
