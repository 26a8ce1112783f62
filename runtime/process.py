"""The two processes of a container, both forked from pybuild without a new interpreter.

* **shim** (forked by pybuild): joins the cgroups, ``setsid``, unshares the mount, uts, ipc, pid and
  (unless host) net namespaces, connects the default network (veth to the bridge, address, route: all
  from the shim, no round trip to pybuild), makes mounts private, forks the init, forwards signals to
  it, relays its exit code (128+N for a signal) and then removes the mount stubs. It exists because a
  new pid namespace applies to children only.
* **init** (PID 1 of the new pid namespace): builds the rootfs, ``pivot_root``s, hands the stub list to
  the shim, resolves the user, then stdio, capabilities, groups/gid/uid, umask, cwd and ``execvpe`` of
  the user's argv. The user's process *is* PID 1, as under docker/BuildKit (``$$`` is 1, ``ps`` shows
  only its processes), with PID 1's semantics: a signal it has no handler for is dropped (``docker
  stop`` SIGKILLs after the grace period; so does the supervisor), reaping orphans is its own business,
  and when it exits the kernel SIGKILLs whatever is left in the namespace.

Stubs: ``pivot_root`` moves the root of every process whose root was the old one, so the shim (same
mount namespace) sees the container's paths at ``/`` once the init has pivoted. The init sends the
list with the identity of its new root, and the shim removes the stubs only under that root.

With a tty (``run -t``) the init opens the pty after ``pivot_root``, so it lives in the container's own
devpts and ``tty`` names a node that exists there; it sends the master to pybuild over a unix socket
(SCM_RIGHTS, as runc's console socket does), and makes the slave its controlling terminal in a session
of its own.

Both have PR_SET_PDEATHSIG=SIGKILL towards their parent, so killing pybuild (even with SIGKILL) or the
shim tears the whole container down: the kernel kills a pid namespace with its init. Changing uid/gid
clears that setting, so the init sets it again after ``setuid`` and checks its shim is still there (as
runc does); a set-user-ID or file-capability program as the argv itself clears it too, and then only
pybuild's removal of the container's cgroups (``runtime.cgroups.remove`` kills their members) ends a
container whose shim was killed.
Setup errors travel back on a close-on-exec "report" pipe; EOF without data means ``execve`` worked
(the shim keeps its end until the stubs are gone, so a failure there is reported too).
Nothing here may import lazily: after ``pivot_root`` the host's Python library is out of reach.
"""
from __future__ import annotations

import contextlib
import fcntl
import marshal
import os
import select
import signal
import socket
import termios
import traceback
from dataclasses import dataclass, replace

from runtime import namespaces as ns
from runtime import seccomp
from runtime.errors import ContainerStartError
from runtime.resources import apply_ulimits
from runtime.rootfs import RootfsPlan, StubRecord, build_rootfs, enter_rootfs, remove_stubs
from runtime.spec import DEFAULT_PATH, ProcessSpec
from runtime.terminal import WindowSize, set_window_size
from runtime.users import Credentials, resolve_user

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                     signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT)
SETUP_FAILED = 125
UNABLE_TO_START = "unable to start container process: "  # runc's words: the report of a process that could not start


@dataclass(frozen=True, slots=True)
class Pipes:
    stdout: int
    stderr: int
    report: int
    stdin: int | None = None  # read end of the forwarded stdin (``-i`` without a tty)
    console: int | None = None  # unix socket the pty master goes back on (``-t``)
    shim_alive: int | None = None  # the init's end of a pipe only the shim writes to: EOF once it is gone

    def inherited(self) -> set[int]:
        """What the shim and init keep open."""
        optional = (self.stdin, self.console)
        return {self.stdout, self.stderr, self.report, *(fd for fd in optional if fd is not None)}

    def kept_until_exec(self) -> set[int]:
        """What the init keeps (close-on-exec) once stdio is connected."""
        return {self.report} if self.shim_alive is None else {self.report, self.shim_alive}


@dataclass(frozen=True, slots=True)
class Launch:
    spec: ProcessSpec
    plan: RootfsPlan
    pipes: Pipes
    cgroup_procs: tuple[str, ...]
    network_lease: object | None  # runtime.network.Lease; typed loosely: runtime.network is imported lazily
    parent_pid: int
    window_size: WindowSize | None = None  # the pty's size before the process starts
    seccomp_program: bytes | None = None  # BPF compiled by pybuild (runtime.seccomp); None: unconfined


