"""pull(): resolve a reference for a platform and bring every blob into the content store.

Order: the index (if any) and the platform's manifest are fetched and verified first, then
config and layers are downloaded in parallel with a bound (``max_concurrent_downloads``).
Blobs already in the store are not downloaded again. When ``pull`` returns, the manifest,
config and all layers are in the store and verified; on error, nothing unverified is kept.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from .client import FetchedManifest, RegistryClient
from .config import ImageConfig
from .content import ContentStore
from .download import ProgressCallback
from .errors import ProtocolError, UnsupportedMediaType
from . import mediatypes as mt
from .oci import Descriptor, Digest, Index, Manifest, select_platform
from .platform import Platform, host_platform
from .reference import Reference, parse_reference

MAX_INDEX_DEPTH = 4


@dataclass(frozen=True, slots=True)
class PulledImage:
    """What a pull produced; ``digest`` is what the reference resolved to (index or manifest)."""

    reference: Reference
    digest: Digest
    media_type: str
    manifest_descriptor: Descriptor
    manifest: Manifest
    config: ImageConfig
    platform: Platform


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    reference: Reference
    top: FetchedManifest  # what the reference names: an index or a manifest
    manifest: FetchedManifest  # the image manifest chosen for the platform


def resolve(client: RegistryClient, ref: Reference | str, platform: Platform | None = None,
            store: ContentStore | None = None) -> ResolvedImage:
    """Reference -> verified image manifest for ``platform`` (default: this host's)."""
    reference = parse_reference(ref) if isinstance(ref, str) else ref
    wanted = platform or host_platform()
    top = client.get_manifest(reference, store)
    fetched = top
    for _ in range(MAX_INDEX_DEPTH):
        if isinstance(fetched.parsed, Manifest):
            return ResolvedImage(reference.with_digest(str(top.descriptor.digest))
                                 if reference.digest is None else reference, top, fetched)
        assert isinstance(fetched.parsed, Index)
        child = select_platform(fetched.parsed, wanted, ref=str(reference))
        fetched = client.get_manifest_by_digest(reference, child, store)
    raise ProtocolError(f"indexes nested deeper than {MAX_INDEX_DEPTH}", ref=str(reference))


def pull(ref: Reference | str, store: ContentStore, *, client: RegistryClient | None = None,
         platform: Platform | None = None, on_progress: ProgressCallback | None = None) -> PulledImage:
    """Pull ``ref`` for ``platform`` into ``store``; ``on_progress`` may be called from threads."""
    client = client or RegistryClient()
    resolved = resolve(client, ref, platform, store)
    manifest = resolved.manifest.parsed
    assert isinstance(manifest, Manifest)
    _check_layers(manifest, resolved.reference)
    workers = max(1, min(client.options.max_concurrent_downloads, len(manifest.layers)))
    _download_all(client, resolved.reference, manifest, store, on_progress, workers)
    config = ImageConfig.from_bytes(store.read_bytes(manifest.config.digest))
    if len(config.diff_ids) != len(manifest.layers):
        raise ProtocolError(f"config lists {len(config.diff_ids)} diff_ids for "
                            f"{len(manifest.layers)} layers", ref=str(resolved.reference))
    top = resolved.top.descriptor
    return PulledImage(resolved.reference, top.digest, top.media_type, resolved.manifest.descriptor,
                       manifest, config, config.platform)


def _download_all(client: RegistryClient, reference: Reference, manifest: Manifest, store: ContentStore,
                  on_progress: ProgressCallback | None, workers: int) -> None:
    """Fetch the layers with ``workers`` threads (the caller's among them), in order, and the config
    on a thread of its own, outside that bound, as docker does; after the first failure no new
    download starts, and that failure is raised.

    Plain threads rather than concurrent.futures, whose import (with logging) costs more
    start-up time than this whole function needs.
    """
    pending = list(reversed(manifest.layers))
    failures: list[BaseException] = []
    lock = threading.Lock()

    def fetch(blob: Descriptor) -> bool:
        try:
            client.fetch_blob(reference, blob, store, on_progress=on_progress)
            return True
        except BaseException as exc:  # noqa: B036 - handed to the caller below
            with lock:
                failures.append(exc)
            return False

    def work() -> None:
        while True:
            with lock:
                if failures or not pending:
                    return
                blob = pending.pop()
            if not fetch(blob):
                return

    helpers = [threading.Thread(target=fetch, args=(manifest.config,), name="pybuild-pull-config", daemon=True)]
    helpers += [threading.Thread(target=work, name=f"pybuild-pull-{n}", daemon=True) for n in range(workers - 1)]
    for helper in helpers:
        helper.start()
    try:
        work()
    finally:
        for helper in helpers:
            helper.join()
    if failures:
        raise failures[0]


def _check_layers(manifest: Manifest, reference: Reference) -> None:
    for layer in manifest.layers:
        if layer.media_type not in mt.LAYER_TYPES:
            raise UnsupportedMediaType(
                f"layer {layer.digest} has media type {layer.media_type!r}, which is not an image "
                "layer (encrypted layers and artifacts are not supported)", ref=str(reference),
                digest=str(layer.digest))
