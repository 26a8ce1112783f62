"""Benchmark for the build context (a script, not a test).

    .venv/bin/python tests/bench/bench_context.py [--files 20000] [--megabytes 250] [--copy]

Generates a context of 20,000 files / 250 MB (99 % small files, a few large ones,
200 directories) and prints, each in a fresh ``BuildContext`` as a new build would:

* cold: walk + hash everything, empty stat cache (the page cache is warm);
* warm: nothing changed, the stat cache answers (target well under 0.5 s);
* one-file edit: one file rewritten, only it is hashed again;
* with ``--copy``: ``COPY . /app/`` of the whole context into an empty rootfs.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from builder.context.local import BuildContext  # noqa: E402
from builder.copy.execute import CopyRequest, execute_copy  # noqa: E402

_LARGE_FILES = 100


def generate(root: Path, files: int, total_bytes: int) -> None:
    block = os.urandom(1 << 20)
    large_size = int(total_bytes * 0.6) // _LARGE_FILES
    small_budget = total_bytes - large_size * _LARGE_FILES
    small_files = files - _LARGE_FILES
    for index in range(files):
        directory = root / f"d{index % 200:03d}"
        directory.mkdir(exist_ok=True)
        if index < _LARGE_FILES:
            size = large_size
        else:
            size = (small_budget // small_files) * (1 + (index % 7)) // 4  # varied small sizes
        header = f"{index}\n".encode()
        data = header + (block * (size // len(block) + 1))[: max(size - len(header), 0)]
        (directory / f"f{index:05d}.bin").write_bytes(data)


def timed(label: str, action) -> object:
    started = time.perf_counter()
    result = action()
    print(f"{label:<24} {time.perf_counter() - started:8.3f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--megabytes", type=int, default=250)
    parser.add_argument("--copy", action="store_true")
    parser.add_argument("--rootfs-dir", help="where COPY writes (e.g. /dev/shm to leave the disk out)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-context-") as scratch:
        context_dir, cache_dir = Path(scratch) / "ctx", Path(scratch) / "cache"
        context_dir.mkdir()
        timed("generate", lambda: generate(context_dir, options.files, options.megabytes << 20))
        size = sum(entry.stat().st_size for directory in context_dir.iterdir() for entry in os.scandir(directory))
        print(f"context: {options.files} files, {size / (1 << 20):.0f} MiB")
        time.sleep(0.2)  # let the files age past the stat cache's racy window
        cold = timed("cold (hash all)", lambda: BuildContext(context_dir, cache_dir=cache_dir).digest_of([""]))
        warm = timed("warm (nothing changed)", lambda: BuildContext(context_dir, cache_dir=cache_dir).digest_of([""]))
        assert warm == cold
        edited = context_dir / "d007" / "f00007.bin"
        edited.write_bytes(b"edited" + edited.read_bytes()[6:])
        after = timed("one-file edit", lambda: BuildContext(context_dir, cache_dir=cache_dir).digest_of([""]))
        assert after != cold
        if options.copy:
            rootfs = Path(tempfile.mkdtemp(prefix="bench-rootfs-", dir=options.rootfs_dir or scratch))
            source = BuildContext(context_dir).source()
            try:
                timed("COPY . /app/ (cold)", lambda: execute_copy(str(rootfs), CopyRequest("/app/", (".",), source)))
            finally:
                shutil.rmtree(rootfs)


if __name__ == "__main__":
    main()