def _report(pipes: Pipes, message: str) -> None:
    os.write(pipes.report, message.encode(errors="replace")[:65536])


def _close_all_but(keep: set[int]) -> None:
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _die_with_parent(parent_pid: int) -> None:
    ns.set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the prctl took effect
        os._exit(SETUP_FAILED)


def shim(launch: Launch) -> None:
    """Entry point of the forked shim; never returns."""
    code = SETUP_FAILED
    try:
        pipes = launch.pipes
        _die_with_parent(launch.parent_pid)
        _close_all_but(pipes.inherited())
        os.setsid()  # a terminal's Ctrl-C goes to pybuild, which then kills the container
        for path in launch.cgroup_procs:
            with open(path, "w") as handle:
                handle.write(str(os.getpid()))
        host_side = None
        if launch.network_lease is not None:
            from runtime import network  # already imported by pybuild before the fork

            # while still in pybuild's netns
            host_side = network.open_host_side(launch.network_lease)  # type: ignore[arg-type]
        flags = ns.CLONE_NEWNS | ns.CLONE_NEWUTS | ns.CLONE_NEWIPC | ns.CLONE_NEWPID
        ns.unshare(flags if launch.spec.network == "host" else flags | ns.CLONE_NEWNET)
        if host_side is not None:
            network.connect(launch.network_lease, host_side)  # type: ignore[arg-type]
        ns.mount(None, "/", None, ns.MS_REC | ns.MS_PRIVATE)
        alive_r, alive_w = os.pipe2(os.O_CLOEXEC)  # EOF here tells the init its shim is gone
        stubs_r, stubs_w = os.pipe2(os.O_CLOEXEC)  # the init's mount stubs, removed here after the run
        init_pid = os.fork()
        if init_pid == 0:
            os.close(alive_w)
            os.close(stubs_r)
            init(launch, alive_r, stubs_w)
        os.close(alive_r)
        os.close(stubs_w)
        _close_stdio(pipes)
        _forward_signals_to(init_pid)
        stubs = _read_to_end(stubs_r)  # before waiting: a long list would not fit the pipe
        code = _exit_code(os.waitpid(init_pid, 0)[1])  # the kernel has killed the rest of the namespace
        _remove_stubs(stubs)
    except BaseException:
        with contextlib.suppress(OSError):  # never return into pybuild's code, even without a report pipe
            _report(launch.pipes, "container shim: " + traceback.format_exc(limit=3))
    os._exit(code)


def _read_to_end(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _send_stubs(channel: int, record: StubRecord) -> None:
    """From the init, just after ``pivot_root``: the stubs and the identity of the root they are under."""
    root = os.stat("/")
    message = memoryview(marshal.dumps((root.st_dev, root.st_ino, record.encode())))
    while message:
        message = message[os.write(channel, message):]
    os.close(channel)


def _remove_stubs(message: bytes) -> None:
    """In the shim once the container is gone; its ``/`` moved with the init's ``pivot_root``."""
    if not message:
        return  # the init failed before it pivoted: it created no stubs, or none we may touch from here
    root_dev, root_ino, encoded = marshal.loads(message)
    record = StubRecord.decode(encoded)
    if not record.stubs:
        return
    root = os.stat("/")
    if (root.st_dev, root.st_ino) != (root_dev, root_ino):  # a pivot_root inside the container (insecure)
        raise ContainerStartError("the container's root moved, so its mount stubs cannot be removed")
    remove_stubs(record)


def _forward_signals_to(pid: int) -> None:
    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def init(launch: Launch, shim_alive: int, stubs_channel: int) -> None:
    """PID 1 of the container: sets it up, then ``exec``s the user's argv; never returns."""
    pipes = replace(launch.pipes, shim_alive=shim_alive)
    try:
        # getppid() is 0 across a pid namespace boundary, so the shim's liveness comes from a pipe.
        _stay_tied_to_the_shim(pipes)
        # Until the exec: pending, then dropped there (PID 1 without a handler), as under runc.
        signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED_SIGNALS)
        os.umask(0o022)
        spec = launch.spec
        ns.sethostname(spec.hostname)
        if spec.network == "none":
            ns.bring_up_loopback()  # "default" is configured by the shim (network.connect)
        stubs = build_rootfs(launch.plan)
        enter_rootfs(launch.plan.root)
        _send_stubs(stubs_channel, stubs)
        credentials = resolve_user("/", spec.user)
        os.makedirs(spec.cwd, exist_ok=True)
        if spec.read_only_root:  # after the working directory exists, as docker creates it at create time
            ns.remount_read_only("/")
        env = _environment(spec, credentials)
        console = _open_console(pipes.console, credentials, launch.window_size) if pipes.console is not None else None
    except BaseException:
        _report(pipes, "container setup failed: " + traceback.format_exc(limit=4))
        os._exit(SETUP_FAILED)
    _exec_main(spec, credentials, env, pipes, console, launch.seccomp_program)


