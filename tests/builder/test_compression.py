"""builder.image.compression: deterministic gzip/zstd, the once-per-codec side table, BuildKit's rules."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from pathlib import Path

import pytest
import zstandard

from registry_client import ContentStore, Descriptor, Digest, MediaType

from builder.image.compression import (
    GZIP, UNCOMPRESSED, ZSTD, Compression, LayerCompressor, codec_of, compressor, needs_conversion,
)

DATA = b"".join(hashlib.sha256(str(i).encode()).hexdigest().encode() * (i % 7 + 1) for i in range(20000))


def run(codec: str, data: bytes = DATA, level: int | None = None) -> bytes:
    engine = compressor(codec, level)
    chunks = [engine.compress(data[i:i + 65536]) for i in range(0, len(data), 65536)]
    return b"".join(chunks) + engine.flush()


def test_gzip_is_valid_and_deterministic() -> None:
    first, second = run(GZIP), run(GZIP)
    assert first == second
    assert gzip.decompress(first) == DATA
    assert first[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no mtime, no name, OS unknown
    assert len(first) < len(DATA) / 2


def test_gzip_uses_isal_when_installed() -> None:
    from builder.image.compression import _deflate_backend

    backend, level = _deflate_backend(None)
    assert backend.__name__.endswith("isal_zlib") and level == 2
    assert _deflate_backend(9)[1] == 3 and _deflate_backend(0)[1] == 0


def test_gzip_of_nothing_is_an_empty_member() -> None:
    assert gzip.decompress(run(GZIP, b"")) == b""


def test_zstd_round_trips_and_is_deterministic() -> None:
    first = run(ZSTD)
    assert first == run(ZSTD)
    assert zstandard.ZstdDecompressor().stream_reader(first, read_across_frames=True).read() == DATA
    assert run(UNCOMPRESSED) == DATA


def test_unknown_codec_is_refused() -> None:
    with pytest.raises(ValueError):
        compressor("lz4")


@pytest.mark.parametrize(("media_type", "codec"), [
    (MediaType.OCI_LAYER, UNCOMPRESSED), (MediaType.OCI_LAYER_GZIP, GZIP),
    (MediaType.DOCKER_LAYER_GZIP, GZIP), (MediaType.OCI_LAYER_ZSTD, ZSTD),
])
def test_codec_of_media_types(media_type: str, codec: str) -> None:
    assert codec_of(media_type) == codec


def test_only_plain_layers_convert_unless_forced() -> None:
    digest = Digest.of(b"x")
    plain, gzipped = Descriptor(MediaType.OCI_LAYER, digest, 1), Descriptor(MediaType.OCI_LAYER_GZIP, digest, 1)
    assert needs_conversion(plain, Compression(ZSTD))
    assert not needs_conversion(gzipped, Compression(ZSTD))
    assert needs_conversion(gzipped, Compression(ZSTD, force=True))
    assert not needs_conversion(gzipped, Compression(GZIP, force=True))


def test_layer_is_compressed_once_per_codec(tmp_path: Path) -> None:
    content = ContentStore(tmp_path)
    layer = content.put_bytes(DATA, MediaType.OCI_LAYER)
    compressor_ = LayerCompressor(tmp_path, content)
    gz = compressor_.convert(layer, layer.digest, Compression(GZIP))
    assert gz.media_type == MediaType.OCI_LAYER_GZIP and gzip.decompress(content.read_bytes(gz.digest)) == DATA
    table = tmp_path / "cache" / "compressed" / f"{layer.digest.hex}.gzip.json"
    assert Descriptor.from_json(json.loads(table.read_bytes())) == gz
    os.utime(content.path(gz.digest), (1, 1))
    assert compressor_.convert(layer, layer.digest, Compression(GZIP)) == gz
    assert content.path(gz.digest).stat().st_mtime == 1  # served from the table, not rewritten
    zst = compressor_.convert(layer, layer.digest, Compression(ZSTD))
    assert zst.media_type == MediaType.OCI_LAYER_ZSTD and zst.digest != gz.digest
    best = compressor_.convert(layer, layer.digest, Compression(GZIP, level=9))
    assert best.digest != gz.digest and (table.parent / f"{layer.digest.hex}.gzip-9.json").is_file()


def test_a_collected_blob_makes_the_table_entry_stale(tmp_path: Path) -> None:
    content = ContentStore(tmp_path)
    layer = content.put_bytes(DATA, MediaType.OCI_LAYER)
    compressor_ = LayerCompressor(tmp_path, content)
    gz = compressor_.convert(layer, layer.digest, Compression(GZIP))
    content.delete(gz.digest)  # as prune would
    assert compressor_.convert(layer, layer.digest, Compression(GZIP)) == gz
    assert content.has(gz)


def test_forced_recompression_decompresses_and_checks_the_diff_id(tmp_path: Path) -> None:
    content = ContentStore(tmp_path)
    gzipped = content.put_bytes(gzip.compress(DATA), MediaType.OCI_LAYER_GZIP)
    compressor_ = LayerCompressor(tmp_path, content)
    diff_id = Digest.of(DATA)
    zst = compressor_.convert(gzipped, diff_id, Compression(ZSTD, force=True))
    assert zstandard.ZstdDecompressor().stream_reader(content.read_bytes(zst.digest)).read() == DATA
    plain = compressor_.convert(gzipped, diff_id, Compression(UNCOMPRESSED, force=True))
    assert plain.digest == diff_id and plain.media_type == MediaType.OCI_LAYER
    with pytest.raises(Exception, match="diff_id"):
        compressor_.convert(gzipped, Digest.of(b"other"), Compression(ZSTD, force=True))


def test_stdlib_fallback_gives_valid_gzip(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_isal(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("isal"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_isal)
    data = run(GZIP)
    assert gzip.decompress(data) == DATA
    assert zlib.crc32(DATA) == int.from_bytes(data[-8:-4], "little")
