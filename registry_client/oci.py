"""The OCI vocabulary: digests, descriptors, image manifests and indexes.

- A *digest* names bytes: ``sha256:<hex>`` of exactly the bytes stored or sent. JSON is never
  re-serialised before hashing; ``to_bytes()`` gives *our* canonical form (sorted keys, no
  spaces) for documents we create.
- A *descriptor* points at a blob: (media_type, digest, size) plus optional platform,
  annotations and urls.
- A *manifest* is one image (config + layers); an *index* (or Docker manifest list) points
  at manifests, usually one per platform.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Union

from . import mediatypes as mt
from .errors import DigestMismatch, PlatformNotFound, ProtocolError, UnsupportedMediaType
from .platform import Platform, compatible_platforms, same_platform

DIGEST_HEX_LENGTH = {"sha256": 64, "sha512": 128}  # the encoded part's length per algorithm we accept
LOWER_HEX = "0123456789abcdef"
_EMPTY: Mapping[str, str] = MappingProxyType({})


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no insignificant spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        algorithm, _, encoded = text.partition(":")
        # str.strip, not a regex: compiling one is a cost every process would pay at import.
        if len(encoded) != DIGEST_HEX_LENGTH.get(algorithm) or encoded.strip(LOWER_HEX):
            raise DigestMismatch(f"invalid digest {text!r}", digest=text)
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> "hashlib._Hash":
        """A fresh hash object of this digest's algorithm, to verify a stream."""
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    urls: tuple[str, ...] = ()
    artifact_type: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Descriptor:
        try:
            return cls(
                media_type=str(data.get("mediaType", "")),
                digest=Digest.parse(str(data["digest"])),
                size=int(data["size"]),
                platform=Platform.from_json(data["platform"]) if data.get("platform") else None,
                annotations=MappingProxyType(dict(data.get("annotations") or {})),
                urls=tuple(data.get("urls") or ()),
                artifact_type=data.get("artifactType"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"malformed descriptor {dict(data)!r}: {exc}") from exc

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.urls:
            out["urls"] = list(self.urls)
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out


@dataclass(frozen=True, slots=True)
class Manifest:
    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = mt.OCI_MANIFEST
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def to_json(self) -> dict[str, Any]:
        return _document(self.media_type, self.annotations, config=self.config.to_json(),
                         layers=[layer.to_json() for layer in self.layers])

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())


@dataclass(frozen=True, slots=True)
class Index:
    manifests: tuple[Descriptor, ...]
    media_type: str = mt.OCI_INDEX
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def to_json(self) -> dict[str, Any]:
        return _document(self.media_type, self.annotations, manifests=[m.to_json() for m in self.manifests])

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())


ManifestOrIndex = Union[Manifest, Index]


def _document(media_type: str, annotations: Mapping[str, str], **body: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type, **body}
    if annotations:
        out["annotations"] = dict(annotations)
    return out


def parse_manifest(data: bytes, content_type: str | None = None, *, ref: str | None = None) -> ManifestOrIndex:
    """Parse manifest bytes; the media type comes from the body, else from ``Content-Type``."""
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise ProtocolError(f"manifest is not JSON: {exc}", ref=ref) from exc
    if not isinstance(body, dict):
        raise ProtocolError("manifest is not a JSON object", ref=ref)
    header_type = mt.base_type(content_type)
    media_type = body.get("mediaType") or _sniff_type(body, header_type)
    if header_type in (mt.INDEX_TYPES | mt.MANIFEST_TYPES) and media_type != header_type:
        raise ProtocolError(f"Content-Type {header_type} but body says {media_type}", ref=ref)
    if media_type in mt.SCHEMA1_TYPES or body.get("schemaVersion") == 1:
        raise UnsupportedMediaType(
            "this image uses the deprecated Docker schema1 manifest format; "
            "re-push it as OCI or Docker schema2", ref=ref)
    annotations = MappingProxyType(dict(body.get("annotations") or {}))
    if media_type in mt.INDEX_TYPES:
        descriptors = tuple(Descriptor.from_json(d) for d in body.get("manifests") or ())
        return Index(descriptors, media_type, annotations)
    if media_type in mt.MANIFEST_TYPES:
        if "config" not in body:
            raise ProtocolError("image manifest without config", ref=ref)
        layers = tuple(Descriptor.from_json(d) for d in body.get("layers") or ())
        return Manifest(Descriptor.from_json(body["config"]), layers, media_type, annotations)
    raise UnsupportedMediaType(f"unsupported manifest media type {media_type!r}", ref=ref)


def _sniff_type(body: Mapping[str, Any], header_type: str) -> str:
    # Old OCI documents may omit mediaType; fall back to the header, then to the shape.
    if header_type:
        return header_type
    if "manifests" in body:
        return mt.OCI_INDEX
    if "config" in body and "layers" in body:
        return mt.OCI_MANIFEST
    return ""


def verify_digest(data: bytes, expected: Digest, *, ref: str | None = None) -> None:
    actual = Digest.of(data, expected.algorithm)
    if actual != expected:
        raise DigestMismatch(f"content has digest {actual}, expected {expected}", ref=ref, digest=str(expected))


def select_platform(index: Index, wanted: Platform, *, ref: str | None = None) -> Descriptor:
    """The index entry for ``wanted``: exact match first, then compatible fallbacks.

    Attestation entries (``unknown/unknown``) and entries of unknown media type are skipped,
    as the image spec says clients must not fail on them.
    """
    usable = [d for d in index.manifests
              if d.platform is not None and not d.platform.is_unknown
              and d.media_type in (mt.MANIFEST_TYPES | mt.INDEX_TYPES)]
    for candidate in compatible_platforms(wanted):
        for descriptor in usable:
            if same_platform(descriptor.platform, candidate):  # type: ignore[arg-type]
                return descriptor
    available = ", ".join(str(d.platform) for d in usable) or "none"
    raise PlatformNotFound(f"no manifest for platform {wanted} (available: {available})", ref=ref)
