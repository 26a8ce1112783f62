"""Where a stage starts: ``scratch``, an image (local store first, else pulled), or an earlier stage."""
from __future__ import annotations

from collections.abc import Callable

from builder.cache.keys import CacheKey, key_for
from builder.image.distribution import pull_image
from builder.imagestore import REF_NAME, ImageNotFound, StoredImage
from builder.layers import LayerRef, unpack
from builder.services import Services
from grammar import record
from registry_client import ImageConfig, Platform, RegistryClient


def _journal_base(services: Services, reference: str) -> None:
    """Note which index entry ``reference`` resolved to, so a replayed build can check it still does."""
    entry = services.images.resolve(reference)
    name = entry.annotations.get(REF_NAME) if entry is not None else None
    if entry is None or name is None:
        services.journal.forbid(f"base image {reference} is not known by name")
    else:
        services.journal.base(name, str(entry.digest))


@record
class BaseImage:
    config: ImageConfig
    layers: tuple[LayerRef, ...]
    snapshot: str | None  # committed snapshot of the whole filesystem; None for an empty one
    key: CacheKey
    manifest_digest: str = ""  # "" for scratch


def scratch(platform: Platform) -> BaseImage:
    config = ImageConfig(platform=platform, workdir="/")  # BuildKit's empty image starts at "/"
    return BaseImage(config, (), None, key_for(None, {"op": "scratch", "platform": str(platform)}))


def image_base(services: Services, reference: str, platform: Platform, *, pull: bool,
               client_factory: Callable[[], RegistryClient]) -> BaseImage:
    """The image ``reference`` for ``platform``, unpacked into snapshots.

    A local image is used as is unless ``pull`` asks to check the registry (``--pull``).
    """
    stored = None
    if not pull:
        try:
            stored = services.images.image(reference, platform)
        except ImageNotFound:
            stored = None
    if stored is None:
        result = pull_image(services.images, reference, client=client_factory(), platform=platform,
                            emit=services.emit)
        stored = services.images.image(str(result.name), platform)
    _journal_base(services, reference)
    return stored_base(services, stored, platform)


def stored_base(services: Services, stored: StoredImage, platform: Platform) -> BaseImage:
    """An image already in the store, its layers unpacked into snapshots."""
    layers = tuple(LayerRef(descriptor, diff_id)
                   for descriptor, diff_id in zip(stored.manifest.layers, stored.config.diff_ids, strict=True))
    snapshot = unpack(layers, services.store, services.snapshotter)
    key = key_for(None, {"op": "image", "manifest": str(stored.descriptor.digest), "platform": str(platform)})
    return BaseImage(stored.config, layers, snapshot, key, str(stored.descriptor.digest))
