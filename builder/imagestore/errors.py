"""Errors of the local image store; all are user-facing (exit code 2)."""
from __future__ import annotations

from builder.errors import UsageError


class ImageStoreError(UsageError):
    """Root of the image store's errors."""


class ImageNotFound(ImageStoreError):
    """No local image has this name, ID or digest."""

    def __init__(self, text: str) -> None:
        super().__init__(f"No such image: {text}")
        self.text = text


class AmbiguousImage(ImageStoreError):
    """An ID prefix matches several images."""


class ImageInUse(ImageStoreError):
    """Removing by ID an image that several names point at needs ``--force`` (as docker)."""


class StoreCorrupt(ImageStoreError):
    """``index.json`` or a stored manifest cannot be read."""
