"""Shared by the CLI end-to-end tests of the registry commands: a real registry, seeded
with Docker-Hub-shaped images by registry_client's push, and ``pybuild`` as a subprocess.

The registry processes and test images come from tests/registry_client (reused, not copied).
"""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "registry_client"))

from registry_clients import PASSWORD, USER, make_client  # noqa: E402,F401 (re-exported)
from registry_images import TestImage, make_multi_arch  # noqa: E402
from registry_servers import RegistryProcess  # noqa: E402

from registry_client import ContentStore, Credentials, Reference, push  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SeededRegistry:
    host: str
    process: RegistryProcess
    image: TestImage  # library/hello:latest, a multi-arch OCI index

    def ref(self, path: str) -> str:
        return f"{self.host}/{path}"


@contextmanager
def seeded_registry(workdir: Path, extra_config: str = "",
                    credentials: Credentials | None = None) -> Iterator[SeededRegistry]:
    """A docker-registry with ``library/hello:latest`` pushed; stopped by its own PID."""
    store = ContentStore(workdir / "source")
    image = make_multi_arch(store)
    process = RegistryProcess(workdir, extra_config)
    try:
        client = make_client({process.host: credentials} if credentials else None)
        push(Reference(process.host, "library/hello", "latest"), store, image.top, client=client)
        yield SeededRegistry(process.host, process, image)
    finally:
        process.stop()


@dataclass(frozen=True)
class Pybuild:
    """Runs ``python -m builder.cli --root ROOT ...`` with its own docker config directory."""

    root: Path
    docker_config: Path

    def __call__(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None,
                 ) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if k not in ("PYBUILD_CONFIG", "PYBUILD_ROOT")}
        environment.update({"DOCKER_CONFIG": str(self.docker_config), "COLUMNS": "120"}, **(env or {}))
        return subprocess.run([sys.executable, "-m", "builder.cli", "--root", str(self.root), *args],
                              input=stdin, capture_output=True, text=True, cwd=ROOT, env=environment,
                              timeout=60)


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    """A user-facing failure: the exit code, one ERROR line naming the problem, no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
