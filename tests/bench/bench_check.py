"""Benchmark: wall time of ``pybuild --check`` on a 20-instruction Dockerfile, start-up included.

Target (issue 2): <= 150 ms. Run: ``.venv/bin/python tests/bench/bench_check.py``.
"""
from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE=debian:bookworm-slim
FROM ${BASE} AS build
ARG VERSION=1.0
ENV APP_HOME=/opt/app PATH=/opt/app/bin:$PATH
WORKDIR $APP_HOME
COPY requirements.txt ./
RUN --mount=type=cache,target=/root/.cache apt-get update && apt-get install -y curl
RUN echo "version ${VERSION:-unknown}" > version.txt
COPY --chown=1000:1000 --chmod=0755 . .
RUN <<EOF
set -e
make build
EOF
FROM debian:bookworm-slim
LABEL org.opencontainers.image.version="1.0"
COPY --from=build /opt/app /opt/app
USER 1000:1000
EXPOSE 8080/tcp
HEALTHCHECK --interval=30s CMD curl -f http://localhost:8080/ || exit 1
ENTRYPOINT ["/opt/app/bin/server"]
CMD ["--port", "8080"]
"""


def pybuild_command() -> list[str]:
    script = Path(sys.executable).parent / "pybuild"
    return [str(script)] if script.exists() else [shutil.which("pybuild") or "pybuild"]


def time_command(command: list[str], runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def main(runs: int = 20) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        context = Path(tmp)
        (context / "Dockerfile").write_text(DOCKERFILE)
        command = [*pybuild_command(), "--check", str(context)]
        subprocess.run(command, check=True, capture_output=True)  # warm the LALR cache and page cache
        timings = time_command(command, runs)
        baseline = time_command([sys.executable, "-c", "pass"], runs)
    print(f"pybuild --check, 20 instructions: median {statistics.median(timings):.1f} ms, "
          f"min {min(timings):.1f} ms, max {max(timings):.1f} ms over {runs} runs (target <= 150 ms)")
    print(f"bare interpreter start-up:         median {statistics.median(baseline):.1f} ms")


if __name__ == "__main__":
    main()
