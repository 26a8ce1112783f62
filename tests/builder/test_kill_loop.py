"""SIGKILL builds at random moments; after each kill the cache checks clean and the next build succeeds.

Each round builds a Dockerfile whose steps all miss (a build arg changes every round): a pull
of a 16 MB base from a real registry (every other round the local copy is removed first), a RUN
that writes a few MB, a COPY of the context, and an OCI archive export that compresses every
layer. The delay before the kill is drawn uniformly over a full build's duration, so kills
fall in each phase about as often as the phase lasts. The seed is printed (``-s``) and can be
fixed with ``PYBUILD_KILL_SEED``.
"""
from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_commands_support import seeded_registry

from builder.services import open_services
from runtime import Kind
from tests.builder.cache_store_support import cache_check, pybuild_command, run_pybuild, REPO
from tests.support.images import import_busybox

pytestmark = [pytest.mark.privileged,
              pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry not installed")]

# The base carries an incompressible 16 MB layer, so that pulling it takes long enough to be hit.
BASE_DOCKERFILE = "FROM busybox:local\nRUN head -c 16000000 /dev/urandom > /bulk\n"
DOCKERFILE = """\
FROM {base}
ARG ROUND
RUN echo "$ROUND" > /round && head -c 3000000 /dev/urandom > /noise && mkdir -p /data && cp -r /bin /data/
COPY payload /payload
RUN cat /payload/* /round > /all && rm -rf /data/bin/sh
"""
FINISHED = "none (the build finished first)"
STEP_LINE = re.compile(r"^(#\d+) \[[^]]*\] (.*)$")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with seeded_registry(tmp_path_factory.mktemp("registry")) as seeded:
        yield seeded.host


@pytest.fixture
def setup(tmp_path: Path, busybox_tar: Path, registry: str) -> tuple[Path, Path, str]:
    """A root, a context and the base image's reference in the registry."""
    base = f"{registry}/kill-loop/base:1"
    seed_root = tmp_path / "seed"
    import_busybox(seed_root, busybox_tar)
    seed_context = tmp_path / "seed-context"
    seed_context.mkdir()
    (seed_context / "Dockerfile").write_text(BASE_DOCKERFILE)
    made = run_pybuild(seed_root, "build", "-t", base, str(seed_context))
    assert made.returncode == 0, made.stderr
    pushed = run_pybuild(seed_root, "push", base)
    assert pushed.returncode == 0, pushed.stderr
    context = tmp_path / "context"
    (context / "payload").mkdir(parents=True)
    for index in range(8):
        (context / "payload" / f"part{index}").write_bytes(os.urandom(256 * 1024))
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=base))
    return tmp_path / "root", context, base


def build_command(root: Path, context: Path, round_number: int, out: Path) -> list[str]:
    return pybuild_command(root, "build", "--progress", "plain", "--build-arg", f"ROUND={round_number}",
                           "-t", "kill-loop:latest", "--output", f"type=oci,dest={out}", str(context))


def kill_loop(root: Path, context: Path, base: str, kills: int, tmp_path: Path) -> Counter[str]:
    seed = int(os.environ.get("PYBUILD_KILL_SEED", time.time_ns() % 1_000_000))
    print(f"kill loop: seed {seed} (set PYBUILD_KILL_SEED={seed} to repeat)")
    rng = random.Random(seed)
    durations = {}  # whether the base is pulled -> how long a build that misses every step takes
    for warm_up, pulls in ((-3, True), (-2, True), (-1, False)):  # the first also unpacks the base
        if warm_up == -2:
            assert run_pybuild(root, "rmi", base).returncode == 0
        started = time.monotonic()
        built = subprocess.run(build_command(root, context, warm_up, tmp_path / "out.tar"), cwd=REPO,
                               capture_output=True, text=True, timeout=300)
        durations[pulls] = time.monotonic() - started
        assert built.returncode == 0, built.stderr
    print(f"kill loop: an uncached build takes {durations[True]:.2f}s with a pull, {durations[False]:.2f}s without")
    phases: Counter[str] = Counter()
    round_number = 0
    while sum(count for phase, count in phases.items() if phase != FINISHED) < kills:
        round_number += 1
        assert round_number <= 3 * kills, f"too many builds finished before their kill: {dict(phases)}"
        pulls = rng.random() < 0.5
        if pulls:  # the build must pull its base again
            removed = run_pybuild(root, "rmi", base)
            assert removed.returncode == 0, removed.stderr
        delay = rng.uniform(0.0, durations[pulls])
        log_path = tmp_path / "killed.log"
        with open(log_path, "w") as log:
            victim = subprocess.Popen(build_command(root, context, round_number, tmp_path / "out.tar"), cwd=REPO,
                                      stdout=subprocess.DEVNULL, stderr=log)
            started = time.monotonic()
            try:
                victim.wait(timeout=delay)
                # Finished first: the machine is faster now than during the warm-up; aim lower from now on.
                durations[pulls] = min(durations[pulls], time.monotonic() - started)
            except subprocess.TimeoutExpired:
                victim.send_signal(signal.SIGKILL)
                victim.wait()
        phase = _phase(log_path.read_text(errors="replace"), victim, root)
        phases[phase] += 1
        print(f"kill loop: round {round_number}: kill after {delay:.2f}s: {phase}")

        checked = cache_check(root)
        assert checked.returncode == 0 and "cache is consistent" in checked.stdout, (
            f"round {round_number} (seed {seed}, delay {delay:.2f}s, {phase}):\n{checked.stdout}{checked.stderr}")
        again = subprocess.run(build_command(root, context, round_number, tmp_path / "out.tar"), cwd=REPO,
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, f"round {round_number} (seed {seed}, delay {delay:.2f}s):\n{again.stderr}"
        _assert_no_leftovers(root)
    print(f"kill loop: phases hit: {dict(phases)}")
    return phases


def _phase(log: str, victim: subprocess.Popen[str], root: Path) -> str:
    """Where the build was when it died: its plain progress log, and whether it was writing a blob."""
    if victim.returncode == 0:
        return FINISHED
    writing = any(f"-{victim.pid}-" in path.name for path in (root / "ingest").glob("*"))
    headers = [(match.group(1), match.group(2)) for line in log.splitlines() if (match := STEP_LINE.match(line))]
    if not headers:
        return "pull" if writing or "Pulling" in log else "start-up"
    number, instruction = headers[-1]
    if instruction.startswith("RUN cat") and f"{number} DONE" in log:
        return "export"
    return instruction.split()[0] + (" diff/commit" if writing else "")


def _assert_no_leftovers(root: Path) -> None:
    """After a successful build nothing of the killed one remains: snapshots, temp blobs, locks."""
    services = open_services(root)
    temporary = [info.name for info in services.snapshotter.list() if info.kind is not Kind.COMMITTED]
    assert temporary == []
    assert [path.name for path in (root / "ingest").iterdir()] == []
    assert list((root / "cache" / "locks").iterdir()) == []


def test_builds_killed_at_random_moments_leave_a_consistent_cache(setup: tuple[Path, Path, str],
                                                                   tmp_path: Path) -> None:
    root, context, base = setup
    kill_loop(root, context, base, kills=5, tmp_path=tmp_path)


@pytest.mark.slow
def test_fifty_kills(setup: tuple[Path, Path, str], tmp_path: Path) -> None:
    root, context, base = setup
    phases = kill_loop(root, context, base, kills=50, tmp_path=tmp_path)
    assert len(phases) >= 3  # the kills spread over several phases of the build
