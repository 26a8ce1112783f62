"""Benchmark the runtime's per-step costs (issue 4). Needs root. Prints its figures.

* ``RUN true`` overhead: prepare an overlay snapshot on a committed base, run ``true`` in a container
  (network none), diff it against a view of the base, commit. Target: <= 40 ms median.
* the same with ``network="default"`` (own netns, veth to the ``pybuild0`` bridge, NAT), what a
  Dockerfile ``RUN`` gets. Target: <= 50 ms median.
* diff of a one-file change over a 100,000-file lower. Target: <= 20 ms.

Run: ``.venv/bin/python tests/bench/bench_runtime.py [--base DIR]`` (``--base`` takes an unpacked image
root, e.g. a debootstrap; the default is a busybox tree built on the fly).
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "runtime"))

from conftest import build_busybox_rootfs  # noqa: E402

from runtime import OverlaySnapshotter, ProcessSpec, mounted, run, write_diff  # noqa: E402


def _commit_base(snapshotter: OverlaySnapshotter, base: Path) -> str:
    with mounted(snapshotter.prepare("base-active")) as root:
        subprocess.run(["cp", "-a", f"{base}/.", root], check=True)
    snapshotter.commit("base", "base-active")
    return "base"


def bench_run_true(scratch: Path, base: Path, rounds: int, network: str = "none") -> list[float]:
    snapshotter = OverlaySnapshotter(str(scratch / f"snapshots-{network}"))
    parent = _commit_base(snapshotter, base)
    lower = snapshotter.view("base-view", parent)
    run(ProcessSpec(("true",), network=network), snapshotter.prepare("warm-up", parent),  # imports, bridge
        state_root=str(scratch / "state"))
    timings = []
    for index in range(rounds):
        started = time.perf_counter()
        mounts = snapshotter.prepare(f"step-{index}", parent)
        status = run(ProcessSpec(("true",), network=network), mounts, state_root=str(scratch / "state"))
        write_diff(lower, mounts, io.BytesIO())
        snapshotter.commit(f"layer-{index}", f"step-{index}")
        timings.append(time.perf_counter() - started)
        assert status.ok, status
    return timings


def bench_one_file_diff(scratch: Path, files: int, rounds: int) -> list[float]:
    lower = scratch / "big-lower"
    for index in range(files):
        directory = lower / f"d{index // 100:04d}"
        if index % 100 == 0:
            directory.mkdir(parents=True)
        (directory / f"f{index % 100:03d}").write_bytes(b"x")
    timings = []
    for index in range(rounds):
        upper, work = scratch / f"upper-{index}", scratch / f"work-{index}"
        upper.mkdir()
        work.mkdir()
        from runtime import Mount

        mount = Mount("overlay", "overlay", (f"lowerdir={lower}", f"upperdir={upper}", f"workdir={work}",
                                             "redirect_dir=off", "metacopy=off", "index=off"))
        with mounted([mount]) as merged:
            Path(merged, "d0500", "f050").write_bytes(b"changed")
        started = time.perf_counter()
        stats = write_diff([Mount("bind", str(lower), ("rbind", "ro"))], [mount], io.BytesIO())
        timings.append(time.perf_counter() - started)
        assert stats.entries == 2, stats
    return timings


def _report(label: str, timings: list[float], target_ms: float) -> None:
    median = statistics.median(timings) * 1000
    verdict = "ok" if median <= target_ms else "OVER TARGET"
    print(f"{label}: median {median:.1f} ms, min {min(timings) * 1000:.1f} ms, "
          f"max {max(timings) * 1000:.1f} ms over {len(timings)} rounds (target <= {target_ms:.0f} ms: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="an unpacked image root to use as the base layer")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--files", type=int, default=100_000)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_runtime.py needs root (namespaces, overlayfs)")
    with tempfile.TemporaryDirectory(prefix="pybuild-bench-") as scratch_name:
        scratch = Path(scratch_name)
        base = args.base or build_busybox_rootfs(scratch / "busybox")
        _report("RUN true (start + snapshot + diff + commit)", bench_run_true(scratch, base, args.rounds), 40)
        _report("RUN true, network default", bench_run_true(scratch, base, args.rounds, "default"), 50)
        _report(f"diff of one changed file over {args.files:,} lower files",
                bench_one_file_diff(scratch, args.files, min(args.rounds, 10)), 20)


if __name__ == "__main__":
    main()
