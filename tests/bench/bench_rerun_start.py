"""Benchmark: build start with a --no-cache re-run's snapshots and ~2,000 cache records present.

The start-up sweep (``builder.cache.leftovers``) must stay on its fast path when the only step
snapshots are published ones, re-runs' included. Prints the median of ``open_services`` (the
start, sweep included) and of a whole fully cached 10-RUN ``pybuild build`` (not replayed). Run as root:
``.venv/bin/python tests/bench/bench_rerun_start.py``.
"""
from __future__ import annotations

import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench_build import pybuild, ten_runs_in  # noqa: E402

from builder.cache.index import CacheIndex, CacheRecord  # noqa: E402
from builder.cache.keys import CacheKey  # noqa: E402
from builder.services import open_services  # noqa: E402

RECORDS = 2000


def add_unrelated_records(root: Path, count: int) -> None:
    """Records of other builds' steps (their snapshots long gone, as after a while of use)."""
    index = CacheIndex(root)
    for _ in range(count):
        key = CacheKey(secrets.token_hex(32))
        index.put(key, CacheRecord(f"step-{key.hex}", f"sha256:{secrets.token_hex(32)}", 4096, time.time(),
                                   secrets.token_hex(32), (f"sha256:{secrets.token_hex(32)}",)), used=False)


def median_ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:7.1f} ms (min {min(samples) * 1000:.1f})"


def main(repeats: int = 9) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root, context = ten_runs_in(Path(tmp))
        pybuild(root, context)
        pybuild(root, context, "--no-cache")  # the re-run: every step's result under a name of its own
        add_unrelated_records(root, RECORDS)
        snapshots = [info.name for info in open_services(root).snapshotter.list() if info.name.startswith("step-")]
        starts = []
        for _ in range(repeats):
            began = time.perf_counter()
            open_services(root)
            starts.append(time.perf_counter() - began)
        no_replay = {**os.environ, "PYBUILD_NO_REPLAY": "1"}  # a replayed build opens no services
        builds = [pybuild(root, context, env=no_replay) for _ in range(repeats)]
    print(f"{RECORDS} extra records, {len(snapshots)} step snapshots after a build and a --no-cache re-run")
    print(f"build start (open_services, sweep included): {median_ms(starts)}")
    print(f"10-RUN fully cached build (CLI, no replay):  {median_ms(builds)}")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
