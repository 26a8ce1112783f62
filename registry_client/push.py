"""push(): blobs first (skipping those the registry has), manifests last, tags at the end.

Per blob: ``HEAD`` -> present? done. Else, with ``mount_from``, try a cross-repository mount
(``201`` = done, ``202`` = an upload session to continue). Small blobs go up in one PUT;
large ones in PATCH chunks, always continuing at the ``Location`` of the latest response
(distribution encodes the offset in it). Foreign and non-distributable layers are never pushed.
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Callable

from . import mediatypes as mt
from .auth import pull_scope, push_scope
from .client import RegistryClient
from .content import ContentStore
from .download import BlobProgress, ProgressCallback
from .errors import DigestMismatch, ProtocolError
from .oci import Descriptor, Digest, Index, Manifest, parse_manifest
from .reference import Reference, parse_reference
from .responses import raise_for_status
from .transport import Call, Endpoint

if TYPE_CHECKING:  # requests costs ~100 ms to import: only a network call pays for it
    import requests


@dataclass(frozen=True, slots=True)
class PushSettings:
    chunked_threshold: int = 64 << 20  # blobs at least this large go up in chunks
    chunk_size: int = 16 << 20


def push(ref: Reference | str, store: ContentStore, descriptor: Descriptor, *,
         client: RegistryClient | None = None, mount_from: str | None = None,
         settings: PushSettings = PushSettings(),
         on_progress: ProgressCallback | None = None) -> Digest:
    """Push the manifest or index ``descriptor`` (and all it references) from ``store``."""
    reference = parse_reference(ref) if isinstance(ref, str) else ref
    client = client or RegistryClient()
    _push_tree(client, reference, store, descriptor, mount_from, settings, on_progress)
    return push_manifest(client, reference, store.read_bytes(descriptor.digest), descriptor.media_type,
                         reference.digest or reference.tag or "latest")


def _push_tree(client: RegistryClient, ref: Reference, store: ContentStore, descriptor: Descriptor,
               mount_from: str | None, settings: PushSettings, on_progress: ProgressCallback | None) -> None:
    parsed = parse_manifest(store.read_bytes(descriptor.digest), descriptor.media_type, ref=str(ref))
    if isinstance(parsed, Index):
        for child in parsed.manifests:
            _push_tree(client, ref, store, child, mount_from, settings, on_progress)
            push_manifest(client, ref, store.read_bytes(child.digest), child.media_type, str(child.digest))
        return
    assert isinstance(parsed, Manifest)
    for blob in (parsed.config, *parsed.layers):
        if not mt.is_foreign(blob.media_type):
            push_blob(client, ref, store, blob, mount_from=mount_from, settings=settings,
                      on_progress=on_progress)


def push_blob(client: RegistryClient, ref: Reference, store: ContentStore, blob: Descriptor, *,
              mount_from: str | None = None, settings: PushSettings = PushSettings(),
              on_progress: ProgressCallback | None = None) -> None:
    """Make ``blob`` present in ``ref``'s repository."""
    report = on_progress or (lambda _: None)
    scopes = (push_scope(ref.repository),) + ((pull_scope(mount_from),) if mount_from else ())
    if client.blob_exists(ref, blob.digest, scopes=scopes):
        report(BlobProgress(blob.digest, blob.media_type, blob.size, blob.size, cached=True, finished=True))
        return
    endpoint = client.endpoint(ref.api_host)
    query = f"?mount={blob.digest}&from={urllib.parse.quote(mount_from, safe='')}" if mount_from else ""
    started = endpoint.request(Call("POST", endpoint.url(f"/v2/{ref.repository}/blobs/uploads/{query}"), scopes))
    raise_for_status(started, ref=str(ref), digest=str(blob.digest), what="blob upload start")
    if started.status_code != 201:  # 202: no mount; an upload session has begun
        location = _location(started, ref)
        if blob.size >= settings.chunked_threshold:
            location = _upload_chunks(endpoint, location, store, blob, scopes, settings, report, ref)
            _finish_upload(endpoint, location, blob, scopes, ref, None)
        else:
            _finish_upload(endpoint, location, blob, scopes, ref, lambda: store.open(blob.digest))
    report(BlobProgress(blob.digest, blob.media_type, blob.size, blob.size, finished=True))


def _upload_chunks(endpoint: Endpoint, location: str, store: ContentStore, blob: Descriptor,
                   scopes: tuple[str, ...], settings: PushSettings,
                   report: ProgressCallback, ref: Reference) -> str:
    offset = 0
    with store.open(blob.digest) as source:
        while chunk := source.read(settings.chunk_size):
            headers = {"Content-Type": "application/octet-stream",
                       "Content-Range": f"{offset}-{offset + len(chunk) - 1}"}
            response = endpoint.request(Call("PATCH", location, scopes, headers, chunk))
            raise_for_status(response, ref=str(ref), digest=str(blob.digest), what="blob chunk upload")
            location = _location(response, ref)
            offset += len(chunk)
            report(BlobProgress(blob.digest, blob.media_type, offset, blob.size))
    return location


def _finish_upload(endpoint: Endpoint, location: str, blob: Descriptor, scopes: tuple[str, ...],
                   ref: Reference, body: Callable[[], BinaryIO] | None) -> None:
    separator = "&" if urllib.parse.urlsplit(location).query else "?"
    url = f"{location}{separator}digest={urllib.parse.quote(str(blob.digest), safe='')}"
    headers = {"Content-Type": "application/octet-stream"}
    if body is None:
        headers["Content-Length"] = "0"
    response = endpoint.request(Call("PUT", url, scopes, headers, body))
    raise_for_status(response, ref=str(ref), digest=str(blob.digest), what="blob upload")
    echoed = response.headers.get("Docker-Content-Digest")
    if echoed and echoed != str(blob.digest):
        raise DigestMismatch(f"registry stored the blob as {echoed}", ref=str(ref), digest=str(blob.digest))


def push_manifest(client: RegistryClient, ref: Reference, data: bytes, media_type: str, tag_or_digest: str) -> Digest:
    """PUT exact manifest bytes under a tag or digest; returns their digest."""
    endpoint = client.endpoint(ref.api_host)
    digest = Digest.of(data)
    url = endpoint.url(f"/v2/{ref.repository}/manifests/{tag_or_digest}")
    response = endpoint.request(Call("PUT", url, (push_scope(ref.repository),), {"Content-Type": media_type}, data))
    raise_for_status(response, ref=str(ref), digest=str(digest), what="manifest upload")
    echoed = response.headers.get("Docker-Content-Digest")
    if echoed and echoed != str(digest):
        raise DigestMismatch(f"registry stored the manifest as {echoed}", ref=str(ref), digest=str(digest))
    return digest


def tag(ref: Reference | str, store: ContentStore, descriptor: Descriptor, new_tag: str, *,
        client: RegistryClient | None = None) -> Digest:
    """Point ``new_tag`` in ``ref``'s repository at an already pushed manifest."""
    reference = parse_reference(ref) if isinstance(ref, str) else ref
    return push_manifest(client or RegistryClient(), reference, store.read_bytes(descriptor.digest),
                         descriptor.media_type, new_tag)


def _location(response: requests.Response, ref: Reference) -> str:
    location = response.headers.get("Location")
    if not location:
        raise ProtocolError("upload response without Location", ref=str(ref))
    return urllib.parse.urljoin(response.url, location)  # Location may be relative
