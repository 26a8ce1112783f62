"""RegistryClient: manifests and blobs of one or more registries over the distribution API.

Resolution of a tag is HEAD first (HEADs do not count against Docker Hub's limit), then a GET
by digest whose bytes are verified. Every manifest request carries the full Accept header;
without it distribution 2.8 converts schema2 images to schema1 or hides OCI manifests.
For ``docker.io`` the configured mirrors are tried in order before Docker Hub itself, and
Hub credentials are never sent to a mirror.
"""
from __future__ import annotations

import threading
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol, TypeVar

from . import mediatypes as mt
from .auth import ANONYMOUS, Credentials, pull_scope
from .content import ContentStore
from .credentials import DockerConfig
from .download import DownloadSettings, ProgressCallback, download_blob
from .errors import DigestMismatch, NotFound, ProtocolError, RegistryError, TransportError
from .httpclient import ConnectionFailed, body_chunks
from .oci import Descriptor, Digest, ManifestOrIndex, parse_manifest, verify_digest
from .options import RegistryOptions
from .reference import DOCKER_HUB, Reference
from .responses import RateLimit, raise_for_status
from .transport import Call, Endpoint

if TYPE_CHECKING:
    from requests import Response

MAX_MANIFEST_BYTES = 100 << 20
T = TypeVar("T")


class CredentialSource(Protocol):
    def get(self, registry: str) -> Credentials: ...


@dataclass(frozen=True, slots=True)
class FetchedManifest:
    """Exact manifest bytes, their descriptor (digest over those bytes) and the parsed form."""

    descriptor: Descriptor
    data: bytes
    parsed: ManifestOrIndex


