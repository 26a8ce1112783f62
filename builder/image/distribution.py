"""Moving images between registries and the local store: ``pull_image`` and ``push_image``.

A push sends the image as it leaves the machine: built layers, stored uncompressed, are
compressed first (gzip by default, once per layer and codec, see builder.image.compression), so
the registry receives the manifest ``--output type=oci`` would write.

Both turn registry_client's ``on_progress(BlobProgress)`` callbacks, which arrive on download
threads, into ``PullProgress``/``PushProgress`` events for whatever sink the caller passes.

``pull_into`` is the pull of a command that starts on an unopened root: the image store is opened
(its imports, a new root's first files) on a helper thread while the blobs download, since that
work waits on nothing the transfer waits on.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import registry_client
from grammar import record
from registry_client import (
    BlobProgress, ContentStore, Descriptor, Digest, Platform, Reference, RegistryClient, parse_reference,
)

from builder.errors import UsageError
from builder.events import (
    EventSink, PullFinished, PullProgress, PullStarted, PushFinished, PushProgress, PushStarted, ignore_event,
)
from builder.imagestore.locks import lease

if TYPE_CHECKING:
    from builder.image.compression import Compression  # push only: not imported by a pull
    from builder.imagestore import ImageStore


@record
class PullResult:
    name: Reference  # what the image is now called locally
    digest: Digest  # what the registry resolved the reference to (index or manifest)
    image_id: Digest
    downloaded: bool  # False when every blob was already in the store


@record
class PushResult:
    name: Reference
    digest: Digest  # of the manifest (or index) the registry now holds
    size: int
    media_type: str = ""  # of that manifest or index (OCI when a docker manifest had to change)


class _ProgressRelay:
    """BlobProgress (any thread) -> events; remembers whether bytes really moved."""

    def __init__(self, make_event: Callable[[BlobProgress], object], emit: EventSink,
                 on_first: Callable[[], None] = lambda: None) -> None:
        self._make_event = make_event
        self._emit = emit
        self._on_first = on_first  # called (maybe more than once) as blobs start to arrive
        self._lock = threading.Lock()
        self.transferred = False

    def __call__(self, progress: BlobProgress) -> None:
        self._on_first()
        if not progress.cached:
            with self._lock:
                self.transferred = True
        self._emit(self._make_event(progress))  # type: ignore[arg-type]


class _StoreOpener:
    """Opens the image store on a helper thread, once ``start`` is called (by the first blob
    progress: the pull's own start-up work is done, its downloads wait on sockets)."""

    def __init__(self, open_store: Callable[[], ImageStore]) -> None:
        self._open_store = open_store
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started = False
        self._store: ImageStore | None = None
        self._error: BaseException | None = None

    @classmethod
    def ready(cls, store: ImageStore) -> _StoreOpener:
        """An opener of a store that is already open: no thread to start."""
        opener = cls(lambda: store)
        opener._store, opener._started = store, True
        return opener

    def start(self) -> None:
        if self._started:  # the usual case, without the lock
            return
        with self._lock:
            if not self._started:
                thread = threading.Thread(target=self._open, name="pybuild-open-store", daemon=True)
                thread.start()
                self._thread, self._started = thread, True

    def _open(self) -> None:
        try:
            self._store = self._open_store()
        except BaseException as exc:  # noqa: B036 - raised on the caller's thread by store()
            self._error = exc

    def store(self) -> ImageStore:
        """The opened store (opening it now if nothing started it); its error if opening failed."""
        self.start()
        self.wait()
        if self._error is not None:
            raise self._error
        assert self._store is not None
        return self._store

    def wait(self) -> None:
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()


def pull_image(store: ImageStore, ref: str | Reference, *, client: RegistryClient,
               platform: Platform | None = None, emit: EventSink = ignore_event) -> PullResult:
    """Pull ``ref`` for ``platform`` (default: this host) and tag it in ``store``."""
    return _pull(store.root, ref, client, _StoreOpener.ready(store), platform, emit)


def pull_into(root: Path, ref: str | Reference, *, client: RegistryClient, open_store: Callable[[], ImageStore],
              platform: Platform | None = None, emit: EventSink = ignore_event) -> PullResult:
    """``pull_image`` into the store at ``root``, which ``open_store`` opens while the blobs download."""
    return _pull(root, ref, client, _StoreOpener(open_store), platform, emit)


def _pull(root: Path, ref: str | Reference, client: RegistryClient, opener: _StoreOpener,
          platform: Platform | None, emit: EventSink) -> PullResult:
    name = parse_reference(ref) if isinstance(ref, str) else ref
    text = str(name)
    emit(PullStarted(text, name.repository, name.identifier))
    relay = _ProgressRelay(lambda p: PullProgress(text, str(p.digest), p.media_type, p.done, p.total,
                                                  p.cached, p.finished), emit, on_first=opener.start)
    with lease(root):
        try:
            pulled = registry_client.pull(name, ContentStore(root), client=client, platform=platform,
                                          on_progress=relay)
        finally:
            opener.wait()  # a failed pull returns only once nothing writes in the root any more
        store = opener.store()
        # The index entry's platform is what a later ``images``/``inspect`` shows without reading.
        image = replace(pulled.manifest_descriptor, platform=pulled.platform, annotations={})
        store.tag(name, image, repo_digest=f"{name.name}@{pulled.digest}")
    image_id = pulled.manifest.config.digest
    emit(PullFinished(text, str(pulled.digest), str(image_id), relay.transferred))
    return PullResult(name, pulled.digest, image_id, relay.transferred)


def push_image(store: ImageStore, ref: str, *, client: RegistryClient, emit: EventSink = ignore_event,
               compression: Compression | None = None) -> PushResult:
    """Push the local image ``ref`` to the registry its name points at, its plain layers
    compressed as ``compression`` says (default: gzip)."""
    from builder.image.compression import Compression
    from builder.imagestore import ImageNotFound
    from builder.outputs.convert import exportable_entry, image_for_export

    name = parse_reference(ref)
    if name.digest is not None:
        raise UsageError(f"cannot push a digest reference: {ref}")
    entry = store.resolve(ref)
    if entry is None or name not in store.names_of(entry.digest):  # an ID prefix is not a name to push to
        raise ImageNotFound(ref)
    text = str(name)
    emit(PushStarted(text, name.name))
    relay = _ProgressRelay(lambda p: PushProgress(text, str(p.digest), p.media_type, p.done, p.total,
                                                  p.cached, p.finished), emit)
    with store.lease():  # the compressed blobs must outlive a concurrent prune until pushed
        target = image_for_export(store, exportable_entry(store, entry), compression or Compression())
        digest = registry_client.push(name, store.content, target, client=client,
                                      mount_from=_mount_source(store, entry, name), on_progress=relay)
    store.tag(name, entry, repo_digest=f"{name.name}@{digest}")
    emit(PushFinished(text, str(digest), target.size))
    return PushResult(name, digest, target.size, target.media_type)


def _mount_source(store: ImageStore, entry: Descriptor, target: Reference) -> str | None:
    """Another repository of the same registry holding this image: its blobs can be mounted."""
    for other in store.names_of(entry.digest):
        if other.registry == target.registry and other.repository != target.repository:
            return other.repository
    return None
