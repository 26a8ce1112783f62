"""Errors of COPY/ADD and of the build context, all under ``BuildError``.

Messages follow BuildKit's wording where users grep for it (``failed to compute
cache key: ... not found``, ``digest mismatch``) and
always name the path or URL involved.
"""
from __future__ import annotations

from builder.errors import BuildError


class CopyError(BuildError):
    """A COPY or ADD step could not be carried out."""


class SourceNotFoundError(CopyError):
    """A non-wildcard source (or a ``--parents`` required path) does not exist."""

    def __init__(self, path: str, source_name: str = "context") -> None:
        self.path = path
        super().__init__(
            f'failed to compute cache key: failed to calculate checksum of ref {source_name}: "{path}": not found'
        )


class DestinationError(CopyError):
    """The destination cannot take the copy (a directory onto a file, too many symlinks...)."""


class ArchiveError(CopyError):
    """ADD could not unpack a local archive."""


class DownloadError(CopyError):
    """ADD of a URL failed: network error, bad status or checksum mismatch."""


class GitSourceError(CopyError):
    """ADD of a git repository failed: clone, checkout, subdir or checksum."""


class ContextError(BuildError):
    """The build context directory cannot be read."""
