"""pybuild's half of a running container: fork the shim, wire its stdio, pump, stop it, reap it.

Stopping follows ``docker stop``: when the timeout runs out the container gets SIGTERM (the shim
forwards it to the user's process, the container's PID 1, which drops it unless it has a handler),
and SIGKILL only if it is still running ``stop_grace`` seconds later. A KeyboardInterrupt or any
error SIGKILLs at once: the shim's death takes the whole container with it (PR_SET_PDEATHSIG, then
the kernel's pid namespace teardown).
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass

from runtime import cgroups, terminal
from runtime.errors import ContainerStartError, ProcessStartError
from runtime.process import UNABLE_TO_START, Launch, Pipes, shim
from runtime.rootfs import RootfsPlan
from runtime.spec import ExitStatus, OutputCallback, ProcessSpec, Stdio
from runtime.streams import StreamPump

DEFAULT_STOP_GRACE = 10.0  # seconds, as docker stop


class ContainerControl:
    """Signal a running container from another thread: create one, pass it to ``run(control=...)``.

    Signals in ``runtime.process.FORWARDED_SIGNALS`` reach the user's process, which is PID 1 and so
    drops those it has no handler for (as under docker); SIGKILL ends the whole container at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shim: int | None = None
        self._cancelled = False

    def signal(self, signum: int) -> bool:
        """Send ``signum``; False when no container is running (not started yet, or over)."""
        with self._lock:
            if self._shim is None:
                return False
            os.kill(self._shim, signum)  # never reaped while attached, so the pid cannot be reused
            return True

    def cancel(self) -> None:
        """SIGKILL the running container and every later one run with this control (a cancelled build
        must not start a container just after the kill went out)."""
        with self._lock:
            self._cancelled = True
            if self._shim is not None:
                os.kill(self._shim, signal.SIGKILL)

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def _attach(self, pid: int | None) -> None:
        with self._lock:
            self._shim = pid
            if pid is not None and self._cancelled:
                os.kill(pid, signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class StopPolicy:
    timeout: float | None = None
    grace: float = DEFAULT_STOP_GRACE


class _Channels:
    """The fds between pybuild and the shim: ours until the run ends, theirs until the shim is forked."""

    def __init__(self) -> None:
        self.ours: list[int] = []
        self.theirs: list[int] = []

    def pipe(self, towards_us: bool = True) -> tuple[int, int]:
        """(our end, the shim's end) of a new pipe that we read when ``towards_us``, else write."""
        reader, writer = os.pipe2(os.O_CLOEXEC)
        ours, theirs = (reader, writer) if towards_us else (writer, reader)
        self.ours.append(ours)
        self.theirs.append(theirs)
        return ours, theirs

    def socket(self) -> tuple[int, int]:
        ours, theirs = (end.detach() for end in socket.socketpair())
        self.ours.append(ours)
        self.theirs.append(theirs)
        return ours, theirs

    def hand_over(self, fd: int) -> int:
        """Stop tracking one of our ends: its new owner closes it."""
        self.ours.remove(fd)
        return fd

    @staticmethod
    def close(fds: list[int]) -> None:
        while fds:
            os.close(fds.pop())


def fork_and_supervise(spec: ProcessSpec, plan: RootfsPlan, cgroup_dirs: list[str], lease: object | None,
                       on_output: OutputCallback, stop: StopPolicy, stdio: Stdio,
                       control: ContainerControl, seccomp_program: bytes | None = None) -> ExitStatus:
    channels = _Channels()
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(channels.close, channels.theirs)
        cleanup.callback(channels.close, channels.ours)
        (out_r, out_w), (err_r, err_w), (report_r, report_w) = channels.pipe(), channels.pipe(), channels.pipe()
        stdin_w, stdin_r = channels.pipe(towards_us=False) if stdio.stdin is not None and not stdio.tty else (None, None)
        console, console_theirs = channels.socket() if stdio.tty else (None, None)
        pipes = Pipes(out_w, err_w, report_w, stdin_r, console_theirs)
        size = terminal.window_size(stdio.terminal) if stdio.tty and stdio.terminal is not None else None
        launch = Launch(spec, plan, pipes, tuple(cgroups.procs_files(cgroup_dirs)), lease, os.getpid(), size,
                        seccomp_program)
        pid = os.fork()
        if pid == 0:
            shim(launch)
        channels.close(channels.theirs)
        control._attach(pid)
        pump = StreamPump(on_output)
        cleanup.callback(pump.close)
        for fd, stream in ((out_r, "stdout"), (err_r, "stderr"), (report_r, None)):
            pump.add_output(fd, stream)  # type: ignore[arg-type]
        if stdin_w is not None and stdio.stdin is not None:
            pump.forward_input(stdio.stdin, channels.hand_over(stdin_w))
        try:
            deadline = None if stop.timeout is None else time.monotonic() + stop.timeout
            if console is not None:
                _attach_console(pump, cleanup, console, stdio, deadline)
            finished = pump.run_until(deadline)
            if not finished:
                control.signal(signal.SIGTERM)
                if not pump.run_until(time.monotonic() + stop.grace):
                    control.signal(signal.SIGKILL)
        except BaseException:
            control._attach(None)
            _kill(pid)
            raise
        control._attach(None)
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        code = 128 - code if code < 0 else code
        if not finished:
            return ExitStatus(code, timed_out=True)
        if pump.report:
            report = pump.report.decode(errors="replace").strip()
            if report.startswith(UNABLE_TO_START):  # the container was made; its process could not start
                raise ProcessStartError(report, exit_code=code)
            raise ContainerStartError(report)
        return ExitStatus(code)


def _attach_console(pump: StreamPump, cleanup: contextlib.ExitStack, console: int, stdio: Stdio,
                    deadline: float | None) -> None:
    """Receive the pty master from the container's init and hook it to the caller's streams."""
    with socket.socket(fileno=os.dup(console)) as channel:
        channel.settimeout(None if deadline is None else max(deadline - time.monotonic(), 0.001))
        try:
            _message, fds, _flags, _address = socket.recv_fds(channel, 1, 1, socket.MSG_CMSG_CLOEXEC)
        except TimeoutError:
            return  # the deadline passed during setup: the stop sequence follows
    if not fds:
        return  # setup failed: the report pipe says why
    master = fds[0]
    cleanup.callback(os.close, master)
    os.set_blocking(master, False)
    pump.add_output(master, "stdout")
    if stdio.stdin is not None:
        pump.forward_input(stdio.stdin, os.dup(master))
    if stdio.terminal is None:
        return
    cleanup.enter_context(terminal.raw_mode(stdio.terminal))
    changes = cleanup.enter_context(terminal.window_changes())
    if changes is not None:
        caller = stdio.terminal
        pump.on_readable(changes, lambda: _resize(changes, caller, master))


def _resize(changes: int, caller: int, master: int) -> None:
    terminal.drain(changes)
    size = terminal.window_size(caller)
    if size is not None:
        terminal.set_window_size(master, size)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
