"""Resolve paths inside a root directory as if it were ``/`` (continuity's ``fs.RootPath``).

Images are full of absolute symlinks (``/app -> /srv/app``, ``/lib -> usr/lib``).
Following them on the host would write outside the rootfs, so every path is
walked component by component (``runtime.scoped_components``): a symlink's target
is spliced back in, absolute targets restart at the root and ``..`` never climbs
above it. This module only gives COPY its own error type.
"""
from __future__ import annotations

from builder.copy.errors import DestinationError
from runtime import ContainerStartError, scoped_components, scoped_join


def resolve_components(root: str, path: str, *, follow_final: bool = True) -> list[str]:
    """The components below ``root`` that ``path`` designates once symlinks are resolved."""
    try:
        return scoped_components(root, path, follow_final=follow_final)
    except ContainerStartError as error:  # a symlink loop
        raise DestinationError(f"{path}: too many levels of symbolic links") from error


def resolve_in_root(root: str, path: str, *, follow_final: bool = True) -> str:
    """The host path of ``path`` inside ``root`` (see ``resolve_components``)."""
    try:
        return scoped_join(root, path, follow_final=follow_final)
    except ContainerStartError as error:
        raise DestinationError(f"{path}: too many levels of symbolic links") from error
