"""Benchmark: a rebuild on a "fresh CI runner" with the cache imported, against the cold build (issue 6).

The Dockerfile has several RUN steps that take real time (sleep, and dd writing random,
incompressible files, ~40 MB of layers in all) on the offline busybox base. Every build runs
``pybuild build`` as a subprocess on a new root that holds only the base image, as a CI
runner would. Printed: the cold build; the same with ``--cache-to`` to a directory and to
a registry (the export's cost); and the rebuild with ``--cache-from`` that directory or that
registry ref (alone, and also re-exporting as a CI job does), as seconds and as % of cold.
The registry is Debian's docker-registry, started here like the test fixtures do.
Target: a rebuild from an imported cache takes at most 20% of the cold build.

Run as root: ``.venv/bin/python tests/bench/bench_ci_cache.py [--repeats N]``.
"""
from __future__ import annotations

import argparse
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
sys.path.insert(0, str(ROOT / "tests" / "registry_client"))

from registry_servers import RegistryProcess  # noqa: E402

from tests.support.images import busybox_tarball, import_busybox  # noqa: E402

DOCKERFILE = """\
FROM busybox:local AS tools
RUN sleep 2 && dd if=/dev/urandom of=/tool.bin bs=1M count=8 2>/dev/null

FROM busybox:local
RUN sleep 2 && dd if=/dev/urandom of=/base.bin bs=1M count=8 2>/dev/null
RUN sleep 2 && dd if=/dev/urandom of=/deps.bin bs=1M count=8 2>/dev/null
COPY --from=tools /tool.bin /opt/tool.bin
COPY config.txt /app/
RUN sleep 2 && dd if=/dev/urandom of=/app/generated.bin bs=1M count=8 2>/dev/null
COPY main.txt /app/
RUN sleep 2 && cat /app/main.txt /app/config.txt > /app/out
"""


class Runner:
    """``pybuild build`` on a fresh root (only busybox:local in it) per call."""

    def __init__(self, work: Path, context: Path) -> None:
        self.work, self.context = work, context
        self.base = work / "base-root"
        import_busybox(self.base, busybox_tarball(work))
        docker_config = work / "docker-config"
        docker_config.mkdir()
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYBUILD_CONFIG", "PYBUILD_ROOT")}
        self.env["DOCKER_CONFIG"] = str(docker_config)

    def build(self, *flags: str) -> float:
        root = self.work / "runner"
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(self.base, root)  # not timed: the runner's image pull
        command = [sys.executable, "-m", "builder.cli", "--root", str(root), "build", "--progress", "plain",
                   *flags, str(self.context)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=self.env, cwd=ROOT)
        elapsed = time.perf_counter() - start
        if done.returncode != 0 or "WARNING" in done.stderr + done.stdout:
            raise SystemExit(f"{' '.join(flags)} failed or warned:\n{done.stdout}\n{done.stderr}")
        if "--cache-from" in flags and " CACHED" not in done.stdout + done.stderr:
            raise SystemExit(f"{' '.join(flags)}: nothing was answered from the cache")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    with tempfile.TemporaryDirectory(prefix="bench-ci-cache-") as tmp:
        work = Path(tmp)
        context = work / "context"
        context.mkdir()
        (context / "Dockerfile").write_text(DOCKERFILE)
        (context / "config.txt").write_text("debug=0\n")
        (context / "main.txt").write_text("main v1\n")
        runner = Runner(work, context)
        (work / "registry").mkdir()
        registry = RegistryProcess(work / "registry")
        try:
            ref = f"{registry.host}/bench/app:buildcache"
            to_dir, from_dir = f"type=local,dest={work / 'ci-cache'}", f"type=local,src={work / 'ci-cache'}"
            to_registry, from_registry = f"type=registry,ref={ref}", f"type=registry,ref={ref}"
            rows = {
                "cold build": [runner.build() for _ in range(repeats)],
                "cold build + --cache-to dir": [runner.build("--cache-to", to_dir) for _ in range(repeats)],
                "cold build + --cache-to registry": [runner.build("--cache-to", to_registry)
                                                     for _ in range(repeats)],
                "fresh runner, --cache-from dir": [runner.build("--cache-from", from_dir) for _ in range(repeats)],
                "fresh runner, --cache-from registry": [runner.build("--cache-from", from_registry)
                                                        for _ in range(repeats)],
                "  ... and re-export (dir)": [runner.build("--cache-from", from_dir, "--cache-to", to_dir)
                                              for _ in range(repeats)],
                "  ... and re-export (registry)": [runner.build("--cache-from", from_registry,
                                                                "--cache-to", to_registry) for _ in range(repeats)],
            }
        finally:
            registry.stop()
        layers = sum(path.stat().st_size for path in (work / "ci-cache" / "blobs" / "sha256").iterdir())
    cold = statistics.median(rows["cold build"])
    print(f"CI cache benchmark: {DOCKERFILE.count('RUN ')} RUN steps, {layers / 1e6:.0f} MB of cache blobs, "
          f"median of {repeats}, load average {os.getloadavg()[0]:.2f}")
    for name, times in rows.items():
        median = statistics.median(times)
        print(f"  {name:<38} {median:6.2f} s  {100 * median / cold:5.1f}% of cold")
    worst = max(statistics.median(rows[name]) for name in rows if name.startswith("fresh runner"))
    print(f"target: a fresh runner's rebuild <= 20% of cold: {'met' if worst <= 0.2 * cold else 'NOT met'} "
          f"({100 * worst / cold:.1f}%)")


if __name__ == "__main__":
    main()
