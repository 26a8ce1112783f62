"""``pybuild run -i`` / ``-t`` end to end: the CLI on an imported busybox image (privileged)."""
from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.images import busybox_store

pytestmark = pytest.mark.privileged
ROOT = Path(__file__).resolve().parents[2]
IMAGE = "busybox:local"


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_store(tmp_path_factory)


def _cli(store_root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "builder.cli", "--root", str(store_root), "run", "--network", "none", *args]


def test_interactive_forwards_piped_stdin(store_root: Path) -> None:
    result = subprocess.run(_cli(store_root, "-i", IMAGE, "cat"), input=b"hello\n", capture_output=True,
                            cwd=ROOT, timeout=60)
    assert (result.returncode, result.stdout) == (0, b"hello\n"), result.stderr


def test_without_interactive_stdin_is_empty(store_root: Path) -> None:
    result = subprocess.run(_cli(store_root, IMAGE, "sh", "-c", "cat; echo end"), input=b"hello\n",
                            capture_output=True, cwd=ROOT, timeout=60)
    assert result.stdout == b"end\n"


def test_interactive_input_larger_than_a_pipe_buffer(store_root: Path) -> None:
    data = os.urandom(300_000)
    result = subprocess.run(_cli(store_root, "-i", IMAGE, "sh", "-c", "sleep 0.3; cat"), input=data,
                            capture_output=True, cwd=ROOT, timeout=60)
    assert result.stdout == data


def _set_size(fd: int, rows: int, columns: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


class Terminal:
    """The parent's side of a pty whose child runs pybuild."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.seen = b""
        self.exit_code: int | None = None

    def read_until(self, marker: bytes, seconds: float = 20.0) -> bytes:
        deadline = time.monotonic() + seconds
        while marker not in self.seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {marker!r} in {self.seen!r}"
            if select.select([self.master], [], [], remaining)[0]:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the child is gone
                    chunk = b""
                assert chunk, f"EOF before {marker!r} in {self.seen!r}"
                self.seen += chunk
        return self.seen

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def drain(self) -> None:
        """Read everything until the child closes the terminal."""
        while select.select([self.master], [], [], 5)[0]:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.seen += chunk


@contextlib.contextmanager
def interactive_shell(store_root: Path, size: tuple[int, int] = (24, 80)) -> Iterator[Terminal]:
    """``pybuild run -it IMAGE sh`` on a new pty; yields once the prompt shows, then waits for the exit."""
    pid, master = pty.fork()
    if pid == 0:
        try:
            _set_size(0, *size)
            os.chdir(ROOT)
            os.execv(sys.executable, _cli(store_root, "-it", IMAGE, "sh"))
        finally:
            os._exit(127)
    session = Terminal(master)
    try:
        session.read_until(b"# ")
        yield session
        session.drain()
        session.exit_code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    finally:
        os.close(master)


def test_tty_gives_an_interactive_shell_with_the_terminal_size(store_root: Path) -> None:
    with interactive_shell(store_root, (33, 101)) as session:
        session.type("tty; stty size; echo ok-$((40+2))\n")
        session.read_until(b"ok-42")
        assert b"/dev/pts/0" in session.seen and b"33 101" in session.seen
        _set_size(session.master, 40, 120)  # the kernel sends SIGWINCH to pybuild, which resizes the container's pty
        time.sleep(0.3)
        session.type("stty size; echo hi; exit 3\n")
        session.read_until(b"40 120")
    assert session.exit_code == 3
    assert b"hi\r\n" in session.seen


def test_tty_ctrl_c_interrupts_the_containers_foreground_process(store_root: Path) -> None:
    with interactive_shell(store_root) as session:
        session.type("sleep 30\n")
        time.sleep(0.5)
        session.type("\x03")  # raw mode: the byte reaches the container's pty, its line discipline signals
        session.read_until(b"^C")
        session.type("echo status-$?\n")
        session.read_until(b"status-130")
        session.type("exit 0\n")
    assert session.exit_code == 0
