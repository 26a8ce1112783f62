"""Memory and pids limits through cgroups: v2 where the controller is usable there, v1 otherwise.

With ``Limits.restrict_devices`` a container also gets Docker's device allow-list where a v1
``devices`` hierarchy exists. That is defence in depth: ``nodev`` mounts (``runtime.rootfs``) already
keep mknod'ed nodes from opening. v2 has no devices controller (it takes a BPF program), so pure v2
hosts rely on ``nodev`` alone, and so does a host whose devices hierarchy pybuild cannot write to.

On a hybrid host (this one: every controller bound to a v1 hierarchy, an empty ``unified`` v2) each
controller is looked up separately. A container's cgroup is ``pybuild-<id>`` below the cgroup pybuild
itself runs in, one directory per hierarchy used. The container's first process writes itself into
each ``cgroup.procs`` before it unshares anything, so everything it forks is accounted.

``docker build --cgroup-parent P`` puts it under ``P`` instead, from each hierarchy's root whether ``P`` is
written ``ci`` or ``/ci`` (docker 26 on this host made ``/ci/buildkit`` in every v1 hierarchy, outside its
own cgroup). ``P`` is created when missing and left in place afterwards, as docker leaves it; the
container is then placed in the memory, pids and cpu hierarchies even without limits, so the parent's
limits apply to it. Each parent's name is written to ``PARENTS_REGISTRY`` (machine-wide, like the cgroup
tree, and gone at reboot with it) before its first container is made there, so that ``remove_orphans``
also sweeps the parents' ``pybuild-*`` cgroups that a killed pybuild left.
"""
from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass, field

from runtime.errors import CgroupError
from runtime.spec import Limits


@dataclass(frozen=True, slots=True)
class Hierarchy:
    version: int
    directory: str  # pybuild's own cgroup in this hierarchy
    mount_point: str = field(default="", compare=False)  # the hierarchy's root (for an absolute --cgroup-parent)


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def discover(proc_cgroup: str, mountinfo: str, controllers: tuple[str, ...] = ("memory", "pids")) -> dict[str, Hierarchy]:
    """Where each controller can be used, from /proc/self/cgroup and /proc/self/mountinfo texts."""
    own: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        _hierarchy_id, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:  # "0::/path" is the v2 line
            own[name] = path
    v1_mounts: dict[str, str] = {}
    v2_mount = None
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fstype, _source, super_options = (right.split(" ") + ["", ""])[:3]
        mount_point = left.split(" ")[4]
        if fstype == "cgroup2":
            v2_mount = mount_point
        elif fstype == "cgroup":
            for option in super_options.split(","):
                v1_mounts[option] = mount_point
    found: dict[str, Hierarchy] = {}
    for controller in controllers:
        if v2_mount is not None and "" in own and _v2_has(v2_mount + own[""], controller):
            found[controller] = Hierarchy(2, os.path.normpath(v2_mount + own[""]), v2_mount)
        elif controller in v1_mounts and controller in own:
            found[controller] = Hierarchy(1, os.path.normpath(v1_mounts[controller] + own[controller]),
                                          v1_mounts[controller])
    return found


def _v2_has(directory: str, controller: str) -> bool:
    with contextlib.suppress(OSError):
        return controller in _read(os.path.join(directory, "cgroup.subtree_control")).split()
    return False


# Docker's default device rules: any node may be created (layers carry them); only these may be opened.
DEVICE_RULES = (
    ("devices.deny", "a"),
    *(("devices.allow", rule) for rule in (
        "c *:* m", "b *:* m",
        "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",  # null zero full random urandom
        "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm",  # tty console ptmx
        "c 136:* rwm",  # pty slaves (devpts)
        "c 10:200 rwm",  # tun
    )),
)