def _close_stdio(pipes: Pipes) -> None:
    """The shim's copies; its report end stays open until the stubs are removed."""
    for fd in (pipes.stdout, pipes.stderr, pipes.stdin, pipes.console):
        if fd is not None:
            os.close(fd)


def _open_console(channel: int, credentials: Credentials, size: WindowSize | None) -> int:
    """A pty from the container's devpts; the master goes to pybuild, the slave is returned."""
    master, slave = os.openpty()
    os.fchown(slave, credentials.uid, -1)  # the user owns its terminal (the group stays tty)
    if size is not None:
        set_window_size(slave, size)
    with socket.socket(fileno=os.dup(channel)) as sock:
        socket.send_fds(sock, [b"m"], [master])
    os.close(master)
    return slave


def _environment(spec: ProcessSpec, credentials: Credentials) -> dict[str, str]:
    env = dict(spec.env)
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("HOME", credentials.home)
    return env


def _exec_main(spec: ProcessSpec, credentials: Credentials, env: dict[str, str], pipes: Pipes,
               console: int | None, seccomp_program: bytes | None) -> None:
    """Become the user's process. Failures are reported as runc reports them ("unable to start container
    process: ..."), with docker run's exit codes: 125 before the exec, 127 for a command not found, 126 for
    one that cannot be executed."""
    try:
        _prepare_process(spec, credentials, pipes, console, seccomp_program)
    except BaseException as error:
        _report(pipes, f"{UNABLE_TO_START}error during container init: {error}")
        os._exit(SETUP_FAILED)
    command = spec.argv[0]
    try:
        os.execvpe(command, list(spec.argv), env)
    except FileNotFoundError:
        cause = f"stat {command}: no such file or directory" if "/" in command else "executable file not found in $PATH"
        _report(pipes, f'{UNABLE_TO_START}exec: "{command}": {cause}')
        os._exit(127)
    except BaseException as error:
        cause = (error.strerror or str(error)).lower() if isinstance(error, OSError) else str(error)
        _report(pipes, f'{UNABLE_TO_START}exec: "{command}": {cause}')
        os._exit(126)


def _prepare_process(spec: ProcessSpec, credentials: Credentials, pipes: Pipes, console: int | None,
                     seccomp_program: bytes | None) -> None:
    for signum in range(1, signal.NSIG):
        if signum not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(signum, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    _connect_stdio(pipes, console)
    _close_all_but(pipes.kept_until_exec())
    if seccomp_program is not None:
        # Without no_new_privs (Docker sets none: setuid programs must work) loading needs
        # CAP_SYS_ADMIN, so before the capabilities go; the profile allows every call from here on.
        seccomp.load(seccomp_program)
    try:
        apply_ulimits(spec.resources.ulimits)  # raising a hard limit takes CAP_SYS_RESOURCE: before the drop
    except ContainerStartError as error:
        raise ContainerStartError(f"error setting rlimits for ready process: {error}") from None
    ns.limit_capabilities(spec.capabilities)
    os.setgroups(list(credentials.groups))
    os.setgid(credentials.gid)
    os.setuid(credentials.uid)
    _stay_tied_to_the_shim(pipes)
    os.chdir(spec.cwd)


def _stay_tied_to_the_shim(pipes: Pipes) -> None:
    """PR_SET_PDEATHSIG towards the shim (again after setgid/setuid, which clear it), then check the shim
    did not die before it took effect."""
    ns.set_parent_death_signal(signal.SIGKILL)
    if pipes.shim_alive is not None and select.select([pipes.shim_alive], [], [], 0)[0]:
        os._exit(SETUP_FAILED)


def _connect_stdio(pipes: Pipes, console: int | None) -> None:
    if console is not None:
        os.setsid()  # a session of its own, so the pty can become its controlling terminal
        fcntl.ioctl(console, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(console, fd)
        return
    stdin = pipes.stdin if pipes.stdin is not None else os.open("/dev/null", os.O_RDONLY)
    os.dup2(stdin, 0)
    os.dup2(pipes.stdout, 1)
    os.dup2(pipes.stderr, 2)
