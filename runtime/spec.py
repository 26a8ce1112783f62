"""What to run and how: frozen values handed to ``runtime.container.run``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

from runtime.resources import ContainerResources

NetworkMode = Literal["none", "host", "default"]
Stream = Literal["stdout", "stderr"]
OutputCallback = Callable[[Stream, bytes], None]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Docker's and BuildKit's default capability set (containerd pkg/oci defaultUnixCaps), by number.
DOCKER_DEFAULT_CAPABILITIES: frozenset[int] = frozenset({
    0,   # CAP_CHOWN
    1,   # CAP_DAC_OVERRIDE
    3,   # CAP_FOWNER
    4,   # CAP_FSETID
    5,   # CAP_KILL
    6,   # CAP_SETGID
    7,   # CAP_SETUID
    8,   # CAP_SETPCAP
    10,  # CAP_NET_BIND_SERVICE
    13,  # CAP_NET_RAW
    18,  # CAP_SYS_CHROOT
    27,  # CAP_MKNOD
    29,  # CAP_AUDIT_WRITE
    31,  # CAP_SETFCAP
})


@dataclass(frozen=True, slots=True)
class BindMount:
    """A host path made visible in the container (``-v HOST:CTR[:ro]``)."""

    source: str
    target: str
    read_only: bool = False


# mount(8) flag words a TmpfsMount takes: word -> (the flag it sets or clears, sets it)
TMPFS_FLAG_WORDS: dict[str, tuple[str, bool]] = {
    "ro": ("rdonly", True), "rw": ("rdonly", False), "nosuid": ("nosuid", True), "suid": ("nosuid", False),
    "noexec": ("noexec", True), "exec": ("noexec", False), "sync": ("sync", True), "async": ("sync", False),
    "dirsync": ("dirsync", True), "noatime": ("noatime", True), "atime": ("noatime", False),
    "nodiratime": ("nodiratime", True), "diratime": ("nodiratime", False),
    "relatime": ("relatime", True), "norelatime": ("relatime", False),
    "strictatime": ("strictatime", True), "nostrictatime": ("strictatime", False),
}


@dataclass(frozen=True, slots=True)
class TmpfsMount:
    """A fresh tmpfs in the container (``docker run --tmpfs PATH[:OPTIONS]``).

    ``options`` are mount(8) words: flags (ro, noexec, nosuid, noatime, ...) and tmpfs's own
    ``size=``, ``mode=``, ``uid=``, ``gid=``, ``nr_inodes=``, ``nr_blocks=``, ``mpol=``. It is always
    mounted nodev, as every writable mount of a container (see ``runtime.rootfs``).
    """

    target: str
    options: tuple[str, ...] = ("nosuid", "noexec")

    def __post_init__(self) -> None:
        if not self.target.startswith("/"):
            raise ValueError(f"TmpfsMount.target must be absolute, got {self.target!r}")


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits; None means unlimited."""

    memory_bytes: int | None = None
    pids: int | None = None
    # Docker's device allow-list in a v1 devices cgroup, as defence in depth: nodev mounts already keep
    # mknod'ed nodes from opening. Off by default because it costs ~10 ms a container on this kernel
    # (moving the shim into one more v1 cgroup waits for an RCU grace period).
    restrict_devices: bool = False


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """One process to run in a fresh container.

    ``user`` is a Dockerfile USER value: ``name``, ``uid``, ``name:group`` or ``uid:gid``, looked up in the
    image's own /etc/passwd and /etc/group. ``env`` is passed as is, plus PATH and HOME when missing.
    """

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    cwd: str = "/"
    user: str = "root"
    hostname: str = "pybuild"
    network: NetworkMode = "none"
    mounts: tuple[BindMount | TmpfsMount, ...] = ()  # mounted in this order (parents before children)
    limits: Limits = field(default_factory=Limits)
    capabilities: frozenset[int] = DOCKER_DEFAULT_CAPABILITIES
    extra_hosts: tuple[tuple[str, str], ...] = ()  # (name, address) lines added to /etc/hosts; see etcfiles
    hosts_own_address: bool = True  # docker run lists the container's address in /etc/hosts; BuildKit's RUN does not
    # docker run binds a generated /etc/hostname; BuildKit's RUN does not (the image's own file stays, writable)
    hostname_file: bool = True
    # Docker's default seccomp profile (runtime.seccomp); off for RUN --security=insecure, as in BuildKit
    seccomp: bool = True
    # docker build's --shm-size, --ulimit and --cgroup-parent (runtime.resources)
    resources: ContainerResources = field(default_factory=ContainerResources)
    # docker run --read-only: the root filesystem is read-only (/dev, /proc, tmpfs and binds keep their own modes)
    read_only_root: bool = False

    def __post_init__(self) -> None:
        if not self.argv:
            raise ValueError("ProcessSpec.argv must not be empty")
        if not self.cwd.startswith("/"):
            raise ValueError(f"ProcessSpec.cwd must be absolute, got {self.cwd!r}")
        if self.network not in ("none", "host", "default"):
            raise ValueError(f"unknown network mode {self.network!r}")


@dataclass(frozen=True, slots=True)
class Stdio:
    """The container's standard streams (``docker run -i`` / ``-t``).

    The default is a batch step's: stdin is /dev/null, stdout and stderr are pipes streamed to
    ``on_output``. ``stdin`` is a caller's fd copied to the process's stdin until it ends (``-i``).
    ``tty`` gives the process a pty made inside the container as stdin, stdout and stderr; its output
    arrives as "stdout". ``terminal`` is the caller's terminal (usually 0): raw mode for the run, and
    its window size is copied to the pty and kept in sync.
    """

    stdin: int | None = None
    tty: bool = False
    terminal: int | None = None


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How the container's main process ended. ``code`` is 128+N for a death by signal N, as in Docker."""

    code: int
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.code == 0 and not self.timed_out
