"""The end of a build: write the image config and manifest into the store and name the image."""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType

from builder.cachetransfer.inline import with_inline_cache
from builder.services import Services
from builder.stagestate import StageState
from grammar import record
from registry_client import Descriptor, ImageConfig, Manifest

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@record
class ExportedImage:
    manifest: Descriptor
    config: ImageConfig
    image_id: str  # the config digest, as docker shows it
    tags: tuple[str, ...]
    layers: tuple[str, ...] = ()  # layer blob digests, in order


def final_config(state: StageState, labels: Mapping[str, str], source_date_epoch: int | None) -> ImageConfig:
    seconds = source_date_epoch if source_date_epoch is not None else (state.created or time.time())
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    config = state.config
    if labels:  # --label applies to the final image only, after the Dockerfile's own LABELs
        config = replace(config, labels=MappingProxyType({**config.labels, **labels}))
    return replace(config, created=created, onbuild=config.onbuild or None)


def export_image(services: Services, state: StageState, tags: Sequence[str], labels: Mapping[str, str],
                 source_date_epoch: int | None, inline_cache: bool = False) -> ExportedImage:
    """``inline_cache``: the config carries the cache records of the image's steps (``--cache-to type=inline``)."""
    config = final_config(state, labels, source_date_epoch)
    config = with_inline_cache(config, services.cache.used if inline_cache else None)
    config_descriptor = services.store.put_bytes(config.to_bytes(), OCI_CONFIG)
    manifest = Manifest(config_descriptor, tuple(layer.descriptor for layer in state.layers), OCI_MANIFEST)
    descriptor = services.store.put_bytes(manifest.to_bytes(), OCI_MANIFEST)
    for tag in tags:
        services.images.tag(tag, descriptor)
    if not tags:
        services.images.add_unnamed(descriptor)
    return ExportedImage(descriptor, config, str(config_descriptor.digest), tuple(tags),
                         tuple(str(layer.digest) for layer in manifest.layers))
