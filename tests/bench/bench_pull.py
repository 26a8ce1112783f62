"""Benchmark: ``pybuild pull`` vs ``skopeo copy docker://... oci:DIR`` from a local registry.

Targets (issue 3): wall time <= 1.0x skopeo's; pybuild's peak RSS <= 100 MB.
Run: ``.venv/bin/python tests/bench/bench_pull.py [--runs N]``. Prints figures; not a test.

The image (~120 MB uncompressed, ~50 MB gzip) is generated here: six layers of tar files
whose blocks are part random, part repeated text, so that gzip gets docker-image-like
ratios. It is pushed to a Debian ``docker-registry`` started on 127.0.0.1 for the run. Each
run pulls into an empty directory; both tools are timed in the same loop, alternating, and
peak RSS is what GNU time reports.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "registry_client")]

from registry_servers import RegistryProcess  # noqa: E402

from registry_client import (  # noqa: E402
    ContentStore, Descriptor, Manifest, MediaType, Reference, RegistryClient, canonical_json, push,
)

LAYERS, LAYER_BYTES, FILES_PER_LAYER = 6, 20 << 20, 8
# What a user runs: the installed console script (python -m would add runpy's start-up).
_SCRIPT = Path(sys.executable).with_name("pybuild")
PYBUILD = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "builder.cli"]
TEXT = b"".join(f"line {n}: the quick brown fox jumps over the lazy dog\n".encode() for n in range(2000))


def layer_tar(rng: random.Random) -> bytes:
    """One layer: files made of 64 KiB blocks, ~40% random bytes and ~60% repeated text."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for number in range(FILES_PER_LAYER):
            blocks = []
            for _ in range(LAYER_BYTES // FILES_PER_LAYER // 65536):
                cut = rng.randrange(22000, 30000)
                offset = rng.randrange(len(TEXT) - 65536)
                blocks.append(rng.randbytes(cut) + TEXT[offset:offset + 65536 - cut])
            data = b"".join(blocks)
            info = tarfile.TarInfo(f"usr/lib/data-{number}.bin")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def build_image(store: ContentStore) -> tuple[Descriptor, int, int]:
    rng = random.Random(20240601)
    layers, diff_ids, uncompressed = [], [], 0
    for _ in range(LAYERS):
        tar = layer_tar(rng)
        uncompressed += len(tar)
        diff_ids.append(hashlib.sha256(tar).hexdigest())
        layers.append(store.put_bytes(gzip.compress(tar, compresslevel=6, mtime=0), MediaType.OCI_LAYER_GZIP))
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]}}
    config_descriptor = store.put_bytes(canonical_json(config), MediaType.OCI_CONFIG)
    manifest = Manifest(config_descriptor, tuple(layers))
    top = store.put_bytes(manifest.to_bytes(), MediaType.OCI_MANIFEST)
    return top, sum(layer.size for layer in layers), uncompressed


def measure(command: list[str], scratch: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process; fails loudly if it fails.

    RSS comes from GNU time, not from our own wait4: a child forked from this process starts
    with this process's peak RSS (Linux carries it across exec), and we hold the image.
    """
    report = scratch / "time.txt"
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(report), *command],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {result.stderr.decode(errors='replace')}")
    return elapsed, int(report.read_text().split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("docker-registry") is None or shutil.which("skopeo") is None:
        raise SystemExit("needs docker-registry and skopeo (apt-get install docker-registry skopeo)")
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as scratch:
        work = Path(scratch)
        print("generating the image...", flush=True)
        source = ContentStore(work / "source")
        top, compressed, uncompressed = build_image(source)
        (work / "registry").mkdir()
        registry = RegistryProcess(work / "registry")
        try:
            ref = Reference(registry.host, "bench/big", "latest")
            push(ref, source, top, client=RegistryClient())
            print(f"image: {LAYERS} layers, {compressed / 1e6:.1f} MB compressed, "
                  f"{uncompressed / 1e6:.1f} MB uncompressed, served by {registry.host}")
            run(args.runs, work, str(ref))
        finally:
            registry.stop()


def run(runs: int, work: Path, ref: str) -> None:
    pybuild: list[tuple[float, float]] = []
    skopeo: list[tuple[float, float]] = []
    for number in range(runs):
        root, layout = work / f"root-{number}", work / f"oci-{number}"
        pybuild.append(measure([*PYBUILD, "--root", str(root), "pull", "-q", ref], work))
        skopeo.append(measure(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}",
                               f"oci:{layout}:latest"], work))
        shutil.rmtree(root)
        shutil.rmtree(layout)
        print(f"run {number + 1}: pybuild {pybuild[-1][0]:.2f} s, {pybuild[-1][1]:.0f} MB; "
              f"skopeo {skopeo[-1][0]:.2f} s, {skopeo[-1][1]:.0f} MB", flush=True)
    # What a pull pays before its first request: interpreter start-up plus imports.
    imports = [sys.executable, "-c", "import builder.cli, builder.commands.pull, builder.image.distribution, "
               "builder.console, registry_client.pulling, registry_client.client, requests"]
    startup = statistics.median(measure(imports, work)[0] for _ in range(runs))
    ours = statistics.median(t for t, _ in pybuild)
    theirs = statistics.median(t for t, _ in skopeo)
    peak = max(rss for _, rss in pybuild)
    print(f"\nmedian wall time: pybuild {ours:.2f} s, skopeo {theirs:.2f} s -> ratio {ours / theirs:.2f}x "
          f"(target <= 1.0x)")
    print(f"pybuild start-up and imports: {startup:.2f} s; pull after start-up: {ours - startup:.2f} s "
          f"-> ratio {(ours - startup) / theirs:.2f}x")
    print(f"pybuild peak RSS: {peak:.0f} MB (target <= 100 MB); skopeo peak RSS: "
          f"{max(rss for _, rss in skopeo):.0f} MB")


if __name__ == "__main__":
    main()