def _settings(version: int, controller: str, limits: Limits) -> list[tuple[str, str]]:
    if controller == "devices":
        return list(DEVICE_RULES)
    if controller == "memory" and limits.memory_bytes is not None:
        value = str(limits.memory_bytes)
        if version == 2:
            return [("memory.max", value), ("memory.swap.max", "0")]
        return [("memory.limit_in_bytes", value), ("memory.memsw.limit_in_bytes", value)]
    if controller == "pids" and limits.pids is not None:
        return [("pids.max", str(limits.pids))]
    return []


PARENT_CONTROLLERS = ("memory", "pids", "cpu")  # where a --cgroup-parent places a container without limits
PARENTS_REGISTRY = "/run/pybuild/cgroup-parents"  # one --cgroup-parent a line (runtime.state.MOUNT_REGISTRY's place)


def create(container_id: str, limits: Limits, parent: str | None = None) -> list[str]:
    """Make the container's cgroup directories with ``limits`` applied, under ``parent`` if given; returns them."""
    limited = [name for name, value in (("memory", limits.memory_bytes), ("pids", limits.pids)) if value is not None]
    placed = [] if parent is None else [name for name in PARENT_CONTROLLERS if name not in limited]
    if not limited and not placed and not limits.restrict_devices:
        return []
    hierarchies = discover(_read("/proc/self/cgroup"), _read("/proc/self/mountinfo"), (*limited, *placed, "devices"))
    missing = set(limited) - set(hierarchies)
    if missing:
        raise CgroupError(f"no usable cgroup hierarchy for {sorted(missing)}")
    # placing the container under a parent: every hierarchy this host has will do
    wanted = limited + [name for name in placed if name in hierarchies]
    if parent is not None:
        remember_parent(parent)
    directories: list[str] = []
    try:
        for controller in wanted:
            _make(hierarchies[controller], controller, container_id, limits, directories, parent)
    except OSError as error:
        remove(directories)
        raise CgroupError(f"cannot set up cgroup for {container_id}: {error}") from error
    devices = hierarchies.get("devices")
    if limits.restrict_devices and devices is not None and devices.version == 1:
        made_before = len(directories)
        try:
            _make(devices, "devices", container_id, limits, directories)
        except OSError:  # a read-only or delegated-away hierarchy: the nodev mounts still hold
            remove(directories[made_before:])
            del directories[made_before:]
    return directories


def _make(hierarchy: Hierarchy, controller: str, container_id: str, limits: Limits, directories: list[str],
          parent: str | None = None) -> None:
    """Create (once per hierarchy) the container's cgroup and apply ``controller``'s settings."""
    base = hierarchy.directory if parent is None else _parent_directory(hierarchy, parent)
    directory = os.path.join(base, f"pybuild-{container_id}")
    if directory not in directories:
        os.mkdir(directory)
        directories.append(directory)
    for name, value in _settings(hierarchy.version, controller, limits):
        _write_setting(directory, name, value)


def _parent_parts(parent: str) -> list[str]:
    parts = [part for part in parent.split("/") if part]
    if not parts or any(part in (".", "..") for part in parts):
        raise CgroupError(f"invalid cgroup parent {parent!r}")
    return parts


def _parent_directory(hierarchy: Hierarchy, parent: str) -> str:
    """The ``--cgroup-parent`` directory in ``hierarchy``, made (with v2's controllers enabled) when missing."""
    directory = hierarchy.mount_point
    for part in _parent_parts(parent):
        if hierarchy.version == 2:  # a child's controllers must be enabled in its parent's subtree_control
            _enable_v2_controllers(directory)
        directory = os.path.join(directory, part)
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory)
    if hierarchy.version == 2:
        _enable_v2_controllers(directory)
    return directory


def _enable_v2_controllers(directory: str) -> None:
    with contextlib.suppress(OSError):  # a controller the hierarchy lacks: its settings then fail loudly
        wanted = set(_read(os.path.join(directory, "cgroup.controllers")).split()) & set(PARENT_CONTROLLERS)
        enabled = set(_read(os.path.join(directory, "cgroup.subtree_control")).split())
        if wanted - enabled:
            _write_setting(directory, "cgroup.subtree_control", " ".join(f"+{name}" for name in sorted(wanted - enabled)))


