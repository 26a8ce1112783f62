"""The runtime package's exceptions: one root, a few precise kinds."""
from __future__ import annotations


class ContainerError(Exception):
    """Root of every error raised by ``runtime``."""


class NamespaceError(ContainerError):
    """A Linux primitive (unshare, mount, pivot_root, ...) failed."""


class UserLookupError(ContainerError):
    """A USER could not be found in the image's /etc/passwd or /etc/group."""


class ContainerStartError(ContainerError):
    """The container could not be set up or its command could not be executed."""


class SnapshotError(ContainerError):
    """A snapshotter operation broke the lifecycle contract (unknown key, wrong kind, children, ...)."""


class UnsafeLayerError(ContainerError):
    """A layer tar entry would write, link or delete outside the root it is applied to."""


class LayerFormatError(ContainerError):
    """A layer tar is malformed in a way that is not a security problem (e.g. a file used as a directory)."""


class NetworkError(ContainerError):
    """Setting up or tearing down container networking failed."""


class CgroupError(ContainerError):
    """A cgroup could not be created, limited, joined or removed."""
