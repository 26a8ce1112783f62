"""Fixtures for the runtime tests: a busybox root filesystem, a state root, a runner that records output."""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runtime.container import run
from runtime.mounts import Mount
from runtime.spec import ExitStatus, ProcessSpec, Stdio
from runtime.supervisor import ContainerControl

BUSYBOX = "/bin/busybox"
PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
"""
GROUP = """root:x:0:
daemon:x:1:
nogroup:x:65534:
app:x:1000:
extra:x:2000:app,daemon
more:x:2001:app
"""


def build_busybox_rootfs(target: Path) -> Path:
    """A minimal image: static busybox with its applet links, passwd/group, the usual directories."""
    for directory in ("bin", "etc", "tmp", "root", "home/app", "proc", "sys", "dev", "usr/bin", "var"):
        (target / directory).mkdir(parents=True, exist_ok=True)
    (target / "tmp").chmod(0o1777)
    shutil.copy2(BUSYBOX, target / "bin/busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = target / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    (target / "etc/passwd").write_text(PASSWD)
    (target / "etc/group").write_text(GROUP)
    os.chown(target / "home/app", 1000, 1000)
    return target


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not os.path.exists(BUSYBOX):
        pytest.skip("busybox-static is not installed (tests/apt-packages.txt)")
    return build_busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")


@pytest.fixture
def state_root(tmp_path: Path) -> str:
    return str(tmp_path / "state")


@dataclass
class Result:
    status: ExitStatus
    chunks: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return b"".join(data for stream, data in self.chunks if stream == "stdout").decode()

    @property
    def stderr(self) -> str:
        return b"".join(data for stream, data in self.chunks if stream == "stderr").decode()


@dataclass
class Runner:
    rootfs: Path
    state_root: str

    def mounts(self) -> list[Mount]:
        return [Mount("bind", str(self.rootfs), ("rbind", "rw"))]

    def __call__(self, script: str, timeout: float | None = 30, **options: object) -> Result:
        return self.argv(("sh", "-c", script), timeout=timeout, **options)  # type: ignore[arg-type]

    def argv(self, argv: tuple[str, ...], timeout: float | None = 30, rootfs_mounts: list[Mount] | None = None,
             stop_grace: float = 10.0, stdio: Stdio = Stdio(), control: ContainerControl | None = None,
             **spec_fields: object) -> Result:
        chunks: list[tuple[str, bytes]] = []
        spec = ProcessSpec(argv=argv, **spec_fields)  # type: ignore[arg-type]
        status = run(spec, rootfs_mounts or self.mounts(), lambda s, d: chunks.append((s, d)),
                     state_root=self.state_root, timeout=timeout, stop_grace=stop_grace, stdio=stdio,
                     control=control)
        return Result(status, chunks)


@pytest.fixture
def runner(busybox_rootfs: Path, state_root: str) -> Runner:
    return Runner(busybox_rootfs, state_root)
