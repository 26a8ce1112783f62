"""pybuild as separate processes on one state root: what the shared-cache tests drive."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EPOCH = "1700000000"  # SOURCE_DATE_EPOCH: history times and file mtimes no longer depend on when a step ran


def pybuild_command(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "builder.cli", "--root", str(root), *args]


def run_pybuild(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(pybuild_command(root, *args), cwd=REPO, capture_output=True, text=True, timeout=timeout)


def build_args(context: Path, dockerfile: str, iidfile: Path, *extra: str) -> list[str]:
    """``pybuild build`` of ``context/<dockerfile>`` that writes its image ID to ``iidfile``."""
    return ["build", "--progress", "plain", "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}", "-f",
            str(context / dockerfile), "--iidfile", str(iidfile), *extra, str(context)]


def start_build(root: Path, context: Path, dockerfile: str, iidfile: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(pybuild_command(root, *build_args(context, dockerfile, iidfile, *extra)), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def cache_check(root: Path) -> subprocess.CompletedProcess[str]:
    return run_pybuild(root, "cache", "check")
