"""``--ssh default|ID[=SOCKET|KEY[,KEY...]]``: the SSH agents RUN --mount=type=ssh can reach.

buildx accepts either an agent socket or private key files. A socket is forwarded as
it is. For key files, a private ``ssh-agent`` is started for the build, the keys are
added to it, and it is stopped when the build ends, so the keys never touch the image:
the container only ever sees the agent's socket.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Iterator

from builder.errors import UsageError

DEFAULT_ID = "default"


@contextlib.contextmanager
def forwarded_ssh(values: list[str]) -> Iterator[dict[str, str]]:
    """ID -> agent socket for each ``--ssh`` value; agents started here stop on exit."""
    sockets: dict[str, str] = {}
    with contextlib.ExitStack() as agents:
        for value in values:
            name, _, paths = value.partition("=")
            if not name:
                raise UsageError(f"invalid --ssh {value!r}: expected default|ID[=SOCKET|KEY[,KEY...]]")
            sockets[name] = _socket_for(name, paths, agents)
        yield sockets


def _socket_for(name: str, paths: str, agents: contextlib.ExitStack) -> str:
    if not paths:
        socket = os.environ.get("SSH_AUTH_SOCK", "")
        if not socket:
            raise UsageError(f"--ssh {name}: no socket or key given and SSH_AUTH_SOCK is not set")
        return _existing_socket(name, socket)
    candidates = [os.path.expanduser(path) for path in paths.split(",") if path]
    if len(candidates) == 1 and _is_socket(candidates[0]):
        return candidates[0]
    for path in candidates:
        if not os.path.isfile(path):
            raise UsageError(f"--ssh {name}: failed to read {path}: not a socket or a private key file")
    return agents.enter_context(_key_agent(name, candidates))


def _existing_socket(name: str, path: str) -> str:
    if not _is_socket(path):
        raise UsageError(f"--ssh {name}: {path} is not a socket")
    return path


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


@contextlib.contextmanager
def _key_agent(name: str, keys: list[str]) -> Iterator[str]:
    """A private ssh-agent holding ``keys``, listening on a socket only root can reach."""
    agent, add = shutil.which("ssh-agent"), shutil.which("ssh-add")
    if agent is None or add is None:
        raise UsageError(f"--ssh {name}: key files need ssh-agent and ssh-add (Debian: openssh-client)")
    with tempfile.TemporaryDirectory(prefix="pybuild-ssh-") as directory:
        socket = os.path.join(directory, "agent.sock")
        # -D keeps the agent in the foreground: it is our child, and nothing outlives the build.
        process = subprocess.Popen([agent, "-D", "-a", socket], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_for_socket(process, socket, name)
            for key in keys:
                added = subprocess.run([add, key], env={**os.environ, "SSH_AUTH_SOCK": socket},
                                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
                if added.returncode != 0:
                    detail = added.stderr.strip().splitlines()[-1:] or ["ssh-add failed"]
                    raise UsageError(f"--ssh {name}: cannot load key {key}: {detail[0]}")
            yield socket
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_socket(process: subprocess.Popen[bytes], socket: str, name: str) -> None:
    import time

    deadline = time.monotonic() + 10
    while not _is_socket(socket):
        if process.poll() is not None or time.monotonic() > deadline:
            exited = process.poll() is not None
            error = process.stderr.read().decode(errors="replace").strip() if exited and process.stderr else ""
            raise UsageError(f"--ssh {name}: ssh-agent did not start {error}".rstrip())
        time.sleep(0.01)
