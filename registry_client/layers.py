"""Reading a layer blob as an uncompressed tar stream, whatever its compression.

The media type says gzip, zstd or plain tar, but some registries lie, so the first bytes
decide: gzip starts ``1f 8b``, zstd ``28 b5 2f fd``. Decompression streams, so memory stays
flat; multi-member gzip files are read to the end.
"""
from __future__ import annotations

import gzip
import io
from typing import BinaryIO

from .errors import UnsupportedMediaType
from . import mediatypes as mt

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def compression_of(head: bytes, media_type: str) -> str:
    """``gzip``, ``zstd`` or ``none``, from the magic bytes first, then the media type."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if media_type in mt.LAYER_TYPES or media_type == "":
        return "none"
    raise UnsupportedMediaType(f"not a layer media type: {media_type!r}")


def open_uncompressed(blob: BinaryIO, media_type: str) -> BinaryIO:
    """Wrap an open compressed layer ``blob`` in a reader of its tar bytes."""
    buffered = io.BufferedReader(blob) if not hasattr(blob, "peek") else blob
    head = buffered.peek(4)[:4]  # type: ignore[attr-defined]
    kind = compression_of(head, media_type)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    if kind == "zstd":
        import zstandard  # ~20 ms to import: only zstd layers pay for it

        return zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)  # type: ignore[return-value]
    return buffered  # type: ignore[return-value]
