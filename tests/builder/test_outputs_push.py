"""Pushing a built image (plain layers in the store) to a real docker-registry, and pulling it back."""
from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from outputs_images import store_image, tricky_layers
from registry_commands_support import make_client
from registry_client import ContentStore, MediaType, pull
from registry_servers import RegistryProcess

from builder.image.distribution import push_image
from builder.image.export import ExportedImage
from builder.imagestore import ImageStore
from builder.outputs import apply_outputs

pytestmark = pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry not installed")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process = RegistryProcess(tmp_path_factory.mktemp("registry"))
    try:
        yield process.host
    finally:
        process.stop()


def test_push_compresses_plain_layers_and_pulls_back_the_same_image(registry: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    ref = f"{registry}/outputs/app:1"
    descriptor = store_image(root, tricky_layers(), ref)
    store = ImageStore(root)
    config_digest = store.image(descriptor).image_id
    result = push_image(store, ref, client=make_client())
    assert result.digest != descriptor.digest  # the pushed manifest names gzip layers
    pulled_store = ContentStore(tmp_path / "pulled")
    pulled = pull(ref, pulled_store, client=make_client())
    assert pulled.manifest.config.digest == config_digest
    assert pulled.digest == result.digest
    assert {layer.media_type for layer in pulled.manifest.layers} == {MediaType.OCI_LAYER_GZIP}
    diff_ids = store.image(descriptor).config.diff_ids
    for layer, diff_id in zip(pulled.manifest.layers, diff_ids):
        assert gzip.decompress(pulled_store.read_bytes(layer.digest)) == store.content.read_bytes(diff_id)
    # a second push finds every blob present and sends the same manifest
    assert push_image(store, ref, client=make_client()).digest == result.digest


def test_build_flags_push_with_zstd_and_report_the_pushed_digest(registry: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    ref = f"{registry}/outputs/zstd:1"
    descriptor = store_image(root, tricky_layers(), None)
    image = ImageStore(root).image(descriptor)
    monkeypatch.setattr("builder.registry_settings.RegistrySettings.client", lambda self: make_client())
    options = argparse.Namespace(outputs=[], push=True, compression="zstd", metadata_file=None)
    metadata = apply_outputs(options, root, ExportedImage(descriptor, image.config, str(image.image_id), (ref,)))
    pulled = pull(ref, ContentStore(tmp_path / "pulled"), client=make_client())
    assert metadata["containerimage.digest"] == str(pulled.digest)
    assert metadata["containerimage.config.digest"] == str(pulled.manifest.config.digest) == str(image.image_id)
    assert {layer.media_type for layer in pulled.manifest.layers} == {MediaType.OCI_LAYER_ZSTD}
