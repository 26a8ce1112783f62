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


class ProcessStartError(ContainerStartError):
    """The container was set up but its process could not start: runc's "unable to start container process"
    (rlimits that cannot be set, a command that cannot be executed). ``exit_code`` is docker run's for it:
    127 when the command is not found, 126 when it cannot be executed, 125 otherwise."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


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
