"""A throwaway ``git daemon`` on localhost, so tests can fetch git:// URLs offline."""
from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def git_daemon_serving(repository: Path) -> Iterator[str]:
    """Serve the bare ``repository``'s folder; yield the repository's git:// URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={repository.parent}",
                               "--listen=127.0.0.1", f"--port={port}", str(repository.parent)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # wait until it listens
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"git://127.0.0.1:{port}/{repository.name}"
    finally:
        daemon.terminate()
        daemon.wait()