def _write_setting(directory: str, name: str, value: str) -> None:
    path = os.path.join(directory, name)
    if name in ("memory.memsw.limit_in_bytes", "memory.swap.max") and not os.path.exists(path):
        return  # no swap accounting on this kernel: nothing to limit
    with open(path, "w") as handle:
        handle.write(value)


def procs_files(directories: list[str]) -> list[str]:
    return [os.path.join(directory, "cgroup.procs") for directory in directories]


def join(directories: list[str], pid: int) -> None:
    for path in procs_files(directories):
        with open(path, "w") as handle:
            handle.write(str(pid))


def remove(directories: list[str], attempts: int = 50) -> None:
    """Kill whatever is left in each cgroup, then remove it (dying tasks keep it busy briefly)."""
    for directory in directories:
        for _ in range(attempts):
            try:
                os.rmdir(directory)
                break
            except FileNotFoundError:
                break
            except OSError as error:
                if error.errno != errno.EBUSY:
                    raise CgroupError(f"cannot remove cgroup {directory}: {error}") from error
                _kill_members(directory)
                time.sleep(0.01)
        else:
            raise CgroupError(f"cgroup {directory} stays busy")


def _kill_members(directory: str) -> None:
    with contextlib.suppress(OSError):
        for pid in _read(os.path.join(directory, "cgroup.procs")).split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def remember_parent(parent: str, registry: str = PARENTS_REGISTRY) -> None:
    """Add ``parent`` to the registry ``remove_orphans`` reads, unless it is there already."""
    name = "/".join(_parent_parts(parent))
    if name in remembered_parents(registry):
        return
    with contextlib.suppress(OSError):  # no /run to write to: the state record still lists the cgroups it made
        os.makedirs(os.path.dirname(registry), mode=0o700, exist_ok=True)
        fd = os.open(registry, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, f"{name}\n".encode())  # one short O_APPEND write: concurrent pybuilds never interleave
        finally:
            os.close(fd)


def remembered_parents(registry: str = PARENTS_REGISTRY) -> set[str]:
    try:
        return set(_read(registry).split("\n")) - {""}
    except OSError:
        return set()


def remove_orphans(min_age_seconds: float = 60.0, registry: str = PARENTS_REGISTRY) -> list[str]:
    """Remove ``pybuild-*`` cgroups that are empty and older than ``min_age_seconds``, below pybuild's own
    cgroup and below every ``--cgroup-parent`` in ``registry``.

    Their pybuild was killed and its state root is never visited again (a throw-away ``--root``). A
    live container's cgroup is empty only between its creation and the shim joining it, milliseconds.
    """
    hierarchies = discover(_read("/proc/self/cgroup"), _read("/proc/self/mountinfo"),
                           ("devices", *PARENT_CONTROLLERS))
    directories = {hierarchy.directory for hierarchy in hierarchies.values()}
    for parent in remembered_parents(registry):
        directories |= {os.path.join(hierarchy.mount_point, parent) for hierarchy in hierarchies.values()}
    removed = []
    for directory in directories:
        with contextlib.suppress(OSError):
            for name in os.listdir(directory):
                path = os.path.join(directory, name)
                if name.startswith("pybuild-") and _empty_and_old(path, min_age_seconds):
                    with contextlib.suppress(OSError):  # busy again, or removed by another pybuild
                        os.rmdir(path)
                        removed.append(path)
    return removed


def _empty_and_old(directory: str, min_age_seconds: float) -> bool:
    try:
        return (time.time() - os.stat(directory).st_mtime > min_age_seconds
                and not _read(os.path.join(directory, "cgroup.procs")).strip())
    except OSError:
        return False
