"""What the core tells the outside world while it works: frozen event values.

The core never prints. It calls an ``EventSink`` with these objects; ``builder.console``
turns them into a rich live view in a terminal or plain lines in CI, and tests collect them
with ``events = []; emit = events.append``. Sinks may be called from worker threads (blob
downloads run in parallel), so a sink that keeps state must lock.
"""
from __future__ import annotations

from typing import Callable, Union

from grammar import record  # a frozen slotted dataclass, ~0.7 ms a class cheaper to define

# Blobs that are not layers; progress views show layers only, as docker does.
_CONFIG_MEDIA_TYPES = frozenset({
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
})


@record
class PullStarted:
    ref: str  # the normalised reference being pulled
    repository: str  # its path in the registry (``library/ubuntu``), as docker's "Pulling from" shows it
    identifier: str  # the tag, or the digest when the reference has one


@record
class PullProgress:
    """Bytes of one blob of ``ref``; ``finished`` once the blob is verified and stored."""

    ref: str
    digest: str
    media_type: str
    done: int
    total: int
    cached: bool = False  # it was already in the store: nothing was downloaded
    finished: bool = False

    @property
    def is_layer(self) -> bool:
        return self.media_type not in _CONFIG_MEDIA_TYPES


@record
class PullFinished:
    ref: str
    digest: str  # what the reference resolved to in the registry (index or manifest)
    image_id: str  # the config digest, as docker shows it
    downloaded: bool  # False when every blob was already there


@record
class PushStarted:
    ref: str
    repository: str  # registry/repository, without tag


@record
class PushProgress:
    ref: str
    digest: str
    media_type: str
    done: int
    total: int
    cached: bool = False  # the registry already had it (or mounted it)
    finished: bool = False

    @property
    def is_layer(self) -> bool:
        return self.media_type not in _CONFIG_MEDIA_TYPES


@record
class PushFinished:
    ref: str
    digest: str  # the manifest digest the registry stored
    size: int


@record
class StepStarted:
    """A build step begins. ``step_id`` is unique in the build; ``title`` is ``[stage i/n] RUN ...``."""

    step_id: int
    title: str
    line: int = 0


@record
class StepCached:
    step_id: int


@record
class StepCacheMiss:
    """A step that changes the filesystem found no usable cache entry; ``reason`` says which of its
    inputs changed since the last build of the same Dockerfile and target (``builder.cache.explain``)."""

    step_id: int
    reason: str


@record
class StepLog:
    step_id: int
    stream: str  # "stdout" | "stderr"
    data: bytes


@record
class StepFinished:
    step_id: int
    duration: float
    layer_size: int = 0
    error: str = ""
    cancelled: bool = False  # stopped because a stage built in parallel failed (not an error of its own)


@record
class BuildWarning:
    message: str
    line: int = 0


@record
class BuildFinished:
    image_id: str
    tags: tuple[str, ...]
    duration: float


Event = Union[
    PullStarted, PullProgress, PullFinished, PushStarted, PushProgress, PushFinished,
    StepStarted, StepCached, StepCacheMiss, StepLog, StepFinished, BuildWarning, BuildFinished,
]
EventSink = Callable[[Event], None]


def ignore_event(event: Event) -> None:
    """The default sink: nobody is watching."""
