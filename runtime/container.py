"""Run one process in a fresh container: ``run(spec, rootfs_mounts, on_output) -> ExitStatus``.

pybuild's side of the container: it writes the generated /etc files, creates cgroups and the network
lease (recorded in the state directory first, see ``runtime.state``), forks the shim (``runtime.process``),
streams stdout/stderr to ``on_output`` until both pipes close, enforces the timeout, and releases
everything afterwards. A timeout or a KeyboardInterrupt SIGKILLs the shim, which takes the whole
container with it; an interrupt is then re-raised.

Call ``run`` from a thread that outlives the container: PR_SET_PDEATHSIG fires when the *thread* that
forked the shim exits, not the process.
"""
from __future__ import annotations

import os
import selectors
import signal
import time
from typing import Sequence

from runtime import cgroups, etcfiles
from runtime.errors import ContainerStartError
from runtime.mounts import Mount
from runtime.process import Launch, Pipes, shim
from runtime.rootfs import RootfsPlan
from runtime.spec import ExitStatus, OutputCallback, ProcessSpec
from runtime.state import ContainerState, cleanup_stale, release_resources

DEFAULT_STATE_ROOT = "/run/pybuild"
_READ_SIZE = 65536


def _discard(_stream: str, _data: bytes) -> None:
    pass


def run(
    spec: ProcessSpec,
    rootfs: Sequence[Mount],
    on_output: OutputCallback = _discard,
    *,
    state_root: str = DEFAULT_STATE_ROOT,
    timeout: float | None = None,
) -> ExitStatus:
    """Run ``spec`` on the filesystem described by ``rootfs`` (usually ``Snapshotter.prepare``'s mounts).

    Raises ``ContainerStartError`` when the container cannot be set up or the command cannot be
    executed; a command that runs and fails is an ``ExitStatus`` with a non-zero code.
    """
    cleanup_stale(state_root)
    state = ContainerState.create(state_root)
    try:
        return _run_in(state, spec, tuple(rootfs), on_output, timeout)
    finally:
        release_resources(state_root, state.record)
        state.close()


def _write_etc_files(state: ContainerState, spec: ProcessSpec, address: str | None) -> tuple[tuple[str, str], ...]:
    try:
        with open("/etc/resolv.conf") as handle:
            host_resolv = handle.read()
    except FileNotFoundError:
        host_resolv = ""
    contents = {
        "/etc/resolv.conf": etcfiles.resolv_conf(host_resolv, spec.network),
        "/etc/hosts": etcfiles.hosts(spec.hostname, address),
        "/etc/hostname": spec.hostname + "\n",
    }
    files = []
    for path, text in contents.items():
        host_path = state.path(os.path.basename(path))
        with open(host_path, "w") as handle:
            handle.write(text)
        files.append((path, host_path))
    return tuple(files)


def _run_in(state: ContainerState, spec: ProcessSpec, rootfs: tuple[Mount, ...],
            on_output: OutputCallback, timeout: float | None) -> ExitStatus:
    lease = None
    if spec.network == "default":
        from runtime import network  # imports pyroute2 (slow): only when needed, and before the fork

        state.remember("lease", {"container_id": state.id, "address": "", "host_ifname": ""})
        lease = network.allocate(state.state_root, state.id)
        state.remember("lease", lease.to_record())
    state.remember("cgroups", [])
    cgroup_dirs = cgroups.create(state.id, spec.limits)
    state.remember("cgroups", cgroup_dirs)
    os.mkdir(state.path("rootfs"))
    plan = RootfsPlan(state.path("rootfs"), rootfs, _write_etc_files(state, spec, lease.address if lease else None),
                      spec.mounts)
    return _fork_and_supervise(spec, plan, cgroup_dirs, lease, on_output, timeout)


def _fork_and_supervise(spec: ProcessSpec, plan: RootfsPlan, cgroup_dirs: list[str], lease: object | None,
                        on_output: OutputCallback, timeout: float | None) -> ExitStatus:
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC) if lease else (None, None)
    go_r, go_w = os.pipe2(os.O_CLOEXEC) if lease else (None, None)
    pipes = Pipes(out_w, err_w, report_w, ready_w, go_r)
    launch = Launch(spec, plan, pipes, tuple(cgroups.procs_files(cgroup_dirs)), lease, os.getpid())
    pid = os.fork()
    if pid == 0:
        shim(launch)
    for fd in (out_w, err_w, report_w, ready_w, go_r):
        if fd is not None:
            os.close(fd)
    try:
        if lease is not None and ready_r is not None and go_w is not None:
            _connect_network(lease, pid, ready_r, go_w)
        report, timed_out = _pump(out_r, err_r, report_r, on_output, timeout)
        if timed_out:
            _kill(pid)
            return ExitStatus(128 + signal.SIGKILL, timed_out=True)
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except BaseException:
        _kill(pid)
        raise
    finally:
        for fd in (out_r, err_r, report_r, ready_r, go_w):
            if fd is not None:
                os.close(fd)
    if report:
        raise ContainerStartError(report.decode(errors="replace").strip())
    return ExitStatus(128 - code if code < 0 else code)


def _connect_network(lease: object, pid: int, ready_r: int, go_w: int) -> None:
    from runtime import network

    if os.read(ready_r, 1) != b"u":
        raise ContainerStartError("container shim exited before its network could be set up")
    network.connect(lease, pid)  # type: ignore[arg-type]
    os.write(go_w, b"g")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _pump(out_r: int, err_r: int, report_r: int, on_output: OutputCallback,
          timeout: float | None) -> tuple[bytes, bool]:
    """Stream output until every pipe is closed; returns the setup report and whether time ran out."""
    deadline = None if timeout is None else time.monotonic() + timeout
    names = {out_r: "stdout", err_r: "stderr"}
    report = bytearray()
    with selectors.DefaultSelector() as selector:
        for fd in (out_r, err_r, report_r):
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return bytes(report), True
            for key, _ in selector.select(remaining):
                data = os.read(key.fd, _READ_SIZE)
                if not data:
                    selector.unregister(key.fd)
                elif key.fd == report_r:
                    report += data
                else:
                    on_output(names[key.fd], data)  # type: ignore[arg-type]
    return bytes(report), False
