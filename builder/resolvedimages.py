"""The images one build resolved: each reference once per platform, whichever instruction reads it first.

``FROM``, ``COPY --from=IMAGE`` and ``RUN --mount from=IMAGE`` name images. BuildKit resolves
a reference once per build, so every step reading it sees the same image even if its tag moves
meanwhile, and ``--pull`` asks the registry once.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from builder.baseimage import BaseImage, image_base
from builder.services import Services
from registry_client import Platform, RegistryClient, RegistryError, parse_reference


class ResolvedImages:
    """The build's resolutions, by normalised reference and platform (shared by its parallel stages)."""

    def __init__(self, services: Services, *, pull: bool, registry: Callable[[], RegistryClient]) -> None:
        self._services = services
        self._pull = pull
        self._registry = registry
        self._images: dict[tuple[str, str], BaseImage] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def base(self, reference: str, platform: Platform) -> BaseImage:
        """The image ``reference`` names for ``platform``, resolved (pulled with --pull) on first use."""
        memo = (_normalised(reference), str(platform))
        image = self._images.get(memo)
        if image is not None:
            return image
        with self._locks_lock:
            lock = self._locks.setdefault(memo, threading.Lock())
        with lock:  # one resolution per reference; stages reading other images do not wait for it
            image = self._images.get(memo)
            if image is None:
                image = self._images[memo] = image_base(self._services, reference, platform, pull=self._pull,
                                                        client_factory=self._registry)
        return image


def _normalised(reference: str) -> str:
    """``busybox`` and ``docker.io/library/busybox:latest`` are one image; an image ID stays as written."""
    try:
        return str(parse_reference(reference))
    except RegistryError:
        return reference
