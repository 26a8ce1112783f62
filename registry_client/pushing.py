"""push(): blobs first (skipping those the registry has), manifests last, tags at the end.

Per blob: ``HEAD`` -> present? done. Else, with ``mount_from``, try a cross-repository mount
(``201`` = done, ``202`` = an upload session to continue). Small blobs go up in one PUT;
large ones in PATCH chunks, always continuing at the ``Location`` of the latest response
(distribution encodes the offset in it). A chunk whose connection drops is resumed where
the session's ``GET`` says it stands; a session the registry lost is deleted and started
again; a failed upload is deleted. Foreign and non-distributable layers are never pushed.
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
from .errors import DigestMismatch, ProtocolError, RegistryError, TransportError
from .oci import Descriptor, Digest, Index, Manifest, parse_manifest
from .reference import Reference, parse_reference
from .responses import error_codes, raise_for_status
from .transport import Call, Endpoint

if TYPE_CHECKING:
    from requests import Response


@dataclass(frozen=True, slots=True)
class PushSettings:
    chunked_threshold: int = 64 << 20  # blobs at least this large go up in chunks
    chunk_size: int = 16 << 20
    resume_attempts: int = 3  # PATCHes resumed (GET the session's Range) after a dropped connection
    session_attempts: int = 2  # upload sessions started for one blob when the registry loses one


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
    upload = _BlobUpload(client.endpoint(ref.api_host), ref, store, blob, scopes, settings, report)
    for attempt in range(settings.session_attempts):
        try:
            upload.run(mount_from)
            break
        except _SessionLost:
            upload.cancel()  # whatever is left of it; then start over in a new session
            if attempt + 1 >= settings.session_attempts:
                raise
        except BaseException:
            upload.cancel()  # no half-written upload is left behind on the registry
            raise
    report(BlobProgress(blob.digest, blob.media_type, blob.size, blob.size, finished=True))


class _SessionLost(ProtocolError):
    """The registry no longer knows our upload session (or its offset): start a new one."""


_LOST_SESSION_CODES = frozenset({"BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"})


class _BlobUpload:
    """One blob's upload: a session (POST), then one PUT or PATCH chunks and a closing PUT.

    ``location`` is always the latest Location the registry gave: distribution encodes the
    session's offset in it, and a stale one is refused.
    """

    def __init__(self, endpoint: Endpoint, ref: Reference, store: ContentStore, blob: Descriptor,
                 scopes: tuple[str, ...], settings: PushSettings, report: ProgressCallback) -> None:
        self.endpoint, self.ref, self.store, self.blob = endpoint, ref, store, blob
        self.scopes, self.settings, self.report = scopes, settings, report
        self.location: str | None = None

    def run(self, mount_from: str | None) -> None:
        query = f"?mount={self.blob.digest}&from={urllib.parse.quote(mount_from, safe='')}" if mount_from else ""
        started = self._send("POST", self.endpoint.url(f"/v2/{self.ref.repository}/blobs/uploads/{query}"),
                             "blob upload start")
        if started.status_code == 201:
            return  # mounted from another repository
        self.location = _location(started, self.ref)
        if self.blob.size < self.settings.chunked_threshold:
            self._finish(lambda: self.store.open(self.blob.digest))
            return
        # OCI-Chunk-Min-Length: every chunk but the last must be at least that long.
        minimum = started.headers.get("OCI-Chunk-Min-Length", "")
        chunk_size = max(self.settings.chunk_size, int(minimum) if minimum.isdigit() else 0)
        self._send_chunks(chunk_size)
        self._finish(None)

    def _send_chunks(self, chunk_size: int) -> None:
        offset, resumes = 0, 0
        with self.store.open(self.blob.digest) as source:
            while offset < self.blob.size:
                source.seek(offset)
                chunk = source.read(chunk_size)
                headers = {"Content-Type": "application/octet-stream",
                           "Content-Range": f"{offset}-{offset + len(chunk) - 1}"}
                try:
                    response = self.endpoint.request(Call("PATCH", self._where(), self.scopes, headers, chunk))
                except TransportError:
                    resumes += 1  # the connection dropped mid-chunk: ask where the session stands
                    if resumes > self.settings.resume_attempts:
                        raise
                    offset = self._status()
                    continue
                self._check(response, "blob chunk upload")
                self.location = _location(response, self.ref)
                offset = _range_end(response) or offset + len(chunk)
                self.report(BlobProgress(self.blob.digest, self.blob.media_type, offset, self.blob.size))

    def _status(self) -> int:
        """GET the session: ``204`` with ``Range: 0-<last>`` says how many bytes it holds."""
        response = self._send("GET", self._where(), "blob upload status")
        if response.status_code != 204:
            raise _SessionLost(f"upload status answered HTTP {response.status_code}", ref=str(self.ref),
                               digest=str(self.blob.digest))
        self.location = _location(response, self.ref) if response.headers.get("Location") else self.location
        return _range_end(response)

    def _finish(self, body: Callable[[], BinaryIO] | None) -> None:
        where = self._where()
        separator = "&" if urllib.parse.urlsplit(where).query else "?"
        url = f"{where}{separator}digest={urllib.parse.quote(str(self.blob.digest), safe='')}"
        headers = {"Content-Type": "application/octet-stream"}
        if body is None:
            headers["Content-Length"] = "0"
        response = self._check(self.endpoint.request(Call("PUT", url, self.scopes, headers, body)), "blob upload")
        self.location = None  # the session is closed
        echoed = response.headers.get("Docker-Content-Digest")
        if echoed and echoed != str(self.blob.digest):
            raise DigestMismatch(f"registry stored the blob as {echoed}", ref=str(self.ref),
                                 digest=str(self.blob.digest))

    def cancel(self) -> None:
        """DELETE the session, if one is open; best effort (it may be gone already)."""
        location, self.location = self.location, None
        if location is None:
            return
        try:
            self.endpoint.request(Call("DELETE", location, self.scopes, retry=False)).close()
        except RegistryError:
            pass

    def _where(self) -> str:
        assert self.location is not None
        return self.location

    def _send(self, method: str, url: str, what: str) -> Response:
        return self._check(self.endpoint.request(Call(method, url, self.scopes)), what)

    def _check(self, response: Response, what: str) -> Response:
        if response.status_code >= 400 and any(code in _LOST_SESSION_CODES for code, _ in error_codes(response)):
            raise _SessionLost(f"{what}: the registry lost the upload session", ref=str(self.ref),
                               digest=str(self.blob.digest))
        raise_for_status(response, ref=str(self.ref), digest=str(self.blob.digest), what=what)
        return response


def _range_end(response: Response) -> int:
    """Bytes a session holds, from ``Range: 0-<last>`` (0 when absent; ``0-0`` is read as empty)."""
    first, _, last = response.headers.get("Range", "").partition("-")
    if not (first.strip().isdigit() and last.strip().isdigit()) or int(last) == 0:
        return 0
    return int(last) + 1


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


def _location(response: Response, ref: Reference) -> str:
    location = response.headers.get("Location")
    if not location:
        raise ProtocolError("upload response without Location", ref=str(ref))
    return urllib.parse.urljoin(response.url, location)  # Location may be relative
