"""pybuild's side of a container's standard streams: one poll loop, no threads.

Output (the stdout/stderr pipes, or a pty master) goes to the ``on_output`` callback; the setup report
pipe is collected. The caller's stdin, when forwarded (``-i``), is copied to the container without ever
blocking the loop: a process that does not read its input must not stop its output from draining.
poll rather than epoll, because a caller's stdin may be a regular file (epoll refuses those). Nothing
keeps a thread blocked on the caller's stdin after the container is gone.
"""
from __future__ import annotations

import errno
import os
import selectors
import time
from dataclasses import dataclass
from typing import Callable

from runtime.spec import OutputCallback, Stream

_READ_SIZE = 65536


@dataclass(slots=True)
class _Input:
    source: int              # the caller's fd: read, never made non-blocking (its file is shared)
    target: int              # owned, non-blocking: the stdin pipe's write end or a dup of the pty master
    pending: bytes = b""


class StreamPump:
    """Register the container's fds, then ``run_until`` they close or a deadline passes."""

    def __init__(self, on_output: OutputCallback) -> None:
        self._on_output = on_output
        self._selector = selectors.PollSelector()
        self._outputs: dict[int, Stream | None] = {}  # None: the setup report
        self._input: _Input | None = None
        self._wakeups: dict[int, Callable[[], None]] = {}
        self.report = bytearray()

    def add_output(self, fd: int, stream: Stream | None) -> None:
        self._outputs[fd] = stream
        self._selector.register(fd, selectors.EVENT_READ)

    def forward_input(self, source: int, target: int) -> None:
        """Copy ``source`` to ``target`` until either ends; the pump owns ``target`` and closes it then
        (for a stdin pipe that is the container's EOF)."""
        os.set_blocking(target, False)
        self._input = _Input(source, target)
        self._selector.register(source, selectors.EVENT_READ)

    def on_readable(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever ``fd`` (e.g. a signal's self-pipe) becomes readable."""
        self._wakeups[fd] = callback
        self._selector.register(fd, selectors.EVENT_READ)

    def run_until(self, deadline: float | None) -> bool:
        """Pump until every output is closed (True) or ``deadline`` (``time.monotonic``) passes (False)."""
        while self._outputs:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            for key, _events in self._selector.select(remaining):
                self._handle(key.fd)
        return True

    def close(self) -> None:
        """Stop forwarding input and forget the other fds (closing those is the caller's business)."""
        self._stop_input()
        self._selector.close()

    def _handle(self, fd: int) -> None:
        if fd in self._outputs:
            self._read_output(fd)
        elif fd in self._wakeups:
            self._wakeups[fd]()
        elif self._input is not None and fd == self._input.source:
            self._read_input()
        elif self._input is not None and fd == self._input.target:
            self._write_input()

    def _read_output(self, fd: int) -> None:
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as error:
            if error.errno != errno.EIO:  # EIO: a pty master whose slaves are all closed
                raise
            data = b""
        stream = self._outputs[fd]
        if not data:
            self._selector.unregister(fd)
            del self._outputs[fd]
        elif stream is None:
            self.report += data
        else:
            self._on_output(stream, data)

    def _read_input(self) -> None:
        assert self._input is not None
        data = os.read(self._input.source, _READ_SIZE)
        if not data:
            self._stop_input()
            return
        self._input.pending = data
        self._selector.unregister(self._input.source)  # read more once this is written
        self._selector.register(self._input.target, selectors.EVENT_WRITE)

    def _write_input(self) -> None:
        forward = self._input
        assert forward is not None
        try:
            written = os.write(forward.target, forward.pending)
        except BlockingIOError:
            return
        except OSError:  # EPIPE/EIO: the container stopped reading for good
            self._stop_input()
            return
        forward.pending = forward.pending[written:]
        if not forward.pending:
            self._selector.unregister(forward.target)
            self._selector.register(forward.source, selectors.EVENT_READ)

    def _stop_input(self) -> None:
        forward = self._input
        if forward is None:
            return
        for fd in (forward.source, forward.target):
            if fd in self._selector.get_map():
                self._selector.unregister(fd)
        os.close(forward.target)
        self._input = None
