"""Benchmark pybuild against ``docker build`` (BuildKit) side by side, in one run.

Needs a dockerd with BuildKit reachable through DOCKER_HOST (see compare_docker.py's docstring
for the trixie docker 26 set-up) that already has ``busybox:local`` (``docker import`` of the
tarball from samples/busybox-base/make-rootfs.sh). Prints, for each case, the median wall
time of both tools and the ratio, and pybuild's peak RSS. Not a test.

Cases (issue 5's targets against docker build in brackets):

* ``ten-run``: ten RUN steps, cold (<= 0.6x) and fully cached (<= 1.0x);
* ``multi-stage``: two independent stages and a final one, cold (<= 0.7x) and fully cached;
* ``large-context``: ``COPY . /app/`` of 20,000 files / 250 MB (tests/bench/bench_context.py's
  generator), cold (<= 0.8x), fully cached (<= 0.5x) and after editing one file (<= 0.5x);
  pybuild's peak RSS over all its builds (<= 200 MB).

Run: ``.venv/bin/python tests/bench/bench_vs_docker.py [--repeats N] [--cases a,b] [--files N --megabytes M]``.
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

from tests.bench.bench_context import generate  # noqa: E402
from tests.support.images import busybox_tarball, import_busybox  # noqa: E402

CASES = {
    "ten-run": "FROM busybox:local\n" + "".join(f"RUN echo step {i} > /step{i}\n" for i in range(10)),
    "multi-stage": ("FROM busybox:local AS a\nRUN echo a > /a && sleep 0.2\n"
                    "FROM busybox:local AS b\nRUN echo b > /b && sleep 0.2\n"
                    "FROM busybox:local\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nRUN cat /a /b > /ab\n"),
}


LARGE_CONTEXT = "FROM busybox:local\nCOPY . /app/\n"


class PeakMemory:
    """The largest resident set of any pybuild process timed so far (kilobytes, from wait4)."""

    def __init__(self) -> None:
        self.kilobytes = 0

    def note(self, kilobytes: int) -> None:
        self.kilobytes = max(self.kilobytes, kilobytes)


def timed(command: list[str], peak: PeakMemory | None = None) -> float:
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode() if process.stderr else ''}")
    if peak is not None:
        peak.note(usage.ru_maxrss)
    return elapsed


def report(name: str, label: str, docker: float, pybuild: float) -> None:
    print(f"{name:14} {label:13} docker {docker * 1000:7.0f} ms  pybuild {pybuild * 1000:7.0f} ms  "
          f"ratio {pybuild / docker:.2f}x", flush=True)


def small_case(name: str, dockerfile: str, work: Path, tools: dict[str, list[str]], repeats: int,
               peak: PeakMemory) -> None:
    context = work / name
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    rows = {}
    for tool, build in tools.items():
        command = [*build, "-t", f"bench-{name}", str(context)]
        memory = peak if tool == "pybuild" else None
        cold = [timed([*command[:-1], "--no-cache", command[-1]], memory) for _ in range(repeats)]
        timed(command, memory)
        warm = [timed(command, memory) for _ in range(repeats)]
        rows[tool] = (statistics.median(cold), statistics.median(warm))
    for label, index in (("cold", 0), ("fully cached", 1)):
        report(name, label, rows["docker"][index], rows["pybuild"][index])


def large_context_case(work: Path, tools: dict[str, list[str]], repeats: int, files: int, megabytes: int,
                       peak: PeakMemory) -> None:
    context = work / "large-context"
    context.mkdir()
    generate(context, files, megabytes << 20)
    (context / "Dockerfile").write_text(LARGE_CONTEXT)
    edited = next(context.glob("d000/f*.bin"))
    rows: dict[str, list[float]] = {}
    for tool, build in tools.items():
        command = [*build, "-t", "bench-large", str(context)]
        memory = peak if tool == "pybuild" else None
        cold = [timed([*command[:-1], "--no-cache", command[-1]], memory) for _ in range(repeats)]
        timed(command, memory)
        warm = [timed(command, memory) for _ in range(repeats)]
        edits = []
        for round_ in range(repeats):
            with edited.open("ab") as handle:  # one changed file: its COPY reruns
                handle.write(f"{tool} edit {round_}\n".encode())
            edits.append(timed(command, memory))
        rows[tool] = [statistics.median(cold), statistics.median(warm), statistics.median(edits)]
    for label, index in (("cold", 0), ("fully cached", 1), ("one-file edit", 2)):
        report("large-context", label, rows["docker"][index], rows["pybuild"][index])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default="ten-run,multi-stage,large-context")
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--megabytes", type=int, default=250)
    options = parser.parse_args()
    docker = shutil.which("docker") or "/opt/docker-trixie/usr/bin/docker"
    wanted = options.cases.split(",")
    peak = PeakMemory()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        work = Path(tmp)
        root = work / "root"
        import_busybox(root, busybox_tarball(work))
        tools = {"docker": [docker, "build", "-q"],
                 "pybuild": [sys.executable, "-m", "builder.cli", "--root", str(root), "build", "-q"]}
        for name, dockerfile in CASES.items():
            if name in wanted:
                small_case(name, dockerfile, work, tools, options.repeats, peak)
        if "large-context" in wanted:
            large_context_case(work, tools, options.repeats, options.files, options.megabytes, peak)
    print(f"pybuild peak RSS: {peak.kilobytes / 1024:.0f} MB (target <= 200 MB)")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
