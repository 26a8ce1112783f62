"""Benchmark pybuild against ``docker build`` (BuildKit) side by side, in one run.

Needs a dockerd with BuildKit reachable through DOCKER_HOST (see compare_docker.py's docstring
for the trixie docker 26 set-up) that already has ``busybox:local`` (``docker import`` of the
tarball from samples/busybox-base/make-rootfs.sh). Prints, for each case, the median wall
time of both tools and the ratio. Not a test.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.images import busybox_tarball, import_busybox  # noqa: E402

CASES = {
    "ten-run": "FROM busybox:local\n" + "".join(f"RUN echo step {i} > /step{i}\n" for i in range(10)),
    "multi-stage": ("FROM busybox:local AS a\nRUN echo a > /a && sleep 0.2\n"
                    "FROM busybox:local AS b\nRUN echo b > /b && sleep 0.2\n"
                    "FROM busybox:local\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nRUN cat /a /b > /ab\n"),
}


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main(repeats: int = 3) -> None:
    docker = shutil.which("docker") or "/opt/docker-trixie/usr/bin/docker"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root = work / "root"
        import_busybox(root, busybox_tarball(work))
        pybuild = [sys.executable, "-m", "builder.cli", "--root", str(root), "build", "-q"]
        for name, dockerfile in CASES.items():
            context = work / name
            context.mkdir()
            (context / "Dockerfile").write_text(dockerfile)
            rows = {}
            for tool, command in (("docker", [docker, "build", "-q", "-t", f"bench-{name}", str(context)]),
                                  ("pybuild", [*pybuild, "-t", f"bench-{name}", str(context)])):
                cold = [timed([*command[:-1], "--no-cache", command[-1]]) for _ in range(repeats)]
                timed(command)
                warm = [timed(command) for _ in range(repeats)]
                rows[tool] = (statistics.median(cold), statistics.median(warm))
            for label, index in (("cold", 0), ("fully cached", 1)):
                d, p = rows["docker"][index], rows["pybuild"][index]
                print(f"{name:12} {label:13} docker {d * 1000:7.0f} ms  pybuild {p * 1000:7.0f} ms  "
                      f"ratio {p / d:.2f}x")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
