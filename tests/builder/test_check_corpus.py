"""Every real-world Dockerfile of the corpus passes ``pybuild --check`` (issue 2)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from builder.frontend.check import check_dockerfile
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.request import PlanRequest

CORPUS = Path(__file__).resolve().parents[1] / "data" / "real-world"
FILES = sorted(p for p in CORPUS.iterdir() if p.suffix not in (".md", ".tsv", ".jsonl"))


def test_corpus_is_complete() -> None:
    assert len(FILES) == 299


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name[:80])
def test_real_world_dockerfile_checks(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    report = check_dockerfile(DockerfileSource(str(path), path, text), PlanRequest())
    assert report.plan.stages, "the target needs at least its own stage"


def test_template_arg_default_is_a_warning_not_an_error(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("ARG VARIANT=${templateOption:imageVariant}\nFROM busybox:${VARIANT}\n")
    result = subprocess.run([sys.executable, "-m", "builder.cli", "--check", "-f", str(dockerfile), str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "must come from --build-arg" in result.stderr