class RegistryClient:
    """Talks to registries; thread-safe; pooled keep-alive connections per host."""

    def __init__(self, options: RegistryOptions | None = None,
                 credentials: CredentialSource | None = None) -> None:
        self.options = options or RegistryOptions()
        self._credentials = credentials if credentials is not None else DockerConfig()
        self._endpoints: dict[str, Endpoint] = {}
        self._lock = threading.Lock()
        self.last_rate_limit: RateLimit | None = None

    # -- endpoints -------------------------------------------------------------------------
    def endpoint(self, host: str, *, base_url: str | None = None) -> Endpoint:
        with self._lock:
            key = base_url or host
            if key not in self._endpoints:
                credentials = self._lookup_credentials(host)
                self._endpoints[key] = Endpoint(host, self.options, credentials, base_url=base_url)
            return self._endpoints[key]

    def endpoints_for(self, ref: Reference) -> list[Endpoint]:
        """Mirrors first (docker.io only, in order), then the registry itself."""
        mirrors = []
        if ref.registry == DOCKER_HUB:
            for mirror in self.options.mirrors:
                url = mirror if "://" in mirror else f"https://{mirror}"
                parts = urllib.parse.urlsplit(url)
                mirrors.append(self.endpoint(parts.netloc, base_url=f"{parts.scheme}://{parts.netloc}"))
        return mirrors + [self.endpoint(ref.api_host)]

    def _lookup_credentials(self, host: str) -> Credentials:
        try:
            return self._credentials.get(host)  # registry-1.docker.io maps to Hub's key
        except RegistryError:
            return ANONYMOUS

    def _first_working(self, ref: Reference, action: Callable[[Endpoint], T]) -> T:
        endpoints = self.endpoints_for(ref)
        for endpoint in endpoints[:-1]:
            try:
                return action(endpoint)
            except RegistryError:
                pass  # the mirror lacks the image, wants a login or is down: next one, like dockerd
        return action(endpoints[-1])

    # -- manifests -------------------------------------------------------------------------
    def head_manifest(self, ref: Reference) -> Descriptor | None:
        """The descriptor a tag or digest points at, without downloading it (None if unknown)."""
        return self._first_working(ref, lambda ep: self._head_manifest(ep, ref))

    def get_manifest(self, ref: Reference, store: ContentStore | None = None) -> FetchedManifest:
        """Fetch and verify the manifest or index ``ref`` names; cached in ``store`` by digest."""
        return self._first_working(ref, lambda ep: self._get_manifest(ep, ref, store))

    def get_manifest_by_digest(self, ref: Reference, descriptor: Descriptor,
                               store: ContentStore | None = None) -> FetchedManifest:
        return self.get_manifest(ref.with_digest(str(descriptor.digest)), store)

    def _head_manifest(self, endpoint: Endpoint, ref: Reference) -> Descriptor | None:
        response = self._manifest_request(endpoint, ref, "HEAD", ref.identifier)
        if response.status_code == 404:
            raise NotFound("manifest unknown", ref=str(ref))
        raise_for_status(response, ref=str(ref), what="manifest HEAD")
        digest = response.headers.get("Docker-Content-Digest")
        length = response.headers.get("Content-Length", "")
        if not digest or not length.isdigit():
            return None
        return Descriptor(mt.base_type(response.headers.get("Content-Type")), Digest.parse(digest), int(length))

    def _get_manifest(self, endpoint: Endpoint, ref: Reference, store: ContentStore | None) -> FetchedManifest:
        if ref.digest is None:
            head = self._head_manifest(endpoint, ref)
            if head is not None:
                # Like containerd's resolver (BuildKit's): the HEAD's Docker-Content-Digest names
                # the manifest, whose bytes must then hash to it.
                try:
                    return self._get_manifest(endpoint, ref.with_digest(str(head.digest)), store)
                except NotFound as exc:
                    raise DigestMismatch(
                        f"the registry said tag {ref.tag!r} is {head.digest} (Docker-Content-Digest) "
                        "but has no manifest with that digest", ref=str(ref), digest=str(head.digest)) from exc
        expected = Digest.parse(ref.digest) if ref.digest else None
        if expected is not None and store is not None and store.exists(expected):
            data = store.read_bytes(expected)
            return _fetched(data, None, expected, ref)
        response = self._manifest_request(endpoint, ref, "GET", ref.identifier)
        raise_for_status(response, ref=str(ref), what="manifest")
        data = _read_limited(response, ref)
        # By digest the bytes must hash to it; by tag (no usable HEAD) our own hash of the
        # bytes is the identity and Docker-Content-Digest is not trusted (ggcr's policy).
        fetched = _fetched(data, response.headers.get("Content-Type"), expected, ref)
        if store is not None:
            store.put_bytes(data, fetched.descriptor.media_type)
        return fetched

    def _manifest_request(self, endpoint: Endpoint, ref: Reference, method: str, identifier: str) -> Response:
        url = endpoint.url(f"/v2/{ref.repository}/manifests/{identifier}")
        # A GET streams, so a body larger than MAX_MANIFEST_BYTES is refused before it is all read.
        call = Call(method, url, (pull_scope(ref.repository),), {"Accept": mt.MANIFEST_ACCEPT},
                    stream=method == "GET")
        response = endpoint.request(call)
        self.last_rate_limit = RateLimit.from_headers(response.headers) or self.last_rate_limit
        return response

    # -- blobs -----------------------------------------------------------------------------
    def fetch_blob(self, ref: Reference, descriptor: Descriptor, store: ContentStore, *,
                   on_progress: ProgressCallback | None = None) -> None:
        """Download ``descriptor`` into ``store`` (no-op if present), verified while streaming."""
        settings = DownloadSettings(self.options.chunk_size, self.options.retry.resume_attempts)
        foreign_failures: list[tuple[str, Exception]] = []
        if mt.is_foreign(descriptor.media_type) and descriptor.urls:
            foreign_failures = self._fetch_foreign(descriptor, store, settings, on_progress, ref)
            if not foreign_failures:
                return

        def from_endpoint(endpoint: Endpoint) -> None:
            url = endpoint.url(f"/v2/{ref.repository}/blobs/{descriptor.digest}")
            scopes = (pull_scope(ref.repository),)

            def open_response(headers: dict[str, str]) -> Response:
                return endpoint.request(Call("GET", url, scopes, headers, stream=True))

            download_blob(open_response, descriptor, store, settings=settings,
                          on_progress=on_progress, ref=str(ref))

        try:
            self._first_working(ref, from_endpoint)
        except NotFound:
            if not foreign_failures:
                raise
            url, failure = foreign_failures[-1]
            kind = type(failure) if isinstance(failure, RegistryError) else NotFound
            reason = failure.message if isinstance(failure, RegistryError) else str(failure)
            raise kind(f"foreign layer {descriptor.digest}: {url}: {reason}; the registry does not have it either",
                       ref=str(ref), digest=str(descriptor.digest)) from failure

    def _fetch_foreign(self, descriptor: Descriptor, store: ContentStore, settings: DownloadSettings,
                       on_progress: ProgressCallback | None, ref: Reference) -> list[tuple[str, Exception]]:
        """Try each of a foreign layer's URLs in turn (as containerd does, before the registry);
        the failures, or [] once one worked. Registry credentials never go there."""
        from .httpclient import ConnectionFailed

        failures: list[tuple[str, Exception]] = []
        for url in descriptor.urls:
            http = self.endpoint(urllib.parse.urlsplit(url).netloc).http

            def open_response(headers: dict[str, str], url: str = url) -> Response:
                return http.request("GET", url, headers=headers, stream=True)

            try:
                download_blob(open_response, descriptor, store, settings=settings,
                              on_progress=on_progress, ref=str(ref))
                return []
            except (RegistryError, ConnectionFailed) as exc:
                failures.append((url, exc))
        return failures

    def blob_exists(self, ref: Reference, digest: Digest, *, scopes: tuple[str, ...] | None = None) -> bool:
        endpoint = self.endpoint(ref.api_host)
        url = endpoint.url(f"/v2/{ref.repository}/blobs/{digest}")
        response = endpoint.request(Call("HEAD", url, scopes or (pull_scope(ref.repository),)))
        response.close()
        if response.status_code == 404:
            return False
        raise_for_status(response, ref=str(ref), digest=str(digest), what="blob HEAD")
        return True


def _fetched(data: bytes, content_type: str | None, expected: Digest | None, ref: Reference) -> FetchedManifest:
    if expected is not None:
        verify_digest(data, expected, ref=str(ref))
    parsed = parse_manifest(data, content_type, ref=str(ref))
    digest = expected or Digest.of(data)
    return FetchedManifest(Descriptor(parsed.media_type, digest, len(data)), data, parsed)


def _read_limited(response: Response, ref: Reference) -> bytes:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_MANIFEST_BYTES:
        raise ProtocolError(f"manifest of {length} bytes is larger than {MAX_MANIFEST_BYTES}", ref=str(ref))
    chunks, size = [], 0
    try:
        for chunk in body_chunks(response, 1 << 16):
            size += len(chunk)
            if size > MAX_MANIFEST_BYTES:
                raise ProtocolError(f"manifest larger than {MAX_MANIFEST_BYTES} bytes", ref=str(ref))
            chunks.append(chunk)
    except ConnectionFailed as exc:
        raise TransportError(f"manifest download broke off: {exc}") from exc
    finally:
        response.close()
    data = b"".join(chunks)
    if length.isdigit() and int(length) != len(data):
        raise DigestMismatch(f"manifest body is {len(data)} bytes, Content-Length said {length}", ref=str(ref))
    return data
