"""Per-container settings of ``docker build``'s ``--shm-size``, ``--ulimit`` and ``--cgroup-parent``.

``ContainerResources`` travels in ``ProcessSpec.resources``: the size of ``/dev/shm`` (mounted by
``runtime.rootfs``), the rlimits the main process gets just before ``exec`` (``apply_ulimits``, called
in the container's PID 1, so this module imports everything it needs up front) and the cgroup the
container's own cgroup is made under (``runtime.cgroups``).
"""
from __future__ import annotations

import resource
from dataclasses import dataclass

from runtime.errors import ContainerStartError

DEFAULT_SHM_SIZE = 64 * 1024 * 1024  # runc's and BuildKit's /dev/shm: size=65536k

RLIMIT_LOCKS = 10  # Linux's number; Python's resource module does not name it
# docker's ulimit names (go-units), as the kernel's RLIMIT_* resources; "as" is not among them in docker either.
ULIMIT_RESOURCES: dict[str, int] = {
    "core": resource.RLIMIT_CORE, "cpu": resource.RLIMIT_CPU, "data": resource.RLIMIT_DATA,
    "fsize": resource.RLIMIT_FSIZE, "locks": RLIMIT_LOCKS, "memlock": resource.RLIMIT_MEMLOCK,
    "msgqueue": resource.RLIMIT_MSGQUEUE, "nice": resource.RLIMIT_NICE, "nofile": resource.RLIMIT_NOFILE,
    "nproc": resource.RLIMIT_NPROC, "rss": resource.RLIMIT_RSS, "rtprio": resource.RLIMIT_RTPRIO,
    "rttime": resource.RLIMIT_RTTIME, "sigpending": resource.RLIMIT_SIGPENDING, "stack": resource.RLIMIT_STACK,
}


@dataclass(frozen=True, slots=True)
class Ulimit:
    """One ``--ulimit NAME=SOFT[:HARD]``; -1 means unlimited (RLIM_INFINITY)."""

    name: str
    soft: int
    hard: int

    def __post_init__(self) -> None:
        if self.name not in ULIMIT_RESOURCES:
            raise ValueError(f"invalid ulimit type: {self.name}")


@dataclass(frozen=True, slots=True)
class ContainerResources:
    """``shm_size`` in bytes (None: the default 64 MiB, mounted as runc's "shm" source); ``cgroup_parent``
    is a path from each hierarchy's root, as docker reads it (None: below pybuild's own cgroup)."""

    shm_size: int | None = None
    ulimits: tuple[Ulimit, ...] = ()
    cgroup_parent: str | None = None
    # the /dev/shm tmpfs's source name: None is BuildKit's ("shm", "tmpfs" once sized); docker run always says "shm"
    shm_source: str | None = None

    def __post_init__(self) -> None:
        if self.shm_size is not None and self.shm_size <= 0:
            raise ValueError(f"shm size must be positive, got {self.shm_size}")


def shm_mount(shm_size: int | None, source: str | None = None) -> tuple[str, str]:
    """(source, options) of ``/dev/shm``: BuildKit names the tmpfs "tmpfs" once a size is given (``df`` shows
    it) unless ``source`` names it."""
    if shm_size is None:
        return source or "shm", f"mode=1777,size={DEFAULT_SHM_SIZE // 1024}k"
    return source or "tmpfs", f"mode=1777,size={shm_size}"


# CPython's words for setrlimit's EPERM and EINVAL, and the errno texts runc (Go) prints for them
_SETRLIMIT_REASONS = {"not allowed to raise maximum limit": "operation not permitted",
                      "current limit exceeds maximum limit": "invalid argument"}


def apply_ulimits(ulimits: tuple[Ulimit, ...]) -> None:
    """Set the rlimits of the calling process (the container's main process, before it drops capabilities).

    A limit the process may not set (a hard limit above the kernel's ceiling, such as ``nofile=-1`` over
    fs.nr_open) fails with runc's words, which docker shows: "error setting rlimit type 7: operation not
    permitted"."""
    for ulimit in ulimits:
        number = ULIMIT_RESOURCES[ulimit.name]
        try:
            resource.setrlimit(number, (_raw(ulimit.soft), _raw(ulimit.hard)))
        except ValueError as error:
            reason = _SETRLIMIT_REASONS.get(str(error), str(error))
            raise ContainerStartError(f"error setting rlimit type {number}: {reason}") from None
        except OSError as error:
            raise ContainerStartError(f"error setting rlimit type {number}: {(error.strerror or '').lower()}") from None


def _raw(value: int) -> int:
    return resource.RLIM_INFINITY if value < 0 else value
