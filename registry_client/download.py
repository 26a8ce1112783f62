"""Streaming one blob into the content store: verified on the fly, resumed with Range.

Memory stays flat: bytes go from the socket to the ingest file in ``chunk_size`` pieces
while the hash is updated. A dropped connection (short body, reset, read timeout) is resumed
with a closed ``Range: bytes=<have>-<size-1>`` request to the *registry* (signed CDN URLs
expire, so the redirect is asked for again). A ``200`` answer to a Range request means the
range was ignored: start over. A digest mismatch is retried once from zero, then reported.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

from .content import BlobWriter, ContentStore
from .errors import DigestMismatch, ProtocolError, TransportError
from .httpclient import ConnectionFailed, body_chunks
from .oci import Descriptor, Digest
from .patterns import pattern
from .responses import raise_for_status

if TYPE_CHECKING:
    from requests import Response

_CONTENT_RANGE = r"bytes (\d+)-(\d+)/(\d+|\*)"  # compiled by the first resume only (``patterns``)


@dataclass(frozen=True, slots=True)
class BlobProgress:
    """Progress of one blob; ``done == total`` and ``finished`` once it is in the store."""

    digest: Digest
    media_type: str
    done: int
    total: int
    cached: bool = False  # already in the store: nothing was downloaded
    finished: bool = False


ProgressCallback = Callable[[BlobProgress], None]
OpenResponse = Callable[[Mapping[str, str]], "Response"]


@dataclass(frozen=True, slots=True)
class DownloadSettings:
    chunk_size: int = 1 << 20
    resume_attempts: int = 5
    digest_attempts: int = 2


def download_blob(open_response: OpenResponse, descriptor: Descriptor, store: ContentStore, *,
                  settings: DownloadSettings = DownloadSettings(),
                  on_progress: ProgressCallback | None = None, ref: str | None = None) -> None:
    """Make ``descriptor`` present in ``store``; ``open_response(headers)`` sends one GET."""
    report = on_progress or (lambda _: None)
    if store.has(descriptor):
        report(BlobProgress(descriptor.digest, descriptor.media_type, descriptor.size,
                            descriptor.size, cached=True, finished=True))
        return
    for attempt in range(settings.digest_attempts):
        try:
            with store.writer(descriptor) as writer:
                _receive(open_response, descriptor, writer, settings, report, ref)
                writer.commit(descriptor.media_type)
            break
        except DigestMismatch as exc:
            if attempt + 1 >= settings.digest_attempts:
                exc.ref = exc.ref or ref
                raise
    report(BlobProgress(descriptor.digest, descriptor.media_type, descriptor.size,
                        descriptor.size, finished=True))


def _receive(open_response: OpenResponse, descriptor: Descriptor, writer: BlobWriter,
             settings: DownloadSettings, report: ProgressCallback, ref: str | None) -> None:
    resumes = 0
    while True:
        headers = {"Range": f"bytes={writer.offset}-{descriptor.size - 1}"} if writer.offset else {}
        response = open_response(headers)
        try:
            _start_body(response, descriptor, writer, ref)
            _copy_body(response, descriptor, writer, settings.chunk_size, report)
        except ConnectionFailed:
            pass  # the connection broke mid-body: resume below from writer.offset
        finally:
            response.close()
        if writer.offset >= descriptor.size:
            return
        resumes += 1
        if resumes > settings.resume_attempts:
            raise TransportError(
                f"download kept breaking off ({writer.offset} of {descriptor.size} bytes after "
                f"{settings.resume_attempts} resumes)", ref=ref, digest=str(descriptor.digest))


def _start_body(response: Response, descriptor: Descriptor, writer: BlobWriter,
                ref: str | None) -> None:
    digest = str(descriptor.digest)
    if response.status_code == 206 and writer.offset:
        match = pattern(_CONTENT_RANGE).match(response.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != writer.offset:
            raise ProtocolError(f"bad Content-Range {response.headers.get('Content-Range')!r} "
                                f"for a resume at {writer.offset}", ref=ref, digest=digest)
        return
    raise_for_status(response, ref=ref, digest=digest, what=f"blob {digest}")
    if response.status_code != 200:
        raise ProtocolError(f"unexpected HTTP {response.status_code} for a blob", ref=ref, digest=digest)
    if writer.offset:
        writer.reset()  # the server ignored Range and sends everything again
    length = response.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) != descriptor.size:
        raise DigestMismatch(f"the server announced {length} bytes, the descriptor says {descriptor.size}",
                             ref=ref, digest=digest)


def _copy_body(response: Response, descriptor: Descriptor, writer: BlobWriter,
               chunk_size: int, report: ProgressCallback) -> None:
    for chunk in body_chunks(response, chunk_size):  # raw bytes; a short body ends early (resumed above)
        writer.write(chunk)
        report(BlobProgress(descriptor.digest, descriptor.media_type, writer.offset, descriptor.size))
