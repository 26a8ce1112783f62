"""The caller's terminal during ``run -t``: raw mode, window size, and SIGWINCH.

In raw mode every key (Ctrl-C included) goes to the container's pty, whose own line discipline then
turns it into a signal for the container's foreground process, as with ``docker run -it``.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import termios
import threading
import tty
from typing import Iterator

WindowSize = tuple[int, int]  # (rows, columns)


def window_size(fd: int) -> WindowSize | None:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return size.lines, size.columns


def set_window_size(fd: int, size: WindowSize) -> None:
    """Resize the pty behind ``fd``; the kernel sends SIGWINCH to its foreground process group."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))


@contextlib.contextmanager
def raw_mode(fd: int | None) -> Iterator[None]:
    """Raw mode on ``fd`` for the block, restored however it ends (nothing if ``fd`` is not a tty)."""
    if fd is None or not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSANOW)  # TCSAFLUSH would drop what was typed during start-up
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def window_changes() -> Iterator[int | None]:
    """A non-blocking fd that becomes readable on every SIGWINCH, for a poll loop.

    Signal handlers can only be installed from the main thread; elsewhere this yields None and the
    container keeps the size it started with.
    """
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    reader, writer = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def note(_signum: int, _frame: object) -> None:
        with contextlib.suppress(BlockingIOError):  # already pending: one wakeup is enough
            os.write(writer, b"w")

    previous = signal.signal(signal.SIGWINCH, note)
    try:
        yield reader
    finally:
        signal.signal(signal.SIGWINCH, previous)
        os.close(reader)
        os.close(writer)


def drain(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, 512):
            pass
