"""``--cap-add`` / ``--cap-drop`` / ``--privileged``: the capability set of a ``pybuild run`` container.

Docker's rules (moby's ``oci/caps.TweakCapabilities``): names are case-insensitive, with or without
the ``CAP_`` prefix, and ``ALL`` means every capability this kernel has. ``--privileged`` gives them
all; ``--cap-add ALL`` gives all but the dropped ones; ``--cap-drop ALL`` keeps only the added ones;
otherwise the default set minus the dropped plus the added.
"""
from __future__ import annotations

from collections.abc import Sequence

from builder.errors import UsageError
from runtime import DOCKER_DEFAULT_CAPABILITIES

ALL = "ALL"
# Linux's capability numbers (include/uapi/linux/capability.h)
CAPABILITY_NUMBERS: dict[str, int] = {name: number for number, name in enumerate((
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
))}


def kernel_capabilities() -> frozenset[int]:
    """Every capability both this kernel and the table above know (docker's GetAllCapabilities)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            last = int(handle.read())
    except (OSError, ValueError):
        last = max(CAPABILITY_NUMBERS.values())
    return frozenset(number for number in CAPABILITY_NUMBERS.values() if number <= last)


def _normalized(names: Sequence[str], flag: str) -> list[str]:
    chosen = []
    for name in names:
        name = name.strip().upper()
        if name != ALL and not name.startswith("CAP_"):
            name = "CAP_" + name
        if name != ALL and name not in CAPABILITY_NUMBERS:
            raise UsageError(f"invalid {flag}: unknown capability: {name!r}")
        chosen.append(name)
    return chosen


def container_capabilities(add: Sequence[str], drop: Sequence[str], privileged: bool = False) -> frozenset[int]:
    """The capability numbers the container keeps."""
    if privileged:
        return kernel_capabilities()
    added, dropped = _normalized(add, "--cap-add"), _normalized(drop, "--cap-drop")
    if not added and not dropped:
        return DOCKER_DEFAULT_CAPABILITIES
    available = kernel_capabilities()
    if ALL in added:
        return frozenset(number for number in available
                         if number not in {CAPABILITY_NUMBERS[name] for name in dropped if name != ALL})
    added_numbers = {CAPABILITY_NUMBERS[name] for name in added}
    if ALL in dropped:
        return frozenset(added_numbers)
    return frozenset((DOCKER_DEFAULT_CAPABILITIES - {CAPABILITY_NUMBERS[name] for name in dropped}) | added_numbers)
