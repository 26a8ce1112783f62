"""Run one process in a fresh container: ``run(spec, rootfs_mounts, on_output) -> ExitStatus``.

pybuild's side of the container: it writes the generated /etc files, creates cgroups and the network
lease (recorded in the state directory first, see ``runtime.state``), then hands over to
``runtime.supervisor`` (fork the shim, stream its stdio, stop it at the timeout), and releases
everything afterwards. A KeyboardInterrupt SIGKILLs the container and is re-raised.

Call ``run`` from a thread that outlives the container: PR_SET_PDEATHSIG fires when the *thread* that
forked the shim exits, not the process.
"""
from __future__ import annotations

import os
from typing import Sequence

from runtime import cgroups, etcfiles, seccomp
from runtime.mounts import Mount
from runtime.rootfs import RootfsPlan
from runtime.spec import ExitStatus, OutputCallback, ProcessSpec, Stdio
from runtime.state import DEFAULT_STATE_ROOT, ContainerState, cleanup_stale, release_resources
from runtime.supervisor import DEFAULT_STOP_GRACE, ContainerControl, StopPolicy, fork_and_supervise


def _discard(_stream: str, _data: bytes) -> None:
    pass


def run(
    spec: ProcessSpec,
    rootfs: Sequence[Mount],
    on_output: OutputCallback = _discard,
    *,
    state_root: str = DEFAULT_STATE_ROOT,
    timeout: float | None = None,
    stop_grace: float = DEFAULT_STOP_GRACE,
    stdio: Stdio = Stdio(),
    control: ContainerControl | None = None,
) -> ExitStatus:
    """Run ``spec`` on the filesystem described by ``rootfs`` (usually ``Snapshotter.prepare``'s mounts).

    After ``timeout`` seconds the container gets SIGTERM, and SIGKILL ``stop_grace`` seconds later; the
    status then says ``timed_out``. ``stdio`` forwards stdin and/or gives a pty; ``control`` lets
    another thread signal the container while it runs.

    Raises ``ContainerStartError`` when the container cannot be set up or the command cannot be
    executed; a command that runs and fails is an ``ExitStatus`` with a non-zero code.
    """
    # before anything is allocated: without libseccomp (and no opt-out) the container must not start
    seccomp_program = seccomp.program_for(spec.seccomp, spec.capabilities, os.path.join(state_root, "seccomp"))
    cleanup_stale(state_root)
    state = ContainerState.create(state_root)
    try:
        return _run_in(state, spec, tuple(rootfs), on_output, StopPolicy(timeout, stop_grace), stdio,
                       control or ContainerControl(), seccomp_program)
    finally:
        release_resources(state.record)
        state.close()


def _write_etc_files(state: ContainerState, spec: ProcessSpec, address: str | None) -> tuple[tuple[str, str], ...]:
    try:
        with open("/etc/resolv.conf") as handle:
            host_resolv = handle.read()
    except FileNotFoundError:
        host_resolv = ""
    contents = {
        "/etc/resolv.conf": etcfiles.resolv_conf(host_resolv, spec.network),
        "/etc/hosts": etcfiles.hosts(spec.hostname, address if spec.hosts_own_address else None, spec.extra_hosts),
    }
    if spec.hostname_file:
        contents["/etc/hostname"] = spec.hostname + "\n"
    files = []
    for path, text in contents.items():
        host_path = state.path(os.path.basename(path))
        with open(host_path, "w") as handle:
            handle.write(text)
        files.append((path, host_path))
    return tuple(files)


def _run_in(state: ContainerState, spec: ProcessSpec, rootfs: tuple[Mount, ...], on_output: OutputCallback,
            stop: StopPolicy, stdio: Stdio, control: ContainerControl, seccomp_program: bytes | None) -> ExitStatus:
    lease = None
    if spec.network == "default":
        from runtime import network  # only when needed, and before the fork (the shim uses it)

        state.remember("lease", {"container_id": state.id, "address": "", "host_ifname": ""})
        lease = network.allocate(state.id)
        state.remember("lease", lease.to_record())
    state.remember("cgroups", [])
    cgroup_dirs = cgroups.create(state.id, spec.limits, parent=spec.resources.cgroup_parent)
    state.remember("cgroups", cgroup_dirs)
    os.mkdir(state.path("rootfs"))
    plan = RootfsPlan(state.path("rootfs"), rootfs, _write_etc_files(state, spec, lease.address if lease else None),
                      spec.mounts, shm_size=spec.resources.shm_size,
                      shm_source=spec.resources.shm_source)
    return fork_and_supervise(spec, plan, cgroup_dirs, lease, on_output, stop, stdio, control, seccomp_program)
