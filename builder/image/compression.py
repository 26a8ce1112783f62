"""Layer compression for images that leave the machine (push, OCI and docker exports).

The store keeps built layers uncompressed (digest == diff_id); they are compressed only
when an image is exported, once per codec: ``<root>/cache/compressed/<diff_id-hex>.<codec>.json``
remembers the compressed blob's descriptor, so a second push or export of the same layer
costs a ``stat``. The compressed blob itself lives in the content store like any other;
``prune`` may collect it (nothing names it), and the table is then simply not trusted.

gzip goes through ISA-L's igzip (python-isal): on ~100 MB of real tar data it compresses
at ~250 MB/s with the ratio of stdlib zlib level 1 (56 MB/s); zlib-ng's level 1 does
~150 MB/s with a worse ratio. Without isal, stdlib zlib level 1 gives the same ratio, slower.
The gzip header is written here, not by the library: no mtime, no file name, OS "unknown"
(as Go's gzip writer does), so two exports of one image are byte-identical.
"""
from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Protocol

from grammar import record
from registry_client import ContentStore, Descriptor, Digest, MediaType, RegistryError, open_uncompressed

GZIP, ZSTD, UNCOMPRESSED = "gzip", "zstd", "uncompressed"
CODECS = (GZIP, ZSTD, UNCOMPRESSED)
OCI_LAYER_TYPES = {GZIP: MediaType.OCI_LAYER_GZIP, ZSTD: MediaType.OCI_LAYER_ZSTD, UNCOMPRESSED: MediaType.OCI_LAYER}
ZSTD_DEFAULT_LEVEL = 3  # BuildKit's default (klauspost SpeedDefault ~ zstd level 3)
_CHUNK = 1 << 20
# ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255: nothing that depends on time, host or name.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


@record
class Compression:
    """How layers leave the machine; ``force`` recompresses layers already in another codec."""

    codec: str = GZIP
    level: int | None = None  # gzip 0-9, zstd 1-22; None: the codec's fast default
    force: bool = False


class Compressor(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


class _Deflate:
    """A deterministic gzip member: our fixed header, raw deflate, CRC32 and size trailer."""

    def __init__(self, level: int | None) -> None:
        backend, level = _deflate_backend(level)
        self._deflate = backend.compressobj(level, backend.DEFLATED, -15)  # -15: raw deflate, no header
        self._crc32 = backend.crc32
        self._crc = 0
        self._size = 0
        self._header = _GZIP_HEADER

    def compress(self, data: bytes) -> bytes:
        self._crc = self._crc32(data, self._crc)
        self._size += len(data)
        out, self._header = self._header + self._deflate.compress(data), b""
        return out

    def flush(self) -> bytes:
        tail = self._deflate.flush() + struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF)
        out, self._header = self._header + tail, b""
        return out


def _deflate_backend(level: int | None) -> tuple[object, int]:
    """(module, level): isal when installed (levels 0-3), else stdlib zlib (0-9)."""
    try:
        from isal import isal_zlib
    except ImportError:
        import zlib

        return zlib, 1 if level is None else max(0, min(9, level))
    # Map docker's 0-9 scale onto ISA-L's 0-3; the default 2 matches zlib 1's ratio.
    return isal_zlib, 2 if level is None else max(0, min(3, round(level / 3)))


class _Identity:
    def compress(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


def compressor(codec: str, level: int | None = None) -> Compressor:
    """A streaming compressor for ``codec``; ``compress`` chunks, then ``flush`` once."""
    if codec == GZIP:
        return _Deflate(level)
    if codec == ZSTD:
        import zstandard  # ~20 ms to import: only zstd exports pay for it

        # Single-threaded on purpose: zstd's multi-threaded frames differ from these bytes.
        return zstandard.ZstdCompressor(level=ZSTD_DEFAULT_LEVEL if level is None else level).compressobj()
    if codec == UNCOMPRESSED:
        return _Identity()
    raise ValueError(f"unknown compression {codec!r} (expected one of {', '.join(CODECS)})")


def codec_of(media_type: str) -> str:
    """The codec a layer media type announces (the bytes are sniffed again when read)."""
    if media_type.endswith("+zstd"):
        return ZSTD
    if media_type.endswith(("+gzip", ".gzip")):
        return GZIP
    return UNCOMPRESSED


def needs_conversion(layer: Descriptor, compression: Compression) -> bool:
    """BuildKit's rule: uncompressed layers are compressed; others are left alone unless forced."""
    current = codec_of(layer.media_type)
    if current == compression.codec:
        return False
    return current == UNCOMPRESSED or compression.force


class LayerCompressor:
    """Compressed copies of layers in a state root's content store, made once per codec."""

    def __init__(self, root: Path, content: ContentStore) -> None:
        self._content = content
        self._table = root / "cache" / "compressed"

    def convert(self, layer: Descriptor, diff_id: Digest, compression: Compression) -> Descriptor:
        """``layer`` in ``compression.codec`` (an OCI media type), or ``layer`` itself if it stays."""
        if not needs_conversion(layer, compression):
            return layer
        codec = compression.codec
        # A level other than the default is part of the key: level 9 must not reuse level 2's blob.
        key = codec if compression.level is None else f"{codec}-{compression.level}"
        known = self._remembered(diff_id, key)
        if known is not None:
            return known
        if codec == UNCOMPRESSED and self._content.exists(diff_id):  # built layers are stored so
            return Descriptor(MediaType.OCI_LAYER, diff_id, self._content.path(diff_id).stat().st_size)
        made = self._compress(layer, diff_id, compression)
        self._remember(diff_id, key, made)
        return made

    def _compress(self, layer: Descriptor, diff_id: Digest, compression: Compression) -> Descriptor:
        engine = compressor(compression.codec, compression.level)
        plain_hash = hashlib.new(diff_id.algorithm)
        with self._content.open(layer.digest) as blob, self._content.writer() as writer:
            stream = open_uncompressed(blob, layer.media_type)
            while chunk := stream.read(_CHUNK):
                plain_hash.update(chunk)
                writer.write(engine.compress(chunk))
            writer.write(engine.flush())
            if plain_hash.hexdigest() != diff_id.hex:  # a store blob that does not match its config
                raise RegistryError(f"layer {layer.digest} does not decompress to its diff_id {diff_id}")
            return writer.commit(OCI_LAYER_TYPES[compression.codec])

    def _entry(self, diff_id: Digest, key: str) -> Path:
        return self._table / f"{diff_id.hex}.{key}.json"

    def _remembered(self, diff_id: Digest, key: str) -> Descriptor | None:
        try:
            descriptor = Descriptor.from_json(json.loads(self._entry(diff_id, key).read_bytes()))
        except (OSError, ValueError, RegistryError):
            return None
        # The blob may have been collected since: then the entry is stale, compress again.
        return descriptor if self._content.has(descriptor) else None

    def _remember(self, diff_id: Digest, key: str, descriptor: Descriptor) -> None:
        from builder.imagestore.layout import write_file_atomically

        self._table.mkdir(parents=True, exist_ok=True)
        write_file_atomically(self._entry(diff_id, key), json.dumps(descriptor.to_json()).encode())

