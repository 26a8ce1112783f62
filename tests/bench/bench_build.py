"""Benchmark: build times on the offline busybox base (issue 5's cases that need no docker).

Prints: a 10-RUN Dockerfile cold, fully cached (answered from the build record), and fully
cached with the record disabled (every step looked up in the layer cache), plus per-step
overhead. Run as root: ``.venv/bin/python tests/bench/bench_build.py``.
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

TEN_RUNS = "FROM busybox:local\n" + "".join(f"RUN echo step {i} > /step{i}\n" for i in range(10))


def pybuild(root: Path, context: Path, *extra: str, env: dict[str, str] | None = None) -> float:
    command = [sys.executable, "-m", "builder.cli", "--root", str(root), "build", "-q", *extra, str(context)]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def ten_runs_in(work: Path) -> tuple[Path, Path]:
    """A state root holding ``busybox:local`` under ``work``, and a context with the 10-RUN Dockerfile."""
    root = work / "root"
    import_busybox(root, busybox_tarball(work))
    context = work / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(TEN_RUNS)
    return root, context


def main(repeats: int = 7) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root, context = ten_runs_in(Path(tmp))
        cold = [pybuild(root, context, "--no-cache") for _ in range(3)]
        pybuild(root, context)
        cached = [pybuild(root, context) for _ in range(repeats)]
        no_replay = {**os.environ, "PYBUILD_NO_REPLAY": "1"}
        lookups = [pybuild(root, context, env=no_replay) for _ in range(repeats)]
        shutil.rmtree(root, ignore_errors=True)
    print(f"10-RUN cold (--no-cache):           median {statistics.median(cold) * 1000:7.0f} ms "
          f"({statistics.median(cold) * 100:.0f} ms a step)")
    print(f"10-RUN fully cached (replayed):     median {statistics.median(cached) * 1000:7.0f} ms")
    print(f"10-RUN fully cached (cache lookup): median {statistics.median(lookups) * 1000:7.0f} ms")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
